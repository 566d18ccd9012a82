// SPDX-License-Identifier: Apache-2.0
// edits.js: an edit's inputs on the studio page (docs/api.md, "Edits"): a
// mask painted with a brush over the uploaded photo, and reference
// pictures added by drag and drop (or chosen), for the types whose fields
// list mask and referenceImages.
//
// The mask is painted on a canvas the size of the photo itself (the API
// wants a PNG of the source's size): with a mouse, a pen or a finger
// (pointer events), or with the keyboard (arrows move the brush, Space
// paints, Shift+arrows paint as they move, [ and ] change its size). It is
// sent as the API reads masks: transparent where painted, opaque black
// elsewhere.

const $ = (id) => document.getElementById(id);
const ACCEPTED = ['image/png', 'image/jpeg', 'image/webp'];

/** The mask painted over the photo. */
export class MaskEditor {
  constructor() {
    this.canvas = $('mask');
    this.cursor = $('mask-cursor');
    this.photo = null;         // the decoded photo (an Image)
    this.paint = null;         // where painted: an offscreen canvas, white
    this.painted = false;
    this.at = { x: 0, y: 0 };  // the keyboard's brush, in photo pixels
    this.drawing = false;
    this.canvas.addEventListener('pointerdown', (e) => this.down(e));
    this.canvas.addEventListener('pointermove', (e) => this.move(e));
    for (const t of ['pointerup', 'pointercancel', 'pointerleave']) {
      this.canvas.addEventListener(t, () => { this.drawing = false; });
    }
    this.canvas.addEventListener('keydown', (e) => this.key(e));
    this.canvas.addEventListener('focus', () => this.showCursor());
    this.canvas.addEventListener('blur', () => { this.cursor.hidden = true; });
    $('mask-clear').addEventListener('click', () => this.clear());
  }

  /** The brush's radius in photo pixels. */
  radius() {
    const r = Number($('brush').value) || 12;
    return Math.max(1, Math.round((r * this.canvas.width) / 400));
  }

  /** Show the editor over file (a photo the user chose), or hide it. */
  async load(file) {
    // Shown once the photo is there to paint on.
    $('mask-editor').hidden = true;
    this.photo = null;
    this.painted = false;
    this.file = file;
    if (!file) return;
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.src = url;
    try { await img.decode(); } catch { return; } finally { URL.revokeObjectURL(url); }
    if (this.file !== file) return;   // another photo was chosen meanwhile
    this.photo = img;
    this.canvas.width = img.naturalWidth;
    this.canvas.height = img.naturalHeight;
    this.paint = document.createElement('canvas');
    this.paint.width = img.naturalWidth;
    this.paint.height = img.naturalHeight;
    this.at = { x: Math.floor(img.naturalWidth / 2), y: Math.floor(img.naturalHeight / 2) };
    this.redraw();
    this.info();
    this.canvas.dataset.photo = file.name;
    $('mask-editor').hidden = false;
  }

  redraw() {
    const ctx = this.canvas.getContext('2d');
    ctx.globalCompositeOperation = 'source-over';
    ctx.drawImage(this.photo, 0, 0);
    // What is painted, shown in a see-through magenta over the photo.
    const tint = document.createElement('canvas');
    tint.width = this.paint.width;
    tint.height = this.paint.height;
    const t = tint.getContext('2d');
    t.drawImage(this.paint, 0, 0);
    t.globalCompositeOperation = 'source-in';
    t.fillStyle = 'rgba(230, 0, 120, 0.55)';
    t.fillRect(0, 0, tint.width, tint.height);
    ctx.drawImage(tint, 0, 0);
  }

  /** Paint at (x, y), along from (from.x, from.y) when given (a stroke
   * whose pointer moved more than a dab between two events). */
  dab(x, y, from = null) {
    const ctx = this.paint.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.beginPath();
    ctx.arc(x, y, this.radius(), 0, Math.PI * 2);
    ctx.fill();
    if (from) {
      ctx.strokeStyle = '#fff';
      ctx.lineWidth = 2 * this.radius();
      ctx.lineCap = 'round';
      ctx.beginPath();
      ctx.moveTo(from.x, from.y);
      ctx.lineTo(x, y);
      ctx.stroke();
    }
    this.painted = true;
    this.redraw();
    this.info();
  }

  /** A pointer's place in photo pixels. */
  place(e) {
    const box = this.canvas.getBoundingClientRect();
    return {
      x: ((e.clientX - box.left) * this.canvas.width) / box.width,
      y: ((e.clientY - box.top) * this.canvas.height) / box.height,
    };
  }

  down(e) {
    if (!this.photo) return;
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    this.drawing = true;
    const p = this.place(e);
    this.dab(p.x, p.y);
    this.last = p;
  }

  move(e) {
    if (!this.drawing || !this.photo) return;
    const p = this.place(e);
    this.dab(p.x, p.y, this.last);
    this.last = p;
  }

  key(e) {
    if (!this.photo) return;
    const step = Math.max(2, Math.round(this.canvas.width / 25));
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[e.key]) {
      e.preventDefault();
      const [dx, dy] = moves[e.key];
      this.at.x = Math.min(this.canvas.width - 1, Math.max(0, this.at.x + dx));
      this.at.y = Math.min(this.canvas.height - 1, Math.max(0, this.at.y + dy));
      if (e.shiftKey) this.dab(this.at.x, this.at.y, { x: this.at.x - dx, y: this.at.y - dy });
      this.showCursor();
    } else if (e.key === ' ' || e.key === 'Enter') {
      e.preventDefault();
      this.dab(this.at.x, this.at.y);
    } else if (e.key === '[' || e.key === ']') {
      e.preventDefault();
      const b = $('brush');
      b.value = String(Number(b.value) + (e.key === ']' ? 4 : -4));
      this.showCursor();
    }
  }

  /** The keyboard's brush, drawn as a ring over the canvas. */
  showCursor() {
    if (!this.photo) return;
    const box = this.canvas.getBoundingClientRect();
    const scale = box.width / this.canvas.width;
    const r = this.radius() * scale;
    Object.assign(this.cursor.style, {
      left: `${this.at.x * scale - r}px`, top: `${this.at.y * scale - r}px`,
      width: `${2 * r}px`, height: `${2 * r}px`,
    });
    this.cursor.hidden = false;
  }

  clear() {
    if (!this.paint) return;
    this.paint.getContext('2d').clearRect(0, 0, this.paint.width, this.paint.height);
    this.painted = false;
    this.redraw();
    this.info();
  }

  info() {
    $('mask-info').textContent = this.painted
      ? 'The painted part will change; the rest stays.'
      : 'Nothing painted: the whole picture is made anew.';
  }

  /** The mask as the API takes it, a PNG the photo's size (or null when
   * nothing is painted): transparent where painted, opaque elsewhere. */
  async blob() {
    if (!this.painted || !this.paint) return null;
    const out = document.createElement('canvas');
    out.width = this.paint.width;
    out.height = this.paint.height;
    const ctx = out.getContext('2d');
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.globalCompositeOperation = 'destination-out';
    ctx.drawImage(this.paint, 0, 0);
    return new Promise((ok) => out.toBlob(ok, 'image/png'));
  }
}

/** Reference pictures, dropped or chosen, each uploaded once. */
export class References {
  constructor(onError) {
    this.items = [];           // {file, url, answer}
    this.max = 4;
    this.onError = onError;
    const drop = $('refs');
    drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      this.add([...(e.dataTransfer?.files || [])]);
    });
    drop.addEventListener('click', () => $('refs-file').click());
    drop.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); $('refs-file').click(); }
    });
    $('refs-file').addEventListener('change', () => {
      this.add([...$('refs-file').files]);
      $('refs-file').value = '';
    });
  }

  setMax(n) {
    this.max = n || 4;
    $('refs-hint').textContent = `Up to ${this.max} pictures for the result to draw from: drop them here, or press Enter to choose.`;
  }

  add(files) {
    for (const file of files) {
      if (!ACCEPTED.includes(file.type)) { this.onError(`${file.name}: choose PNG, JPEG or WebP pictures.`); continue; }
      if (this.items.length >= this.max) { this.onError(`At most ${this.max} reference pictures for this type.`); break; }
      this.items.push({ file, url: URL.createObjectURL(file), answer: null });
    }
    this.render();
  }

  remove(i) {
    URL.revokeObjectURL(this.items[i].url);
    this.items.splice(i, 1);
    this.render();
  }

  clear() {
    while (this.items.length) this.remove(0);
  }

  render() {
    const list = $('refs-list');
    list.replaceChildren(...this.items.map((it, i) => {
      const li = document.createElement('li');
      const img = document.createElement('img');
      img.src = it.url;
      img.alt = `Reference picture ${i + 1}: ${it.file.name}`;
      const rm = document.createElement('button');
      rm.type = 'button';
      rm.textContent = 'Remove';
      rm.setAttribute('aria-label', `Remove reference picture ${i + 1}`);
      rm.addEventListener('click', () => this.remove(i));
      li.append(img, rm);
      return li;
    }));
  }

  /** Each picture uploaded (once); their sourceImage references. */
  async references(upload) {
    for (const it of this.items) {
      if (!it.answer) it.answer = await upload(it.file);
    }
    return this.items.map((it) => it.answer.sourceImage);
  }
}
