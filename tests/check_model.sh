#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/check_model.sh: model-check the job and credit state machine
# (models/genflow.pml) with spin, in a temporary directory (pan writes its
# files where it runs), as any user.
#
#   the engine       safety (assertions, end states) and liveness (pan -a -f:
#                    every generation becomes terminal, under weak fairness)
#   the key (-DIDEM) the same, for two creates with one Idempotency-Key
#   BROKEN_FINALIZE  must FAIL: a cancel without its status guard
#   BROKEN_STALE     must FAIL: outcome statements without the lease guard
#   BROKEN_COUNT     must FAIL: a completion of fewer pictures than the
#                    count charged all of them
#   BROKEN_KEPT      must FAIL: a completion that records only its own
#                    call's pictures, not those earlier calls kept (a
#                    count asked one call after another)
#   MVCC_CREATE      must FAIL: CREATE as it was before it locked the key's
#                    record (checked in its snapshot only) races with
#                    IDEM_TAKEOVER (docs/architecture.md, "The model")
#   BROKEN_PLACE     must FAIL: a provider's place freed without its holder
#                    guard lets more calls open than places
#   GROUP            a row waiting at a group of providers: safety and
#                    liveness, and BROKEN_PLACE must FAIL there too
#
# and the order of a provider's line with premium lines
# (models/genflow_turns.pml): safety, and two variants that must FAIL:
#   BROKEN_SHARE_HEAD  the last turn shared without the head check
#   BROKEN_TAKEN       the last turn shared without counting its rows
#
# Prints states, memory, time and errors of each run, the counterexample of
# each broken variant, and "model: N passed, M failed"; exits non-zero when
# the real model has an error or a broken variant has none.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model="$top/models/genflow.pml"
for tool in spin gcc; do
    command -v "$tool" >/dev/null 2>&1 || { echo "check_model: $tool is missing (apt-get install spin gcc)"; echo "model: 0 passed, 1 failed"; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/genflow-model.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Stopped (scripts/test's cleanup): every run with it, the ones it would
# start next included.
kill_runs() { local c; for c in $(pgrep -P "$1"); do kill_runs "$c"; done; [ "$1" = "$$" ] || kill "$1" 2>/dev/null; }
trap 'trap - TERM INT; kill_runs $$; exit 143' TERM INT
cp "$model" "$top/models/genflow_sql.pml" "$top/models/genflow_turns.pml" "$work/"
cd "$work" || exit 1

passed=0 failed=0
pml=genflow.pml                        # the model the runs below check
MEMLIM=${GENFLOW_MODEL_MEMLIM:-8192}   # megabytes one pan may use (a liveness run takes about 5.5 GB: the hash table doubles as it grows; two run at once)

# run NAME EXPECT(pass|fail) MODE(safety|liveness) [spin -D switches]
run() {
    local name=$1 expect=$2 mode=$3 flags pan_flags start secs out errors states mem ptime
    shift 3
    flags="-DCOLLAPSE -DMEMLIM=$MEMLIM"
    if [ "$mode" = safety ]; then
        flags="$flags -DSAFETY -DNOCLAIM"; pan_flags="-m200000"
    else
        flags="$flags -DNFAIR=6"; pan_flags="-a -f -m200000"
    fi
    rm -f pan pan.* ./*.trail
    start=$SECONDS
    if ! spin "$@" -a "$pml" >spin.out 2>&1 || ! gcc -O2 -w $flags -o pan pan.c >gcc.out 2>&1; then
        cat spin.out gcc.out
        echo "FAIL $name: the model did not build"
        failed=$((failed + 1)); return
    fi
    # shellcheck disable=SC2086
    out=$(./pan $pan_flags 2>&1)
    secs=$((SECONDS - start))
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' <<<"$out" | tail -n 1)
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' <<<"$out" | tail -n 1)
    mem=$(sed -n 's/^ *\([0-9.]*\).total actual memory usage.*/\1/p' <<<"$out" | tail -n 1)
    ptime=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' <<<"$out" | tail -n 1)
    printf '%-34s %-8s states %-10s memory %7s MB  pan %6s s (%d s with build)  errors %s\n' \
        "$name" "$mode" "${states:-?}" "${mem:-?}" "${ptime:-?}" "$secs" "${errors:-?}"
    if [ "$expect" = info ]; then
        echo "INFO $name: not counted; spin's trail (docs/architecture.md, \"The model\"):"
        [ -f "$pml.trail" ] && spin "$@" -t "$pml" 2>&1 | grep -E '^ *(step|time:|provider|spin:)' | sed 's/^ */    /' | tail -n 25
    elif [ "$expect" = pass ]; then
        if [ "${errors:-1}" = 0 ] && ! grep -qE 'Search not completed|reached -DMEMLIM|max search depth too small' <<<"$out"; then
            echo "PASS $name $mode"; passed=$((passed + 1))
        else
            grep -E 'pan:|Warning|violated|cycle' <<<"$out" | head -n 10
            [ -f "$pml.trail" ] && spin "$@" -t "$pml" 2>&1 | grep -E '^ *(step|time:|provider|spin:)' | sed 's/^ */    /' | tail -n 40
            echo "FAIL $name $mode: the model of the code has an error (or the search did not complete)"
            failed=$((failed + 1))
        fi
    else
        if [ "${errors:-0}" != 0 ] && [ -f "$pml.trail" ]; then
            echo "PASS $name $mode: spin rejects it; the counterexample:"
            spin "$@" -t "$pml" 2>&1 | grep -E '^ *(step|time:|provider|spin:)' | sed 's/^ */    /' | tail -n 25
            passed=$((passed + 1))
        else
            echo "FAIL $name $mode: spin found no error in a variant that is broken on purpose"
            failed=$((failed + 1))
        fi
    fi
}

echo "check_model: $(spin -V), models/genflow.pml and models/genflow_turns.pml"
# The runs are independent: each runs in a directory of its own (pan
# writes its files where it runs), GENFLOW_MODEL_JOBS (2) at a time, the
# longest first, so that the model keeps both cores busy once the suites
# beside it are done. Each run's lines are printed in the order below
# when all are done; the counts are the PASS and FAIL lines.
# job NAME EXPECT MODE MODEL [spin -D switches]
jobs_list() {
    # The liveness runs first: they are the long ones (minutes each).
    echo 'engine|pass|liveness|genflow.pml|'
    echo 'group (place after claim)|pass|liveness|genflow.pml|-DGROUP'
    echo 'idempotent create|pass|liveness|genflow.pml|-DIDEM'
    echo 'engine|pass|safety|genflow.pml|'
    echo 'idempotent create|pass|safety|genflow.pml|-DIDEM'
    echo 'BROKEN_FINALIZE (cancel)|fail|safety|genflow.pml|-DBROKEN_FINALIZE'
    echo 'BROKEN_STALE (lease)|fail|safety|genflow.pml|-DBROKEN_STALE'
    echo 'BROKEN_COUNT (pictures)|fail|safety|genflow.pml|-DBROKEN_COUNT'
    echo 'BROKEN_KEPT (pictures)|fail|safety|genflow.pml|-DBROKEN_KEPT'
    echo 'BROKEN_PLACE (limits)|fail|safety|genflow.pml|-DBROKEN_PLACE'
    # A row waiting at a group of providers: its member's place taken after
    # the claim (PLACE_TAKE), or the row back to the queue.
    echo 'group (place after claim)|pass|safety|genflow.pml|-DGROUP'
    echo 'BROKEN_PLACE (group)|fail|safety|genflow.pml|-DGROUP -DBROKEN_PLACE'
    # CREATE as it was before the fix, in the two steps READ COMMITTED gave it
    # (the snapshot's check of the key, then the writes): the race with
    # IDEM_TAKEOVER that the model found.
    echo 'MVCC_CREATE (key checked in the snapshot)|fail|safety|genflow.pml|-DIDEM -DMVCC_CREATE'
    # The turns of a line with GenFlowLine weights (2, 1, 1).
    echo 'turns (premium lines)|pass|safety|genflow_turns.pml|'
    echo 'BROKEN_SHARE_HEAD (turns)|fail|safety|genflow_turns.pml|-DBROKEN_SHARE_HEAD'
    echo 'BROKEN_TAKEN (turns)|fail|safety|genflow_turns.pml|-DBROKEN_TAKEN'
}
one_job() {   # INDEX LINE: the run, in WORK/INDEX, its lines in WORK/INDEX.out
    local i=$1 name expect mode model defs
    IFS='|' read -r name expect mode model defs <<<"$2"
    mkdir -p "$work/$i"
    cp "$work"/*.pml "$work/$i/"
    (
        cd "$work/$i" || exit 1
        pml=$model
        passed=0 failed=0
        # shellcheck disable=SC2086
        run "$name" "$expect" "$mode" $defs
    ) >"$work/$i.out" 2>&1
}
JOBS=${GENFLOW_MODEL_JOBS:-2}
i=0
while IFS= read -r line; do
    i=$((i + 1))
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n 2>/dev/null || sleep 1; done
    one_job "$i" "$line" &
done < <(jobs_list)
wait
for n in $(seq 1 "$i"); do cat "$work/$n.out"; done
passed=$(cat "$work"/[0-9]*.out | grep -c '^PASS ')
failed=$((i - passed))   # a FAIL line, or no verdict at all
echo "model: $passed passed, $failed failed"
[ "$failed" = 0 ]
