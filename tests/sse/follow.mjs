// SPDX-License-Identifier: Apache-2.0
// follow.mjs BASE USER TYPE: one generation followed with the eventsource
// package (what browsers' EventSource polyfills use), for
// t/33_event_streams.t. It creates a generation, follows its stream, drops
// the connection after the first event (the package reconnects with
// Last-Event-ID after the server's retry:), starts the generation, and never
// closes the EventSource by hand: after the terminal event the server ends
// the stream, the package reconnects once, gets 204 and stops. Prints one
// JSON line: the events seen, the connections made, the Last-Event-ID each
// sent, the answers' statuses and the final readyState.
import { EventSource } from 'eventsource';

const [base, user, type] = process.argv.slice(2);
const auth = 'Basic ' + Buffer.from(`${user}:${user}`).toString('base64');
const api = (method, path, body) => fetch(`${base}${path}`, {
  method,
  headers: { Authorization: auth, 'Content-Type': 'application/json' },
  body: body ? JSON.stringify(body) : undefined,
}).then((r) => r.json());

const created = await api('POST', `/api/${type}/create`, { prompt: 'followed' });
const id = created.generationId;
const connections = [];
let dropCurrent = null;

// The connection is dropped the way a network loses it: the body's stream
// fails (an abort by hand would read as the client's own close, after
// which EventSource never reconnects).
function droppable(res) {
  const reader = res.body.getReader();
  let drop;
  const dropped = new Promise((r) => { drop = r; });
  dropCurrent = () => { drop('drop'); reader.cancel().catch(() => {}); };
  const body = new ReadableStream({
    async pull(ctrl) {
      const r = await Promise.race([reader.read(), dropped]);
      if (r === 'drop') ctrl.error(new TypeError('network connection lost'));
      else if (r.done) ctrl.close();
      else ctrl.enqueue(r.value);
    },
    cancel() { reader.cancel().catch(() => {}); },
  });
  return new Response(body, { status: res.status, headers: res.headers });
}

const es = new EventSource(`${base}/api/${type}/events/${id}`, {
  fetch: (url, init) => {
    const headers = { ...init.headers, Authorization: auth };
    const conn = { lastEventId: headers['Last-Event-ID'] ?? headers['last-event-id'] ?? null };
    connections.push(conn);
    return fetch(url, { ...init, headers }).then((res) => {
      conn.status = res.status;
      return res.body ? droppable(res) : res;
    });
  },
});

const events = [];
let started = false;
es.addEventListener('status', (e) => {
  const s = JSON.parse(e.data);
  events.push({ id: e.lastEventId, status: s.status });
  if (!started) {
    started = true;
    // Drop the connection under the package, then start the generation
    // while it is away.
    dropCurrent();
    api('POST', `/api/${type}/generate`, { generationId: id });
  }
});

// Long enough for: reconnect after retry (2 s), the provider (4 s), the
// terminal event, the server's close and one more reconnect.
await new Promise((r) => setTimeout(r, 14000));
const readyState = es.readyState;
es.close();
console.log(JSON.stringify({ id, events, connections, readyState }));
process.exit(0);
