#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// bench/peers/queues/steady.mjs: graphile-worker under steady arrivals, the
// peer of bench/steady: how long from add_job to the task's start?
//
//   node bench/peers/queues/steady.mjs --uri postgresql://... --rate R \
//        --secs S --task-ms T --concurrency C [--schema NAME]
//
// Migrates graphile-worker's schema (dropped first and after), starts its
// workers (concurrency C, LISTEN/NOTIFY for new jobs), then adds one job at
// a time at Poisson arrivals of R a second for S seconds; each task sleeps
// T ms (the provider call's stand-in, so that C tasks are in flight as
// bench/steady's calls are). The delay of a job is the task's start less
// the moment addJob was called, both on this process's clock. Prints one
// JSON line: {"peer","version","jobs","p50_ms","p99_ms","max_ms","mean_ms"}.
// Any job not started within 60 s of the last add exits 1.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import graphileWorker from 'graphile-worker';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const uri = args.uri;
const rate = Number(args.rate || 8);
const secs = Number(args.secs || 30);
const taskMs = Number(args['task-ms'] || 2000);
const concurrency = Number(args.concurrency || 32);
const schema = args.schema || 'genflow_bench_steady';
if (!uri) {
  process.stderr.write('usage: steady.mjs --uri URI [--rate R] [--secs S] [--task-ms T] [--concurrency C]\n');
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const version = JSON.parse(fs.readFileSync(path.join(here, 'node_modules/graphile-worker/package.json'))).version;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, q) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];

const db = new pg.Client({ connectionString: uri });
await db.connect();
await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
const { makeWorkerUtils, run, Logger } = graphileWorker;
const logger = new Logger(() => (level, message) => {
  if (level === 'debug' || level === 'info') return;
  process.stderr.write(`graphile-worker ${level}: ${message}\n`);
});
const common = { connectionString: uri, schema, logger };
const utils = await makeWorkerUtils(common);
await utils.migrate();

const added = new Map();
const started = new Map();
const runner = await run({
  ...common,
  concurrency,
  noHandleSignals: true,
  pollInterval: 1000,
  taskList: {
    steady: async (payload) => {
      started.set(payload.i, performance.now());
      await sleep(taskMs);
    },
  },
  parsedCronItems: [],
});
await sleep(500);

// Poisson arrivals: exponential gaps of mean 1/rate.
let i = 0;
const t0 = performance.now();
while (performance.now() - t0 < secs * 1000) {
  const n = i++;
  added.set(n, performance.now());
  await utils.addJob('steady', { i: n });
  const gap = -Math.log(1 - Math.random()) * 1000 / rate;
  const due = added.get(n) + gap - performance.now();
  if (due > 0) await sleep(due);
}
const last = performance.now();
while (started.size < added.size && performance.now() - last < 60000) await sleep(50);
await runner.stop();
await utils.release();
await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
await db.end();
if (started.size < added.size) {
  process.stderr.write(`${added.size - started.size} of ${added.size} jobs never started\n`);
  process.exit(1);
}
const d = [...added.keys()].map((k) => started.get(k) - added.get(k)).sort((a, b) => a - b);
const mean = d.reduce((a, b) => a + b, 0) / d.length;
console.log(JSON.stringify({
  peer: 'graphile-worker', version, jobs: d.length,
  p50_ms: +pct(d, 0.5).toFixed(2), p99_ms: +pct(d, 0.99).toFixed(2),
  max_ms: +d[d.length - 1].toFixed(2), mean_ms: +mean.toFixed(2),
}));
