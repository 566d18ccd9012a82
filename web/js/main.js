// SPDX-License-Identifier: Apache-2.0
// main.js: the studio page. Plain ES modules, no build step (docs/web.md).

import { api, ApiError, docsUrl, resolve } from './api.js';
import { MaskEditor, References } from './edits.js';
import { describe, describeJob, fieldOf } from './errors.js';
import { Gallery, altText } from './gallery.js';
import { TERMINAL, Watcher, lineText, workText } from './progress.js';
import { label, loadTypes } from './types.js';

const $ = (id) => document.getElementById(id);

const ACCEPTED = ['image/png', 'image/jpeg', 'image/webp'];
// The control of each create field named in a 400 message.
const FIELD_CONTROL = {
  prompt: 'prompt', customPrompt: 'prompt', preset: 'preset', sourceImage: 'source',
  style: 'style', quality: 'quality', aspectRatio: 'aspectRatio', 'parameters.seed': 'seed',
  parameters: 'seed', count: 'count', mask: 'mask', referenceImages: 'refs',
};

const state = {
  types: [],
  type: null,
  presets: new Map(),      // type name → presets answer
  current: null,           // {type, id, localStart, status}
  watcher: null,
  tick: null,
  uploaded: null,          // {file, answer}
  busy: false,
};

let gallery;
let maskEditor;
let references;

// ---- messages -------------------------------------------------------------

function showMessage(text, kind = 'error') {
  const el = $('message');
  el.className = `message message-${kind}`;
  el.hidden = false;
  el.textContent = text;
}

function clearMessage() {
  const el = $('message');
  el.hidden = true;
  el.textContent = '';
}

function fieldError(control, text) {
  const err = $(`${control}-error`);
  const input = control === 'source' ? $('source-file') : $(control);
  if (err) { err.textContent = text; err.hidden = false; }
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    if (control === 'source') $('source-url').setAttribute('aria-invalid', 'true');
  }
  const details = input && input.closest('details');
  if (details) details.open = true;
  if (input) input.focus();
}

function clearFieldErrors() {
  for (const el of document.querySelectorAll('.field-error')) { el.hidden = true; el.textContent = ''; }
  for (const el of document.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/** An ApiError in plain words; a 402 reads the quota to say which limit. */
async function reportError(err, ctx = {}) {
  if (!(err instanceof ApiError)) {
    showMessage(`Something went wrong in the page: ${err && err.message ? err.message : err}`);
    return;
  }
  let quota = null;
  if (err.status === 402) quota = await refreshQuota();
  const text = describe(err, { ...ctx, quota });
  showMessage(text, err.status === 402 || err.status === 429 ? 'warning' : 'error');
  if (err.status === 400) {
    const f = fieldOf(err.message);
    if (f && FIELD_CONTROL[f]) fieldError(FIELD_CONTROL[f], err.message);
  }
}

// ---- quota ----------------------------------------------------------------

function renderQuota(q) {
  const box = $('quota');
  box.replaceChildren();
  const credits = document.createElement('span');
  credits.className = 'q-credits';
  credits.innerHTML = '<span class="q-label">Credits</span> ';
  const b = document.createElement('strong');
  b.id = 'q-balance';
  b.textContent = String(q.currentBalance);
  credits.append(b);
  const day = document.createElement('span');
  day.className = 'q-day';
  if (q.daily_limit > 0) {
    const reset = new Date(q.dailyReset);
    const at = Number.isNaN(reset.getTime()) ? 'midnight UTC'
      : reset.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    day.textContent = `Today ${q.daily_used} of ${q.daily_limit} used (resets ${at})`;
  } else {
    day.textContent = `Today ${q.daily_used} used, no daily limit`;
  }
  day.id = 'q-day';
  box.append(credits, day);
}

async function refreshQuota() {
  try {
    const q = await api.quota();
    renderQuota(q);
    return q;
  } catch (e) {
    const box = $('quota');
    box.textContent = e instanceof ApiError && e.status === 401 ? 'Not signed in' : 'Credits unavailable';
    return null;
  }
}

// ---- types and the form ---------------------------------------------------

function renderTypes() {
  const box = $('types');
  for (const el of box.querySelectorAll('.type-option, #types-loading')) el.remove();
  for (const t of state.types) {
    const id = `type-${t.type}`;
    const wrap = document.createElement('div');
    wrap.className = 'type-option';
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'type';
    input.id = id;
    input.value = t.type;
    input.addEventListener('change', () => { if (input.checked) selectType(t); });
    const lab = document.createElement('label');
    lab.htmlFor = id;
    const name = document.createElement('span');
    name.className = 'type-name';
    name.textContent = label(t.type);
    const cost = document.createElement('span');
    cost.className = 'type-cost';
    cost.textContent = t.cost === 1 ? '1 credit' : `${t.cost} credits`;
    lab.append(name, cost);
    if (t.siteDefined) {
      const tag = document.createElement('span');
      tag.className = 'type-tag';
      tag.textContent = 'site';
      lab.append(tag);
    }
    wrap.append(input, lab);
    box.append(wrap);
  }
}

function has(t, field) { return t.fields.includes(field); }
function needs(t, field) { return t.needs.includes(field); }

function setRequired(id, required, optionalToo = true) {
  $(id).textContent = required ? '(required)' : optionalToo ? '(optional)' : '';
}

/** The count picker: 1..the type's maxCount, hidden when it takes one. */
function fillCount(t) {
  const sel = $('count');
  const max = has(t, 'count') ? t.maxCount : 1;
  const keep = Math.min(Number(sel.value) || 1, max);
  sel.replaceChildren(...Array.from({ length: max }, (_, i) => new Option(String(i + 1))));
  sel.value = String(keep);
  $('count-field').hidden = max <= 1;
}

/** What a generate reserves: the type's cost for each picture asked for. */
function showCost() {
  const t = state.type;
  if (!t) return;
  const n = $('count-field').hidden ? 1 : Number($('count').value) || 1;
  const total = t.cost * n;
  const each = n > 1 ? ` (${n} pictures; a picture that does not come is given back)` : '';
  $('cost').textContent = `Costs ${total === 1 ? '1 credit' : `${total} credits`}${each}.`;
}

async function selectType(t) {
  state.type = t;
  const radio = $(`type-${t.type}`);
  if (radio && !radio.checked) radio.checked = true;
  const hash = `#type=${encodeURIComponent(t.type)}`;
  if (window.location.hash !== hash) window.history.replaceState(null, '', hash);
  clearFieldErrors();
  $('type-about').textContent = t.about;
  fillCount(t);
  showCost();

  $('prompt-field').hidden = !has(t, 'prompt');
  $('prompt').required = needs(t, 'prompt');
  setRequired('prompt-req', needs(t, 'prompt'));

  // The preset control: for a type that needs one, or that has presets this
  // week (discovery gives every type a presetsUrl; most lists are empty).
  const presetsOn = has(t, 'preset') && !!t.presetsUrl;
  const cached = state.presets.get(t.type);
  $('preset-field').hidden = !presetsOn
    || (!needs(t, 'preset') && !(cached && cached.presets && cached.presets.length));
  setRequired('preset-req', needs(t, 'preset'));

  $('source-field').hidden = !has(t, 'sourceImage');
  setRequired('source-req', needs(t, 'sourceImage'));
  // Edits: the mask over a chosen photo, the reference pictures.
  maskEditor.load(has(t, 'mask') ? $('source-file').files[0] : null);
  $('refs-field').hidden = !has(t, 'referenceImages');
  references.setMax(t.maxReferences);
  if (!has(t, 'referenceImages')) references.clear();

  for (const f of ['style', 'quality', 'aspectRatio']) $(f).closest('.field').hidden = !has(t, f);
  $('seed').closest('details').hidden = !has(t, 'parameters');

  const loads = [gallery.show(t)];
  if (presetsOn) loads.push(loadPresets(t));
  await Promise.all(loads);
}

async function loadPresets(t) {
  const sel = $('preset');
  let answer = state.presets.get(t.type);
  if (!answer) {
    sel.replaceChildren(new Option('Loading…', ''));
    sel.disabled = true;
    try {
      answer = await api.presets(t.presetsUrl);
      state.presets.set(t.type, answer);
    } catch (e) {
      sel.replaceChildren(new Option('Presets unavailable', ''));
      if (needs(t, 'preset') && state.type === t) await reportError(e);
      return;
    } finally {
      sel.disabled = false;
    }
  }
  if (state.type !== t) return;
  $('preset-field').hidden = !needs(t, 'preset') && !(answer.presets && answer.presets.length);
  sel.replaceChildren(new Option(needs(t, 'preset') ? 'Choose a preset' : 'No preset', ''));
  for (const p of answer.presets || []) {
    const o = new Option(p.name, p.key);
    o.dataset.description = p.description || '';
    sel.append(o);
  }
  $('preset-hint').textContent = weekHint(answer);
}

function weekHint(answer) {
  const n = (answer.presets || []).length;
  return `This week (${answer.week}): ${n} preset${n === 1 ? '' : 's'}.`;
}

function onPresetChange() {
  const o = $('preset').selectedOptions[0];
  const week = state.type && state.presets.get(state.type.type);
  $('preset-hint').textContent = o && o.value ? o.dataset.description
    : week ? weekHint(week) : '';
}

function onFileChange() {
  const file = $('source-file').files[0];
  const preview = $('source-preview');
  clearFieldErrors();
  if (!file) { preview.hidden = true; maskEditor.load(null); return; }
  $('source-url').value = '';
  if (!ACCEPTED.includes(file.type)) {
    fieldError('source', 'Choose a PNG, JPEG or WebP picture.');
    preview.hidden = true;
    return;
  }
  const img = $('source-img');
  if (img.dataset.objectUrl) URL.revokeObjectURL(img.dataset.objectUrl);
  img.dataset.objectUrl = URL.createObjectURL(file);
  img.src = img.dataset.objectUrl;
  $('source-info').textContent = `${file.name}, ${Math.max(1, Math.round(file.size / 1024))} kB`;
  preview.hidden = false;
  // A type that takes a mask: paint it over this photo.
  if (state.type && has(state.type, 'mask')) maskEditor.load(file);
}

function onUrlInput() {
  if ($('source-url').value.trim()) {
    $('source-file').value = '';
    $('source-preview').hidden = true;
    maskEditor.load(null);
  }
}

/** The create fields of the form, or null after naming what is missing. */
function collect(t) {
  const f = {};
  const prompt = $('prompt').value.trim();
  if (has(t, 'prompt') && prompt) f.prompt = prompt;
  if (needs(t, 'prompt') && !prompt) { fieldError('prompt', 'Enter a prompt.'); return null; }
  if (!$('preset-field').hidden) {
    const preset = $('preset').value;
    if (preset) f.preset = preset;
    else if (needs(t, 'preset')) { fieldError('preset', 'Choose one of this week\u2019s presets.'); return null; }
  }
  for (const k of ['style', 'quality', 'aspectRatio']) {
    if (has(t, k) && $(k).value) f[k] = $(k).value;
  }
  const count = Number($('count').value) || 1;
  if (!$('count-field').hidden && count > 1) f.count = count;
  const seed = $('seed').value.trim();
  if (has(t, 'parameters') && seed) {
    const n = Number(seed);
    if (!Number.isInteger(n) || n < 0 || n > 4294967294) {
      fieldError('seed', 'The seed is a whole number from 0 to 4294967294.');
      return null;
    }
    f.parameters = { seed: n };
  }
  if (has(t, 'sourceImage')) {
    const url = $('source-url').value.trim();
    const file = $('source-file').files[0];
    if (url && !/^https:\/\/[^\s]+$/i.test(url)) {
      fieldError('source', 'The link must start with https://.');
      return null;
    }
    if (!url && !file && needs(t, 'sourceImage')) {
      fieldError('source', 'This type transforms a photo: upload one or give an https link.');
      return null;
    }
    if (file && !ACCEPTED.includes(file.type)) {
      fieldError('source', 'Choose a PNG, JPEG or WebP picture.');
      return null;
    }
    if (url) f.sourceImage = url;
  }
  return f;
}

function setBusy(busy) {
  state.busy = busy;
  $('generate').disabled = busy;
  $('generate').textContent = busy ? 'Working…' : 'Generate';
}

async function onGenerate(ev) {
  ev.preventDefault();
  if (state.busy || !state.type) return;
  const t = state.type;
  clearMessage();
  clearFieldErrors();
  const fields = collect(t);
  if (!fields) return;
  setBusy(true);
  let action = 'generate';
  try {
    const file = has(t, 'sourceImage') && !fields.sourceImage ? $('source-file').files[0] : null;
    if (file) {
      if (!state.uploaded || state.uploaded.file !== file) {
        action = 'upload';
        setProgress('Uploading the photo…');
        state.uploaded = { file, answer: await api.upload(file) };
        action = 'generate';
      }
      fields.sourceImage = state.uploaded.answer.sourceImage;
    }
    await addEdits(t, fields, (a) => { action = a; });
    setProgress('Starting…');
    const answer = await api.generate(t.base, fields);
    watch(t, answer);
  } catch (e) {
    setBusy(false);
    setProgress(state.current ? progressText(state.current.status) : 'Nothing generated yet.');
    await reportError(e, { cost: t.cost, action });
  }
}

/** The edit's uploads into fields: the painted mask (over an uploaded
 * photo only), the reference pictures. */
async function addEdits(t, fields, setAction) {
  if (has(t, 'mask') && fields.sourceImage && fields.sourceImage.startsWith('upload:')) {
    const blob = await maskEditor.blob();
    if (blob) {
      setAction('upload');
      setProgress('Uploading the mask…');
      fields.mask = (await api.upload(new File([blob], 'mask.png', { type: 'image/png' }))).sourceImage;
    }
  }
  if (has(t, 'referenceImages') && references.items.length) {
    setAction('upload');
    setProgress('Uploading the reference pictures…');
    fields.referenceImages = await references.references((file) => api.upload(file));
  }
  setAction('generate');
}

// ---- the current generation ----------------------------------------------

function setProgress(text) { $('progress').textContent = text; }

function progressText(s) {
  switch (s.status) {
    case 'pending': return lineText(s) || 'Waiting for a worker…';
    case 'processing': {
      const base = s.retryCount > 0 ? `Generating… (retry ${s.retryCount} of ${s.maxRetries})` : 'Generating…';
      const work = workText(s);
      return work ? `${base} ${work}` : base;
    }
    case 'completed': return 'Done: the picture is ready.';
    case 'cancelled': return 'Cancelled. Your credits were given back.';
    case 'failed': return `Failed. ${describeJob(s.error)}`;
    default: return s.status;
  }
}

function formatElapsed(ms) {
  if (!(ms >= 0)) return '–';
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function elapsedOf(cur) {
  const s = cur.status || {};
  const created = Date.parse(s.createdAt);
  const finished = Date.parse(s.finishedAt);
  if (!Number.isNaN(created) && !Number.isNaN(finished)) return finished - created;
  if (cur.localStart) return Date.now() - cur.localStart;
  return Number.isNaN(created) ? NaN : Date.now() - created;
}

// The bar: how far it has come when the API says (progress), else a
// sliding bar that says only that it runs.
function showBar(s) {
  const bar = $('bar');
  const known = s.status === 'processing' && typeof s.progress === 'number';
  bar.classList.toggle('known', known);
  if (known) {
    const pct = Math.round(Math.min(1, Math.max(0, s.progress)) * 100);
    bar.setAttribute('aria-valuenow', String(pct));
    bar.firstElementChild.style.width = `${pct}%`;
  } else {
    bar.removeAttribute('aria-valuenow');
    bar.firstElementChild.style.width = '';
  }
}

function renderCurrent() {
  const cur = state.current;
  if (!cur) return;
  const s = cur.status || { status: 'pending' };
  $('meta').hidden = false;
  $('m-state').textContent = s.status;
  $('m-elapsed').textContent = formatElapsed(elapsedOf(cur));
  $('m-retries').textContent = s.maxRetries != null ? `${s.retryCount || 0} of ${s.maxRetries}` : '–';
  $('m-provider').textContent = s.provider ? (s.model ? `${s.provider} (${s.model})` : s.provider) : 'not chosen yet';
  const terminal = TERMINAL.has(s.status);
  // The picture being drawn takes the bar's place while it comes.
  const drawing = !terminal && !!cur.preview;
  $('bar').hidden = terminal || drawing;
  showBar(s);
  const pv = $('preview');
  if (drawing) {
    const src = resolve(cur.preview);
    if (pv.src !== src) pv.src = src;
  }
  pv.hidden = !drawing;
  $('cancel').disabled = terminal;
  $('retry').disabled = !(s.status === 'failed' || s.status === 'cancelled');
  const fig = $('figure');
  const pics = picturesOf(s);
  if (pics.length === 1) {
    const img = $('picture');
    const src = resolve(pics[0].url);
    if (img.src !== src) img.src = src;
    img.alt = altText(s.prompt);
    $('caption').textContent = s.prompt || '';
    $('download').href = src;
    fig.hidden = false;
  } else {
    fig.hidden = true;
  }
  showGrid(s, pics.length > 1 ? pics : []);
}

/** A completed generation's pictures: its images, or its one imageUrl. */
function picturesOf(s) {
  if (s.status !== 'completed') return [];
  if (Array.isArray(s.images) && s.images.length) return s.images.filter((p) => p && p.url);
  return s.imageUrl ? [{ url: s.imageUrl }] : [];
}

/** Several pictures: a grid, each with its own download link. */
function showGrid(s, pics) {
  const list = $('pictures');
  const key = pics.map((p) => p.url).join(' ');
  if (list.dataset.key !== key) {
    list.dataset.key = key;
    list.replaceChildren(...pics.map((p, i) => {
      const li = document.createElement('li');
      const fig = document.createElement('figure');
      const img = document.createElement('img');
      img.src = resolve(p.url);
      img.alt = `${altText(s.prompt)} (${i + 1} of ${pics.length})`;
      if (p.width && p.height) { img.width = p.width; img.height = p.height; }
      const cap = document.createElement('figcaption');
      const a = document.createElement('a');
      a.href = img.src;
      a.download = '';
      a.textContent = `Download ${i + 1}`;
      cap.append(a);
      fig.append(img, cap);
      li.append(fig);
      return li;
    }));
  }
  list.hidden = pics.length === 0;
}

function stopWatching() {
  if (state.watcher) { state.watcher.stop(); state.watcher = null; }
  if (state.tick) { clearInterval(state.tick); state.tick = null; }
}

/** Follow a generation: answer is a status object or a 202 {generationId,status}. */
function watch(t, answer, opened = false) {
  stopWatching();
  const full = answer && answer.retryCount !== undefined;
  state.current = {
    type: t, id: answer.generationId, localStart: opened ? null : Date.now(),
    status: full ? answer : { status: answer.status || 'pending', generationId: answer.generationId },
  };
  // A finished generation opened from the history: nothing changed, so
  // neither the credits nor the gallery are read again.
  if (opened && TERMINAL.has(answer.status)) state.current.finished = true;
  onStatus(state.current.status);
  if (TERMINAL.has(state.current.status.status)) { setBusy(false); return; }
  setBusy(true);
  state.tick = setInterval(() => {
    if (state.current) $('m-elapsed').textContent = formatElapsed(elapsedOf(state.current));
  }, 200);
  const cur = state.current;
  state.watcher = new Watcher(t.base, cur.id, (s, err) => {
    if (state.current !== cur) return;
    if (!s) { stopWatching(); setBusy(false); reportError(err); return; }
    onStatus(s);
  }, answer.eventsUrl, (url) => {
    if (state.current !== cur) return;
    cur.preview = url;
    renderCurrent();
  }).start();
}

function onStatus(s) {
  const cur = state.current;
  cur.status = s;
  const before = $('progress').textContent;
  const text = progressText(s);
  if (before !== text) setProgress(text);
  renderCurrent();
  if (TERMINAL.has(s.status) && s.retryCount !== undefined) finish(cur);
}

function finish(cur) {
  if (cur.finished) return;
  cur.finished = true;
  stopWatching();
  setBusy(false);
  renderCurrent();
  refreshQuota();
  if (state.type && state.type.type === cur.type.type) gallery.reload();
}

async function onCancel() {
  const cur = state.current;
  if (!cur) return;
  $('cancel').disabled = true;
  try {
    const s = await api.cancel(cur.type.base, cur.id);
    if (state.current === cur) onStatus(s);
  } catch (e) {
    $('cancel').disabled = false;
    await reportError(e);
  }
}

async function onRetry() {
  const cur = state.current;
  if (!cur || state.busy) return;
  clearMessage();
  $('retry').disabled = true;
  try {
    const answer = await api.retry(cur.type.base, cur.id);
    watch(cur.type, answer);
  } catch (e) {
    $('retry').disabled = false;
    await reportError(e, { cost: cur.type.cost });
  }
}

function openFromHistory(s) {
  const t = state.types.find((x) => x.type === s.type) || state.type;
  clearMessage();
  watch(t, s, true);
  const h = $('result-h');
  h.setAttribute('tabindex', '-1');
  h.focus();
  h.scrollIntoView({ block: 'start', behavior: 'smooth' });
}

// ---- start ---------------------------------------------------------------

async function start() {
  for (const id of ['docs-link', 'docs-link2']) $(id).href = docsUrl();
  gallery = new Gallery(
    { list: $('gallery'), more: $('more'), empty: $('history-empty'), title: $('history-type') },
    openFromHistory,
    (text) => showMessage(text),
  );
  $('form').addEventListener('submit', onGenerate);
  $('prompt').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); $('form').requestSubmit(); }
  });
  $('preset').addEventListener('change', onPresetChange);
  $('count').addEventListener('change', showCost);
  $('source-file').addEventListener('change', onFileChange);
  $('source-url').addEventListener('input', onUrlInput);
  maskEditor = new MaskEditor();
  references = new References((text) => fieldError('refs', text));
  $('cancel').addEventListener('click', onCancel);
  $('retry').addEventListener('click', onRetry);

  // The quota first: it is the request that makes the browser ask for the login.
  await refreshQuota();
  try {
    const { types } = await loadTypes();
    state.types = types;
  } catch (e) {
    $('types-loading').textContent = 'The types could not be loaded.';
    await reportError(e);
    return;
  }
  renderTypes();
  const m = /^#type=(.+)$/.exec(window.location.hash);
  const wanted = m ? decodeURIComponent(m[1]) : null;
  const t = state.types.find((x) => x.type === wanted) || state.types[0];
  if (t) await selectType(t);
  document.body.dataset.ready = 'true';
}

start();
