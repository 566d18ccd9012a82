// SPDX-License-Identifier: Apache-2.0
'use strict';
// bench/peers/express/server.js: the two endpoints of mod_genflow that
// bench/run and bench/waiters measure, written the usual Express way, as a peer to compare
// with. Same database, same users (the htpasswd file's {SHA} entries), the
// same answers byte for byte:
//   GET  {base}/status/{id}  the module's own status SELECT (its text comes
//                            from bench/lib/print-sql through GET_SQL_FILE),
//                            sent as PostgreSQL composed it, strong ETag
//   POST {base}/create       validation and prompt template as the module,
//                            then one transaction of its own: reserve
//                            (same guard), make the account when missing,
//                            insert the pending row, ledger row; 201
//   GET  {base}/events/{id}  the status as Server-Sent Events (LISTEN)
// Configuration from the environment (bench/run sets all of it): PORT,
// PGHOST PGPORT PGDATABASE PGUSER (node-postgres reads them), HTPASSWD,
// GET_SQL_FILE, BASE (/api/neo-glitch), TYPE (neo-glitch), TABLE
// (neo_glitch_media), COST, MAX_RETRIES, CHAIN, DEADLINE_SECS,
// STARTING_CREDITS, DAILY_LIMIT; EVENTS_BASE and EVENTS_KEY_FILE (the events
// host and its GenFlowEventsSecretFile: the answers' eventsUrl carries a
// token signed as the module signs it); WORKERS (processes, default
// one per core, as httpd uses every core too; each has its own pool of 20).
const cluster = require('cluster');
const os = require('os');
const fs = require('fs');
const crypto = require('crypto');
const express = require('express');
const { Pool } = require('pg');

const env = (k, d) => (process.env[k] !== undefined ? process.env[k] : d);
const WORKERS = parseInt(env('WORKERS', String(os.availableParallelism ? os.availableParallelism() : os.cpus().length)), 10);
if (cluster.isPrimary && WORKERS > 1) {
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  let stopping = false;
  const stop = () => { stopping = true; for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM'); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  cluster.on('exit', () => {
    if (!stopping) { console.error('a worker died'); stop(); process.exitCode = 1; }
    if (Object.keys(cluster.workers).length === 0) process.exit();
  });
  let up = 0;
  cluster.on('listening', () => { if (++up === WORKERS) console.log(`express peer listening (${WORKERS} processes)`); });
  return;
}
const BASE = env('BASE', '/api/neo-glitch');
const TYPE = env('TYPE', 'neo-glitch');
const TABLE = env('TABLE', 'neo_glitch_media');
if (!/^[a-z_][a-z0-9_]*$/.test(TABLE)) throw new Error('bad TABLE');
const COST = parseInt(env('COST', '1'), 10);
const MAX_RETRIES = parseInt(env('MAX_RETRIES', '3'), 10);
const CHAIN = env('CHAIN', 'local');
const DEADLINE_SECS = parseInt(env('DEADLINE_SECS', '120'), 10);
const STARTING_CREDITS = parseInt(env('STARTING_CREDITS', '50'), 10);
const DAILY_LIMIT = parseInt(env('DAILY_LIMIT', '100'), 10);
const PROMPT_MAX = 2000, PRESET_MAX = 64, URL_MAX = 2048, SEED_MAX = 4294967294;

// Where a generation's stream is, as the module says it (eventsUrl): on
// the events host, with a token of the reader's (HMAC-SHA256 of the type,
// id, user and expiry under the first key of the secret file, valid to
// the end of the day after tomorrow, UTC), else the path on this host.
const EVENTS_BASE = env('EVENTS_BASE', '');
const EVENTS_KEY = (() => {
  const f = env('EVENTS_KEY_FILE', '');
  if (!f) return '';
  return fs.readFileSync(f, 'utf8').split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('#')) || '';
})();
const b64url = (buf) => buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
function eventsUrl(id, user) {
  const path = BASE + '/events/' + id;
  if (!EVENTS_BASE || !EVENTS_KEY) return path;
  const expiry = String((Math.floor(Date.now() / 86400000) + 2) * 86400);
  const mac = crypto.createHmac('sha256', EVENTS_KEY)
    .update(`genflow-events-v1\n${TYPE}\n${id}\n${user}\n${expiry}`).digest();
  return `${EVENTS_BASE}${path}?token=${expiry}.${b64url(Buffer.from(user))}.${b64url(mac)}`;
}

// apr_dbd placeholders (%s, %d) → $1, $2, ...
const toDollar = (sql) => { let n = 0; return sql.replace(/%[sd]/g, () => '$' + (++n)); };
const GET_SQL = toDollar(fs.readFileSync(env('GET_SQL_FILE'), 'utf8').trim());

const pool = new Pool({ max: 20 });

// Basic auth against the {SHA} lines of the htpasswd file (what
// mod_authn_file accepts for them: base64 of the SHA-1 of the password).
const users = new Map();
for (const line of fs.readFileSync(env('HTPASSWD'), 'utf8').split('\n')) {
  const i = line.indexOf(':');
  if (i > 0 && line.startsWith('{SHA}', i + 1)) users.set(line.slice(0, i), line.slice(i + 6).trim());
}
function authUser(req) {
  const h = req.headers.authorization;
  if (!h || !h.startsWith('Basic ')) return null;
  const dec = Buffer.from(h.slice(6), 'base64').toString('utf8');
  const c = dec.indexOf(':');
  if (c < 0) return null;
  const user = dec.slice(0, c);
  const want = users.get(user);
  if (!want) return null;
  const got = crypto.createHash('sha1').update(dec.slice(c + 1)).digest('base64');
  const a = Buffer.from(got), b = Buffer.from(want);
  return a.length === b.length && crypto.timingSafeEqual(a, b) ? user : null;
}

const JSON_TYPE = 'application/json; charset=utf-8';
function sendJson(res, status, text) {
  if (!res.get('Cache-Control')) res.set('Cache-Control', 'no-store');
  res.status(status).type(JSON_TYPE).send(text + '\n');
}
function sendError(res, status, code, message) {
  sendJson(res, status, JSON.stringify({ error: { code, message } }));
}

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use(BASE, (req, res, next) => {
  const user = authUser(req);
  if (!user) {
    res.set('WWW-Authenticate', 'Basic realm="mod_genflow demo"');
    return res.status(401).type('text/plain').send('Unauthorized\n');
  }
  req.user = user;
  next();
});

const NOT_FOUND_MSG = "no generation of yours has this id (the type's history lists yours)";
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const terminal = (s) => s === 'completed' || s === 'failed' || s === 'cancelled';

app.get(BASE + '/status/:id', async (req, res) => {
  const id = req.params.id;
  if (!UUID_RE.test(id)) return sendError(res, 404, 'GENERATION_NOT_FOUND', NOT_FOUND_MSG);
  let r;
  try {
    r = await pool.query({ name: 'gf_get', text: GET_SQL, values: [id, req.user], rowMode: 'array' });
  } catch (e) {
    return sendError(res, 500, 'INTERNAL_ERROR', 'internal error; see the server log');
  }
  if (r.rows.length === 0) return sendError(res, 404, 'GENERATION_NOT_FOUND', NOT_FOUND_MSG);
  const [row, state, ageMs] = r.rows[0];
  const json = row.replace(/\s*$/, '').slice(0, -1) + ',"eventsUrl":' + JSON.stringify(eventsUrl(id, req.user)) + '}';
  if (!terminal(state)) {
    res.set('Retry-After', String(Math.min(10, 1 + Math.floor(Math.floor(Number(ageMs) / 1000) / 5))));
  }
  const etag = '"' + crypto.createHash('sha1').update(json).digest('base64').slice(0, 27) + '"';
  res.set('ETag', etag);
  res.set('Cache-Control', 'private, no-cache');
  const inm = req.headers['if-none-match'];
  if (inm && (inm === '*' || inm.split(/\s*,\s*/).includes(etag))) return res.status(304).end();
  sendJson(res, 200, json);
});

// ---- events: the status as Server-Sent Events, as Node sites write it:
// one LISTEN client per process, the open responses by generation id,
// each re-read when its id is notified; the same ids (the ETag's text),
// retry: and heartbeat as the module.
const { Client } = require('pg');
const watchers = new Map();           // id → Set of subscriptions
const listener = new Client();
listener.connect().then(() => listener.query('LISTEN genflow_change')).catch((e) => {
  console.error('LISTEN failed', e);
});
listener.on('notification', (n) => {
  const subs = n.payload === '*' ? [...watchers.values()].flatMap((s) => [...s]) : [...(watchers.get(n.payload) || [])];
  for (const sub of subs) sub.look();
});
const eventId = (json) => crypto.createHash('sha1').update(json).digest('base64').slice(0, 27);

app.get(BASE + '/events/:id', async (req, res) => {
  const id = req.params.id;
  if (!UUID_RE.test(id)) return sendError(res, 404, 'GENERATION_NOT_FOUND', NOT_FOUND_MSG);
  const read = () => pool.query({ name: 'gf_get', text: GET_SQL, values: [id, req.user], rowMode: 'array' });
  let r;
  try { r = await read(); } catch (e) { return sendError(res, 500, 'INTERNAL_ERROR', 'internal error'); }
  if (r.rows.length === 0) return sendError(res, 404, 'GENERATION_NOT_FOUND', NOT_FOUND_MSG);
  let last = req.headers['last-event-id'] || '';
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store',
                       'X-Accel-Buffering': 'no' });
  res.write('retry: 2000\n\n');
  let done = false;
  const set = watchers.get(id) || new Set();
  watchers.set(id, set);
  const beat = setInterval(() => res.write(': keep-alive\n\n'), 15000);
  const end = () => {
    if (done) return;
    done = true;
    clearInterval(beat);
    set.delete(sub);
    if (set.size === 0) watchers.delete(id);
    res.end();
  };
  const send = (row) => {
    const [json, state] = row;
    const eid = eventId(json);
    if (eid !== last) {
      res.write(`id: ${eid}\nevent: status\ndata: ${json}\n\n`);
      last = eid;
    }
    if (terminal(state)) end();
  };
  const sub = { look: () => read().then((q) => (q.rows.length ? send(q.rows[0]) : end()), () => {}) };
  set.add(sub);
  req.on('close', end);
  send(r.rows[0]);
  if (!done) setTimeout(end, 600000);
});

// ---- create: the module's field rules (gf_input.c) and template (gf_prompt.c)
const STYLES = ['realistic', 'artistic', 'minimal'];
const QUALITIES = ['auto', 'high'];
const RATIOS = ['1:1', '16:9', '9:16', '4:3', '3:4', '3:2', '2:3', '21:9'];
const TEMPLATE = 'neo-glitch digital art, {prompt}, {customPrompt}, ' +
  'chromatic aberration and scan-line glitches, {style}, {quality}, aspect ratio {aspectRatio}';
const STYLE_WORDS = { realistic: 'photorealistic, natural lighting', artistic: 'artistic, painterly brushwork',
  minimal: 'minimalist, clean composition' };
class Invalid extends Error {}
const codePoints = (s) => { let n = 0; for (const _ of s) n++; return n; };
function getString(v, field, max) {
  if (typeof v !== 'string') throw new Invalid(`${field} must be a string`);
  if (v.includes('\0')) throw new Invalid(`${field} must not contain NUL characters`);
  if (v.length === 0) throw new Invalid(`${field} must not be empty`);
  if (/^[ \t\r\n]*$/.test(v)) throw new Invalid(`${field} must not be blank (only white space)`);
  if (codePoints(v) > max) throw new Invalid(`${field} is longer than ${max} characters`);
  return v;
}
function getEnum(v, field, allowed) {
  getString(v, field, 32);
  if (!allowed.includes(v)) throw new Invalid(`${field} must be one of: ${allowed.join(', ')}`);
  return v;
}
function getNumber(v, field, lo, hi, integral) {
  if (typeof v !== 'number' || (integral && !Number.isInteger(v))) {
    throw new Invalid(`${field} must be ${integral ? 'an integer' : 'a number'}`);
  }
  if (v < lo || v > hi) throw new Invalid(`${field} must be between ${lo} and ${hi}`);
  return v;
}
function parseInput(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new Invalid('the request body must be a JSON object');
  }
  const inp = {}, params = {};
  for (const [k, v] of Object.entries(body)) {
    if (v === null) continue;
    switch (k) {
      case 'prompt': inp.prompt = getString(v, 'prompt', PROMPT_MAX); break;
      case 'customPrompt': inp.customPrompt = getString(v, 'customPrompt', PROMPT_MAX); break;
      case 'preset': inp.preset = getString(v, 'preset', PRESET_MAX); break;
      case 'sourceImage': {
        const s = getString(v, 'sourceImage', URL_MAX);
        let u;
        if (!/^https:\/\//i.test(s)) throw new Invalid('sourceImage must be an https URL');
        if (/[ \t\r\n"<>\\]/.test(s)) {
          throw new Invalid('sourceImage holds a space, quote, angle bracket or backslash, which a URL may not');
        }
        try { u = new URL(s); } catch (e) { throw new Invalid('sourceImage is not a URL with a host name'); }
        if (u.username || u.password) throw new Invalid('sourceImage must not carry a user name or password');
        inp.sourceImage = s;
        break;
      }
      case 'style': inp.style = getEnum(v, 'style', STYLES); break;
      case 'quality': inp.quality = getEnum(v, 'quality', QUALITIES); break;
      case 'aspectRatio': inp.aspectRatio = getEnum(v, 'aspectRatio', RATIOS); break;
      case 'parameters':
        if (typeof v !== 'object' || Array.isArray(v)) throw new Invalid('parameters must be an object');
        for (const [pk, pv] of Object.entries(v)) {
          const f = 'parameters.' + pk;
          if (pk === 'guidance_scale') params.guidance_scale = getNumber(pv, f, 0, 20, false);
          else if (pk === 'num_inference_steps') params.num_inference_steps = getNumber(pv, f, 1, 100, true);
          else if (pk === 'strength') params.strength = getNumber(pv, f, 0, 1, false);
          else if (pk === 'seed') params.seed = getNumber(pv, f, 0, SEED_MAX, true);
          else throw new Invalid(`${f} is not a known field`);
        }
        break;
      default: throw new Invalid(`${k} is not a known field`);
    }
  }
  if (!inp.prompt) throw new Invalid('prompt is required for this type');
  if (inp.preset) throw new Invalid(`preset: '${inp.preset}' is not one of this week's presets for ${TYPE}`);
  inp.parameters = params;
  return inp;
}
function buildPrompt(inp) {
  const value = {
    prompt: inp.prompt, customPrompt: inp.customPrompt, preset: inp.preset,
    style: STYLE_WORDS[inp.style], quality: inp.quality === 'high' ? 'highly detailed, sharp focus' : undefined,
    aspectRatio: inp.aspectRatio, type: TYPE,
  };
  const out = [];
  for (const seg of TEMPLATE.split(',')) {
    let placeholders = 0, filled = 0;
    const text = seg.replace(/\{([A-Za-z]+)\}/g, (m, name) => {
      if (!(name in value)) return m;
      placeholders++;
      const v = value[name];
      if (v) { filled++; return v; }
      return '';
    }).replace(/^[ \t]+|[ \t]+$/g, '');
    if ((placeholders === 0 || filled > 0) && text) out.push(text);
  }
  return out.join(', ');
}

const TODAY = "(now() AT TIME ZONE 'UTC')::date";
const RESERVE = {
  name: 'peer_reserve', rowMode: 'array',
  text: `UPDATE genflow_accounts a SET balance = a.balance - $2,
           daily_used = CASE WHEN a.daily_date = ${TODAY} THEN a.daily_used ELSE 0 END + $2,
           daily_date = ${TODAY}, updated_at = now()
         WHERE a.user_id = $1 AND a.balance >= $2
           AND (COALESCE(a.daily_limit, $3) = 0
                OR CASE WHEN a.daily_date = ${TODAY} THEN a.daily_used ELSE 0 END + $2
                   <= COALESCE(a.daily_limit, $3))
         RETURNING 1`,
};
const ENSURE = {
  name: 'peer_ensure',
  text: `WITH ins AS (INSERT INTO genflow_accounts (user_id, balance) VALUES ($1, $2)
                     ON CONFLICT (user_id) DO NOTHING RETURNING user_id, balance)
         INSERT INTO genflow_ledger (user_id, kind, amount, reason)
         SELECT user_id, 'grant', balance, 'starting balance' FROM ins WHERE balance > 0`,
};
const INSERT = {
  name: 'peer_insert', rowMode: 'array',
  text: `INSERT INTO ${TABLE} (id, user_id, prompt, user_prompt, preset, source_image, aspect_ratio,
           seed, input, estimated_cost, max_retries, chain, deadline_secs)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         RETURNING estimated_cost, prompt, genflow_rfc3339(created_at)`,
};
const LEDGER = {
  name: 'peer_ledger',
  text: `INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason)
         VALUES ($1, 'reserve', $2, '${TYPE}', $3, 'create')`,
};

app.post(BASE + '/create', express.json({ limit: '64kb', strict: false }), async (req, res) => {
  if (!req.is('application/json')) {
    return sendError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'the request body must be application/json');
  }
  let inp, prompt;
  try {
    inp = parseInput(req.body);
    prompt = buildPrompt(inp);
  } catch (e) {
    if (e instanceof Invalid) return sendError(res, 400, 'VALIDATION_ERROR', e.message);
    throw e;
  }
  const seed = inp.parameters.seed !== undefined ? inp.parameters.seed : crypto.randomInt(0, SEED_MAX + 1);
  inp.parameters.seed = seed;
  const id = crypto.randomUUID();
  const client = await pool.connect();
  let row;
  try {
    await client.query('BEGIN');
    let r = await client.query({ ...RESERVE, values: [req.user, COST, DAILY_LIMIT] });
    if (r.rowCount === 0) {
      // No account yet (or not enough credits): make it, then try once more.
      await client.query({ ...ENSURE, values: [req.user, STARTING_CREDITS] });
      r = await client.query({ ...RESERVE, values: [req.user, COST, DAILY_LIMIT] });
    }
    if (r.rowCount === 0) {
      await client.query('ROLLBACK');
      return sendError(res, 402, 'INSUFFICIENT_CREDITS', 'not enough credits for this generation');
    }
    const g = await client.query({ ...INSERT, values: [id, req.user, prompt, inp.prompt, inp.preset || null,
      inp.sourceImage || null, inp.aspectRatio || null, seed, JSON.stringify(inp), COST, MAX_RETRIES, CHAIN,
      DEADLINE_SECS] });
    await client.query({ ...LEDGER, values: [req.user, -COST, id] });
    await client.query('COMMIT');
    row = g.rows[0];
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    return sendError(res, 500, 'INTERNAL_ERROR', 'internal error; see the server log');
  } finally {
    client.release();
  }
  const url = BASE + '/status/' + id;
  res.set('Location', url);
  sendJson(res, 201, JSON.stringify({ generationId: id, type: TYPE, status: 'pending',
    estimatedCost: row[0], prompt: row[1], createdAt: row[2], statusUrl: url,
    eventsUrl: eventsUrl(id, req.user) }));
});

app.use((err, req, res, next) => {
  if (err && err.type === 'entity.parse.failed') return sendError(res, 400, 'VALIDATION_ERROR', 'the request body is not valid JSON');
  if (err && err.type === 'entity.too.large') return sendError(res, 413, 'PAYLOAD_TOO_LARGE', 'the request body is too large');
  sendError(res, 500, 'INTERNAL_ERROR', 'internal error; see the server log');
});

app.listen(parseInt(env('PORT', '3000'), 10), '127.0.0.1', () => { if (WORKERS <= 1) console.log('express peer listening'); });
