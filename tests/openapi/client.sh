#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/openapi/client.sh BASE WEBHOOK_SECRET: the API document as a
# front-end developer meets it, against a live server (tests/demo_smoke.sh
# runs it on scripts/demo):
#  1. the document the server serves (BASE/api/docs/openapi.yaml) is
#     docs/openapi.yaml, byte for byte;
#  2. Redocly CLI (recommended ruleset, tests/openapi/redocly.yaml) and
#     Spectral (spectral:oas, tests/openapi/.spectral.yaml) find nothing in
#     it: no error, no warning, no hint;
#  3. openapi-typescript generates a client's types from it, tsc --strict
#     compiles client.ts against them with openapi-fetch, and the program
#     calls every operation, error answers included;
#  4. validate.mjs --every-operation checks every answer it got against the
#     document (bodies, status codes, headers) and that each operation was
#     answered with a success and with a 4xx.
# The packages are those of tests/openapi/package-lock.json (npm ci, cached
# by npm between runs).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
base=${1:?usage: client.sh BASE WEBHOOK_SECRET}
whsec=${2:?usage: client.sh BASE WEBHOOK_SECRET}
out="$here/out"
fail() { echo "openapi-client: FAIL: $*"; exit 1; }

cd "$here"
# npm ci unless it ran since the lock file last changed (the openapi stage
# of scripts/test ran it a moment ago).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1 || fail "npm ci in tests/openapi"
fi
rm -rf "$out"
mkdir -p "$out"

curl -fsS "$base/api/docs/openapi.yaml" -o "$out/served.yaml" || fail "the server does not serve /api/docs/openapi.yaml"
cmp -s "$out/served.yaml" "$top/docs/openapi.yaml" || fail "the served document is not docs/openapi.yaml"

# Redocly: the totals of its JSON report (its exit status counts errors only).
npx --no-install redocly lint --config redocly.yaml --format=json "$out/served.yaml" \
    > "$out/redocly.json" 2> "$out/redocly.err" || true
totals=$(node -e 'const t = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).totals;
                  console.log(`${t.errors} ${t.warnings}`)' "$out/redocly.json" 2>/dev/null) \
    || { cat "$out/redocly.err"; fail "redocly lint gave no report"; }
if [ "$totals" != "0 0" ]; then
    npx --no-install redocly lint --config redocly.yaml "$out/served.yaml" || true
    fail "redocly lint: $totals (errors warnings)"
fi
echo "openapi-client: redocly lint (recommended): 0 errors, 0 warnings"
npx --no-install spectral lint --ruleset .spectral.yaml --fail-severity=hint "$out/served.yaml" \
    > "$out/spectral.out" 2>&1 || { cat "$out/spectral.out"; fail "spectral lint (spectral:oas) found something"; }
echo "openapi-client: spectral lint (spectral:oas): nothing found"

npx --no-install openapi-typescript "$out/served.yaml" -o "$out/api.d.ts" > "$out/openapi-typescript.out" 2>&1 \
    || { cat "$out/openapi-typescript.out"; fail "openapi-typescript"; }
npx --no-install tsc --strict --noUncheckedIndexedAccess --target es2022 --module nodenext \
    --moduleResolution nodenext --types node --skipLibCheck false --outDir "$out" client.ts \
    || fail "tsc --strict could not compile client.ts against the generated types"
echo "openapi-client: openapi-typescript + tsc --strict: compiled"

: > "$out/exchanges.jsonl"
node "$out/client.js" "$base" "$out/exchanges.jsonl" "$whsec" || fail "the client program"
node validate.mjs --every-operation "$out/served.yaml" "$out/exchanges.jsonl" \
    || fail "the client's answers against the document"
echo "openapi-client: ok"
