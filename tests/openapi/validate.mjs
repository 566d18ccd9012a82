// SPDX-License-Identifier: Apache-2.0
// Validates docs/openapi.yaml itself (@seriousme/openapi-schema-validator)
// and recorded answers (JSON lines: method, path, status, content_type,
// headers, body) against the operation's documented response (Ajv, JSON
// Schema 2020-12):
//  - the path, method and status must be documented; a method the path
//    does not have must be answered 405 METHOD_NOT_ALLOWED with Allow
//    naming the path's methods; a path the API does not have 404 NOT_FOUND
//    (401 UNAUTHORIZED before the login); a CORS preflight 204 with the
//    Access-Control headers;
//  - the body must match the documented schema, and an error's code must
//    be the one its status stands for;
//  - every header the server sent must be declared for that answer, apart
//    from HTTP's and CORS's own (Date, Vary, Access-Control-*, …).
// With --every-operation, each operation of the document must also have
// been answered at least once with a success and, when it documents one,
// with a 4xx.
//   node validate.mjs [--every-operation] OPENAPI.yaml EXCHANGES.jsonl
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const args = process.argv.slice(2);
const everyOperation = args[0] === '--every-operation';
const [docPath, exchangesPath] = everyOperation ? args.slice(1) : args;
const doc = parse(readFileSync(docPath, 'utf8'));

const structural = await new Validator().validate(doc);
if (!structural.valid) {
  console.error('docs/openapi.yaml is not a valid OpenAPI document:', JSON.stringify(structural.errors, null, 2));
  process.exit(1);
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'openapi', components: doc.components });
const resolve = (node) => (node && node.$ref ? resolve(node.$ref.slice(2).split('/').reduce((o, k) => o[k], doc)) : node);
const rewrite = (schema) => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/'));
const compiled = new Map();
const validator = (schema) => {
  const key = JSON.stringify(schema);
  if (!compiled.has(key)) compiled.set(key, ajv.compile(rewrite(schema)));
  return compiled.get(key);
};

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete'];
// The error code each status stands for (docs/api.md "Errors").
const CODES = {
  400: ['VALIDATION_ERROR', 'CONTENT_POLICY'], 401: ['UNAUTHORIZED'], 402: ['INSUFFICIENT_CREDITS'], 403: ['FORBIDDEN'],
  404: ['NOT_FOUND', 'GENERATION_NOT_FOUND'], 405: ['METHOD_NOT_ALLOWED'],
  409: ['INVALID_GENERATION_STATUS', 'IDEMPOTENCY_CONFLICT'], 413: ['PAYLOAD_TOO_LARGE'],
  415: ['UNSUPPORTED_MEDIA_TYPE'], 422: ['IDEMPOTENCY_CONFLICT'], 429: ['RATE_LIMIT'],
  500: ['INTERNAL_ERROR'], 503: ['SERVICE_UNAVAILABLE'],
};
// Headers of HTTP itself, of CORS and of the HTTP client; the API's own
// must be declared.
const UNDECLARED_OK = /^(date|server|connection|keep-alive|content-length|content-type|content-encoding|transfer-encoding|vary|cache-control|www-authenticate|access-control-.*|client-.*)$/;

// Document paths as regular expressions, literal paths before templated ones.
const routes = Object.keys(doc.paths)
  .map((tpl) => ({
    tpl,
    re: new RegExp('^' + tpl.replace(/\{[^}]+\}/g, '[^/]+') + '$'),
    literal: (tpl.match(/\{/g) || []).length,
  }))
  .sort((a, b) => a.literal - b.literal);
const methodsOf = (tpl) => METHODS.filter((m) => doc.paths[tpl][m]);
// HEAD goes wherever GET does (HTTP).
const operationOf = (tpl, method) =>
  doc.paths[tpl][method] || (method === 'head' ? doc.paths[tpl].get : undefined);

const errorCodeOk = (status, body) => {
  const code = body && body.error && body.error.code;
  return !code || !CODES[status] || CODES[status].includes(code);
};

function checkBody(where, response, ex, failures) {
  if (ex.method === 'HEAD') return true;
  if (!response.content && !ex.body) return true;   // 304 and the like: no body
  const media = (ex.content_type || '').split(';')[0].trim();
  const content = response.content || {};
  if (!content[media]) {
    failures.push(`${where}: content type '${media}' not documented`);
    return false;
  }
  if (media !== 'application/json') return true;
  let body;
  try { body = JSON.parse(ex.body); } catch (e) { failures.push(`${where}: not JSON`); return false; }
  const validate = validator(content[media].schema);
  if (!validate(body)) {
    failures.push(`${where}: ${ajv.errorsText(validate.errors)}\n    body: ${ex.body.slice(0, 300)}`);
    return false;
  }
  if (!errorCodeOk(ex.status, body)) {
    failures.push(`${where}: error code ${body.error.code} does not go with status ${ex.status}`);
    return false;
  }
  return true;
}

function checkHeaders(where, response, ex, failures) {
  const declared = new Set(Object.keys(response.headers || {}).map((h) => h.toLowerCase()));
  let ok = true;
  for (const [name, value] of Object.entries(ex.headers || {})) {
    if (UNDECLARED_OK.test(name) || declared.has(name)) continue;
    failures.push(`${where}: header ${name}: ${value} is not declared for this answer`);
    ok = false;
  }
  for (const [name, h] of Object.entries(response.headers || {})) {
    const header = resolve(h);
    if (header.required && !(ex.headers && name.toLowerCase() in ex.headers) && ex.headers) {
      failures.push(`${where}: required header ${name} is missing`);
      ok = false;
    }
  }
  return ok;
}

function check(ex, failures, seen) {
  const path = ex.path.split('?')[0];
  const method = ex.method.toLowerCase();
  const where = `${ex.method} ${path} → ${ex.status}`;
  const route = routes.find((r) => r.re.test(path) && operationOf(r.tpl, method));
  if (method === 'options') {
    // A CORS preflight (answered without credentials), or an ordinary
    // request with an error answer.
    if (ex.status === 204) {
      const h = ex.headers || {};
      if (h['access-control-allow-origin'] && h['access-control-allow-methods']) return true;
      failures.push(`${where}: a preflight answer without Access-Control-Allow-Origin/-Methods`);
      return false;
    }
    return checkError(where, ex, failures, null);
  }
  if (!route) {
    const other = routes.find((r) => r.re.test(path));
    if (other) {
      // A method the path does not have: 405 with the path's methods.
      const allowed = new Set(methodsOf(other.tpl).map((m) => m.toUpperCase()));
      const allow = new Set(((ex.headers || {}).allow || '').split(',').map((m) => m.trim()).filter(Boolean));
      allow.delete('HEAD'); allowed.delete('HEAD');
      if (ex.status === 405) {
        const same = allow.size === allowed.size && [...allow].every((m) => allowed.has(m));
        if (ex.headers && !same) {
          failures.push(`${where}: Allow says '${ex.headers.allow}', the document ${[...allowed].join(', ')}`);
          return false;
        }
        return checkError(where, ex, failures, resolve(doc.components.responses.MethodNotAllowed));
      }
      // Refused before the method mattered: authentication, a cross-site write.
      if (ex.status === 401 || ex.status === 403) return checkError(where, ex, failures, null);
      failures.push(`${where}: ${ex.method} is not a method of ${other.tpl}`);
      return false;
    }
    // A path the API does not have: under the prefix (SetHandler
    // genflow-api) it must still answer the documented error shape, 404
    // NOT_FOUND, or 401 when no user is logged in.
    // A cross-site write is refused (403) before the path is looked at.
    if (ex.status === 404 || ex.status === 401 || ex.status === 403) return checkError(where, ex, failures, null);
    failures.push(`${where}: no documented path`);
    return false;
  }
  const op = operationOf(route.tpl, method);
  const response = resolve(op.responses[String(ex.status)]);
  if (!response) {
    failures.push(`${where}: status not documented for ${ex.method} ${route.tpl}`);
    return false;
  }
  seen.push({ id: op.operationId + (method === 'head' && !doc.paths[route.tpl].head ? ' (HEAD)' : ''), status: ex.status });
  const bodyOk = checkBody(where, response, ex, failures);
  return checkHeaders(where, response, ex, failures) && bodyOk;
}

// An error answer outside any operation: the Error shape, the status's code.
function checkError(where, ex, failures, response) {
  let body;
  try { body = JSON.parse(ex.body); } catch (e) { body = null; }
  const validate = validator({ $ref: '#/components/schemas/Error' });
  if (!validate(body)) {
    failures.push(`${where}: not the Error shape: ${ajv.errorsText(validate.errors)}`);
    return false;
  }
  if (!errorCodeOk(ex.status, body)) {
    failures.push(`${where}: error code ${body.error.code} does not go with status ${ex.status}`);
    return false;
  }
  return response ? checkHeaders(where, response, ex, failures) : true;
}

const lines = readFileSync(exchangesPath, 'utf8').split('\n').filter(Boolean);
const failures = [];
const seen = [];
let checked = 0;
for (const line of lines) {
  if (check(JSON.parse(line), failures, seen)) checked++;
}
if (everyOperation) {
  for (const tpl of Object.keys(doc.paths)) {
    for (const m of methodsOf(tpl)) {
      const op = doc.paths[tpl][m];
      const id = op.operationId;
      const statuses = seen.filter((s) => s.id === id).map((s) => s.status);
      // 405 is the answer to another method, never to this one.
      const errors = Object.keys(op.responses).filter((s) => s >= '400' && s < '500' && s !== '405');
      if (!statuses.some((s) => s >= 200 && s < 400)) failures.push(`${id}: never answered with success`);
      if (errors.length && !statuses.some((s) => s >= 400 && s < 500)) failures.push(`${id}: never answered with a 4xx`);
    }
  }
}
const combos = new Set(seen.map((s) => `${s.id} ${s.status}`));
for (const f of failures) console.error('openapi: FAIL ' + f);
console.log(`openapi: ${checked} of ${lines.length} answers valid, ${failures.length} failure(s), ` +
            `${combos.size} documented (operation, status) combinations exercised`);
process.exit(failures.length || checked === 0 ? 1 : 0);
