// SPDX-License-Identifier: Apache-2.0
// An S3-compatible server that checks signatures, for t/37_s3.t.
//
//   node server.mjs PORT BUCKET REGION ACCESS_KEY SECRET_KEY DIR
//
// s3rver keeps the objects (its own XML answers, its own storage), but it
// accepts any SigV4 signature, so every request first goes through AWS's
// own signer (@smithy/signature-v4): the signature is computed again over
// the headers the request says it signed, and a mismatch, an unknown key,
// a wrong region or scope, a date more than 15 minutes off or a body whose
// SHA-256 is not its x-amz-content-sha256 gets S3's 403 or 400 error.
// A presigned GET (SigV4 in the query) is checked the same way. Requests
// without either are anonymous reads of a public bucket: GET and HEAD only.
//
// Control (not S3): GET /_stats (what was stored, deleted, refused; the
// traceparent of every signed request, in traces),
// POST /_slow?ms=N (hold each PUT that long before answering),
// POST /_reset (counters and slowness), POST /_put?key=K (store the body
// as K without a signature, as if by someone else).
import http from 'node:http';
import { createHash } from 'node:crypto';
import S3rver from 's3rver';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';

const [port, bucket, region, accessKey, secretKey, dir] = process.argv.slice(2);
let stats, slowMs;
function reset() {
  stats = { puts: [], putsStarted: [], deletes: [], gets: 0, anonymous: 0, presigned: 0, virtualHost: 0, refused: [],
            traces: [] };
  slowMs = 0;
}
reset();

const inner = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir,
                           configureBuckets: [{ name: bucket }] });
const innerAddr = await inner.run();

function s3Error(res, status, code, message) {
  res.writeHead(status, { 'Content-Type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
          `<Message>${message}</Message></Error>`);
  stats.refused.push(code);
}

const signer = new SignatureV4({
  credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
  region, service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false,
  applyChecksum: false,
});

// null when the request is signed as S3 wants it, else [status, code, message].
async function verify(req, body) {
  const auth = req.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return [400, 'AuthorizationHeaderMalformed', 'not an AWS4-HMAC-SHA256 header'];
  const [, key, day, scopeRegion, signedList, signature] = m;
  if (key !== accessKey) return [403, 'InvalidAccessKeyId', 'unknown access key'];
  if (scopeRegion !== region) return [400, 'AuthorizationHeaderMalformed', `region ${scopeRegion}`];
  const amzDate = req.headers['x-amz-date'] || '';
  const d = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!d || amzDate.slice(0, 8) !== day) return [403, 'AccessDenied', 'bad x-amz-date'];
  const when = new Date(Date.UTC(+d[1], d[2] - 1, +d[3], +d[4], +d[5], +d[6]));
  if (Math.abs(Date.now() - when) > 15 * 60 * 1000) return [403, 'RequestTimeTooSkewed', 'skewed'];
  const claimed = req.headers['x-amz-content-sha256'];
  if (!claimed) return [400, 'InvalidRequest', 'missing x-amz-content-sha256'];
  if (claimed !== 'UNSIGNED-PAYLOAD' && claimed !== createHash('sha256').update(body).digest('hex')) {
    return [400, 'XAmzContentSHA256Mismatch', 'the body does not match x-amz-content-sha256'];
  }
  const names = signedList.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')
      || !names.includes('x-amz-content-sha256')) {
    return [403, 'AccessDenied', 'host, x-amz-date and x-amz-content-sha256 must be signed'];
  }
  const headers = {};
  for (const n of names) {
    if (req.headers[n] === undefined) return [403, 'AccessDenied', `signed header ${n} missing`];
    headers[n] = req.headers[n];
  }
  const url = new URL(req.url, 'http://x');
  const query = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const [hostname, hostPort] = req.headers.host.split(':');
  const signed = await signer.sign({ method: req.method, protocol: 'http:', hostname,
                                     port: hostPort ? +hostPort : undefined,
                                     path: url.pathname, query, headers },
                                   { signingDate: when });
  const ours = /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization)[1];
  if (ours !== signature) return [403, 'SignatureDoesNotMatch', 'the signature does not match'];
  return null;
}

// To s3rver, once checked here: without the Authorization it would
// refuse (it knows its own key pair only).
// A presigned GET (SigV4 in the query, as S3 documents it): the same
// signer presigns the same request again; it must give the same
// signature, and the URL must not have expired.
async function verifyPresigned(req, url) {
  const q = Object.fromEntries(url.searchParams);
  if (req.method !== 'GET' && req.method !== 'HEAD') return [403, 'AccessDenied', 'presigned for GET'];
  if (q['X-Amz-Algorithm'] !== 'AWS4-HMAC-SHA256' || q['X-Amz-SignedHeaders'] !== 'host') {
    return [400, 'AuthorizationQueryParametersError', 'algorithm or signed headers'];
  }
  const [key, day, scopeRegion, service, term] = (q['X-Amz-Credential'] || '').split('/');
  if (key !== accessKey) return [403, 'InvalidAccessKeyId', 'unknown access key'];
  if (scopeRegion !== region || service !== 's3' || term !== 'aws4_request') {
    return [400, 'AuthorizationQueryParametersError', 'credential scope'];
  }
  const d = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(q['X-Amz-Date'] || '');
  const expires = +q['X-Amz-Expires'];
  if (!d || (q['X-Amz-Date'] || '').slice(0, 8) !== day || !(expires >= 1 && expires <= 604800)) {
    return [400, 'AuthorizationQueryParametersError', 'date or expiry'];
  }
  const when = new Date(Date.UTC(+d[1], d[2] - 1, +d[3], +d[4], +d[5], +d[6]));
  if (Date.now() > when.getTime() + expires * 1000) return [403, 'AccessDenied', 'Request has expired'];
  const [hostname, hostPort] = req.headers.host.split(':');
  const signed = await signer.presign(
    { method: req.method, protocol: 'http:', hostname, port: hostPort ? +hostPort : undefined,
      path: url.pathname, query: {},
      headers: { host: req.headers.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
    { signingDate: when, expiresIn: expires,
      unsignableHeaders: new Set(['x-amz-content-sha256']),
      unhoistableHeaders: new Set(['x-amz-content-sha256']) });
  if (signed.query['X-Amz-Signature'] !== q['X-Amz-Signature']) {
    return [403, 'SignatureDoesNotMatch', 'the signature does not match'];
  }
  return null;
}

function forward(req, res, body) {
  const headers = { ...req.headers };
  delete headers.authorization;
  const out = http.request({ host: '127.0.0.1', port: innerAddr.port, method: req.method,
                             path: req.url, headers }, (ir) => {
    res.writeHead(ir.statusCode, ir.headers);
    ir.pipe(res);
  });
  out.on('error', (e) => s3Error(res, 500, 'InternalError', e.message));
  out.end(body);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/_stats') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify(stats));
    }
    if (url.pathname === '/_slow') { slowMs = +url.searchParams.get('ms'); res.writeHead(204); return res.end(); }
    if (url.pathname === '/_reset') { reset(); res.writeHead(204); return res.end(); }
    if (url.pathname === '/_put') {
      // An object stored behind the module's back (one a killed child left).
      req.url = `/${bucket}/${url.searchParams.get('key')}`;
      req.method = 'PUT';
      req.headers = { 'content-type': 'image/png', 'content-length': String(body.length) };
      return forward(req, res, body);
    }
    // Virtual-host style (<bucket>.<host>): checked as sent, then handed to
    // s3rver in path style.
    const virtualHost = (req.headers.host || '').startsWith(`${bucket}.`);
    const key = decodeURIComponent(virtualHost ? url.pathname.slice(1)
                                               : url.pathname.replace(`/${bucket}/`, ''));
    const pathStyle = () => {
      if (!virtualHost) return;
      req.url = `/${bucket}${req.url}`;
      req.headers.host = `127.0.0.1:${port}`;   // s3rver would take the name's label again
    };
    if (url.searchParams.has('X-Amz-Signature')) {
      const bad = await verifyPresigned(req, url);
      if (bad) return s3Error(res, ...bad);
      stats.presigned++;
      req.url = url.pathname;
      pathStyle();
      return forward(req, res, body);
    }
    if (!req.headers.authorization) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return s3Error(res, 403, 'AccessDenied', 'anonymous requests may only read');
      }
      stats.anonymous++;
      pathStyle();
      return forward(req, res, body);
    }
    const bad = await verify(req, body);
    if (bad) return s3Error(res, ...bad);
    if (virtualHost) stats.virtualHost++;
    stats.traces.push({ method: req.method, key, traceparent: req.headers.traceparent || null });
    pathStyle();
    if (req.method === 'PUT') {
      stats.putsStarted.push(key);
      if (slowMs) await new Promise((r) => setTimeout(r, slowMs));
      // A client that gave up meanwhile stored nothing.
      if (res.destroyed || req.socket.destroyed) return undefined;
      res.on('finish', () => { if (res.statusCode === 200) stats.puts.push(key); });
    }
    else if (req.method === 'DELETE') stats.deletes.push(key);
    else if (req.method === 'GET') stats.gets++;
    return forward(req, res, body);
  });
});
server.listen(+port, '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => { server.close(); inner.close().finally(() => process.exit(0)); });
