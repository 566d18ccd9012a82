#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The suite's judgement and the flake detector (tests/suite.sh with
# t/lib/GenFlowFormatter.pm), checked on made-up test files run by a plain
# test harness in place of Apache::Test: a file that passes counts as
# passed; a failed, skipped, self-skipped, TODO, short-of-plan or missing
# file and a crash in the error_log each fail the run, naming the file;
# and --repeat counts a file that fails every other run as failed twice in
# four, printing its failed assertion, while a file that always passes
# counts four of four.
set -uo pipefail
top=$(cd "${top_srcdir:-.}" && pwd)
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"
# shellcheck source=tests/suite.sh
. "$top/tests/suite.sh"
perl -MTest::Harness -MTAP::Formatter::Console -e 1 2>/dev/null \
    || { echo "check_harness: perl's Test::Harness is missing"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/genflow-check-harness.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
mkdir -p "$work/t/lib" "$work/t/logs"
cp "$top/t/lib/GenFlowFormatter.pm" "$work/t/lib/"
cd "$work" || exit 1
export CHECK_WORK=$work
cat > t/pass.t <<'T'
use Test::More tests => 2; ok(1, 'one'); ok(1, 'two');
T
cat > t/skip.t <<'T'
use Test::More tests => 2; ok(1); SKIP: { skip 'no reason', 1 }
T
cat > t/skipall.t <<'T'
use Test::More skip_all => 'not today';
T
cat > t/fail.t <<'T'
use Test::More tests => 2; ok(1); is(2, 3, 'two is three');
T
cat > t/short.t <<'T'
use Test::More tests => 3; ok(1); exit 0;
T
cat > t/todo.t <<'T'
use Test::More tests => 1; TODO: { local $TODO = 'later'; ok(0, 'not yet') }
T
cat > t/hang.t <<'T'
use Test::More tests => 1; ok(1); sleep 600;
T
# Fails in every other run: the count lives in a file beside it.
cat > t/flaky.t <<'T'
use Test::More tests => 1;
open my $fh, '+>>', "$ENV{CHECK_WORK}/flaky.count" or die; seek $fh, 0, 0;
my $n = (<$fh> // 0) + 1; truncate $fh, 0; print $fh $n; close $fh;
ok($n % 2, "odd run ($n)") or diag("an even run: $n");
T

# In place of Apache::Test: a plain harness, and an error_log.
gf_suite_harness() {
    shift
    mkdir -p t/logs
    printf '[notice] started\n%s' "${CHECK_ERROR_LOG:-}" > t/logs/error_log
    perl -MTest::Harness -e 'runtests(@ARGV)' "$@"
}
gf_suite_reset_db() { :; }
gf_suite_invariants() { :; }
# Lanes (gf_suite_lanes): each lane its own copy of the tree here, in
# place of a cluster and mock providers of its own.
gf_suite_lane_up() {
    if [ "$1" = 1 ]; then echo "lane_tree=$PWD" >"$2/env"; return 0; fi
    [ "$1" != "${CHECK_BROKEN_LANE:-}" ] || { echo "lane $1: no cluster today"; return 1; }
    mkdir -p "$2/tree"
    cp -r t "$2/tree/"
    echo "lane_tree=$2/tree" >"$2/env"
}

passed=0 failed=0
check() {   # check NAME EXPECTED-RC ACTUAL-RC [OUTPUT PATTERN...]
    local name=$1 want=$2 got=$3 out=$4 p ok=1
    shift 4
    [ "$want" = "$got" ] || ok=0
    for p in "$@"; do grep -Eq -- "$p" <<<"$out" || { ok=0; echo "  missing: $p"; }; done
    if [ "$ok" = 1 ]; then passed=$((passed + 1)); echo "ok - $name"
    else failed=$((failed + 1)); echo "not ok - $name (exit $got, wanted $want)"; sed 's/^/    /' <<<"$out"; fi
}
judge() {   # judge FILES...: runs and judges them; prints the judgement
    local rc=0
    gf_suite_run "$work/run" /bin/false quiet "$@"
    gf_suite_judge "$work/run" "$@" 2>&1 || rc=$?
    return $rc
}

out=$(judge t/pass.t); check 'a passing file passes' 0 $? "$out"
grep -q $'^t/pass.t\tok\t' "$work/run/results.tsv"
check 'the formatter wrote its line' 0 $? ""
out=$(judge t/pass.t t/skip.t); check 'a skipped assertion fails the run' 1 $? "$out" 'FAILED: t/skip.t: 1 skipped'
out=$(judge t/skipall.t); check 'a file that skipped itself fails' 1 $? "$out" 'FAILED: t/skipall.t: skipped itself: not today'
out=$(judge t/pass.t t/fail.t); check 'a failed assertion fails the run' 1 $? "$out" 'FAILED: t/fail.t: 1 failed \(2\)'
grep -q "two is three" "$work/run/output.txt"
check 'and its diagnostics are printed though quiet' 0 $? ""
out=$(judge t/short.t); check 'a file short of its plan fails, exit 0 or not' 1 $? "$out" 'FAILED: t/short.t: planned 3, ran 1'
out=$(judge t/todo.t); check 'a TODO assertion fails the run' 1 $? "$out" 'FAILED: t/todo.t: 1 TODO'
out=$(gf_suite_run "$work/run" /bin/false quiet t/pass.t; gf_suite_judge "$work/run" t/pass.t t/nosuch.t 2>&1)
check 'a file asked for that did not run fails' 1 $? "$out" 'FAILED: t/nosuch.t did not run'
out=$(CHECK_ERROR_LOG='[core:notice] AH00052: child pid 42 exit signal Segmentation fault (11)' judge t/pass.t)
check 'a crash in the error_log fails the run' 1 $? "$out" 'the error_log shows a crash'
gf_suite_run "$work/run" /bin/false quiet t/pass.t t/fail.t
out=$(gf_suite_slowest "$work/run" check 2)
check 'the slowest files are listed' 0 $? "$out" '^check: the 2 slowest' '^ +[0-9.]+  t/(pass|fail)\.t'

start=$SECONDS
out=$(GF_SUITE_FILE_LIMIT=4 judge t/hang.t t/pass.t)
check 'a file that hangs is stopped, fails the run by name, and the next file runs' 1 $? "$out" \
    'FAILED: t/hang.t ran over 4 s \([0-9]+ s\) and was stopped' 'ran over 4 s; processes:'
grep -q $'^t/pass.t\tok\t' "$work/run/results.tsv"
check 'the file after it ran' 0 $? ""
[ $((SECONDS - start)) -lt 60 ]
check 'stopped within a minute, not after its ten' 0 $? ""

rm -f "$work/flaky.count"
out=$(gf_suite_repeat 4 /bin/false "$work/repeat" t/pass.t t/flaky.t 2>&1)
check 'repeat: a file failing every other run is counted, and fails it' 1 $? "$out" \
    'repeat: t/pass.t +4/4 passed' 'repeat: t/flaky.t +2/4 passed' \
    'run 2: 1 failed \(1\)' 'run 4: 1 failed \(1\)' 'an even run: 2' '^repeat: FAIL$'
rm -f "$work/flaky.count"
out=$(gf_suite_repeat 3 /bin/false "$work/repeat" t/pass.t 2>&1)
check 'repeat: a file that always passes' 0 $? "$out" 'repeat: t/pass.t +3/3 passed' '^repeat: PASS$'

lanes() {   # lanes FILES...: runs them in lanes and judges them; prints the judgement
    local rc=0
    gf_suite_lanes "$work/lanes" /bin/false "$@" 2>&1 || rc=$?
    gf_suite_lanes_judge "$work/lanes" 2>&1 || rc=$?
    return $rc
}
out=$(GF_SUITE_LANES=2 lanes t/pass.t t/todo.t t/fail.t)
check 'lanes: a failed assertion in any lane fails the run, naming the file' 1 $? "$out" \
    'FAILED: t/fail.t: 1 failed \(2\)' 'FAILED: t/todo.t: 1 TODO'
[ "$(awk '{ print $1 }' "$work/lanes/plan" | sort -u | wc -l)" = 2 ] && [ "$(wc -l <"$work/lanes/plan")" = 3 ]
check 'lanes: the three files went to two lanes, each once' 0 $? ""
[ "$(gf_suite_counts "$work/lanes")" = "3 5 1" ]
check 'lanes: the counts are summed over the lanes (a TODO is not a failed subtest to the harness)' 0 $? "$(gf_suite_counts "$work/lanes")"
out=$(GF_SUITE_LANES=3 lanes t/pass.t t/skip.t t/short.t)
check 'lanes: a skip and a file short of its plan fail from any lane' 1 $? "$out" \
    'FAILED: t/skip.t: 1 skipped' 'FAILED: t/short.t: planned 3, ran 1'
out=$(GF_SUITE_LANES=2 CHECK_BROKEN_LANE=2 lanes t/pass.t t/todo.t)
check 'lanes: a lane that could not start fails the run, naming its files' 1 $? "$out" \
    'no cluster today' 'FAILED: lane 2 did not run \(t/(pass|todo)\.t \)'
out=$(GF_SUITE_LANES=4 lanes t/pass.t)
check 'lanes: more lanes than files run one lane' 0 $? "$out"
[ "$(wc -l <"$work/lanes/plan")" = 1 ]
check 'lanes: one lane planned' 0 $? ""
printf 't/pass.t\t90\nt/fail.t\t50\nt/todo.t\t45\n' >"$work/weights.tsv"
[ "$(GF_SUITE_WEIGHTS="$work/weights.tsv" gf_suite_plan 2 t/todo.t t/fail.t t/pass.t | tr '\n' ' ')" \
  = "1 t/pass.t 2 t/fail.t 2 t/todo.t " ]
check 'lanes: the longest file first, each to the lane with the fewest seconds' 0 $? \
    "$(GF_SUITE_WEIGHTS="$work/weights.tsv" gf_suite_plan 2 t/todo.t t/fail.t t/pass.t)"

# A file that needs the machine to itself (t/lib/GenFlowTest.pm): the
# other lane's files do not run while it runs.
cp "$top/t/lib/GenFlowTest.pm" t/lib/
for f in alone other1 other2 other3; do
    {
        [ "$f" != alone ] || echo '# genflow-test: alone, because it measures'
        echo 'use lib "t/lib"; use GenFlowTest (); use Time::HiRes (); use Test::More tests => 1;'
        echo 'my $t0 = Time::HiRes::time(); Time::HiRes::sleep(0.6);'
        echo 'open my $fh, ">>", "$ENV{CHECK_WORK}/spans" or die; printf $fh "%s %.3f %.3f\n", $0, $t0, Time::HiRes::time(); close $fh; ok(1);'
    } >"t/$f.t"
done
rm -rf "$work/locks" "$work/spans"
mkdir -p "$work/locks"
out=$(GENFLOW_TEST_LOCKDIR="$work/locks" GF_SUITE_LANES=2 PERL5LIB="$top/t/lib" lanes t/alone.t t/other1.t t/other2.t t/other3.t)
check 'lanes: four files, one alone, pass in two lanes' 0 $? "$out"
awk '$1 == "t/alone.t" { a = $2; b = $3 } { s[NR] = $2; e[NR] = $3; n[NR] = $1 }
     END { bad = 0; for (i in n) if (n[i] != "t/alone.t" && s[i] < b && e[i] > a) bad = 1; exit (a == "" || NR != 4 || bad) }' \
    "$work/spans"
check 'lanes: no file ran while the file alone ran' 0 $? "$(cat "$work/spans")"
[ "$(head -n 1 "$work/lanes/plan")" = "1 t/alone.t" ]
check 'lanes: the file alone is planned first, at a lane'"'"'s start' 0 $? "$(cat "$work/lanes/plan")"

[ "$(GF_SUITE_ALONE_AT=last gf_suite_plan 2 t/alone.t t/other1.t t/other2.t t/other3.t | tail -n 1 | cut -d' ' -f2)" = t/alone.t ]
check 'lanes: with GF_SUITE_ALONE_AT=last, the file alone is planned last' 0 $? \
    "$(GF_SUITE_ALONE_AT=last gf_suite_plan 2 t/alone.t t/other1.t t/other2.t t/other3.t)"

# A child forked by a file alone that outlives it does not keep the lock.
{
    echo '# genflow-test: alone, because it forks'
    echo 'use lib "t/lib"; use GenFlowTest (); use Time::HiRes (); use Test::More tests => 1;'
    # The child closes every descriptor but the locks' (the harness waits
    # for the end of the TAP pipe): they stay open unless fork closed them.
    echo 'require POSIX; my %lock = map { fileno($_) => 1 } @GenFlowTest::machine_locks;'
    echo 'my $pid = fork // die; if (!$pid) { $lock{$_} or POSIX::close($_) for 0 .. 1023; sleep 6; POSIX::_exit(0) }'
    echo 'open my $fh, ">>", "$ENV{CHECK_WORK}/forker" or die; printf $fh "%.3f\n", Time::HiRes::time(); close $fh; ok(1);'
} >t/a_forker.t
{
    echo 'use lib "t/lib"; use GenFlowTest (); use Time::HiRes (); use Test::More tests => 1;'
    echo 'open my $fh, ">>", "$ENV{CHECK_WORK}/after" or die; printf $fh "%.3f\n", Time::HiRes::time(); close $fh; ok(1);'
} >t/b_after.t
rm -f "$work/forker" "$work/after"
out=$(GENFLOW_TEST_LOCKDIR="$work/locks" GF_SUITE_LANES=1 PERL5LIB="$top/t/lib" lanes t/a_forker.t t/b_after.t)
check 'lanes: two files in one lane pass' 0 $? "$out"
awk 'NR == FNR { f = $1; next } { exit !($1 - f < 4) }' "$work/forker" "$work/after"
check 'lanes: a child that outlives a file alone does not keep the lock' 0 $? "$(cat "$work/forker" "$work/after")"

echo "check_harness: $passed passed, $failed failed"
[ "$failed" = 0 ]
