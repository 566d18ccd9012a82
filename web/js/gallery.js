// SPDX-License-Identifier: Apache-2.0
// gallery.js: the caller's generations of one type, newest first, with
// cursor paging: GET {base}/history?limit=&before= → {items, next}.

import { api, resolve } from './api.js';
import { describe, describeJob } from './errors.js';

const PAGE = 12;

function altText(prompt) {
  const p = (prompt || '').trim();
  return p ? `Picture for the prompt: ${p}` : 'Generated picture';
}

export { altText };

function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString([], {
    month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
  });
}

export class Gallery {
  /** els: {list, more, empty, title}; onOpen(statusObject); onError(message). */
  constructor(els, onOpen, onError) {
    this.els = els;
    this.onOpen = onOpen;
    this.onError = onError;
    this.type = null;
    this.next = null;
    this.loading = false;
    this.generation = 0;
    els.more.addEventListener('click', () => this.loadMore());
  }

  /** Show the first page of a type's history. */
  async show(type) {
    this.type = type;
    this.next = null;
    this.generation += 1;
    this.els.list.replaceChildren();
    this.els.title.textContent = `(${type.type})`;
    await this.page(null, this.generation);
  }

  reload() {
    return this.type ? this.show(this.type) : Promise.resolve();
  }

  async loadMore() {
    if (!this.next || this.loading) return;
    // Keep the keyboard where it was: focus the first new item afterwards.
    const before = this.els.list.children.length;
    await this.page(this.next, this.generation);
    const first = this.els.list.children[before];
    const btn = first && first.querySelector('button');
    if (btn) btn.focus();
  }

  async page(before, generation) {
    this.loading = true;
    this.els.more.disabled = true;
    this.els.list.setAttribute('aria-busy', 'true');
    try {
      const data = await api.history(this.type.base, PAGE, before);
      if (generation !== this.generation) return;
      for (const item of data.items || []) this.els.list.append(this.item(item));
      this.next = data.next || null;
    } catch (e) {
      if (generation === this.generation) this.onError(describe(e));
    } finally {
      if (generation === this.generation) {
        this.loading = false;
        this.els.list.removeAttribute('aria-busy');
        this.els.more.hidden = !this.next;
        this.els.more.disabled = false;
        this.els.empty.hidden = this.els.list.children.length > 0;
      }
    }
  }

  item(s) {
    const li = document.createElement('li');
    li.className = `item item-${s.status}`;
    li.dataset.id = s.generationId;
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'thumb';
    btn.setAttribute('aria-label', `Open: ${s.prompt || s.type} (${s.status})`);
    if (s.status === 'completed' && s.imageUrl) {
      const img = document.createElement('img');
      img.src = resolve(s.imageUrl);
      img.alt = altText(s.prompt);
      img.loading = 'lazy';
      img.decoding = 'async';
      btn.append(img);
    } else {
      const ph = document.createElement('span');
      ph.className = 'placeholder';
      ph.textContent = s.status;
      btn.append(ph);
    }
    btn.addEventListener('click', () => this.onOpen(s));
    const cap = document.createElement('p');
    cap.className = 'cap';
    const text = document.createElement('span');
    text.className = 'cap-prompt';
    text.textContent = s.prompt || '';
    const meta = document.createElement('span');
    meta.className = 'cap-meta';
    meta.textContent = `${s.status} · ${when(s.createdAt)}`;
    if (s.status === 'failed' && s.error) meta.title = describeJob(s.error);
    cap.append(text, meta);
    li.append(btn, cap);
    return li;
  }
}
