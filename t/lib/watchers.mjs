// SPDX-License-Identifier: Apache-2.0
// watchers.mjs: a crowd of waiting clients for t/32_waiting.t, on raw
// sockets (no agent, no pooling: each request its own connection, as a
// browser tab's EventSource is). Reads one JSON job from $WATCH_JOB:
//   { host, port, streams: [{base, id, user, n, drop} or {path, n}: a path
//     with its query, no login], waits: [{user, n,
//     body, wait, path, method, headers}], probe: {user, paths, count,
//     rounds, gapMs}, holdMs,
//     startAfterOpen: [{path, user, body}], timeoutMs, settleMs }
// prints "opened" once every request has its response headers (waits:
// once sent and nothing answered yet), then runs the probe (sequential
// requests of another user, each timed), then "holding" for holdMs (bench/
// waiters measures the server meanwhile), then the starts, and prints one
// JSON summary line when every request has ended or timeoutMs passed.
import net from 'node:net';

const job = JSON.parse(process.env.WATCH_JOB);
const auth = (u) => 'Basic ' + Buffer.from(`${u}:${u}`).toString('base64');

function request(method, path, user, { body, headers = {} } = {}) {
  const sock = net.connect(job.port, job.host);
  const rec = { sock, raw: '', headersDone: false, code: 0, ended: false, events: [],
                comments: 0, retry: null, resetOrError: null, closedAt: 0 };
  // Connection: close: a request's end is its connection's close.
  // user null: no login (an events host's URL carries a token instead).
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${job.host}:${job.port}\r\n` +
             (user === null ? '' : `Authorization: ${auth(user)}\r\n`) + 'Connection: close\r\n';
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  if (body !== undefined) {
    const b = Buffer.from(JSON.stringify(body));
    head += `Content-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n`;
    sock.write(head);
    sock.write(b);
  } else {
    sock.write(head + '\r\n');
  }
  rec.done = new Promise((resolve) => {
    sock.setEncoding('utf8');
    sock.on('data', (d) => {
      rec.raw += d;
      if (!rec.headersDone) {
        const i = rec.raw.indexOf('\r\n\r\n');
        if (i >= 0) {
          rec.headersDone = true;
          rec.code = Number(rec.raw.slice(9, 12));
          rec.headers = rec.raw.slice(0, i);
          rec.onHeaders?.();
        }
      }
    });
    sock.on('error', (e) => { rec.resetOrError = e.code || String(e); });
    sock.on('close', () => {
      rec.ended = true;
      rec.closedAt = Date.now();
      parseEvents(rec);
      resolve(rec);
    });
  });
  return rec;
}

// The SSE fields of a chunked text/event-stream body (chunk sizes are
// lines of hex digits: they never start with "id:", "data:" or ":").
function parseEvents(rec) {
  const i = rec.raw.indexOf('\r\n\r\n');
  if (i < 0) return;
  const body = rec.raw.slice(i + 4);
  // A clean end: the last chunk of a chunked body; else (a body the close
  // delimits, or one with Content-Length) a close without a reset.
  rec.complete = /transfer-encoding: *chunked/i.test(rec.headers || '')
    ? /\r\n0\r\n\r\n$/.test(rec.raw) : !rec.resetOrError;
  for (const line of body.split(/\r?\n/)) {
    if (line.startsWith('data: ')) {
      try { rec.events.push(JSON.parse(line.slice(6)).status); } catch { rec.events.push('?'); }
    } else if (line.startsWith(': ')) rec.comments++;
    else if (line.startsWith('retry: ')) rec.retry = Number(line.slice(7));
  }
}

const pct = (xs, q) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const streams = [], waits = [];
let opened = 0, expected = 0;
let signalOpened;
const allOpened = new Promise((r) => { signalOpened = r; });
const markOpen = () => { if (++opened === expected) signalOpened(); };

for (const s of job.streams || []) {
  for (let k = 0; k < s.n; k++) {
    expected++;
    const rec = request('GET', s.path || `${s.base}/events/${s.id}`, s.user ?? null,
                        { headers: { Accept: 'text/event-stream' } });
    rec.drop = !!s.drop;
    rec.onHeaders = () => {
      markOpen();
      if (rec.drop) setTimeout(() => rec.sock.destroy(), 50);
    };
    streams.push(rec);
  }
}
for (const w of job.waits || []) {
  for (let k = 0; k < w.n; k++) {
    expected++;
    const rec = request(w.method || 'POST', w.path, w.user,
                        { body: w.body, headers: { Prefer: `wait=${w.wait}`, ...(w.headers || {}) } });
    rec.sock.on('connect', () => setTimeout(markOpen, 0));
    waits.push(rec);
  }
}
if (expected === 0) signalOpened();

const timeout = new Promise((r) => setTimeout(r, job.timeoutMs || 120000, 'timeout'));
const t0 = Date.now();
const first = await Promise.race([allOpened, timeout]);
console.log(first === 'timeout' ? 'not-opened' : 'opened');
// Give the server a moment to park what it was sent.
await new Promise((r) => setTimeout(r, job.settleMs ?? 1000));
const earlyAnswers = waits.filter((w) => w.headersDone).length;

const probe = [], rounds = [];
for (let round = 0; job.probe && round < (job.probe.rounds || 1); round++) {
  if (round) await new Promise((r) => setTimeout(r, job.probe.gapMs || 0));
  const first = probe.length;
  for (let k = 0; k < job.probe.count; k++) {
    for (const path of job.probe.paths) {
      const s = process.hrtime.bigint();
      const rec = request('GET', path, job.probe.user);
      const r = await Promise.race([rec.done, timeout]);
      probe.push({ path, ms: Number(process.hrtime.bigint() - s) / 1e6,
                   code: r === 'timeout' ? 0 : rec.code });
      if (r === 'timeout') break;
    }
  }
  const ms = probe.slice(first).map((p) => p.ms);
  rounds.push({ p50: pct(ms, 0.5), p99: pct(ms, 0.99) });
}
if (job.holdMs) {
  console.log('holding');
  await new Promise((r) => setTimeout(r, job.holdMs));
}
const startedAt = Date.now();
for (const st of job.startAfterOpen || []) {
  const rec = request('POST', st.path, st.user, { body: st.body });
  await Promise.race([rec.done, timeout]);
}
if (job.gracefulSignal) console.log('ready-for-restart');

const ended = await Promise.race([
  Promise.all([...streams, ...waits].map((r) => r.done)), timeout]);
for (const r of [...streams, ...waits]) if (!r.ended) { parseEvents(r); r.sock.destroy(); }
const terminal = new Set(['completed', 'failed', 'cancelled']);
const codes = {};
for (const w of waits) codes[w.code] = (codes[w.code] || 0) + 1;
const kept = streams.filter((s) => !s.drop);
const summary = {
  timedOut: ended === 'timeout',
  openMs: Date.now() - t0,
  streams: kept.length,
  streamCodes: kept.reduce((a, s) => { a[s.code] = (a[s.code] || 0) + 1; return a; }, {}),
  streamsTerminal: kept.filter((s) => s.events.length && terminal.has(s.events.at(-1))).length,
  streamsComplete: kept.filter((s) => s.complete).length,
  streamsRepeated: kept.filter((s) => new Set(s.events).size !== s.events.length).length,
  streamsErrors: kept.filter((s) => s.resetOrError).length,
  streamsRetryFull: kept.filter((s) => s.retry === 10000).length,
  dropped: streams.length - kept.length,
  sampleHeaders: kept.length ? kept[0].headers : null,
  waits: waits.length,
  waitCodes: codes,
  waitsEarly: earlyAnswers,
  waitErrors: waits.filter((w) => w.resetOrError || !w.code).length,
  waitIds: waits.map((w) => { try { return JSON.parse(w.raw.slice(w.raw.indexOf('\r\n\r\n') + 4)
                                                   .replace(/^[0-9a-f]+\r\n/, '')).generationId; }
                              catch { return null; } }).filter(Boolean),
  probe,
  probeMaxMs: probe.reduce((m, p) => Math.max(m, p.ms), 0),
  probeP50Ms: pct(probe.map((p) => p.ms), 0.5),
  probeP99Ms: pct(probe.map((p) => p.ms), 0.99),
  // Each round's p50 and p99, and their medians.
  probeRounds: rounds,
  roundsP50Ms: pct(rounds.map((r) => r.p50), 0.5),
  roundsP99Ms: pct(rounds.map((r) => r.p99), 0.5),
  startedAt,
  lastCloseAt: kept.reduce((m, s) => Math.max(m, s.closedAt), 0),
  probeBad: probe.filter((p) => p.code !== 200).length,
};
console.log(JSON.stringify(summary));
process.exit(0);
