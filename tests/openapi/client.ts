// SPDX-License-Identifier: Apache-2.0
// A front-end developer's program: the API through a client generated from
// the served document (openapi-typescript → ./out/api.d.ts, openapi-fetch),
// compiled with tsc --strict, run against a live server (tests/openapi/
// client.sh starts it). Every operation is called for its success and its
// error answers; every answer is recorded (one JSON line each) so that
// validate.mjs --every-operation checks it against the document, headers
// included. The program's own checks are the client's view: that the typed
// fields hold what their types say, that refusals change nothing.
//   node out/client.js BASE EXCHANGES.jsonl WEBHOOK_SECRET
import { appendFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import createClient from 'openapi-fetch';
import type { components, paths } from './out/api.js';

type Status = components['schemas']['Status'];

const argv = process.argv.slice(2);
if (argv.length !== 3) {
  console.error('usage: node client.js BASE EXCHANGES.jsonl WEBHOOK_SECRET');
  process.exit(2);
}
const base: string = argv[0] ?? '';
const exchanges: string = argv[1] ?? '';
const whsec: string = argv[2] ?? '';

// fetch, recording every exchange for the validator.
async function recorded(input: Request): Promise<Response> {
  const res = await fetch(input);
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => { headers[name.toLowerCase()] = value; });
  const body = input.method === 'HEAD' ? '' : await res.clone().text();
  const url = new URL(input.url);
  appendFileSync(exchanges, JSON.stringify({
    method: input.method, path: url.pathname + url.search, status: res.status,
    content_type: res.headers.get('content-type') ?? '', headers, body,
  }) + '\n');
  return res;
}

const basic = (user: string, password: string) =>
  'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
const as = (user: string, password = user) =>
  createClient<paths>({ baseUrl: base, fetch: recorded, headers: { Authorization: basic(user, password) } });
const demo = as('demo');
const admin = as('admin');
const stranger = as('demo', 'wrong');
const anonymous = createClient<paths>({ baseUrl: base, fetch: recorded });

let failed = 0;
let passed = 0;
function check(ok: boolean, what: string): void {
  if (ok) { passed++; return; }
  failed++;
  console.error(`client: FAIL ${what}`);
}
function expect(res: { response: Response }, status: number, what: string): void {
  check(res.response.status === status, `${what}: expected ${status}, got ${res.response.status}`);
}
function expectError(res: { response: Response; error?: unknown }, status: number, code: string, what: string): void {
  const e = res.error as components['schemas']['Error'] | undefined;
  check(res.response.status === status && e?.error.code === code,
        `${what}: expected ${status} ${code}, got ${res.response.status} ${e?.error.code ?? '-'}`);
}
// A raw request outside the typed client (wrong methods, unknown paths).
async function raw(method: string, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('Authorization')) headers.set('Authorization', basic('demo', 'demo'));
  return recorded(new Request(base + path, { ...init, method, headers }));
}
const type = 'neo-glitch';
const typeParams = (id: string) => ({ params: { path: { type, id } } });

// --- discovery ---------------------------------------------------------
{
  const list = await demo.GET('/api/types', {});
  expect(list, 200, 'listTypes');
  const neo = list.data?.types.find((t) => t.type === type);
  check(!!neo && neo.base === `/api/${type}` && neo.cost >= 0, 'listTypes names neo-glitch at /api/neo-glitch');
  const etag = list.response.headers.get('etag') ?? '';
  expect(await demo.GET('/api/types', { params: { header: { 'If-None-Match': etag } } }), 304, 'listTypes If-None-Match');
  expect(await anonymous.GET('/api/types', {}), 401, 'listTypes without a user');
  expect(await demo.HEAD('/api/types', {}), 200, 'headTypes');
  expect(await stranger.HEAD('/api/types', {}), 401, 'headTypes with a wrong password');

  const presets = await demo.GET('/api/{type}/presets', { params: { path: { type: 'presets' } } });
  expect(presets, 200, 'listPresets');
  check(/^\d{4}-W\d{2}$/.test(presets.data?.week ?? ''), 'listPresets week');
  expectError(await demo.GET('/api/{type}/presets', { params: { path: { type: 'no-such-type' } } }),
              404, 'NOT_FOUND', 'listPresets of no type');

  const health = await anonymous.GET('/api/health', {});
  expect(health, 200, 'getHealth');
  check(health.data?.database === 'ok', 'getHealth: database ok');
}

// --- account -------------------------------------------------------------
{
  const quota = await demo.GET('/api/quota', {});
  expect(quota, 200, 'getQuota');
  const q: components['schemas']['Quota'] | undefined = quota.data;
  check(!!q && q.remaining <= q.currentBalance && q.dailyReset.endsWith('T00:00:00Z'), 'getQuota fields');
  expectError(await stranger.GET('/api/quota', {}), 401, 'UNAUTHORIZED', 'getQuota with a wrong password');

  // A 2x2 PNG.
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');
  const up = await demo.POST('/api/uploads', {
    body: png as unknown as string, bodySerializer: (b) => b as unknown as BodyInit,
    headers: { 'Content-Type': 'image/png' },
  });
  expect(up, 201, 'createUpload');
  check(up.data?.width === 2 && up.data.sourceImage === `upload:${up.data.uploadId}`, 'createUpload fields');
  expectError(await demo.POST('/api/uploads', {
    body: 'GIF89a' as string, bodySerializer: (b) => b as unknown as BodyInit,
    headers: { 'Content-Type': 'image/gif' },
  }), 415, 'UNSUPPORTED_MEDIA_TYPE', 'createUpload of a GIF');
}

// --- generations ---------------------------------------------------------
let completed = '';
{
  const created = await demo.POST('/api/{type}/create', {
    params: { path: { type }, header: { 'Idempotency-Key': `client-${process.pid}` } },
    body: { prompt: 'a lighthouse at dawn', style: 'artistic', parameters: { seed: 7 } },
  });
  expect(created, 201, 'createGeneration');
  const c = created.data;
  // createdAt is a string, never null: its type says so under --strict.
  check(!!c && c.status === 'pending' && c.createdAt.length > 0, 'createGeneration fields');
  const id = c?.generationId ?? '';
  // The same request in other words is a replay.
  const again = await raw('POST', `/api/${type}/create`, {
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `client-${process.pid}` },
    body: '{ "parameters": { "seed": 7 }, "style": "artistic",\n  "prompt": "a lighthouse at d\\u0061wn" }',
  });
  check(again.status === 201 && again.headers.get('idempotent-replayed') === 'true', 'a replay by meaning');
  expectError(await demo.POST('/api/{type}/create', {
    params: { path: { type }, header: { 'Idempotency-Key': `client-${process.pid}` } },
    body: { prompt: 'another picture' },
  }), 422, 'IDEMPOTENCY_CONFLICT', 'createGeneration: the key with another request');
  expectError(await demo.POST('/api/{type}/create', { params: { path: { type } }, body: { prompt: '' } }),
              400, 'VALIDATION_ERROR', 'createGeneration with an empty prompt');
  expectError(await demo.POST('/api/{type}/create', { params: { path: { type: 'no-such-type' } }, body: { prompt: 'x' } }),
              404, 'NOT_FOUND', 'createGeneration of no type');
  expectError(await demo.POST('/api/{type}/create', {
    params: { path: { type } }, body: { prompt: 'x' },
    bodySerializer: (b) => JSON.stringify(b), headers: { 'Content-Type': 'text/plain' },
  }), 415, 'UNSUPPORTED_MEDIA_TYPE', 'createGeneration as text/plain');
  expectError(await demo.POST('/api/{type}/create', {
    params: { path: { type } }, body: { prompt: 'x'.repeat(70000) },
  }), 413, 'PAYLOAD_TOO_LARGE', 'createGeneration over GenFlowMaxBody');

  const t0 = Date.now();
  const started = await demo.POST('/api/{type}/generate', {
    params: { path: { type }, header: { Prefer: 'wait=30' } }, body: { generationId: id },
  });
  expect(started, 200, 'startGeneration');
  if (started.response.status !== 200) {
    // What the generation was doing when the wait ended, for whoever reads the failure.
    console.log(`client: startGeneration answered after ${Date.now() - t0} ms: ${JSON.stringify(started.data)}`);
    const now = await demo.GET('/api/{type}/status/{id}', typeParams(id));
    console.log(`client: the generation now: ${JSON.stringify(now.data)}`);
  }
  // 200 is the status object, 202 the poll answer: the fields tell them apart.
  const done: Status | undefined = started.data && 'type' in started.data ? started.data : undefined;
  check(done?.status === 'completed' && !!done.imageUrl && done.creditsCharged === done.estimatedCost,
        'startGeneration: completed and charged');
  check(started.response.headers.get('preference-applied') === 'wait=30', 'Preference-Applied: wait=30');
  completed = id;
  expectError(await demo.POST('/api/{type}/generate', { params: { path: { type } }, body: { generationId: id } }),
              409, 'INVALID_GENERATION_STATUS', 'startGeneration of a finished one');
  expectError(await demo.POST('/api/{type}/generate', {
    params: { path: { type } }, body: { generationId: '00000000-0000-4000-8000-000000000000' },
  }), 404, 'GENERATION_NOT_FOUND', 'startGeneration of no generation');
  const quick = await demo.POST('/api/{type}/generate', {
    params: { path: { type }, header: { Prefer: 'wait=0' } }, body: { prompt: 'no waiting' },
  });
  check(quick.response.status === 200 || quick.response.status === 202, 'startGeneration with the create fields');

  const read = await demo.GET('/api/{type}/status/{id}', typeParams(id));
  expect(read, 200, 'getGeneration');
  check(read.data?.generationId === id && read.data.createdAt.length > 0, 'getGeneration fields');
  const etag = read.response.headers.get('etag') ?? '';
  expect(await demo.GET('/api/{type}/status/{id}', { params: { path: { type, id }, header: { 'If-None-Match': etag } } }),
         304, 'getGeneration If-None-Match');
  expectError(await demo.GET('/api/{type}/status/{id}', typeParams('not-an-id')), 404, 'GENERATION_NOT_FOUND',
              'getGeneration of no generation');
  expectError(await as('demo2').GET('/api/{type}/status/{id}', typeParams(id)), 404, 'GENERATION_NOT_FOUND',
              "getGeneration of another user's generation");
  expect(await demo.HEAD('/api/{type}/status/{id}', typeParams(id)), 200, 'headGeneration');
  expect(await demo.HEAD('/api/{type}/status/{id}', typeParams('00000000-0000-4000-8000-000000000000')), 404,
         'headGeneration of no generation');

  const events = await demo.GET('/api/{type}/events/{id}', { ...typeParams(id), parseAs: 'text' });
  expect(events, 200, 'streamGenerationEvents');
  check(typeof events.data === 'string' && events.data.includes('event: status') && events.data.includes('"completed"'),
        'streamGenerationEvents: the completed status');
  expectError(await demo.GET('/api/{type}/events/{id}', typeParams('00000000-0000-4000-8000-000000000000')),
              404, 'GENERATION_NOT_FOUND', 'streamGenerationEvents of no generation');
  // Where the status says to follow it: the demo's events host
  // (GenFlowEventsBase), another origin, with a token instead of a login.
  const eventsUrl = new URL(read.data?.eventsUrl ?? '/', base);
  const token = eventsUrl.searchParams.get('token') ?? '';
  check(token.length > 0 && eventsUrl.origin !== new URL(base).origin,
        'getGeneration: eventsUrl names the events host, with a token');
  const eventsHost = createClient<paths>({ baseUrl: eventsUrl.origin, fetch: recorded });
  const followed = await eventsHost.GET('/api/{type}/events/{id}', {
    params: { path: { type, id }, query: { token } }, parseAs: 'text',
  });
  expect(followed, 200, 'streamGenerationEvents on the events host, by its token');
  check(typeof followed.data === 'string' && followed.data.includes('"completed"'),
        'streamGenerationEvents by the token: the completed status');
  expectError(await eventsHost.GET('/api/{type}/events/{id}', {
    params: { path: { type, id }, query: { token: `${token}x` } },
  }), 401, 'UNAUTHORIZED', 'streamGenerationEvents with a changed token');

  // Cancel, and retry what was cancelled.
  const fresh = await demo.POST('/api/{type}/create', { params: { path: { type } }, body: { prompt: 'to cancel' } });
  const freshId = fresh.data?.generationId ?? '';
  const cancelled = await demo.POST('/api/{type}/cancel/{id}', typeParams(freshId));
  expect(cancelled, 200, 'cancelGeneration');
  check(cancelled.data?.status === 'cancelled' && cancelled.data.error?.code === 'CANCELLED', 'cancelGeneration fields');
  expectError(await demo.POST('/api/{type}/cancel/{id}', typeParams(freshId)), 409, 'INVALID_GENERATION_STATUS',
              'cancelGeneration of a cancelled one');
  expectError(await demo.POST('/api/{type}/cancel/{id}', {
    ...typeParams(freshId), headers: { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' },
  }), 403, 'FORBIDDEN', 'cancelGeneration from another site');
  const retried = await demo.POST('/api/{type}/retry/{id}', {
    params: { path: { type, id: freshId }, header: { Prefer: 'wait=30' } },
  });
  expect(retried, 200, 'retryGeneration');
  check(retried.data?.generationId !== freshId && retried.data?.status === 'completed', 'retryGeneration: a new generation');
  expectError(await demo.POST('/api/{type}/retry/{id}', typeParams(id)), 409, 'INVALID_GENERATION_STATUS',
              'retryGeneration of a completed one');
}

// --- history ---------------------------------------------------------------
{
  const page = await demo.GET('/api/{type}/history', { params: { path: { type }, query: { limit: 2 } } });
  expect(page, 200, 'listHistory');
  check((page.data?.items.length ?? 0) === 2 && typeof page.data?.next === 'string', 'listHistory: a full page and a cursor');
  const next = page.data?.next ?? undefined;
  const page2 = await demo.GET('/api/{type}/history', { params: { path: { type }, query: { limit: 100, before: next } } });
  check(page2.response.status === 200 && !page2.data?.items.some((s) => page.data?.items.some((t) => t.generationId === s.generationId)),
        'listHistory: the next page has none of the first');
  expectError(await demo.GET('/api/{type}/history', { params: { path: { type }, query: { limit: 0 } } }),
              400, 'VALIDATION_ERROR', 'listHistory with limit 0');
}

// --- admin -------------------------------------------------------------------
{
  const jobs = await admin.GET('/api/admin/jobs', { params: { query: { user: 'demo', limit: 5 } } });
  expect(jobs, 200, 'adminListJobs');
  check((jobs.data?.items ?? []).every((j) => j.user === 'demo'), 'adminListJobs: only the user asked for');
  expectError(await demo.GET('/api/admin/jobs', {}), 403, 'FORBIDDEN', 'adminListJobs as a user');
  expectError(await admin.GET('/api/admin/jobs', { params: { query: { limit: 501 } } }), 400, 'VALIDATION_ERROR',
              'adminListJobs with limit 501');
  const del = await admin.DELETE('/api/admin/jobs', { params: { query: { status: 'failed', olderThan: 315360000 } } });
  expect(del, 200, 'adminDeleteJobs');
  check(del.data?.deleted === 0, 'adminDeleteJobs: nothing that old');
  expectError(await raw('DELETE', '/api/admin/jobs', { headers: { Authorization: basic('admin', 'admin') } })
    .then((response) => response.json().then((error) => ({ response, error }))), 400, 'VALIDATION_ERROR',
              'adminDeleteJobs without olderThan');
  const before = (await as('demo2').GET('/api/quota', {})).data?.currentBalance ?? -1;
  const grant = await admin.POST('/api/admin/credits', { body: { user: 'demo2', amount: 5, reason: 'client test' } });
  expect(grant, 200, 'adminGrantCredits');
  check(grant.data?.currentBalance === before + 5, 'adminGrantCredits: the balance grew by 5');
  expectError(await admin.POST('/api/admin/credits', { body: { user: 'demo2', amount: 0 } }), 400, 'VALIDATION_ERROR',
              'adminGrantCredits of 0');
  expectError(await demo.POST('/api/admin/credits', { body: { user: 'demo', amount: 1000 } }), 403, 'FORBIDDEN',
              'adminGrantCredits as a user');
  // A webhook back to the demo's own origin, where nothing answers a POST
  // with 2xx: the delivery waits to be tried again; redelivered, it is due now.
  const hooked = await demo.POST('/api/{type}/create', {
    params: { path: { type } },
    body: { prompt: 'told to the backend', webhook: `${base}/no-such-hook`, webhookEvents: ['cancelled'] },
  });
  expect(hooked, 201, 'createGeneration with a webhook');
  const hookedId = hooked.data?.generationId ?? '';
  await demo.POST('/api/{type}/cancel/{id}', typeParams(hookedId));
  let waiting: components['schemas']['WebhookDelivery'] | undefined;
  for (let i = 0; i < 40 && !waiting; i++) {
    const list = await admin.GET('/api/admin/webhooks', { params: { query: { state: 'pending', limit: 50 } } });
    waiting = list.data?.items.find((d) => d.generationId === hookedId && d.attempts > 0);
    if (!waiting) await new Promise((r) => setTimeout(r, 250));
  }
  check(!!waiting && waiting.event === 'cancelled', 'adminListWebhooks: the delivery waits to be tried again');
  const failed = await admin.GET('/api/admin/webhooks', {});
  expect(failed, 200, 'adminListWebhooks');
  expectError(await admin.GET('/api/admin/webhooks', { params: { query: { limit: 0 } } }), 400, 'VALIDATION_ERROR',
              'adminListWebhooks with limit 0');
  const again = await admin.POST('/api/admin/webhooks/{id}/redeliver',
                                 { params: { path: { id: waiting?.id ?? 1 } } });
  expect(again, 202, 'adminRedeliverWebhook');
  check(again.data?.webhookId === waiting?.webhookId, 'adminRedeliverWebhook: the same webhook-id');
  expectError(await admin.POST('/api/admin/webhooks/{id}/redeliver', { params: { path: { id: 999999999 } } }),
              404, 'NOT_FOUND', 'adminRedeliverWebhook of no such delivery');
  const providers = await admin.GET('/api/admin/providers', {});
  expect(providers, 200, 'adminListProviders');
  check((providers.data?.items ?? []).some((p) => p.name === 'local' && p.kind === 'local' && p.budget === null),
        'adminListProviders: the built-in local provider, without a budget');
  expectError(await demo.GET('/api/admin/providers', {}), 403, 'FORBIDDEN', 'adminListProviders as a user');
  const metrics = await admin.GET('/api/metrics', { parseAs: 'text' });
  expect(metrics, 200, 'getMetrics');
  check((metrics.data ?? '').includes('# TYPE'), 'getMetrics: Prometheus text');
  expectError(await demo.GET('/api/metrics', {}), 403, 'FORBIDDEN', 'getMetrics as a user');
}

// --- webhooks ----------------------------------------------------------------
{
  const body = JSON.stringify({ id: 'no-such-prediction', status: 'succeeded' });
  const id = `msg_${process.pid}`;
  const ts = String(Math.floor(Date.now() / 1000));
  const sign = (secret: string) => createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64'))
    .update(`${id}.${ts}.${body}`).digest('base64');
  const hook = (sig: string, provider = 'rephook') => anonymous.POST('/hooks/{provider}', {
    params: { path: { provider }, header: { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${sig}` } },
    body: JSON.parse(body) as Record<string, never>, bodySerializer: () => body,
  });
  const ok = await hook(sign(whsec));
  expect(ok, 200, 'receiveProviderWebhook');
  check(ok.data?.received === true && ok.data.woken === 0, 'receiveProviderWebhook: received, nothing to wake');
  expectError(await hook(sign('whsec_' + Buffer.from('another secret').toString('base64'))), 401, 'UNAUTHORIZED',
              'receiveProviderWebhook with a wrong signature');
  expectError(await hook(sign(whsec), 'nobody'), 404, 'NOT_FOUND', 'receiveProviderWebhook for no provider');
}

// --- what no operation covers: wrong methods, unknown paths, a spent account --
{
  for (const [method, path] of [['GET', `/api/${type}/create`], ['DELETE', `/api/${type}/status/${completed}`],
                                ['POST', '/api/quota'], ['GET', '/api/uploads'], ['POST', '/api/types'],
                                ['PUT', '/api/admin/jobs'], ['DELETE', '/api/health']] as const) {
    const headers: Record<string, string> = path.startsWith('/api/admin') ? { Authorization: basic('admin', 'admin') } : {};
    if (method === 'POST') headers['Content-Type'] = 'application/json';
    const res = await raw(method, path, { headers, ...(method === 'POST' ? { body: '{}' } : {}) });
    const allow = res.headers.get('allow') ?? '';
    check(res.status === 405 && allow.length > 0, `${method} ${path}: 405 with Allow (got ${res.status}, Allow '${allow}')`);
  }
  const unknown = await raw('GET', '/api/no-such-thing/at/all');
  check(unknown.status === 404, `an unknown path: 404 (got ${unknown.status})`);
  // Spend demo2's credits, then a create is 402 and writes nothing.
  const demo2 = as('demo2');
  for (let i = 0; i < 100; i++) {
    const r = await demo2.POST('/api/{type}/create', { params: { path: { type } }, body: { prompt: `spend ${i}` } });
    if (r.response.status === 402) {
      const e = r.error as components['schemas']['Error'] | undefined;
      check(e?.error.code === 'INSUFFICIENT_CREDITS' && / credits? and the balance is /.test(e.error.message),
            `a spent account: 402 INSUFFICIENT_CREDITS saying why (${e?.error.message})`);
      break;
    }
    if (i === 99) check(false, 'demo2 never ran out of credits');
  }
}

console.log(`client: ${passed} checks passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
