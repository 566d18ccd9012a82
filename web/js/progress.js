// SPDX-License-Identifier: Apache-2.0
// progress.js: live progress of one generation.
//
// GET {base}/events/{id} is a Server-Sent Events stream: `event: status`
// with the status object as data, one per change, ending at a terminal state
// or after 60 s (docs/api.md). EventSource reconnects by itself when the
// server ends a stream that is not finished yet; the watcher closes it at
// the terminal state. If the stream cannot be opened at all, the watcher
// polls GET {base}/status/{id} with the Retry-After hint instead.

import { api, resolve, sameOrigin } from './api.js';

export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/** 1 → "1st", 2 → "2nd", 11 → "11th", 22 → "22nd". */
export function ordinal(n) {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] || 'th');
  return `${n}${suffix}`;
}

/**
 * Where a queued generation stands: "12th in line, about 40 s" from its
 * queuePosition (generations ahead of it) and estimatedStartAt; null when
 * the status has no place in line (not queued, or already started).
 */
export function lineText(s, now = Date.now()) {
  if (s.status !== 'pending' || !Number.isInteger(s.queuePosition)) return null;
  const place = `${ordinal(s.queuePosition + 1)} in line`;
  const at = Date.parse(s.estimatedStartAt);
  if (Number.isNaN(at)) return place;
  const secs = Math.max(0, Math.round((at - now) / 1000));
  return `${place}, about ${secs < 60 ? `${secs} s` : `${Math.round(secs / 60)} min`}`;
}

/**
 * How far a processing generation has come: "52 %, about 3 s left" from its
 * progress (its provider's report, or an estimate from job times) and
 * estimatedFinishAt; null when its progress is not known.
 */
export function workText(s, now = Date.now()) {
  if (s.status !== 'processing' || typeof s.progress !== 'number') return null;
  const pct = `${Math.round(s.progress * 100)} %`;
  const at = Date.parse(s.estimatedFinishAt);
  if (Number.isNaN(at)) return pct;
  const secs = Math.max(0, Math.round((at - now) / 1000));
  return `${pct}, about ${secs < 60 ? `${secs} s` : `${Math.round(secs / 60)} min`} left`;
}

export class Watcher {
  /**
   * onStatus(statusObject) is called for every change, the last one terminal;
   * onPreview(url), where given, for each picture of it being drawn.
   * eventsUrl: where the API said the stream is (a status object's, or the
   * create or generate answer's); on an events host of the site's own it
   * carries a token, and no login is sent there.
   */
  constructor(base, id, onStatus, eventsUrl, onPreview) {
    this.base = base;
    this.id = id;
    this.eventsUrl = eventsUrl || null;
    this.onStatus = onStatus;
    this.onPreview = onPreview || null;
    this.closed = false;
    this.es = null;
    this.timer = null;
    this.failures = 0;
    this.last = null;
  }

  start() {
    const url = this.eventsUrl ? resolve(this.eventsUrl)
      : `${resolve(this.base)}/events/${encodeURIComponent(this.id)}`;
    if (typeof EventSource !== 'function') { this.poll(); return this; }
    const tokened = new URL(url).searchParams.has('token');
    this.es = new EventSource(url, { withCredentials: !tokened && !sameOrigin(url) });
    this.es.addEventListener('status', (ev) => {
      let status;
      try { status = JSON.parse(ev.data); } catch { return; }
      this.failures = 0;
      this.deliver(status);
    });
    // The picture being drawn, where the provider streams it: a small
    // picture's URL, at most one a second, only while it runs.
    this.es.addEventListener('preview', (ev) => {
      let p;
      try { p = JSON.parse(ev.data); } catch { return; }
      if (this.closed || !this.onPreview || !p || p.generationId !== this.id) return;
      if (typeof p.url === 'string' && p.url) this.onPreview(p.url);
    });
    this.es.addEventListener('error', () => {
      if (this.closed) return;
      // CONNECTING: the stream ended (60 s) and the browser reconnects.
      // CLOSED: it could not be opened (an error answer): poll instead.
      if (this.es.readyState === EventSource.CLOSED || ++this.failures > 3) {
        this.es.close();
        this.es = null;
        this.poll();
      }
    });
    return this;
  }

  deliver(status) {
    if (this.closed) return;
    this.last = status;
    if (TERMINAL.has(status.status)) this.stop();
    this.onStatus(status);
  }

  async poll() {
    if (this.closed) return;
    let wait = 2;
    try {
      const status = await api.status(this.base, this.id);
      this.deliver(status);
    } catch (e) {
      if (e && e.status === 404) { this.stop(); this.onStatus(null, e); return; }
      wait = (e && e.retryAfter) || 5;
    }
    if (!this.closed) this.timer = setTimeout(() => this.poll(), wait * 1000);
  }

  stop() {
    this.closed = true;
    if (this.es) { this.es.close(); this.es = null; }
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
  }
}
