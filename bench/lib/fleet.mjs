// SPDX-License-Identifier: Apache-2.0
// bench/lib/fleet.mjs: the parts of bench/gpu-fleet that speak HTTP and
// count (Node.js, no packages).
//
//   node fleet.mjs plan N USERS                 the generations, in the order
//        they arrive: one JSON line each {i, user, prompt, secs}; user by
//        user, each user's all at once, every user within a few ms
//   node fleet.mjs module BASE PLAN PATH        sends the plan to mod_genflow
//        (POST PATH/generate as each plan's user, password = user name,
//        Prefer: wait=0), all in flight together; prints "sent ok t0_ms"
//   node fleet.mjs rr PLAN WORKFLOW URL...      the peer: the same prompts
//        sent to the servers in turn (round robin, as a site without a
//        queue does), each then polled on its server's history every
//        100 ms until it ends or its server stops answering; prints one
//        JSON line {t0, lost, done}
//   node fleet.mjs report KIND T0 QUEUES ROWS   the figures of a run from the
//        servers' own timelines (QUEUES: a JSON list of {server, killedAt,
//        queue}) and, for the module, the rows (KIND module) or the
//        peer's record (KIND rr): one JSON line
import http from 'node:http';
import fs from 'node:fs';

const [cmd, ...args] = process.argv.slice(2);

function plan(n, users) {
    const out = [];
    const per = Math.ceil(n / users);
    let i = 0;
    for (let u = 1; u <= users; u++) {
        for (let j = 1; j <= per && i < n; j++, i++) {
            // 1.0 .. 3.0 s, spread evenly, the same for every run.
            const secs = 1 + ((i * 37) % 21) / 10;
            const user = `fleet${String(u).padStart(2, '0')}`;
            out.push({ i, user, secs, prompt: `fleet ${user} n${j} [run:${secs.toFixed(1)}]` });
        }
    }
    return out;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function request(url, { method = 'GET', headers = {}, body } = {}) {
    return new Promise((resolve) => {
        const u = new URL(url);
        const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method,
                                   agent, headers, timeout: 10000 }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (e) => resolve({ status: 0, error: e.message }));
        if (body) req.end(body); else req.end();
    });
}

async function sendModule(base, planFile, path) {
    const gens = fs.readFileSync(planFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const t0 = Date.now();
    const all = [];
    let ok = 0;
    for (const g of gens) {
        const body = JSON.stringify({ prompt: g.prompt });
        all.push(request(`${base}${path}/generate`, {
            method: 'POST', body,
            headers: { Authorization: 'Basic ' + Buffer.from(`${g.user}:${g.user}`).toString('base64'),
                       'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body),
                       Prefer: 'wait=0' } }).then((r) => { if (r.status >= 200 && r.status < 300) ok++; }));
    }
    await Promise.all(all);
    console.log(`${gens.length} ${ok} ${t0}`);
}

async function roundRobin(planFile, workflowFile, urls) {
    const gens = fs.readFileSync(planFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const workflow = JSON.parse(fs.readFileSync(workflowFile, 'utf8'));
    const t0 = Date.now();
    const jobs = await Promise.all(gens.map(async (g, k) => {
        const graph = JSON.parse(JSON.stringify(workflow));
        graph['6'].inputs.text = g.prompt;
        const body = JSON.stringify({ prompt: graph, client_id: 'round-robin' });
        const server = urls[k % urls.length];
        const r = await request(`${server}/api/prompt`, { method: 'POST', body,
            headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } });
        let id = null;
        try { id = r.status === 200 ? JSON.parse(r.body).prompt_id : null; } catch { id = null; }
        return { g, server, id };
    }));
    let lost = jobs.filter((j) => !j.id).length, done = 0;
    const open = new Set(jobs.filter((j) => j.id));
    while (open.size) {
        await new Promise((res) => setTimeout(res, 100));
        await Promise.all([...open].map(async (j) => {
            const r = await request(`${j.server}/api/history/${j.id}`);
            if (r.status !== 200) { open.delete(j); lost++; return; }
            const h = JSON.parse(r.body);
            if (!h[j.id]) return;
            open.delete(j);
            if (h[j.id].status && h[j.id].status.completed) done++;
            else lost++;
        }));
    }
    console.log(JSON.stringify({ t0, lost, done }));
}

// Each server's prompts with their start and end, as the mock's own
// timeline has them (t/mock/comfyui.pl: one at a time, in queue order),
// cut at the moment it was killed.
function timelines(queues) {
    const runs = [];
    for (const { server, killedAt, queue } of queues) {
        let free = 0;
        for (const e of queue) {
            if (e.deleted) continue;
            const start = Math.max(e.queued, free);
            let end = start + Number(e.secs);
            if (e.interrupted !== undefined && e.interrupted < end) end = e.interrupted;
            free = end;
            if (killedAt && start >= killedAt) continue;            // never ran
            const cut = killedAt && end > killedAt;
            runs.push({ server, text: e.text, start, end: cut ? killedAt : end, whole: !cut });
        }
    }
    return runs;
}

function report(kind, t0ms, queuesFile, rowsFile) {
    const t0 = Number(t0ms) / 1000;
    const queues = JSON.parse(fs.readFileSync(queuesFile, 'utf8'));
    const servers = queues.length;
    const runs = timelines(queues);
    const whole = runs.filter((r) => r.whole);
    // Busy whenever work is queued: from the first arrival to the last
    // start of a prompt that ran to its end (after it nothing waits), each
    // server's busy share of that window; a killed server counts only
    // while it lived.
    const lastStart = Math.max(...whole.map((r) => r.start));
    let busy = 0, capacity = 0;
    for (const q of queues) {
        const until = q.killedAt ? Math.min(q.killedAt, lastStart) : lastStart;
        capacity += Math.max(0, until - t0);
        for (const r of runs.filter((x) => x.server === q.server)) {
            busy += Math.max(0, Math.min(r.end, until) - Math.max(r.start, t0));
        }
    }
    const makespan = Math.max(...runs.map((r) => r.end)) - t0;
    const work = whole.reduce((a, r) => a + (r.end - r.start), 0);
    // The ideal: the same run times, in the order they arrived, each on
    // the first server free, with no time lost between two prompts.
    const plan = whole.map((r) => ({ text: r.text, secs: r.end - r.start }))
        .sort((a, b) => Number(a.text.match(/fleet(\d+)/)[1]) - Number(b.text.match(/fleet(\d+)/)[1])
                     || Number(a.text.match(/ n(\d+)/)[1]) - Number(b.text.match(/ n(\d+)/)[1]));
    const free = new Array(servers).fill(0);
    for (const x of plan) { free.sort((a, b) => a - b); free[0] += x.secs; }
    const ideal = Math.max(...free);
    // Fairness, from each user's arrival (its first generation accepted:
    // the rows' queued_at for the module, the first submission for the
    // peer, which submits as requests come): the starts in their order,
    // and after each, how far the user with the most started is ahead of
    // the one with the fewest among those arrived and still waiting
    // (spread); how many starts went to others between a user's arrival
    // and its first start (wait in starts: one round of the users is
    // fair); each user's wait for its first picture.
    const rows = rowsFile ? JSON.parse(fs.readFileSync(rowsFile, 'utf8')) : {};
    const starts = whole.map((r) => ({ user: r.text.match(/(fleet\d+)/)[1], start: r.start }))
        .sort((a, b) => a.start - b.start);
    const users = [...new Set(starts.map((s) => s.user))];
    const arrived = {};
    for (const q of queues) {
        for (const e of q.queue) {
            const u = (e.text.match(/(fleet\d+)/) || [])[1];
            if (u && (arrived[u] === undefined || e.queued < arrived[u])) arrived[u] = e.queued;
        }
    }
    if (rows.arrivals) Object.assign(arrived, rows.arrivals);
    delete rows.arrivals;
    const total = Object.fromEntries(users.map((u) => [u, starts.filter((s) => s.user === u).length]));
    const got = Object.fromEntries(users.map((u) => [u, 0]));
    let spread = 0, waitStarts = 0;
    const first = {};
    starts.forEach((s, k) => {
        got[s.user]++;
        if (first[s.user] === undefined) {
            first[s.user] = s.start - t0;
            const before = starts.slice(0, k).filter((x) => x.start >= arrived[s.user]).length;
            waitStarts = Math.max(waitStarts, before);
        }
        const waiting = users.filter((u) => got[u] < total[u] && arrived[u] <= s.start);
        if (!waiting.length) return;
        const most = Math.max(...users.filter((u) => arrived[u] <= s.start).map((u) => got[u]));
        const least = Math.min(...waiting.map((u) => got[u]));
        spread = Math.max(spread, most - least);
    });
    const firsts = Object.values(first).sort((a, b) => a - b);
    const out = { kind, servers, prompts: whole.length, cut: runs.length - whole.length,
                  busyShare: busy / capacity, makespan, ideal, idealRatio: ideal / makespan, work,
                  spread, waitStarts, users: users.length,
                  firstPictureP50: firsts[Math.floor(firsts.length / 2)],
                  firstPictureMax: firsts[firsts.length - 1] };
    Object.assign(out, rows);
    console.log(JSON.stringify(out));
}

if (cmd === 'plan') {
    for (const g of plan(Number(args[0]), Number(args[1]))) console.log(JSON.stringify(g));
} else if (cmd === 'module') {
    await sendModule(args[0], args[1], args[2]);
} else if (cmd === 'rr') {
    await roundRobin(args[0], args[1], args.slice(2));
} else if (cmd === 'report') {
    report(args[0], args[1], args[2], args[3]);
} else {
    console.error('usage: fleet.mjs plan|module|rr|report ...');
    process.exit(2);
}
