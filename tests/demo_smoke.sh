#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/demo_smoke.sh: scripts/demo as a person uses it. Start it, wait for
# "ready", generate through the API, fetch the picture, check the credits
# moved once; then a front-end developer's client generated from the served
# API document goes through every operation (tests/openapi/client.sh), and
# the authorization matrix runs on its hosts (tests/authz/matrix.pl); then
# SIGTERM it and check it stops everything.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$top/scripts/lib.sh"
GF_SCRIPT=demo-smoke
port=$(gf_free_port)
# The events host's port too: the default (GENFLOW_PORT + 1) may be taken.
events_port=$(gf_free_port)
while [ "$events_port" = "$port" ]; do events_port=$(gf_free_port); done
dir=$(mktemp -d "${TMPDIR:-/tmp}/genflow-demo-smoke.XXXXXX")
out="$dir/out"
extra="$dir/extra.conf"
# GENFLOW_EXTRA_CONF: an admin's addition that must take effect.
# A provider that signs its webhooks, for the client's webhook calls.
whsec="whsec_$(head -c 24 /dev/urandom | base64)"
cat > "$extra" <<CONF
<Location /api/neo-glitch>
    GenFlowCost 3
</Location>
GenFlowProvider rephook replicate key_env=GENFLOW_CLIENT_KEY webhook_url=https://example.test/hooks/rephook webhook_secret_env=GENFLOW_CLIENT_WHSEC
<Location /hooks>
    SetHandler genflow-webhook
</Location>
CONF
# A real provider's key in the environment puts it in front of `local`; with
# no network here it fails at once and the chain falls back to local.
GENFLOW_CLIENT_KEY=demo-smoke-dummy-key GENFLOW_CLIENT_WHSEC=$whsec \
AIMLAPI_KEY=demo-smoke-dummy-key GENFLOW_PORT=$port GENFLOW_EVENTS_PORT=$events_port GENFLOW_DEMO_DIR="$dir/state" \
    GENFLOW_EXTRA_CONF="$extra" "$top/scripts/demo" >"$out" 2>&1 &
pid=$!
fail() { echo "demo-smoke: FAIL: $*"; cat "$out"; kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"; exit 1; }
for _ in $(seq 1 600); do
    grep -q '^ready: ' "$out" && break
    kill -0 "$pid" 2>/dev/null || fail "demo exited before ready"
    sleep 0.5
done
grep -qx "ready: http://127.0.0.1:$port/" "$out" || fail "no ready line with the port"
uri=$(sed -n 's/^database: //p' "$out")
[[ "$uri" == postgresql://* ]] || fail "no database line"
base="http://127.0.0.1:$port"
body=$(curl -fsS -u demo:demo -H 'Content-Type: application/json' -H 'Prefer: wait=60' \
       -d '{"prompt":"smoke test"}' "$base/api/neo-glitch/generate") || fail "generate failed"
grep -q '"status":"completed"' <<<"$body" || fail "not completed: $body"
grep -q '"provider":"local"' <<<"$body" || fail "not completed by local: $body"
tried=$(psql "$uri" -XAt -c "SELECT attempts FROM neo_glitch_media WHERE user_id = 'demo'")
[ "$tried" -gt 1 ] || fail "the aiml provider from AIMLAPI_KEY was not tried first (attempts $tried)"
grep -q 'GenFlowProvider aiml aiml key_env=AIMLAPI_KEY' "$dir/state/providers.conf" \
    || fail "AIMLAPI_KEY did not declare the aiml provider"
url=$(sed -n 's/.*"imageUrl":"\([^"]*\)".*/\1/p' <<<"$body")
curl -fsS "$base$url" -o "$dir/img.png" || fail "imageUrl not served"
head -c 8 "$dir/img.png" | od -An -c | grep -q 'P   N   G' || fail "imageUrl is not a PNG"
quota=$(curl -fsS -u demo:demo "$base/api/quota")
grep -q '"currentBalance":47' <<<"$quota" || fail "credits not moved exactly once by cost 3: $quota"
quota2=$(curl -fsS -u demo2:demo2 "$base/api/quota")
grep -q '"currentBalance":50' <<<"$quota2" || fail "demo2 not a separate account: $quota2"
code=$(curl -s -o /dev/null -w '%{http_code}' -u demo:wrong "$base/api/quota")
[ "$code" = 401 ] || fail "wrong password answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -u admin:admin "$base/api/admin/jobs?user=demo")
[ "$code" = 200 ] || fail "admin/admin cannot list jobs ($code)"
code=$(curl -s -o /dev/null -w '%{http_code}' -u demo:demo "$base/api/admin/jobs")
[ "$code" = 403 ] || fail "demo is not refused the admin endpoints with 403 ($code)"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/api/health")
[ "$code" = 200 ] || fail "health answered $code"
presets=$(curl -fsS -u demo:demo "$base/api/presets/presets")
grep -q '"week":"' <<<"$presets" || fail "no presets: $presets"
ledger=$(psql "$uri" -XAt -c "SELECT string_agg(kind, ',' ORDER BY id) FROM genflow_ledger WHERE user_id = 'demo'")
[ "$ledger" = "grant,reserve,charge" ] || fail "ledger is '$ledger'"
"$top/tests/openapi/client.sh" "$base" "$whsec" || fail "the generated client (tests/openapi/client.sh)"
# The authorization matrix of the API document (x-genflow-authz) against
# the demo's own configuration: its main host and its events host, every
# operation with every credential and path form; a refusal changes nothing.
"$top/tests/authz/matrix.pl" --base "$base" --events-secret "$dir/state/events.secret" --psql "$uri" \
    --type neo-glitch --provider rephook --owner demo:demo --other demo2:demo2 --admin admin:admin \
    > "$dir/matrix.out" 2>&1 || { tail -n 150 "$dir/matrix.out"; fail "the authorization matrix (tests/authz/matrix.pl)"; }
tail -n 1 "$dir/matrix.out"
# The matrix opened streams with their tokens on the events host: its log
# has those requests, by path, and no query string (no token). (The matrix
# also sends tokens to the main host, where they open nothing: that host
# logs its request lines.)
evlog="$dir/state/httpd/events_access_log"
grep -q ' /api/' "$evlog" 2>/dev/null || fail "the events host logged no request ($evlog)"
if grep -q '?' "$evlog"; then fail "the events host logged a query string: $(grep -m1 '?' "$evlog")"; fi
kill -TERM "$pid"
for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
kill -0 "$pid" 2>/dev/null && fail "demo did not stop on SIGTERM"
curl -s -o /dev/null "$base/" && fail "httpd still answers after stop"
[ -f "$dir/state/pgdata/postmaster.pid" ] && fail "PostgreSQL still running after stop"
rm -rf "$dir"
echo "demo-smoke: ok"
