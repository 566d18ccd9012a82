// SPDX-License-Identifier: Apache-2.0
// h2page.mjs: what a page on an HTTP/2 site does, for t/48_events_host.t.
// One HTTP/2 connection (h2c, prior knowledge) to the main host, as a
// browser keeps one per origin; the page follows `streams` generations,
// each by its status object's eventsUrl: on the same connection when that
// is a path of the main host, else on a connection of its own (HTTP/1.1,
// no login: the URL carries a token). Once every stream has its first
// event, the page asks the main host for `/api/quota` `requests` times on
// its connection, one after the other, each given `timeoutMs`. Reads one
// JSON job from $H2_JOB: { main, user, type, ids: [...], requests,
// timeoutMs } and prints one JSON line: each stream's transport and first
// event, the server's waiters while they are open (/api/health), and each
// request's status and milliseconds (0: timed out).
import http from 'node:http';
import http2 from 'node:http2';

const job = JSON.parse(process.env.H2_JOB);
const auth = 'Basic ' + Buffer.from(`${job.user}:${job.user}`).toString('base64');
const session = http2.connect(job.main);
session.on('error', () => {});

function h2get(path, onData) {
  return new Promise((resolve) => {
    const req = session.request({ ':path': path, authorization: auth, accept: '*/*' });
    let body = '', status = 0;
    req.setEncoding('utf8');
    req.on('response', (h) => { status = h[':status']; });
    req.on('data', (d) => { body += d; onData?.(body, status); });
    req.on('end', () => resolve({ status, body }));
    req.on('error', () => resolve({ status, body }));
    req.end();
  });
}

function firstEvent(body) {
  const m = body.match(/^data: (.*)$/m);
  return m ? JSON.parse(m[1]) : null;
}

// Every status first (as a page that lists its generations), then the
// streams: a status read behind open streams could wait as long as they.
const urls = [];
for (const id of job.ids) {
  const st = await Promise.race([h2get(`/api/${job.type}/status/${id}`),
    new Promise((resolve) => setTimeout(() => resolve({ body: '{}' }), job.timeoutMs))]);
  urls.push(JSON.parse(st.body).eventsUrl || `/api/${job.type}/events/${id}`);
}
const streams = [];
const opened = [];
for (const url of urls) {
  const rec = { url, via: '', first: null };
  streams.push(rec);
  opened.push(new Promise((resolve) => {
    if (url.startsWith('/')) {
      rec.via = 'h2';
      const req = session.request({ ':path': url, authorization: auth, accept: 'text/event-stream' });
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d) => { body += d; if (!rec.first && (rec.first = firstEvent(body))) resolve(); });
      req.on('error', () => resolve());
      rec.close = () => req.close();
      setTimeout(resolve, job.timeoutMs);
    } else {
      rec.via = 'http/1.1';
      const req = http.get(url, { headers: { accept: 'text/event-stream' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { body += d; if (!rec.first && (rec.first = firstEvent(body))) resolve(); });
      });
      req.on('error', () => resolve());
      rec.close = () => req.destroy();
      setTimeout(resolve, job.timeoutMs);
    }
  }));
}
await Promise.all(opened);

// What the streams cost the server now: /api/health's waiters (parked: no
// thread; blocking: one thread each), on a connection of its own.
const waiters = await new Promise((resolve) => {
  const req = http.get(`${job.main}/api/health`, { headers: { authorization: auth } }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => { body += d; });
    res.on('end', () => { try { resolve(JSON.parse(body).waiters || {}); } catch { resolve({}); } });
  });
  req.on('error', () => resolve({}));
  req.setTimeout(job.timeoutMs, () => { req.destroy(); resolve({}); });
});

const requests = [];
for (let i = 0; i < job.requests; i++) {
  const t0 = Date.now();
  const r = await Promise.race([
    h2get('/api/quota').then((x) => ({ status: x.status, ms: Date.now() - t0 })),
    new Promise((resolve) => setTimeout(() => resolve({ status: 0, ms: 0 }), job.timeoutMs)),
  ]);
  requests.push(r);
}
for (const s of streams) s.close?.();
process.stdout.write(JSON.stringify({
  streams: streams.map((s) => ({ via: s.via, status: s.first && s.first.status })),
  requests,
  waiters,
}) + '\n');
session.destroy();
process.exit(0);
