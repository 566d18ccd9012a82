// SPDX-License-Identifier: Apache-2.0
// A mock of Stability's synchronous v2beta endpoint for crowds: thousands
// of submissions held open at once (Node's event loop; the forking Perl
// mock of providers.pl is one process per request). It counts what a
// provider would see: requests open now, the peak, submissions per prompt
// (a prompt submitted twice is a generation submitted twice).
//
//   node crowd_provider.mjs PORT [LATENCY_MS]     prints "ready"
//
// POST /v2beta/stable-image/generate/{model}: multipart, "Authorization:
//   Bearer test-key" (else 401 as Stability answers), held LATENCY_MS
//   (or the prompt's [latency:MS]), then 200 image/png with the
//   finish-reason and seed headers.
// GET  /_stats  {open, peak, total, prompts, repeated: [prompts submitted
//               more than once], busy: seconds of calls open, summed over
//               the calls (open × time) since the reset}; with ?arrivals=1
//               also arrivals: [{t, prompt, status}] (t in ms since the
//               epoch, when the submission arrived) and ends: [t, …] (when
//               each call's answer went out or its client left)
// POST /_reset  zeroes the peak, the total, the prompts and the arrivals
// POST /_latency?ms=N  from now on, calls are held N ms (a provider that
//               became faster or slower)
// POST /_reject?n=N&retry_after=S  the next N submissions answer 429 at
//               once, with Retry-After: S and the body Stability sends
//               when its rate limit is exceeded
// POST /_png    the request's body (a PNG) is the picture every call
//               answers from now on (bench/cost: the same picture as the
//               `local` provider's draw=once, so that the two compare)
import http from 'node:http';

const port = Number(process.argv[2]);
let latency = Number(process.argv[3] || 5000);
const KEY = process.env.GENFLOW_MOCK_KEY || 'test-key';
// A real 1x1 PNG, until POST /_png gives another.
let PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC',
  'base64');

let open = 0, peak = 0, total = 0;
let prompts = new Map();
let arrivals = [];
let ends = [];
// The integral of open over time: busy seconds.
let busy = 0, busyAt = Date.now();
function account() {
  const now = Date.now();
  busy += open * (now - busyAt) / 1000;
  busyAt = now;
}
let reject = 0, rejectAfter = 0;

function json(res, status, doc, headers = {}) {
  const body = JSON.stringify(doc);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

// The prompt field of a multipart body (the adapter sends text parts plainly).
function promptOf(body) {
  // The part's own headers are non-empty lines; the first empty one ends them.
  const m = /name="prompt"\r\n(?:[^\r\n]+\r\n)*\r\n([\s\S]*?)\r\n--/.exec(body);
  return m ? m[1] : '';
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET' && url.pathname === '/_stats') {
      const repeated = [...prompts].filter(([, n]) => n > 1).map(([p]) => p);
      account();
      const doc = { open, peak, total, prompts: prompts.size, repeated, busy };
      if (url.searchParams.get('arrivals')) {
        doc.arrivals = arrivals;
        doc.ends = ends;
      }
      return json(res, 200, doc);
    }
    if (req.method === 'POST' && url.pathname === '/_reset') {
      peak = open;
      total = 0;
      prompts = new Map();
      arrivals = [];
      ends = [];
      account();
      busy = 0;
      return json(res, 200, { ok: true });
    }
    if (req.method === 'POST' && url.pathname === '/_latency') {
      latency = Number(url.searchParams.get('ms') || latency);
      return json(res, 200, { latency });
    }
    if (req.method === 'POST' && url.pathname === '/_png') {
      const body = Buffer.concat(chunks);
      if (body.length < 8 || body.readUInt32BE(0) !== 0x89504e47) return json(res, 400, { error: 'not a PNG' });
      PNG = body;
      return json(res, 200, { bytes: PNG.length });
    }
    if (req.method === 'POST' && url.pathname === '/_reject') {
      reject = Number(url.searchParams.get('n') || 0);
      rejectAfter = Number(url.searchParams.get('retry_after') || 0);
      return json(res, 200, { ok: true });
    }
    if (req.method !== 'POST' || !url.pathname.startsWith('/v2beta/stable-image/generate/')) {
      return json(res, 404, { id: 'x', name: 'not_found', errors: ['no such endpoint'] });
    }
    if (req.headers.authorization !== `Bearer ${KEY}`) {
      return json(res, 401, { id: 'x', name: 'unauthorized', errors: ['authentication failed'] });
    }
    const body = Buffer.concat(chunks).toString('latin1');
    const prompt = promptOf(body);
    const hold = /\[latency:(\d+)\]/.exec(prompt);
    if (reject > 0) {
      reject--;
      arrivals.push({ t: Date.now(), prompt, status: 429 });
      // Stability's RateLimited response (its OpenAPI document).
      return json(res, 429, {
        id: 'rate_limit_exceeded', name: 'rate_limit_exceeded',
        errors: ['You have exceeded the rate limit of 150 requests within a 10 second period, '
                 + 'and have been timed out for 60 seconds.'],
      }, rejectAfter ? { 'Retry-After': String(rejectAfter) } : {});
    }
    arrivals.push({ t: Date.now(), prompt, status: 200 });
    total++;
    prompts.set(prompt, (prompts.get(prompt) || 0) + 1);
    account();
    open++;
    if (open > peak) peak = open;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      account();
      open--;
      ends.push(Date.now());
    };
    // A client that gave up is no longer open at the provider.
    res.on('close', finish);
    setTimeout(() => {
      if (done) return;
      res.writeHead(200, {
        'Content-Type': 'image/png', 'Content-Length': PNG.length,
        'finish-reason': 'SUCCESS', seed: '42',
      });
      res.end(PNG, finish);
    }, hold ? Number(hold[1]) : latency);
  });
});
server.keepAliveTimeout = 30000;
server.headersTimeout = 60000;
server.requestTimeout = 0;
server.maxHeadersCount = 100;
server.listen({ host: '127.0.0.1', port, backlog: 8192 }, () => {
  process.stdout.write('ready\n');
});
process.on('SIGTERM', () => process.exit(0));
