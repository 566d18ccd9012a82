#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/browser/run.sh: the studio page (web/) in a real browser, as
# scripts/test runs it. Starts its own scripts/demo with a slow site-defined
# type and a user without credits, then runs run.mjs (playwright-core from
# package-lock.json, Debian's /usr/bin/chromium, headless) against it.
#
#   tests/browser/run.sh [SCREENSHOT_DIR]     (default docs/screenshots)
#
# Environment: GENFLOW_BROWSER_PORT (default: a free port), GENFLOW_CHROMIUM
# (default /usr/bin/chromium). Prints one line per case and closes with
# "browser: N passed, M failed"; the exit status is the verdict.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"
GF_SCRIPT=browser
shots=${1:-$top/docs/screenshots}
mkdir -p "$shots"
shots=$(cd "$shots" && pwd)

fail_setup() { echo "not ok - setup: $*"; echo "browser: 0 passed, 1 failed"; exit 1; }

chrome=${GENFLOW_CHROMIUM:-/usr/bin/chromium}
[ -x "$chrome" ] || fail_setup "$chrome is missing (apt-get install chromium)"
command -v npm >/dev/null 2>&1 || fail_setup "npm is missing (apt-get install nodejs npm)"
( cd "$top/tests/browser" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null 2>&1 ) \
    || fail_setup "npm ci in tests/browser failed"

port=${GENFLOW_BROWSER_PORT:-$(gf_free_port)}
dir=$(mktemp -d "${TMPDIR:-/tmp}/genflow-browser.XXXXXX")
chmod 755 "$dir"
out="$dir/demo.out"
# A type of the site's own whose provider takes 20 s: something to watch
# and to cancel, and a type the picker learns of from /api/types only; and
# one whose provider takes one 2 s call at a time, for a line to stand in
# (its user may have more than the default 10 generations active). A
# cancelled call keeps its worker until the provider answers: two more
# workers keep the other cases from waiting for them. And one whose
# provider takes 5 s and reports nothing: its progress is estimated from
# the time its pictures took. And one whose provider shows the picture
# being drawn (previews) during its 4.5 s. And one that takes edits: a
# mask and reference pictures (the local provider draws them).
cat > "$dir/extra.conf" <<'CONF'
GenFlowWorkers 4
GenFlowMaxActive 100
GenFlowProvider slow local latency=20000
<Location /api/slow-demo>
    GenFlowType slow-demo
    GenFlowProviders slow
    GenFlowRequire prompt
    GenFlowCost 1
</Location>
GenFlowProvider lined local latency=2000 max_concurrent=1
<Location /api/line-demo>
    GenFlowType line-demo
    GenFlowProviders lined
    GenFlowRequire prompt
    GenFlowCost 1
</Location>
GenFlowProvider timed local latency=5000
<Location /api/timed-demo>
    GenFlowType timed-demo
    GenFlowProviders timed
    GenFlowRequire prompt
    GenFlowCost 1
</Location>
GenFlowProvider drawing local latency=4500 previews=2
<Location /api/drawing-demo>
    GenFlowType drawing-demo
    GenFlowProviders drawing
    GenFlowRequire prompt
    GenFlowCost 1
</Location>
<Location /api/edit-demo>
    GenFlowType edit-demo
    GenFlowProviders local
    GenFlowRequire sourceImage
    GenFlowAccept mask referenceImages
    GenFlowCost 1
</Location>
CONF
events_port=$(gf_free_port)
GENFLOW_PORT=$port GENFLOW_EVENTS_PORT=$events_port GENFLOW_DEMO_DIR="$dir/state" GENFLOW_EXTRA_CONF="$dir/extra.conf" \
    "$top/scripts/demo" >"$out" 2>&1 &
demo_pid=$!
stop_demo() {
    if kill -0 "$demo_pid" 2>/dev/null; then
        # SIGTERM: a background job of a script ignores SIGINT. The demo
        # stops httpd and PostgreSQL, then prints "stopped".
        kill -TERM "$demo_pid" 2>/dev/null || true
        for _ in $(seq 1 240); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 0.5; done
    fi
    if kill -0 "$demo_pid" 2>/dev/null || ! grep -q 'stopped$' "$out"; then
        # Never delete the state of a demo that may still run.
        echo "# the demo did not stop cleanly; its state stays in $dir"
        tail -n 5 "$out" | sed 's/^/#   /'
        return 0
    fi
    wait "$demo_pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap stop_demo EXIT
for _ in $(seq 1 600); do
    grep -q '^ready: ' "$out" && break
    kill -0 "$demo_pid" 2>/dev/null || { cat "$out"; fail_setup "the demo exited before it was ready"; }
    sleep 0.5
done
grep -q '^ready: ' "$out" || { cat "$out"; fail_setup "the demo did not get ready"; }
uri=$(sed -n 's/^database: //p' "$out")
# demo2's account opens with a zero balance (no ledger row: the balance
# equals the ledger's sum, 0), for the insufficient-credits case.
"$(gf_pg_bindir)/psql" "$uri" -XAtq -v ON_ERROR_STOP=1 \
    -c "INSERT INTO genflow_accounts (user_id, balance) VALUES ('demo2', 0)" >/dev/null \
    || fail_setup "could not open demo2's account with no credits"

rc=0
# A screenshot of each failing case goes to tests/browser-failures/ (kept
# by scripts/test with GENFLOW_TEST_KEEP=1).
rm -rf "$top/tests/browser-failures"
GENFLOW_CHROMIUM="$chrome" GENFLOW_BROWSER_FAILSHOTS="$top/tests/browser-failures" \
    GENFLOW_BROWSER_DB="$uri" GENFLOW_PSQL="$(gf_pg_bindir)/psql" \
    node "$top/tests/browser/run.mjs" "http://127.0.0.1:$port/" "$shots" || rc=$?
if [ "$rc" != 0 ]; then
    # What the server saw, for the failures above.
    echo "# error_log (last 30 lines):"
    tail -n 30 "$dir/state/httpd/error_log" 2>/dev/null | sed 's/^/#   /' || true
fi
exit "$rc"
