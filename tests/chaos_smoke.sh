#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/chaos_smoke.sh: the mock providers' additions for bench/chaos, on
# their own (a few seconds, no httpd, no database):
#   [fault:pollfail]  the first status poll of an accepted job answers 503
#                     (fal, Replicate, Stability), later polls as before;
#   [fault:pollslow]  status polls answer after 3 s;
#   accepted.log / submitted.log / events.log and GET /_accepted,
#   /_submitted, /_events.
# Exit status 0 when every check passed.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$top/scripts/lib.sh"
GF_SCRIPT=chaos-smoke
dir=$(mktemp -d "${TMPDIR:-/tmp}/genflow-chaos-smoke.XXXXXX")
port=$(gf_free_port)
export GENFLOW_MOCK_KEY="smoke-$RANDOM"
perl "$top/t/mock/providers.pl" "$port" "$dir/state" > "$dir/mock.out" 2>&1 &
mock=$!
trap 'kill "$mock" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do grep -q ready "$dir/mock.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$dir/mock.out" || { cat "$dir/mock.out"; gf_die "mock did not start"; }
base="http://127.0.0.1:$port"
passed=0 failed=0
ok()   { passed=$((passed + 1)); [ -z "${VERBOSE:-}" ] || echo "ok: $1"; }
bad()  { failed=$((failed + 1)); echo "FAIL: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
# req METHOD URL [curl args...]: prints "CODE BODY"
req() {
    local m=$1 u=$2; shift 2
    curl -s -m 10 -o "$dir/body" -w '%{http_code}' -X "$m" "$@" "$base$u" > "$dir/code" || echo 000 > "$dir/code"
    code=$(cat "$dir/code"); body=$(tr -d '\0' < "$dir/body" 2>/dev/null || true)
}
jfield() { perl -MJSON::PP -e 'my $d = eval { decode_json(join "", <STDIN>) } || {}; print $d->{$ARGV[0]} // ""' "$1" <<<"$body"; }
fal=(-H "Authorization: Key $GENFLOW_MOCK_KEY" -H 'Content-Type: application/json')
bearer=(-H "Authorization: Bearer $GENFLOW_MOCK_KEY")

# fal: submit, first status 503, then IN_QUEUE, IN_PROGRESS, COMPLETED.
req POST /fal-ai/flux/dev "${fal[@]}" -d '{"prompt":"f1 [fault:pollfail]"}'
check "fal submit accepted" '[ "$code" = 200 ]'
fid=$(jfield request_id)
req GET "/fal-ai/flux/requests/$fid/status" "${fal[@]}"
check "fal first poll 503 Runner unavailable" '[ "$code" = 503 ] && grep -q "\"detail\":\"Runner unavailable\"" <<<"$body"'
req GET "/fal-ai/flux/requests/$fid/status" "${fal[@]}"
check "fal second poll IN_QUEUE" '[ "$code" = 202 ] && grep -q IN_QUEUE <<<"$body"'
req GET "/fal-ai/flux/requests/$fid/status" "${fal[@]}"
check "fal third poll IN_PROGRESS" '[ "$code" = 202 ] && grep -q IN_PROGRESS <<<"$body"'
req GET "/fal-ai/flux/requests/$fid/status" "${fal[@]}"
check "fal fourth poll COMPLETED" '[ "$code" = 200 ] && grep -q COMPLETED <<<"$body"'
# Without the marker the first poll is IN_QUEUE, as before.
req POST /fal-ai/flux/dev "${fal[@]}" -d '{"prompt":"f2"}'
fid2=$(jfield request_id)
req GET "/fal-ai/flux/requests/$fid2/status" "${fal[@]}"
check "fal without the marker: first poll IN_QUEUE" '[ "$code" = 202 ] && grep -q IN_QUEUE <<<"$body"'
# A rejected submission is counted, not accepted.
req POST /fal-ai/flux/dev "${fal[@]}" -d '{"prompt":"f3 [fault:429]"}'
check "fal 429 still 429" '[ "$code" = 429 ]'

# Replicate: starting ([fault:queue]), first GET 503, then processing, succeeded.
req POST /v1/models/owner/model/predictions "${bearer[@]}" -H 'Content-Type: application/json' \
    -d '{"input":{"prompt":"r1 [fault:queue] [fault:pollfail]"}}'
check "replicate create 201 starting" '[ "$code" = 201 ] && grep -q "\"status\":\"starting\"" <<<"$body"'
rid=$(jfield id)
req GET "/v1/predictions/$rid" "${bearer[@]}"
check "replicate first GET 503" '[ "$code" = 503 ] && grep -q "\"title\":\"Service Unavailable\"" <<<"$body" && grep -q "\"status\":503" <<<"$body"'
req GET "/v1/predictions/$rid" "${bearer[@]}"
check "replicate second GET processing" '[ "$code" = 200 ] && grep -q "\"status\":\"processing\"" <<<"$body"'
req GET "/v1/predictions/$rid" "${bearer[@]}"
check "replicate third GET succeeded" '[ "$code" = 200 ] && grep -q "\"status\":\"succeeded\"" <<<"$body"'
req POST /v1/models/owner/model/predictions "${bearer[@]}" -H 'Content-Type: application/json' \
    -d '{"input":{"prompt":"r2 [fault:failed]"}}'
check "replicate failed prediction" '[ "$code" = 201 ] && grep -q "\"status\":\"failed\"" <<<"$body"'
req POST /v1/models/owner/model/predictions "${bearer[@]}" -H 'Content-Type: application/json' -H 'Prefer: wait=5' \
    -d '{"input":{"prompt":"r3"}}'
check "replicate synchronous success" '[ "$code" = 201 ] && grep -q "\"status\":\"succeeded\"" <<<"$body"'

# Stability: [fault:async] {id}; first results poll 503, then 202, 202, 200.
req POST /v2beta/stable-image/generate/core "${bearer[@]}" -F 'prompt=s1 [fault:async] [fault:pollfail]' -F output_format=png
check "stability async accepted" '[ "$code" = 200 ]'
sid=$(jfield id)
req GET "/v2beta/results/$sid" "${bearer[@]}"
check "stability first poll 503 internal_error" '[ "$code" = 503 ] && grep -q "\"name\":\"internal_error\"" <<<"$body" && grep -q "\"errors\":\[" <<<"$body"'
req GET "/v2beta/results/$sid" "${bearer[@]}"
check "stability second poll 202" '[ "$code" = 202 ]'
req GET "/v2beta/results/$sid" "${bearer[@]}"
check "stability third poll 202" '[ "$code" = 202 ]'
req GET "/v2beta/results/$sid" "${bearer[@]}"
check "stability fourth poll 200 image" '[ "$code" = 200 ]'
req POST /v2beta/stable-image/generate/core "${bearer[@]}" -F 'prompt=s2' -F output_format=png
check "stability synchronous image" '[ "$code" = 200 ]'

# AIML: submitted, synchronous (never "accepted" as a job).
req POST /v1/images/generations "${bearer[@]}" -H 'Content-Type: application/json' -d '{"model":"flux/schnell","prompt":"a1"}'
check "aiml answers" '[ "$code" = 200 ]'

# [fault:pollslow]: a status poll takes about 3 s.
req POST /fal-ai/flux/dev "${fal[@]}" -d '{"prompt":"f4 [fault:pollslow]"}'
fid4=$(jfield request_id)
t0=$(date +%s%N)
req GET "/fal-ai/flux/requests/$fid4/status" "${fal[@]}"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "fal pollslow poll takes >= 3 s ($ms ms) and then answers" '[ "$ms" -ge 2900 ] && [ "$code" = 202 ]'

# The journals.
req GET /_accepted
acc=$body
check "/_accepted lists 6 jobs" '[ "$(grep -c . <<<"$acc")" = 6 ]'
check "accepted line format fal" 'grep -qxF "$(printf "fal:fal-ai/flux/dev\t%s\tf1 [fault:pollfail]" "$fid")" <<<"$acc"'
check "accepted line format replicate" 'grep -qxF "$(printf "replicate:owner/model\t%s\tr1 [fault:queue] [fault:pollfail]" "$rid")" <<<"$acc"'
check "accepted line format stability" 'grep -qxF "$(printf "stability:core\t%s\ts1 [fault:async] [fault:pollfail]" "$sid")" <<<"$acc"'
check "synchronous replicate success is accepted" 'grep -q "^replicate:owner/model	[a-z0-9]*	r3$" <<<"$acc"'
# The prompt is the third field (a job id, the second, may well begin with "a1").
check "failed prediction, 429, sync Stability and AIML are not accepted" '! cut -f3 <<<"$acc" | grep -Eq "^(r2|f3|s2|a1)( |$)"'
req GET /_submitted
sub=$body
check "/_submitted lists 10 submissions" '[ "$(grep -c . <<<"$sub")" = 10 ]'
check "submitted line format" 'grep -qxF "$(printf "aiml:flux/schnell\ta1")" <<<"$sub" && grep -qxF "$(printf "fal:fal-ai/flux/dev\tf3 [fault:429]")" <<<"$sub"'
req GET /_events
ev=$body
check "/_events has 16 numbered events" '[ "$(awk -F"\t" "\$1 == NR" <<<"$ev" | grep -c .)" = 16 ]'
check "an acceptance follows its submission" 'awk -F"\t" "\$6 == \"f1 [fault:pollfail]\" { print \$3 }" <<<"$ev" | paste -sd, | grep -qx "submit,accept"'
check "files match the endpoints" '[ "$(cat "$dir/state/accepted.log")" = "$acc" ] && [ "$(cat "$dir/state/submitted.log")" = "$sub" ]'
# The request log still records everything.
check "/_log still records every request" '[ "$(grep -c . "$dir/state/requests.log")" = 23 ]'

echo "chaos-smoke: $passed passed, $failed failed"
[ "$failed" = 0 ]
