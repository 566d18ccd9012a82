#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// bench/peers/queues/drain.mjs: how fast does a popular PostgreSQL job queue
// drain a backlog of no-op jobs? Puts a number next to mod_genflow's own
// drain rate, on the same PostgreSQL.
//
//   node bench/peers/queues/drain.mjs --peer graphile|pgboss \
//        --uri postgresql://user@127.0.0.1:PORT/db --jobs N --concurrency C \
//        [--keep] [--schema NAME] [--batch-size B] [--stall-secs S]
//        [--local-queue N] [--hook-start CMD] [--hook-end CMD]
//
// 1. drops the peer's schema if an earlier run left it, then creates it with
//    the peer's own code (graphile-worker's migrations, pg-boss's start());
// 2. queues N no-op jobs in batches of 1000 (graphile-worker's addJobs, which
//    is one add_jobs() call per batch; pg-boss's insert()), timed: queue_secs;
// 3. only then starts the peer's workers with concurrency C in this process,
//    each handler doing nothing, and polls the peer's job table every 100 ms
//    until it shows all N done (graphile-worker deletes a job when it
//    succeeds: done = no row left; pg-boss keeps it: done = N rows in state
//    'completed'): drain_secs, from just before the workers start to the poll
//    that saw all N done;
// 4. stops the workers, drops the schema unless --keep, and prints one JSON
//    line on stdout:
//    {"peer","version","jobs","concurrency","queue_secs","drain_secs","jobs_per_s"}
// Progress goes to stderr. Any failure, including jobs that never complete
// (no progress for --stall-secs, default 60), exits 1 without a result.
//
// --schema NAME: the schema to create and drop (default genflow_bench_graphile
// or genflow_bench_pgboss); anything already in it is dropped first.
//
// --batch-size B (pgboss only, default 1): jobs a pg-boss worker fetches at
// once. Not part of the comparison; there to show how much pg-boss's rate
// depends on it (see README.md).
//
// --local-queue N (graphile only): Graphile Worker batched, as its
// performance page runs it: the pool fetches and locks N jobs at once
// (localQueue.size) and completes them in batches (completeJobBatchDelay
// 0). Without it, one job per fetch and one DELETE per job, its default.
//
// --hook-start CMD, --hook-end CMD: run CMD (by sh -c) right before the
// workers start and right after the poll that saw the last job done, with
// GENFLOW_DRAIN_PID set to this process's pid: bench/cost takes its
// snapshots of CPU, WAL and statements there. The harness's own queries
// carry the comment "/* probe */" so that the account can leave them out.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import graphileWorker from 'graphile-worker';
import PgBoss from 'pg-boss';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SCHEMA = { graphile: 'genflow_bench_graphile', pgboss: 'genflow_bench_pgboss' };
const PACKAGE = { graphile: 'graphile-worker', pgboss: 'pg-boss' };
const QUEUE = 'noop'; // graphile-worker's task identifier, pg-boss's queue name
const ENQUEUE_BATCH = 1000;
const POLL_MS = 100;
const PGBOSS_POLL_SECS = 0.5; // the lowest pg-boss 10 accepts (MIN_POLLING_INTERVAL_MS 500)
const GRAPHILE_POLL_MS = 1000; // only for jobs due later; new jobs come by LISTEN/NOTIFY

// stdout carries the result line and nothing else.
const log = (...a) => process.stderr.write(`drain: ${a.join(' ')}\n`);
console.log = console.info = console.debug = console.warn = (...a) =>
  process.stderr.write(a.map(String).join(' ') + '\n');

function usage(msg) {
  if (msg) process.stderr.write(`drain: ${msg}\n`);
  process.stderr.write(
    'usage: node drain.mjs --peer graphile|pgboss --uri postgresql://... --jobs N --concurrency C\n' +
    '                      [--keep] [--schema NAME] [--batch-size B] [--stall-secs S]\n' +
    '                      [--local-queue N] [--hook-start CMD] [--hook-end CMD]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { keep: false, batchSize: 1, stallSecs: 60 };
  const posInt = (name, v) => {
    if (!/^[1-9][0-9]*$/.test(v || '')) usage(`${name} needs a positive integer, got ${v}`);
    return parseInt(v, 10);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    switch (a) {
      case '--peer': o.peer = next(); break;
      case '--uri': o.uri = next(); break;
      case '--jobs': o.jobs = posInt(a, next()); break;
      case '--concurrency': o.concurrency = posInt(a, next()); break;
      case '--batch-size': o.batchSize = posInt(a, next()); break;
      case '--stall-secs': o.stallSecs = posInt(a, next()); break;
      case '--local-queue': o.localQueue = posInt(a, next()); break;
      case '--hook-start': o.hookStart = next(); break;
      case '--hook-end': o.hookEnd = next(); break;
      case '--keep': o.keep = true; break;
      case '--schema': o.schema = next(); break;
      case '-h': case '--help': usage();
      default: usage(`unknown argument ${a}`);
    }
  }
  if (!SCHEMA[o.peer]) usage('--peer must be graphile or pgboss');
  o.schema = o.schema || SCHEMA[o.peer];
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(o.schema)) usage(`--schema: not a plain lower-case identifier: ${o.schema}`);
  if (!o.uri) usage('--uri is required');
  if (!o.jobs) usage('--jobs is required');
  if (!o.concurrency) usage('--concurrency is required');
  if (o.batchSize !== 1 && o.peer !== 'pgboss') usage('--batch-size is for --peer pgboss only');
  if (o.localQueue && o.peer !== 'graphile') usage('--local-queue is for --peer graphile only');
  return o;
}

function installedVersion(pkg) {
  return JSON.parse(fs.readFileSync(path.join(HERE, 'node_modules', pkg, 'package.json'), 'utf8')).version;
}

// pg-boss 10 completes a job without awaiting it (manager.js, watch()); a
// failure there is an unhandled rejection. Any such one fails the run.
let fatal = null;
process.on('unhandledRejection', (e) => {
  fatal = fatal || e;
  log(`unhandled rejection: ${e && e.message ? e.message : e}`);
});

// The bench's snapshot at the drain's start or end (--hook-start, --hook-end).
function hook(cmd) {
  if (!cmd) return;
  execFileSync('sh', ['-c', cmd], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, GENFLOW_DRAIN_PID: String(process.pid) },
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x, d) => Number(x.toFixed(d));

// Polls `countDone()` every POLL_MS until it returns `total`; throws when the
// count does not move for stallSecs, or when `failed()` reports something.
async function waitAllDone(countDone, total, stallSecs, failed) {
  let last = -1;
  let lastChange = performance.now();
  let lastLog = performance.now();
  for (;;) {
    const err = fatal || failed();
    if (err) throw err;
    const done = await countDone();
    const now = performance.now();
    if (done >= total) return now;
    if (done !== last) { last = done; lastChange = now; }
    if (now - lastChange > stallSecs * 1000) {
      throw new Error(`stalled: ${done} of ${total} jobs done, no progress for ${stallSecs} s`);
    }
    if (now - lastLog >= 2000) { log(`  ${done}/${total} done`); lastLog = now; }
    await sleep(POLL_MS);
  }
}

// ---------------------------------------------------------------- graphile
async function graphile(o, db, state) {
  const { makeWorkerUtils, run, Logger } = graphileWorker;
  const schema = o.schema;
  // Its default logger writes an info line for every job to stdout; keep
  // the rest, on stderr.
  const logger = new Logger(() => (level, message) => {
    if (level === 'debug' || (level === 'info' && message.startsWith('Completed task'))) return;
    process.stderr.write(`graphile-worker ${level}: ${message}\n`);
  });
  const common = { connectionString: o.uri, schema, logger };

  const utils = await makeWorkerUtils(common);
  state.cleanups.push(() => utils.release());
  await utils.migrate();
  log(`schema ${schema} migrated`);

  const t0 = performance.now();
  for (let i = 0; i < o.jobs; i += ENQUEUE_BATCH) {
    const n = Math.min(ENQUEUE_BATCH, o.jobs - i);
    await utils.addJobs(Array.from({ length: n }, () => ({ identifier: QUEUE, payload: {} })));
  }
  const queueSecs = (performance.now() - t0) / 1000;
  const queued = await count(db, `SELECT count(*) FROM ${schema}._private_jobs`);
  if (queued !== o.jobs) throw new Error(`queued ${queued} jobs, expected ${o.jobs}`);
  log(`queued ${o.jobs} jobs in ${queueSecs.toFixed(3)} s`);

  // A job that succeeds is deleted; one that fails stays with last_error set.
  const countDone = async () => {
    const r = await db.query(
      `/* probe */ SELECT count(*)::int AS left, count(*) FILTER (WHERE last_error IS NOT NULL)::int AS failed
         FROM ${schema}._private_jobs`);
    if (r.rows[0].failed > 0) throw new Error(`${r.rows[0].failed} jobs failed`);
    return o.jobs - r.rows[0].left;
  };

  let handled = 0;
  let first = 0;
  hook(o.hookStart);
  const start = performance.now();
  const batched = o.localQueue
    ? { preset: { worker: { localQueue: { size: o.localQueue }, completeJobBatchDelay: 0 } } }
    : {};
  const runner = await run({
    ...common,
    ...batched,
    concurrency: o.concurrency,
    noHandleSignals: true,
    pollInterval: GRAPHILE_POLL_MS,
    taskList: { [QUEUE]: async () => { if (!handled++) first = performance.now(); } },
    parsedCronItems: [], // no cron, rather than reading ./crontab
  });
  state.cleanups.push(() => runner.stop());
  let runnerError = null;
  runner.promise.catch((e) => { runnerError = e; });
  log(`workers started (concurrency ${o.concurrency})`);

  const end = await waitAllDone(countDone, o.jobs, o.stallSecs, () => runnerError);
  hook(o.hookEnd);
  await runner.stop();
  state.cleanups.pop();
  log(`handler ran ${handled} times; first job ${((first - start) / 1000).toFixed(3)} s after start`);
  return { queueSecs, drainSecs: (end - start) / 1000 };
}

// ------------------------------------------------------------------ pgboss
async function pgboss(o, db, state) {
  const schema = o.schema;
  let bossError = null;
  const boss = new PgBoss({ connectionString: o.uri, schema });
  boss.on('error', (e) => { bossError = bossError || e; log(`pg-boss error: ${e.message || e}`); });
  await boss.start(); // creates the schema
  state.cleanups.push(() => boss.stop({ graceful: true, wait: true, timeout: 10000 }));
  await boss.createQueue(QUEUE); // v10: a queue must exist before jobs are sent to it
  log(`schema ${schema} created`);

  const t0 = performance.now();
  for (let i = 0; i < o.jobs; i += ENQUEUE_BATCH) {
    const n = Math.min(ENQUEUE_BATCH, o.jobs - i);
    await boss.insert(Array.from({ length: n }, () => ({ name: QUEUE, data: {} })));
  }
  const queueSecs = (performance.now() - t0) / 1000;
  const queued = await count(db, `SELECT count(*) FROM ${schema}.job WHERE name = '${QUEUE}'`);
  if (queued !== o.jobs) throw new Error(`queued ${queued} jobs, expected ${o.jobs}`);
  log(`queued ${o.jobs} jobs in ${queueSecs.toFixed(3)} s`);

  // Completed jobs stay in the job table (archived only after 12 hours by
  // default); count the archive too all the same.
  const countDone = async () => {
    const r = await db.query(
      `/* probe */ SELECT count(*) FILTER (WHERE state = 'completed')::int AS done,
              count(*) FILTER (WHERE state IN ('failed', 'cancelled') OR retry_count > 0)::int AS bad
         FROM (SELECT state, retry_count FROM ${schema}.job WHERE name = $1
               UNION ALL
               SELECT state, retry_count FROM ${schema}.archive WHERE name = $1) j`, [QUEUE]);
    if (r.rows[0].bad > 0) throw new Error(`${r.rows[0].bad} jobs failed or were retried`);
    return r.rows[0].done;
  };

  // pg-boss 10 has no concurrency option: each work() call is one worker, a
  // loop that fetches batchSize jobs, runs the handler, completes them, and
  // waits out the rest of its polling interval. C calls give C workers.
  let handled = 0;
  let first = 0;
  const handler = async (jobs) => { if (!handled) first = performance.now(); handled += jobs.length; };
  hook(o.hookStart);
  const start = performance.now();
  for (let i = 0; i < o.concurrency; i++) {
    await boss.work(QUEUE, { batchSize: o.batchSize, pollingIntervalSeconds: PGBOSS_POLL_SECS }, handler);
  }
  log(`workers started (${o.concurrency} x work(), batchSize ${o.batchSize}, polling ${PGBOSS_POLL_SECS} s)`);

  const end = await waitAllDone(countDone, o.jobs, o.stallSecs, () => bossError);
  hook(o.hookEnd);
  await boss.stop({ graceful: true, wait: true, timeout: 10000 });
  state.cleanups.pop();
  log(`handler ran for ${handled} jobs; first job ${((first - start) / 1000).toFixed(3)} s after start`);
  return { queueSecs, drainSecs: (end - start) / 1000 };
}

async function count(db, sql) {
  return parseInt((await db.query(sql)).rows[0].count, 10);
}

async function dropSchema(db, schema) {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const version = installedVersion(PACKAGE[o.peer]);
  const schema = o.schema;
  log(`${PACKAGE[o.peer]} ${version}: ${o.jobs} jobs, concurrency ${o.concurrency}`);

  const db = new pg.Client({ connectionString: o.uri, application_name: 'genflow-bench-drain' });
  await db.connect();
  const state = { cleanups: [] };
  let result, failure;
  try {
    await dropSchema(db, schema);
    result = await (o.peer === 'graphile' ? graphile : pgboss)(o, db, state);
  } catch (e) {
    failure = e;
  }
  // Stop whatever is still running (after a failure), last started first.
  for (const f of state.cleanups.reverse()) {
    try { await f(); } catch (e) { log(`cleanup: ${e.message || e}`); }
  }
  if (!o.keep) {
    try { await dropSchema(db, schema); log(`schema ${schema} dropped`); }
    catch (e) { failure = failure || e; }
  } else {
    log(`schema ${schema} kept (--keep)`);
  }
  await db.end().catch(() => {});
  failure = failure || fatal;
  if (failure) throw failure;

  const line = {
    peer: o.peer,
    version,
    jobs: o.jobs,
    concurrency: o.concurrency,
    ...(o.batchSize !== 1 ? { batch_size: o.batchSize } : {}),
    ...(o.localQueue ? { local_queue: o.localQueue } : {}),
    queue_secs: round(result.queueSecs, 3),
    drain_secs: round(result.drainSecs, 3),
    jobs_per_s: round(o.jobs / result.drainSecs, 1),
  };
  process.stdout.write(JSON.stringify(line) + '\n');
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`drain: FAILED: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  });
