// SPDX-License-Identifier: Apache-2.0
// Receivers of webhook deliveries for t/40_webhooks.t.
//
//   node receiver.mjs PORT SECRET[,SECRET…]
//
// Every request is verified with standardwebhooks (the Standard Webhooks
// reference library) once under each secret given, as a backend that knows
// only that one would, and logged: path, webhook-id, whether it verified
// under every secret (and under which), the payload's type and generation
// id, its traceparent. What each path answers:
//   /ok          200
//   /flaky       500 to the first two deliveries of each webhook-id, then 200
//   /silent      never answers (the connection stays open)
//   /redirect    302 to /ok on the same server (a redirect is not to be followed)
//   /hang-first  the first delivery of each webhook-id gets no answer, later ones 200
//   /gone        410 Gone (stop sending)
// GET /_log answers the log as JSON.
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const [port, secrets] = process.argv.slice(2);
const hooks = secrets.split(',').map((s) => new Webhook(s));
const log = [];
const seen = new Map();

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.url === '/_log') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify(log));
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const id = req.headers['webhook-id'] || '';
    let payload = {}, error = null;
    const verifiedWith = hooks.map((wh) => {
      try {
        payload = wh.verify(body, req.headers);
        return true;
      } catch (e) {
        error = String(e.message || e);
        return false;
      }
    });
    const verified = verifiedWith.every((v) => v);
    const n = (seen.get(req.url + id) || 0) + 1;
    seen.set(req.url + id, n);
    log.push({ path: req.url, id, n, verified, verifiedWith, error, type: payload.type,
               traceparent: req.headers.traceparent || null,
               generationId: payload.data && payload.data.generationId,
               status: payload.data && payload.data.status, at: Date.now() });
    if (req.url === '/flaky' && n <= 2) { res.writeHead(500); return res.end('not yet'); }
    if (req.url === '/silent') return undefined;
    if (req.url === '/gone') { res.writeHead(410); return res.end('gone'); }
    if (req.url === '/hang-first' && n === 1) return undefined;
    if (req.url === '/redirect') {
      res.writeHead(302, { Location: `http://127.0.0.1:${port}/ok` });
      return res.end();
    }
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    return res.end('ok');
  });
}).listen(+port, '127.0.0.1', () => process.stdout.write('ready\n'));
