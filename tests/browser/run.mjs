// SPDX-License-Identifier: Apache-2.0
// run.mjs: the studio page (web/) as a person uses it, in Debian's chromium
// driven by playwright-core. tests/browser/run.sh starts the demo and calls
//     node run.mjs BASE_URL SCREENSHOT_DIR
// The demo serves the five types plus the site-defined types slow-demo (a
// local provider with 20 s latency) and line-demo (2 s calls, one at a
// time), users demo/demo (50 credits) and demo2/demo2 (opened with a zero
// balance). GENFLOW_BROWSER_DB and GENFLOW_PSQL reach the demo's database
// (to pause line-demo's provider, as a 429 would).
//
// Prints "ok - NAME" / "not ok - NAME: why" per case and the closing line
// "browser: N passed, M failed"; exits 1 when any case failed.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { facePng } from './png.mjs';

const base = new URL(process.argv[2] || 'http://127.0.0.1:8080/');
const shots = process.argv[3] || 'docs/screenshots';
const failShots = process.env.GENFLOW_BROWSER_FAILSHOTS || '';
const executablePath = process.env.GENFLOW_CHROMIUM || '/usr/bin/chromium';
const origin = base.origin;
const stamp = Date.now().toString(36);

const results = [];
const consoleErrors = [];   // {case, text, url}
const allowed = [];         // expected browser network lines, each used once
let currentCase = 'setup';

function log(line) { process.stdout.write(`${line}\n`); }

function check(cond, what) {
  if (!cond) throw new Error(what);
}

// Every page of every context reports here for the whole run.
function watchPage(page) {
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const loc = msg.location();
    consoleErrors.push({ case: currentCase, text: msg.text(), url: loc && loc.url });
  });
  page.on('pageerror', (err) => {
    consoleErrors.push({ case: currentCase, text: `uncaught: ${err.message}`, url: '' });
  });
  return page;
}

async function newContext(browser, user, viewport = { width: 1280, height: 900 }) {
  const ctx = await browser.newContext({
    viewport,
    deviceScaleFactor: viewport.width < 500 ? 2 : 1,
    hasTouch: viewport.width < 500,
    // The page relies on the browser's own Basic-auth login (same origin).
    httpCredentials: { username: user, password: user, origin, send: 'always' },
    colorScheme: 'light',
    reducedMotion: 'reduce',
  });
  ctx.setDefaultTimeout(20000);
  return ctx;
}

async function openStudio(ctx, hash = '') {
  const page = watchPage(await ctx.newPage());
  await page.goto(new URL(`/${hash}`, base).href);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

async function runCase(name, fn, page) {
  currentCase = name;
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    log(`ok - ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    results.push({ name, ok: false });
    log(`not ok - ${name}: ${(e && e.message ? e.message : String(e)).split('\n')[0]}`);
    if (failShots && page && !page.isClosed()) {
      mkdirSync(failShots, { recursive: true });
      const file = join(failShots, `${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      log(`#   screenshot of the failure: ${file}`);
    }
  }
}

// Generations made through the API (not the page): enough history for a
// second page, and a gallery that shows something in the screenshots.
async function seed(user, type, prompts) {
  const auth = 'Basic ' + Buffer.from(`${user}:${user}`).toString('base64');
  for (const prompt of prompts) {
    const res = await fetch(new URL(`/api/${type}/generate`, base), {
      method: 'POST',
      headers: { Authorization: auth, 'Content-Type': 'application/json', Prefer: 'wait=30' },
      body: JSON.stringify({ prompt }),
    });
    const body = await res.json();
    if (res.status !== 200 || body.status !== 'completed') {
      throw new Error(`seeding ${type} answered ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
    }
  }
}

async function apiGet(user, path) {
  const auth = 'Basic ' + Buffer.from(`${user}:${user}`).toString('base64');
  const res = await fetch(new URL(path, base), { headers: { Authorization: auth } });
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}`);
  return res.json();
}

// A POST that does not wait for the generation (the demo's GenFlowWait).
async function apiPost(user, path, body) {
  const auth = 'Basic ' + Buffer.from(`${user}:${user}`).toString('base64');
  const res = await fetch(new URL(path, base), {
    method: 'POST',
    headers: { Authorization: auth, 'Content-Type': 'application/json', Prefer: 'wait=0' },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (res.status >= 300) throw new Error(`POST ${path} answered ${res.status}`);
  return res.json();
}

function sql(statement) {
  execFileSync(process.env.GENFLOW_PSQL || 'psql',
    [process.env.GENFLOW_BROWSER_DB, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', statement]);
}

async function balance(page) {
  const t = await page.locator('#q-balance').textContent({ timeout: 10000 });
  return Number(t);
}

async function waitTerminal(page, state, timeout = 30000) {
  await page.waitForFunction(
    (s) => document.getElementById('m-state').textContent === s,
    state, { timeout },
  );
}

async function main() {
  mkdirSync(shots, { recursive: true });
  const args = [];
  // Chromium's sandbox cannot run as root; anyone else keeps it.
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
  let browser;
  try {
    browser = await chromium.launch({ executablePath, headless: true, args });
  } catch (e) {
    if (!/No usable sandbox|namespace/i.test(String(e && e.message))) throw e;
    // A container without unprivileged user namespaces: no sandbox can run.
    log('# chromium has no usable sandbox here (no user namespaces): --no-sandbox');
    browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
  }
  log(`# chromium ${browser.version()}, ${base.href}`);

  const prompt = `a neon fox under the rain ${stamp}`;
  const desktop = await newContext(browser, 'demo');
  let page = await openStudio(desktop);

  await runCase('type picker: the five types and the site-defined slow-demo and line-demo', async () => {
    for (const t of ['neo-glitch', 'emotion-mask', 'presets', 'ghibli-reaction', 'custom-prompt', 'slow-demo',
      'line-demo']) {
      check(await page.locator(`#type-${t}`).count() === 1, `no choice for type ${t}`);
    }
    await page.getByRole('radio', { name: /Presets/ }).check();
    await page.waitForFunction(() => document.getElementById('preset').options.length > 1);
    check(await page.locator('#preset-field').isVisible(), 'no preset control for presets');
    check(await page.locator('#source-field').isVisible(), 'no source image control for presets');
    await page.getByRole('radio', { name: /Ghibli reaction/ }).check();
    check(await page.locator('#source-req').textContent() === '(required)', 'ghibli-reaction: source not required');
    check(await page.locator('#preset-req').textContent() === '(optional)', 'ghibli-reaction: preset not optional');
  }, page);

  await runCase('generate: pick a type, type a prompt, watch the progress, see the picture', async () => {
    await seed('demo', 'neo-glitch', Array.from({ length: 13 }, (_, i) =>
      ['a paper crane', 'a city at night', 'a lighthouse', 'a red bicycle', 'a koi pond', 'an old robot',
        'a desert road', 'a mountain lake', 'a jazz cat', 'a snowy forest', 'a tiny house', 'a comet',
        'a glass whale'][i]));
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    const before = await balance(page);
    await page.getByRole('radio', { name: /Neo glitch/ }).check();
    await page.getByLabel(/^Prompt/).fill(prompt);
    await page.getByLabel('Style').selectOption('artistic');
    await page.getByLabel('Aspect ratio').selectOption('16:9');
    // Generate answers 202 (the page then follows the events stream) or,
    // when the local provider finished before the answer was written, 200
    // with the finished generation (no stream is needed): both are right.
    const generated = page.waitForResponse((r) => r.url().endsWith('/api/neo-glitch/generate'));
    const events = page.waitForResponse((r) => r.url().includes('/api/neo-glitch/events/'))
      .catch(() => null);
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    const gen = await generated;
    check(gen.status() === 202 || gen.status() === 200, `generate answered ${gen.status()}`);
    if (gen.status() === 202) {
      const ev = await events;
      check(ev && ev.status() === 200, `events answered ${ev ? ev.status() : 'nothing'}`);
    }
    await waitTerminal(page, 'completed');
    check(/Done/.test(await page.locator('#progress').textContent()), 'progress does not say done');
    check(await page.locator('#progress').getAttribute('aria-live') === 'polite', 'progress is not aria-live');
    check(/^\d+ of \d+$/.test(await page.locator('#m-retries').textContent()), 'no retries shown');
    check(/local/.test(await page.locator('#m-provider').textContent()), 'provider is not local');
    check(/s$/.test(await page.locator('#m-elapsed').textContent()), 'no elapsed time');
    const img = page.locator('#picture');
    await img.waitFor({ state: 'visible' });
    await page.waitForFunction(() => {
      const i = document.getElementById('picture');
      return i.complete && i.naturalWidth > 0;
    });
    check((await img.getAttribute('alt')).includes(prompt), 'the picture\'s alt text is not from the prompt');
    await page.waitForFunction((b) => Number(document.getElementById('q-balance').textContent) === b - 1, before);
    await page.locator(`#gallery img[alt*="${stamp}"]`).first().waitFor();
    await page.screenshot({ path: join(shots, 'studio-desktop.png'), fullPage: true });
  }, page);

  await runCase('history: reload and find it, then the next page with "More"', async () => {
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    check(await page.locator('#type-neo-glitch').isChecked(), 'the type was not kept over the reload');
    await page.locator(`#gallery img[alt*="${stamp}"]`).first().waitFor();
    const first = await page.locator('#gallery li').count();
    check(first === 12, `first page has ${first} items, expected 12`);
    await page.getByRole('button', { name: 'More', exact: true }).click();
    await page.waitForFunction(() => document.querySelectorAll('#gallery li').length === 14);
    check(!(await page.getByRole('button', { name: 'More', exact: true }).isVisible()), '"More" still shown after the last page');
  }, page);

  await runCase('upload: a photo for emotion-mask becomes the transformed picture', async () => {
    await page.getByRole('radio', { name: /Emotion mask/ }).check();
    await page.setInputFiles('#source-file', { name: 'face.png', mimeType: 'image/png', buffer: facePng(128) });
    await page.locator('#source-preview').waitFor({ state: 'visible' });
    await page.getByLabel(/^Prompt/).fill(`a joyful mask ${stamp}`);
    const upload = page.waitForResponse((r) => r.url().endsWith('/api/uploads'));
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    const up = await upload;
    check(up.status() === 201, `the upload answered ${up.status()}`);
    const answer = await up.json();
    check(/^upload:/.test(answer.sourceImage || ''), `no upload reference: ${JSON.stringify(answer)}`);
    await waitTerminal(page, 'completed');
    await page.waitForFunction(() => {
      const i = document.getElementById('picture');
      return !document.getElementById('figure').hidden && i.complete && i.naturalWidth > 0;
    });
    check(/\/media\/emotion-mask\//.test(await page.locator('#picture').getAttribute('src')),
      'the picture is not an emotion-mask result');
    await page.locator('.columns').screenshot({ path: join(shots, 'studio-upload.png') });
  }, page);

  await runCase('several pictures: a count of 3, its cost, a grid of three, each downloadable', async () => {
    await page.getByRole('radio', { name: /Custom prompt/ }).check();
    check(await page.locator('#count-field').isVisible(), 'no count picker');
    const max = await page.locator('#count option').count();
    check(max === 4, `the count picker offers ${max} choices, not GenFlowMaxCount's 4`);
    await page.getByLabel('Pictures', { exact: true }).selectOption('3');
    check(/Costs 6 credits \(3 pictures/.test(await page.locator('#cost').textContent()),
      `the cost says: ${await page.locator('#cost').textContent()}`);
    const before = await balance(page);
    await page.getByLabel(/^Prompt/).fill(`three lanterns ${stamp}`);
    const generated = page.waitForResponse((r) => r.url().endsWith('/api/custom-prompt/generate'));
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    const body = (await generated).request().postDataJSON();
    check(body.count === 3, `generate sent count ${body.count}`);
    await waitTerminal(page, 'completed');
    await page.waitForFunction(() => [...document.querySelectorAll('#pictures img')]
      .filter((i) => i.complete && i.naturalWidth > 0).length === 3);
    check(await page.locator('#pictures').isVisible() && !(await page.locator('#figure').isVisible()),
      'three pictures are not shown as a grid');
    const links = await page.locator('#pictures a[download]').evaluateAll((as) => as.map((a) => a.href));
    const srcs = await page.locator('#pictures img').evaluateAll((is) => is.map((i) => i.src));
    check(links.length === 3 && links.every((h, i) => h === srcs[i]), 'each picture is not downloadable');
    check(new Set(srcs).size === 3, 'the three pictures are not three');
    await page.waitForFunction((b) => Number(document.getElementById('q-balance').textContent) === b - 6, before);
    await page.locator('.columns').screenshot({ path: join(shots, 'studio-count.png') });
    await page.getByLabel('Pictures', { exact: true }).selectOption('1');
  }, page);

  await runCase('edits: a mask painted with the mouse over the photo, references dropped in', async () => {
    await page.getByRole('radio', { name: /Edit demo/ }).check();
    check(await page.locator('#refs-field').isVisible(), 'no reference pictures field');
    await page.setInputFiles('#source-file', { name: 'edit-face.png', mimeType: 'image/png', buffer: facePng(128) });
    await page.locator('#mask[data-photo="edit-face.png"]').waitFor({ state: 'visible' });
    const size = await page.locator('#mask').evaluate((c) => [c.width, c.height]);
    check(size[0] === 128 && size[1] === 128, `the mask canvas is ${size}, not the photo's 128x128`);
    // A stroke down the left third with the mouse.
    await page.locator('#mask').scrollIntoViewIfNeeded();
    const box = await page.locator('#mask').boundingBox();
    await page.mouse.move(box.x + box.width * 0.15, box.y + box.height * 0.1);
    await page.mouse.down();
    for (let k = 1; k <= 8; k++) await page.mouse.move(box.x + box.width * 0.15, box.y + box.height * (0.1 + k * 0.1));
    await page.mouse.up();
    check(/will change/.test(await page.locator('#mask-info').textContent()), 'the stroke did not paint');
    // Two pictures dropped on the drop zone.
    const dt = await page.evaluateHandle((pngs) => {
      const d = new DataTransfer();
      pngs.forEach((b, i) => d.items.add(new File([Uint8Array.from(atob(b), (ch) => ch.charCodeAt(0))],
        `ref${i}.png`, { type: 'image/png' })));
      return d;
    }, [facePng(48).toString('base64'), facePng(40).toString('base64')]);
    await page.dispatchEvent('#refs', 'drop', { dataTransfer: dt });
    check(await page.locator('#refs-list li').count() === 2, 'the dropped pictures are not listed');
    await page.getByLabel(/^Prompt/).fill(`a masked face ${stamp}`);
    const uploads = [];
    const onUpload = (r) => { if (r.url().endsWith('/api/uploads')) uploads.push(r); };
    page.on('response', onUpload);
    const generated = page.waitForResponse((r) => r.url().endsWith('/api/edit-demo/generate'));
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    const body = (await generated).request().postDataJSON();
    page.off('response', onUpload);
    check(uploads.length === 4, `${uploads.length} uploads, not the photo, the mask and two references`);
    check(/^upload:/.test(body.mask || '') && (body.referenceImages || []).length === 2,
      `generate sent ${JSON.stringify({ mask: body.mask, referenceImages: body.referenceImages })}`);
    // The mask as the API reads it: transparent where painted, opaque elsewhere.
    const maskUp = await Promise.all(uploads.map((r) => r.json()));
    const m = maskUp.find((u) => u.sourceImage === body.mask);
    const alpha = await page.evaluate(async (url) => {
      const img = new Image();
      img.src = url;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const ctx = c.getContext('2d');
      ctx.drawImage(img, 0, 0);
      return [ctx.getImageData(19, 64, 1, 1).data[3], ctx.getImageData(100, 64, 1, 1).data[3], c.width];
    }, m.url);
    check(alpha[0] === 0 && alpha[1] === 255 && alpha[2] === 128,
      `the mask's alpha is ${alpha[0]} where painted and ${alpha[1]} elsewhere (${alpha[2]} wide)`);
    await waitTerminal(page, 'completed');
    await page.waitForFunction(() => {
      const i = document.getElementById('picture');
      return !document.getElementById('figure').hidden && i.complete && i.naturalWidth > 0;
    });
    await page.locator('.columns').screenshot({ path: join(shots, 'studio-edit.png') });
    await page.getByRole('button', { name: 'Clear the mask' }).click();
    check(/Nothing painted/.test(await page.locator('#mask-info').textContent()), 'the mask did not clear');
  }, page);

  await runCase('cancel and retry: a slow generation of the site-defined type', async () => {
    await page.getByRole('radio', { name: /Slow demo/ }).check();
    const before = (await apiGet('demo', '/api/quota')).currentBalance;
    await page.getByLabel(/^Prompt/).fill(`a very slow snail ${stamp}`);
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    await page.waitForFunction(() => ['pending', 'processing'].includes(document.getElementById('m-state').textContent));
    check(await page.locator('#bar').isVisible(), 'no progress bar while it runs');
    await page.waitForFunction(() => document.getElementById('m-state').textContent === 'processing', null, { timeout: 10000 });
    await page.waitForTimeout(1200);
    check(/^\d+\.\d s$/.test(await page.locator('#m-elapsed').textContent()), 'elapsed time not ticking');
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await waitTerminal(page, 'cancelled', 10000);
    check(/Cancelled/.test(await page.locator('#progress').textContent()), 'progress does not say cancelled');
    check(await page.getByRole('button', { name: 'Retry', exact: true }).isEnabled(), 'Retry is not offered');
    await page.waitForFunction((b) => Number(document.getElementById('q-balance').textContent) === b, before);
    // Retry: a new generation from the same input, watched the same way;
    // cancelled in its turn.
    const retried = page.waitForResponse((r) => /\/api\/slow-demo\/retry\//.test(r.url()));
    await page.getByRole('button', { name: 'Retry', exact: true }).click();
    check([200, 202].includes((await retried).status()), 'retry was refused');
    await page.waitForFunction(() => ['pending', 'processing'].includes(document.getElementById('m-state').textContent));
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await waitTerminal(page, 'cancelled', 10000);
    await page.waitForFunction((b) => Number(document.getElementById('q-balance').textContent) === b, before);
  }, page);

  await runCase('a place in line: "12th in line, about N s" behind a paused provider', async () => {
    // One call of the provider measures its time; then it is paused (as a
    // 429 with Retry-After does), so the line keeps still while it is read.
    await seed('demo', 'line-demo', [`first in line ${stamp}`]);
    sql("INSERT INTO genflow_provider_limits (provider, paused_until) VALUES ('lined', now() + interval '120 s') "
        + "ON CONFLICT (provider) DO UPDATE SET paused_until = EXCLUDED.paused_until");
    const ahead = [];
    for (let i = 1; i <= 11; i++) {
      ahead.push(await apiPost('demo', '/api/line-demo/generate', { prompt: `waiting ${i} ${stamp}` }));
    }
    try {
      await page.getByRole('radio', { name: /Line demo/ }).check();
      await page.getByLabel(/^Prompt/).fill(`twelfth in line ${stamp}`);
      // The page follows it on the demo's events host (GenFlowEventsBase):
      // another origin, a token instead of a login.
      const stream = page.waitForResponse((r) => {
        const u = new URL(r.url());
        return u.pathname.startsWith('/api/line-demo/events/') && u.origin !== origin
          && u.searchParams.has('token');
      }, { timeout: 10000 });
      await page.getByRole('button', { name: 'Generate', exact: true }).click();
      check((await stream).status() === 200, 'the stream on the events host did not answer 200');
      await page.waitForFunction(() => /in line/.test(document.getElementById('progress').textContent),
        null, { timeout: 10000 });
      const text = await page.locator('#progress').textContent();
      check(/^12th in line, about \d+ (s|min)$/.test(text), `progress says "${text}"`);
      const newest = (await apiGet('demo', '/api/line-demo/history?limit=1')).items[0];
      const st = await apiGet('demo', `/api/line-demo/status/${newest.generationId}`);
      check(st.queuePosition === 11, `the API says queuePosition ${st.queuePosition}`);
      await page.locator('.columns').screenshot({ path: join(shots, 'studio-line.png') });
      // One ahead leaves the line: the page moves up, without a reload.
      await apiPost('demo', `/api/line-demo/cancel/${ahead[0].generationId}`);
      await page.waitForFunction(() => /^11th in line/.test(document.getElementById('progress').textContent),
        null, { timeout: 6000 });
      await page.getByRole('button', { name: 'Cancel', exact: true }).click();
      await waitTerminal(page, 'cancelled', 10000);
    } finally {
      for (const a of ahead.slice(1)) {
        await apiPost('demo', `/api/line-demo/cancel/${a.generationId}`).catch(() => {});
      }
      sql("UPDATE genflow_provider_limits SET paused_until = now() WHERE provider = 'lined'");
    }
  }, page);

  await runCase('progress: a real bar, "N %, about M s left", from the provider\'s job times', async () => {
    // One picture times the provider (5 s); the next one's progress is
    // estimated from that, and the stream sends it once a second.
    await seed('demo', 'timed-demo', [`a timed lighthouse ${stamp}`]);
    await page.getByRole('radio', { name: /Timed demo/ }).check();
    await page.getByLabel(/^Prompt/).fill(`a timed harbour ${stamp}`);
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    await page.waitForFunction(() => Number(document.getElementById('bar').getAttribute('aria-valuenow')) > 0,
      null, { timeout: 10000 });
    const first = Number(await page.locator('#bar').getAttribute('aria-valuenow'));
    const text = await page.locator('#progress').textContent();
    check(/^Generating… \d+ %, about \d+ s left$/.test(text), `progress says "${text}"`);
    check(await page.getByRole('progressbar', { name: 'Progress' }).isVisible(), 'no visible progressbar');
    const width = await page.locator('#bar > div').evaluate((d) => d.style.width);
    check(width === `${first}%`, `the bar is ${width} wide at ${first} %`);
    await page.locator('.columns').screenshot({ path: join(shots, 'studio-progress.png') });
    // It grows while the picture is made, without a reload.
    await page.waitForFunction((f) => Number(document.getElementById('bar').getAttribute('aria-valuenow')) > f,
      first, { timeout: 6000 });
    await waitTerminal(page, 'completed', 15000);
    check(await page.locator('#bar').isHidden(), 'the bar stays after the end');
  }, page);

  await runCase('previews: the picture being drawn takes the bar\'s place, sharper as it comes', async () => {
    await page.getByRole('radio', { name: /Drawing demo/ }).check();
    await page.getByLabel(/^Prompt/).fill(`a drawn lighthouse ${stamp}`);
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    const shown = () => {
      const p = document.getElementById('preview');
      return !p.hidden && p.complete && p.naturalWidth > 0;
    };
    await page.waitForFunction(shown, null, { timeout: 10000 });
    const first = await page.locator('#preview').evaluate((i) => ({ src: i.src, w: i.naturalWidth }));
    check(/\/previews\/[0-9a-f-]{36}-[0-9a-f]{16}\.jpg$/.test(first.src), `the preview is ${first.src}`);
    check(await page.getByRole('img', { name: 'The picture being drawn' }).isVisible(), 'no visible preview');
    check(await page.locator('#bar').isHidden(), 'the bar is shown beside the preview');
    await page.locator('.columns').screenshot({ path: join(shots, 'studio-preview.png') });
    // A sharper one replaces it, without a reload.
    await page.waitForFunction((src) => {
      const p = document.getElementById('preview');
      return !p.hidden && p.src !== src && p.complete && p.naturalWidth > 0;
    }, first.src, { timeout: 6000 });
    const second = await page.locator('#preview').evaluate((i) => i.naturalWidth);
    check(second > first.w, `the second preview (${second} px) is not sharper than the first (${first.w} px)`);
    await waitTerminal(page, 'completed', 15000);
    check(await page.locator('#preview').isHidden(), 'the preview stays after the end');
    check(await page.locator('#picture').isVisible(), 'no picture at the end');
  }, page);

  await runCase('insufficient credits: a user with no credits reads why', async () => {
    const ctx2 = await newContext(browser, 'demo2');
    const p2 = await openStudio(ctx2, '#type=neo-glitch');
    try {
      check(await balance(p2) === 0, 'demo2 does not start at 0 credits');
      await p2.getByLabel(/^Prompt/).fill('a costly dream');
      allowed.push(/status of 402/);
      await p2.getByRole('button', { name: 'Generate', exact: true }).click();
      const msg = p2.getByRole('alert');
      await msg.filter({ hasText: 'Not enough credits' }).waitFor();
      const text = await msg.textContent();
      check(/costs 1 credit and your balance is 0 credits/.test(text), `message: ${text}`);
    } finally {
      await ctx2.close();
    }
  }, page);

  await runCase('docs: /api/docs lists the endpoints', async () => {
    const docsLink = page.getByRole('link', { name: 'API docs' });
    check((await docsLink.getAttribute('href')).endsWith('/api/docs/'), 'the docs link is not /api/docs/');
    await docsLink.click();
    await page.waitForSelector('.opblock-summary-path', { timeout: 20000 });
    const flat = await page.evaluate(() => Array.from(document.querySelectorAll('.opblock-summary-path'),
      (el) => (el.getAttribute('data-path') || el.textContent).replace(/\u200b/g, '').trim()));
    for (const want of ['/api/{type}/generate', '/api/{type}/events/{id}', '/api/{type}/history', '/api/quota']) {
      check(flat.includes(want), `the docs do not list ${want} (${flat.length} paths)`);
    }
    const yaml = await page.request.get(new URL('/api/docs/openapi.yaml', base).href);
    // The document as the repository has it (its license line first).
    check(yaml.status() === 200 && /^openapi: 3\./m.test(await yaml.text()), 'openapi.yaml is not served');
    await page.screenshot({ path: join(shots, 'api-docs.png') });
    await page.getByRole('link', { name: 'Back to the studio' }).click();
    await page.waitForSelector('body[data-ready="true"]');
  }, page);

  await runCase('375 px wide, by keyboard: pick, type, generate, picture', async () => {
    const phone = await newContext(browser, 'demo', { width: 375, height: 812 });
    const p = await openStudio(phone, '#type=custom-prompt');
    try {
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 0, `the page is ${overflow} px wider than the screen`);
      // Tab to the type picker, then arrow keys choose another type.
      await p.locator('#type-custom-prompt').focus();
      await p.keyboard.press('ArrowLeft');
      check(!(await p.locator('#type-custom-prompt').isChecked()), 'arrow keys do not change the type');
      const outline = await p.evaluate(() => getComputedStyle(
        document.querySelector('input[name="type"]:checked + label')).outlineStyle);
      check(outline !== 'none', 'no visible focus on the type picker');
      await p.keyboard.press('ArrowRight');
      check(await p.locator('#type-custom-prompt').isChecked(), 'arrow keys do not change the type back');
      await p.waitForFunction(() => document.getElementById('history-type').textContent === '(custom-prompt)');
      await p.locator('#prompt').focus();
      await p.keyboard.type(`a lantern festival ${stamp}`);
      await p.keyboard.press('Control+Enter');
      await waitTerminal(p, 'completed');
      await p.waitForFunction(() => {
        const i = document.getElementById('picture');
        return i.complete && i.naturalWidth > 0;
      });
      const overflow2 = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow2 <= 0, `after generating, the page is ${overflow2} px wider than the screen`);
      await p.locator(`#gallery img[alt*="${stamp}"]`).first().waitFor();
      await p.screenshot({ path: join(shots, 'studio-375.png'), fullPage: true });
    } finally {
      await phone.close();
    }
  }, page);

  await runCase('375 px wide, edits by touch and keyboard: paint, add references, generate', async () => {
    const phone = await newContext(browser, 'demo', { width: 375, height: 812 });
    const p = watchPage(await phone.newPage());
    try {
      await p.goto(new URL('/#type=edit-demo', base).href);
      await p.waitForSelector('body[data-ready="true"]');
      await p.setInputFiles('#source-file', { name: 'face.png', mimeType: 'image/png', buffer: facePng(96) });
      await p.locator('#mask[data-photo="face.png"]').waitFor({ state: 'visible' });
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 0, `with the mask editor, the page is ${overflow} px wider than the screen`);
      // A finger's tap paints.
      await p.locator('#mask').scrollIntoViewIfNeeded();
      const box = await p.locator('#mask').boundingBox();
      check(box.width <= 375, `the canvas is ${box.width} px wide`);
      await p.touchscreen.tap(box.x + box.width * 0.8, box.y + box.height * 0.2);
      check(/will change/.test(await p.locator('#mask-info').textContent()), 'a tap did not paint');
      await p.getByRole('button', { name: 'Clear the mask' }).click();
      // The keyboard: focus the picture, Space paints, Shift+arrows paint along.
      await p.locator('#mask').focus();
      check(await p.locator('#mask-cursor').isVisible(), 'no brush ring for the keyboard');
      await p.keyboard.press('Space');
      check(/will change/.test(await p.locator('#mask-info').textContent()), 'Space did not paint');
      await p.keyboard.press('Shift+ArrowRight');
      await p.keyboard.press('Shift+ArrowRight');
      await p.keyboard.press(']');
      await p.setInputFiles('#refs-file', [{ name: 'r1.png', mimeType: 'image/png', buffer: facePng(32) }]);
      check(await p.locator('#refs-list li').count() === 1, 'the chosen reference is not listed');
      await p.getByLabel(/^Prompt/).fill(`a touch edit ${stamp}`);
      const generated = p.waitForResponse((r) => r.url().endsWith('/api/edit-demo/generate'));
      await p.getByRole('button', { name: 'Generate', exact: true }).click();
      const body = (await generated).request().postDataJSON();
      check(/^upload:/.test(body.mask || '') && (body.referenceImages || []).length === 1,
        `generate sent ${JSON.stringify({ mask: body.mask, referenceImages: body.referenceImages })}`);
      await waitTerminal(p, 'completed');
      const overflow2 = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow2 <= 0, `after generating, the page is ${overflow2} px wider than the screen`);
      await p.screenshot({ path: join(shots, 'studio-edit-375.png'), fullPage: true });
    } finally {
      await phone.close();
    }
  }, page);

  currentCase = 'end';
  await runCase('no console errors on any page of the run', async () => {
    const unexpected = consoleErrors.filter((e) => {
      const i = allowed.findIndex((re) => re.test(e.text));
      if (i >= 0) { allowed.splice(i, 1); return false; }
      return true;
    });
    for (const e of unexpected) log(`#   console error in "${e.case}": ${e.text} ${e.url || ''}`);
    check(unexpected.length === 0, `${unexpected.length} console error(s)`);
  });

  await desktop.close();
  await browser.close();
}

const guard = setTimeout(() => {
  log('not ok - the browser run did not finish within 170 s');
  results.push({ name: 'time limit', ok: false });
  finish(1);
}, 170000);

function finish(code) {
  clearTimeout(guard);
  const failed = results.filter((r) => !r.ok).length;
  log(`browser: ${results.length - failed} passed, ${failed} failed`);
  process.exit(code || (failed ? 1 : 0));
}

main().then(() => finish(0), (e) => {
  log(`not ok - the browser run stopped: ${e && e.stack ? e.stack : e}`);
  results.push({ name: 'run', ok: false });
  finish(1);
});
