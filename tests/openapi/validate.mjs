// Validates docs/openapi.yaml itself (@seriousme/openapi-schema-validator)
// and every answer the Apache::Test suite recorded (t/logs/exchanges.jsonl)
// against the operation's documented response (Ajv, JSON Schema 2020-12).
// An answer whose path, method or status the document does not describe is
// a failure too: the document cannot drift from the code. The one exception
// is a path the API does not have, which must answer the Error shape with
// 404 NOT_FOUND (401 UNAUTHORIZED before the login).
//   node validate.mjs OPENAPI.yaml EXCHANGES.jsonl
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const [docPath, exchangesPath] = process.argv.slice(2);
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

// Document paths as regular expressions, literal paths before templated ones.
const routes = Object.keys(doc.paths)
  .map((tpl) => ({
    tpl,
    re: new RegExp('^' + tpl.replace(/\{[^}]+\}/g, '[^/]+') + '$'),
    literal: (tpl.match(/\{/g) || []).length,
  }))
  .sort((a, b) => a.literal - b.literal);

const lines = readFileSync(exchangesPath, 'utf8').split('\n').filter(Boolean);
let checked = 0;
const failures = [];
const seen = new Set();
for (const line of lines) {
  const ex = JSON.parse(line);
  const path = ex.path.split('?')[0];
  const route = routes.find((r) => r.re.test(path) && doc.paths[r.tpl][ex.method.toLowerCase()]);
  const where = `${ex.method} ${path} → ${ex.status}`;
  if (!route) {
    // A path the API does not have: under the prefix (SetHandler
    // genflow-api) it must still answer the documented error shape, 404
    // NOT_FOUND, or 401 when no user is logged in.
    let body;
    try { body = JSON.parse(ex.body); } catch (e) { body = null; }
    const validate = ajv.compile(rewrite({ $ref: '#/components/schemas/Error' }));
    const code = body && body.error && body.error.code;
    if ((ex.status === 404 && code === 'NOT_FOUND') || (ex.status === 401 && code === 'UNAUTHORIZED')) {
      if (validate(body)) { checked++; continue; }
      failures.push(`${where}: ${ajv.errorsText(validate.errors)}`);
      continue;
    }
    failures.push(`${where}: no documented path and method`);
    continue;
  }
  const op = doc.paths[route.tpl][ex.method.toLowerCase()];
  const response = resolve(op.responses[String(ex.status)]);
  if (!response) {
    failures.push(`${where}: status not documented for ${ex.method} ${route.tpl}`);
    continue;
  }
  seen.add(`${ex.method} ${route.tpl} ${ex.status}`);
  if (ex.method === 'HEAD') { checked++; continue; }
  if (!response.content && !ex.body) { checked++; continue; }   // 304 and the like: no body
  const media = (ex.content_type || '').split(';')[0].trim();
  const content = response.content || {};
  if (!content[media]) {
    failures.push(`${where}: content type '${media}' not documented`);
    continue;
  }
  if (media === 'application/json') {
    let body;
    try { body = JSON.parse(ex.body); } catch (e) { failures.push(`${where}: not JSON`); continue; }
    const validate = ajv.compile(rewrite(content[media].schema));
    if (!validate(body)) {
      failures.push(`${where}: ${ajv.errorsText(validate.errors)}\n    body: ${ex.body.slice(0, 300)}`);
      continue;
    }
  }
  checked++;
}
for (const f of failures) console.error('openapi: FAIL ' + f);
console.log(`openapi: ${checked} live answers valid, ${failures.length} invalid, ${seen.size} documented (path, method, status) combinations exercised`);
process.exit(failures.length || checked === 0 ? 1 : 0);
