# SPDX-License-Identifier: Apache-2.0
# tests/suite.sh: one run of the Apache::Test suite, judged, timed, and
# repeated for flakes (sourced by scripts/test and tests/sanitize/run,
# after scripts/lib.sh, from the top of the tree to test, with the
# environment scripts/test exports: the database, the mock providers).
#
# The judgement does not trust Apache::Test's exit status (it exits 0 in
# some failure modes, e.g. as root): the harness's formatter
# (t/lib/GenFlowFormatter.pm) writes one line per file that ran, and a
# run passes only when every file asked for is there and ok, the harness
# said so too, nothing was skipped, and the error_log shows no crash.

# What counts as a crash in an error_log (tests/sanitize/run adds the
# sanitizers' report lines).
# What a failed run's summary repeats from its output (scripts/test):
# verdicts, failed assertions, what the invariants and a restore found.
GF_FAILED_RE='FAILED|^not ok|#   Failed test|found broken|restored differs|differs or breaks|held past its deadline|reservation\(s\)|the ledger took|picture\(s\) of|^balance of|^active of|sessions still connected|Apache::Test (exited|did not)|were skipped|shows a crash|did not run|ran over|ERROR: AddressSanitizer|runtime error:|the chaos soak failed|browser tests failed|did not install|query failed'
GF_CRASH_RE=${GF_CRASH_RE:-'Segmentation fault|exit signal (Segmentation|Aborted|Bus error|Illegal|Floating)|glibc detected|Assertion .* failed|AddressSanitizer'}

# gf_suite_files [FILES...]: the test files a run asks for, one a line
# (all of t/ when none are named).
gf_suite_files() {
    if [ $# -gt 0 ]; then printf '%s\n' "$@"; else ls t/*.t; fi
}

# gf_suite_harness HTTPD [FILES...]: Apache::Test's driver, with its
# test harness (tests/check_harness.sh puts a plain one in its place).
gf_suite_harness() {
    local httpd=$1
    shift
    perl t/TEST.PL -clean >/dev/null 2>&1 || true
    perl t/TEST.PL -apxs "$(command -v apxs)" -httpd "$httpd" -port select \
        -maxclients 40 -minclients 4 -verbose="${GENFLOW_TEST_VERBOSE:-0}" "$@"
}

# A test file that runs longer than this many seconds is stopped and
# fails the run by name (gf_suite_watch): a file that hangs must not hold
# the whole run until CI's own limit kills it with nothing said. The
# slowest file takes about 90 s, and three times that under the
# sanitizers.
GF_SUITE_FILE_LIMIT=${GF_SUITE_FILE_LIMIT:-900}

# gf_suite_descendants PID: every process below PID, one a line.
gf_suite_descendants() {
    local child
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$child"
        gf_suite_descendants "$child"
    done
}

# gf_suite_watch PID OUTDIR: while the harness PID runs, the file it runs
# (the last "[hh:mm:ss] t/NN_x.t" line HARNESS_TIMER printed) is timed;
# past GF_SUITE_FILE_LIMIT its process is stopped, so the harness records
# it as failed and goes on to the next file. OUTDIR/hung gets one line
# per file stopped, and hung.txt what was running then: the processes,
# the database's sessions and the error_log's tail, to find the wait.
gf_suite_watch() {
    set +e   # a background watcher: nothing here may end it but the harness's end
    local pid=$1 outdir=$2 file="" since=$SECONDS now
    while kill -0 "$pid" 2>/dev/null; do
        sleep 2
        now=$(grep -aoE '^\[[0-9:]+\] t/[A-Za-z0-9_.-]+\.t' "$outdir/output.txt" 2>/dev/null \
              | tail -n 1 | sed 's/^[^ ]* //')
        if [ "$now" != "$file" ]; then file=$now since=$SECONDS; continue; fi
        if [ -z "$file" ] || [ $((SECONDS - since)) -lt "$GF_SUITE_FILE_LIMIT" ]; then continue; fi
        echo "$file $((SECONDS - since))" >>"$outdir/hung"
        {
            echo "==== $file ran over $GF_SUITE_FILE_LIMIT s; processes:"
            ps -o pid,ppid,etime,time,stat,args -u "$(id -u)" --forest 2>/dev/null | cut -c1-240
            if [ -n "${GENFLOW_TEST_PG_URI:-}" ]; then
                echo "==== the database's sessions:"
                psql "$GENFLOW_TEST_PG_URI" -XAq -F ' | ' -c "SELECT pid, state, wait_event_type, wait_event,
                    now() - xact_start AS xact, left(regexp_replace(query, '\s+', ' ', 'g'), 200)
                    FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()" 2>&1
            fi
            echo "==== the error_log's tail:"
            tail -n 40 t/logs/error_log 2>/dev/null
        } >>"$outdir/hung.txt" 2>&1
        # The file's process: the innermost one naming it (the harness
        # above it names it too when files were asked for by name).
        local named=() p q inner
        for p in $(gf_suite_descendants "$pid"); do
            ps -o args= -p "$p" 2>/dev/null | grep -qF -- "$file" && named+=("$p")
        done
        local victims=() below=()
        for p in "${named[@]}"; do
            inner=1
            for q in $(gf_suite_descendants "$p"); do
                [[ " ${named[*]} " == *" $q "* ]] && inner=0
            done
            [ "$inner" = 0 ] || victims+=("$p")
        done
        # The file's own process and what it started; TERM first, as a
        # test's servers are told to stop at its end.
        for p in "${victims[@]}"; do mapfile -t -O "${#below[@]}" below < <(gf_suite_descendants "$p"); done
        [ "${#victims[@]}" = 0 ] || kill -TERM "${victims[@]}" "${below[@]}" 2>/dev/null
        sleep 5
        [ "${#victims[@]}" = 0 ] || kill -KILL "${victims[@]}" 2>/dev/null
        since=$SECONDS
    done
}

# gf_suite_run OUTDIR HTTPD tee|quiet [FILES...]: t/TEST.PL against the
# httpd binary HTTPD. OUTDIR gets output.txt (what the harness printed;
# with "tee" it is printed as it comes), results.tsv (GenFlowFormatter),
# rc (its exit status), error_log (the suite httpd's), and hung and
# hung.txt when a file ran over GF_SUITE_FILE_LIMIT. Returns 0.
gf_suite_run() {
    local outdir=$1 httpd=$2 show=$3 rc=0
    shift 3
    mkdir -p "$outdir"
    rm -f "$outdir/results.tsv" "$outdir/error_log" "$outdir/hung" "$outdir/hung.txt"
    rm -rf t/logs t/media
    # Made before the harness starts in the background, so that the tail
    # below never looks for it before the job's redirection has made it.
    : >"$outdir/output.txt"
    HARNESS_TIMER=1 HARNESS_OPTIONS=fGenFlowFormatter GENFLOW_TEST_RESULTS="$outdir/results.tsv" \
    PERL5LIB="$PWD/t/lib${PERL5LIB:+:$PERL5LIB}" \
        gf_suite_harness "$httpd" "$@" >"$outdir/output.txt" 2>&1 &
    local pid=$!
    gf_suite_watch "$pid" "$outdir" &
    local watch=$!
    if [ "$show" = tee ]; then tail -n +1 --pid="$pid" -f "$outdir/output.txt" || true; fi
    wait "$pid" || rc=$?
    kill "$watch" 2>/dev/null || true
    wait "$watch" 2>/dev/null || true
    echo "$rc" >"$outdir/rc"
    cp t/logs/error_log "$outdir/error_log" 2>/dev/null || true
    return 0
}

# gf_suite_judge OUTDIR [FILES...]: 0 when the run in OUTDIR passed;
# otherwise prints why (each file that failed or did not run, and the
# harness's own complaints) and returns 1.
gf_suite_judge() {
    local outdir=$1 f line verdict=0
    shift
    local out="$outdir/output.txt" tsv="$outdir/results.tsv"
    [ -f "$tsv" ] || { gf_log "the harness wrote no results (Apache::Test did not run the tests)"; touch "$tsv"; verdict=1; }
    if [ -s "$outdir/hung" ]; then
        while read -r f line; do gf_log "FAILED: $f ran over $GF_SUITE_FILE_LIMIT s ($line s) and was stopped"; done <"$outdir/hung"
        head -n 80 "$outdir/hung.txt" 2>/dev/null || true
        verdict=1
    fi
    while read -r f; do
        line=$(awk -F'\t' -v f="$f" '$1 == f' "$tsv")
        if [ -z "$line" ]; then
            gf_log "FAILED: $f did not run"; verdict=1
        elif [ "$(cut -f2 <<<"$line")" != ok ]; then
            gf_log "FAILED: $f: $(cut -f4 <<<"$line")"; verdict=1
        fi
    done < <(gf_suite_files "$@")
    grep -q '^All tests successful' "$out" || { gf_log "Apache::Test did not report success"; verdict=1; }
    grep -q '^Result: PASS' "$out" || verdict=1
    [ "$(cat "$outdir/rc" 2>/dev/null)" = 0 ] || { gf_log "Apache::Test exited $(cat "$outdir/rc" 2>/dev/null)"; verdict=1; }
    # The formatter counted skips already; this catches what it could not
    # see (a harness without it): "skipped: why" of a file that skipped
    # itself, "# SKIP" directives of skipped assertions.
    local skip_re='\.\.+ skipped:|^(not )?ok [0-9]+.*# *(skip|SKIP)'
    if grep -Eq "$skip_re" "$out"; then
        grep -E "$skip_re" "$out" | head -n 20 || true
        gf_log "some tests were skipped"; verdict=1
    fi
    if [ ! -f "$outdir/error_log" ]; then
        gf_log "no error_log: httpd never ran"; verdict=1
    elif grep -Eq "$GF_CRASH_RE" "$outdir/error_log"; then
        grep -Eh "$GF_CRASH_RE" "$outdir/error_log" | head -n 20 || true
        gf_log "the error_log shows a crash"; verdict=1
    fi
    return $verdict
}

# gf_suite_counts OUTDIR: "FILES TESTS FAILED" as the harness counted them
# (summed over the lanes of a run in lanes: each printed its own).
gf_suite_counts() {
    local out="$1/output.txt" files tests failed
    files=$(sed -n 's/^Files=\([0-9]*\), Tests=\([0-9]*\).*/\1/p' "$out" | awk '{ s += $1 } END { print s + 0 }')
    tests=$(sed -n 's/^Files=\([0-9]*\), Tests=\([0-9]*\).*/\2/p' "$out" | awk '{ s += $1 } END { print s + 0 }')
    failed=$(sed -n 's/^Failed [0-9]*\/[0-9]* test programs\. \([0-9]*\)\/[0-9]* subtests failed\./\1/p' "$out" \
             | awk '{ s += $1 } END { print s + 0 }')
    echo "${files:-0} ${tests:-0} ${failed:-0}"
}

# gf_suite_slowest OUTDIR LABEL [N]: the N (10) slowest files of the run.
gf_suite_slowest() {
    local tsv="$1/results.tsv" label=$2 n=${3:-10}
    [ -s "$tsv" ] || return 0
    echo "$label: the $n slowest test files (seconds):"
    sort -t "$(printf '\t')" -k3,3 -g -r "$tsv" | head -n "$n" \
        | awk -F'\t' '{ printf "  %7.1f  %s%s\n", $3, $1, ($2 == "ok" ? "" : "  (" $2 ")") }' || true
}

# gf_suite_reset_db: the suite's database dropped and migrated afresh, so
# that every repetition starts where a CI run starts (t/18_legacy.t, for
# one, moves its legacy rows only once per database).
gf_suite_reset_db() {
    psql -X -q -h 127.0.0.1 -p "$GENFLOW_TEST_PGPORT" -U genflow -d postgres \
        -c 'DROP DATABASE IF EXISTS genflow WITH (FORCE)' -c 'CREATE DATABASE genflow' \
        >/dev/null || gf_die "cannot recreate the database genflow"
    scripts/genflow-migrate "$GENFLOW_TEST_PG_URI" >/dev/null 2>&1 || gf_die "genflow-migrate failed"
}

# gf_suite_invariants: the money and liveness rules over the database
# (genflow_check_invariants); prints what is broken, returns 1 then.
gf_suite_invariants() {
    local broken
    gf_suite_quiet
    broken=$(psql "$GENFLOW_TEST_PG_URI" -XAtq -c "SELECT * FROM genflow_check_invariants(60)" 2>&1) \
        || broken="query failed: $broken"
    [ -z "$broken" ] && return 0
    printf '%s\n' "$broken" | head -20 || true
    gf_suite_sessions
    return 1
}

# gf_suite_quiet: waits (up to 60 s) until no other session is connected
# to the suite's database: the checks after the suite read it at rest,
# not while a stopping httpd's children still write their last outcomes.
# Sessions that stay are printed (a server a test left running).
gf_suite_quiet() {
    local i n
    for i in $(seq 1 120); do
        n=$(psql "$GENFLOW_TEST_PG_URI" -XAtq -c "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()
                AND backend_type = 'client backend'" 2>/dev/null || echo 0)
        [ "${n:-0}" = 0 ] && return 0
        sleep 0.5
    done
    echo "after 60 s, other sessions are still connected to the suite's database:"
    gf_suite_sessions
}

# gf_suite_sessions: the database's other sessions, when a check after
# the suite failed: a server left running by a test still writes.
gf_suite_sessions() {
    psql "$GENFLOW_TEST_PG_URI" -XAtq -F ' | ' -c "SELECT 'sessions still connected: ' || pid, application_name,
        client_addr, state, now() - backend_start, left(regexp_replace(query, '\s+', ' ', 'g'), 120)
        FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()" 2>&1 | head -20 || true
}

# gf_suite_restore_check: the suite's database through pg_dump and
# pg_restore into a new database (docs/operations.md, "Restoring a
# backup"): the money and liveness rules hold there, and the restored
# database reads as the original does: every table's rows, the finished
# counts of the metrics against the rows' own (status counts and totals,
# as a scrape sums them), and every type's line against its queued rows
# (genflow_line_check). Prints what differs; returns 1 then.
gf_restore_state() {   # URI → what the restore must keep, one line each
    local uri=$1 t
    for t in $(psql "$uri" -XAtq -c "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"); do
        echo "$t rows $(psql "$uri" -XAtq -c "SELECT count(*) FROM \"$t\"")"
    done
    psql "$uri" -XAtq -c "
        SELECT format('%s %s: counted %s, rows %s', ty.type_name, s.status, c.n, r.n)
          FROM genflow_types ty CROSS JOIN (VALUES ('completed'), ('failed'), ('cancelled')) s(status),
          LATERAL (SELECT COALESCE(sum(u.n), 0) AS n FROM (
                     SELECT t.n FROM genflow_status_totals t WHERE t.gen_type = ty.type_name AND t.status = s.status
                     UNION ALL SELECT d.n FROM genflow_status_counts d
                      WHERE d.gen_type = ty.type_name AND d.status = s.status) u) c,
          LATERAL (SELECT (xpath('/row/n/text()', query_to_xml(format(
                     'SELECT count(*) AS n FROM %I WHERE status = %L', ty.table_name, s.status),
                     false, true, '')))[1]::text::bigint AS n) r
          WHERE to_regclass(ty.table_name) IS NOT NULL ORDER BY 1" 2>&1
    psql "$uri" -XAtq -c "SELECT type_name || ' line: ' || l::text FROM genflow_types,
                           LATERAL genflow_line_check(type_name) l
                           WHERE to_regclass(table_name) IS NOT NULL ORDER BY 1" 2>&1
}
gf_suite_restore_check() {
    local src=$GENFLOW_TEST_PG_URI dst tmp bad try
    dst=${src%/*}/genflow_restored
    tmp=$(mktemp -d)
    gf_suite_quiet
    # The state read before and after the dump: a database that changed
    # meanwhile (a session still writing) is dumped again, and said so.
    for try in 1 2 3; do
        gf_restore_state "$src" > "$tmp/src"
        psql "$src" -XAtq -c 'DROP DATABASE IF EXISTS genflow_restored WITH (FORCE)' \
            -c 'CREATE DATABASE genflow_restored' >/dev/null \
            && pg_dump -Fc -f "$tmp/dump" "$src" && pg_restore --exit-on-error -d "$dst" "$tmp/dump" \
            || { echo "pg_dump or pg_restore failed"; rm -rf "$tmp"; return 1; }
        gf_restore_state "$src" > "$tmp/src.after"
        cmp -s "$tmp/src" "$tmp/src.after" && break
        echo "the suite's database changed while it was dumped (try $try):"
        diff "$tmp/src" "$tmp/src.after" | sed -n 's/^[<>]/  &/p' | head -5
        gf_suite_sessions
        sleep 5
    done
    bad=$(psql "$dst" -XAtq -c "SELECT * FROM genflow_check_invariants(60)" 2>&1) || bad="query failed: $bad"
    gf_restore_state "$dst" > "$tmp/dst"
    bad="$bad$(diff "$tmp/src" "$tmp/dst" | sed -n 's/^[<>]/restored differs: &/p')"
    psql "$src" -XAtq -c 'DROP DATABASE IF EXISTS genflow_restored WITH (FORCE)' >/dev/null
    rm -rf "$tmp"
    [ -z "$bad" ] && return 0
    printf '%s\n' "$bad" | head -20
    gf_suite_sessions
    return 1
}

# gf_suite_repeat N HTTPD OUTDIR [FILES...]: the flake detector. Runs the
# files N times in lanes (gf_suite_lanes), each time on databases of their
# own, and prints each
# file's pass count and median seconds, the failures' reasons and
# assertions, and the runs whose error_log showed a crash or whose ledger
# broke an invariant.
# GF_REPEAT_EXTRA, when set, names a function called with a run's OUTDIR
# after it was judged: it prints and returns 1 for what it finds wrong in
# that run beyond the files (tests/sanitize/run: sanitizer reports).
# Returns 1 when any file failed once.
gf_suite_repeat() {
    local n=$1 httpd=$2 outdir=$3 i f rc=0 start
    shift 3
    local -A passed=() why=()
    local runs_bad=""
    rm -rf "$outdir"
    mkdir -p "$outdir"
    for i in $(seq 1 "$n"); do
        start=$SECONDS
        gf_suite_reset_db
        local run_ok=1
        gf_suite_lanes "$outdir/run-$i" "$httpd" "$@" >"$outdir/lanes.txt" 2>&1 || run_ok=0
        mv "$outdir/lanes.txt" "$outdir/run-$i/lanes.txt"
        gf_suite_lanes_judge "$outdir/run-$i" >"$outdir/run-$i/judge.txt" 2>&1 || run_ok=0
        cat "$outdir/run-$i/lanes.txt" >>"$outdir/run-$i/judge.txt"
        if ! gf_suite_lanes_each "$outdir/run-$i" gf_suite_invariants >>"$outdir/run-$i/judge.txt" 2>&1; then
            echo "genflow_check_invariants found broken rules" >>"$outdir/run-$i/judge.txt"; run_ok=0
        fi
        gf_suite_lanes_down "$outdir/run-$i"
        if [ -n "${GF_REPEAT_EXTRA:-}" ] && ! "$GF_REPEAT_EXTRA" "$outdir/run-$i" >>"$outdir/run-$i/judge.txt" 2>&1; then
            run_ok=0
        fi
        while read -r f; do
            local line
            line=$(awk -F'\t' -v f="$f" '$1 == f' "$outdir/run-$i/results.tsv" 2>/dev/null)
            if [ "$(cut -f2 <<<"$line")" = ok ]; then
                passed[$f]=$(( ${passed[$f]:-0} + 1 ))
            else
                why[$f]="${why[$f]:-}    run $i: $(cut -f4 <<<"$line" | sed 's/^$/did not run/')"$'\n'
            fi
        done < <(gf_suite_files "$@")
        [ "$run_ok" = 1 ] || runs_bad="$runs_bad $i"
        gf_log "repeat: run $i of $n $([ "$run_ok" = 1 ] && echo passed || echo FAILED) in $((SECONDS - start)) s"
    done
    echo "repeat: $n run(s), GenFlowPreparedStatements ${GENFLOW_TEST_STATEMENTS:-named}, httpd $httpd"
    while read -r f; do
        # The file's median seconds over the runs that ran it.
        local median
        median=$(cat "$outdir"/run-*/results.tsv 2>/dev/null | awk -F'\t' -v f="$f" '$1 == f { print $3 }' \
                 | sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; else printf "-" }')
        printf 'repeat: %-30s %3d/%d passed  %6s s\n' "$f" "${passed[$f]:-0}" "$n" "$median"
        if [ -n "${why[$f]:-}" ]; then
            printf '%s' "${why[$f]}"
            rc=1
        fi
    done < <(gf_suite_files "$@")
    # What a test measured for a benchmark ("# bench: ..." lines), per run:
    # bench/upgrade reads t/55's.
    for i in $(seq 1 "$n"); do
        sed -n "s/^# bench: /repeat: run $i: bench: /p" "$outdir/run-$i/output.txt" 2>/dev/null || true
    done
    for i in $runs_bad; do
        echo "repeat: run $i failed ($outdir/run-$i):"
        sed 's/^/    /' "$outdir/run-$i/judge.txt" | head -n 30 || true
        grep -E '^#' "$outdir/run-$i/output.txt" | grep -v '^# Using Apache/Test.pm' \
            | sed 's/^/    /' | head -n 60 || true
        rc=1
    done
    echo "repeat: $([ "$rc" = 0 ] && echo PASS || echo FAIL)"
    return $rc
}

# ---- lanes ---------------------------------------------------------------
# A run of several files runs them in lanes side by side: the suite's
# files wait on real timers (leases, cool-downs, backoffs, a provider's
# polls) far more than on the machine, so lanes that wait at the same
# time finish sooner without one file seeing the others. Each lane has
# its own tree (lane 1 the caller's, the others a copy), its own httpd on
# a port block of its own (APACHE_TEST_PORT: GF_SUITE_PORT_BASE + 20 per
# lane, below the kernel's ephemeral ports the tests' own servers take),
# its own PostgreSQL cluster and its own mock providers; lane 1 uses the
# caller's. Files go to lanes longest first, each to the lane with the
# fewest seconds so far, by tests/lanes.tsv (each file's seconds in a
# measured run; 30 for a file it does not name). The judgement is each
# lane's, on the files it was given: every file asked for runs in exactly
# one lane, and a run that checks fewer fails as before.
#
# A file that needs the machine to itself says so in its first 40 lines
# ("# genflow-test: alone, because ..."): t/lib/GenFlowTest.pm then waits
# until the files running in other lanes (and in the other suite, which
# shares GENFLOW_TEST_LOCKDIR) have ended, and keeps new ones from
# starting until it ends.
GF_SUITE_LANES=${GENFLOW_TEST_LANES:-3}
GF_SUITE_PORT_BASE=${GF_SUITE_PORT_BASE:-8529}

# gf_suite_alone FILE: true when the file says it needs the machine to
# itself (in its first 40 lines, as t/lib/GenFlowTest.pm reads it).
gf_suite_alone() {
    head -n 40 "$1" 2>/dev/null | grep -q '^# genflow-test: alone'
}

# gf_suite_plan N FILES...: "LANE FILE" lines. The files that need the
# machine to themselves first, so that they run at the lanes' start, one
# after another, while little else runs (they would wait for the other
# lanes' running files otherwise), or last with GF_SUITE_ALONE_AT=last
# (the sanitizer suite's, which starts while the plain suite runs: at its
# start they would hold the plain suite's lanes); otherwise the longest
# file first, each to the lane with the fewest seconds so far.
gf_suite_plan() {
    local n=$1 f a=1 b=0
    shift
    [ "${GF_SUITE_ALONE_AT:-first}" = first ] || { a=0; b=1; }
    for f in "$@"; do
        if gf_suite_alone "$f"; then echo "$a $f"; else echo "$b $f"; fi
    done | awk -v w="${GF_SUITE_WEIGHTS:-tests/lanes.tsv}" '
        BEGIN { while ((getline l < w) > 0) { split(l, a, "\t"); s[a[1]] = a[2] } }
        { printf "%s %s %s\n", $1, (($2 in s) ? s[$2] : 30), $2 }' \
    | sort -k1,1nr -k2,2gr -k3,3 \
    | awk -v n="$n" '{ best = 1; for (i = 2; i <= n; i++) if (load[i] < load[best]) best = i
                       load[best] += $2; print best, $3 }'
}

# gf_suite_lane_up LANE DIR: lane LANE's tree, cluster and mock providers
# (lane 1: the caller's). Writes DIR/env, which the lane sources: the
# environment that points its tests at them (DIR/tree, GENFLOW_TEST_* and
# GENFLOW_MOCK_*). tests/check_harness.sh puts a plain one in its place.
gf_suite_lane_up() {
    local lane=$1 dir=$2 pgport mockport tree=$2/tree
    if [ "$lane" = 1 ]; then printf 'lane_tree=%q\n' "$PWD" >"$dir/env"; return 0; fi
    mkdir -p "$tree"
    # The tree as built, without what runs write (another stage may write
    # in it meanwhile: GNU tar says so with exit status 1, not an error).
    tar -C "$PWD" --exclude=./.git --exclude=./t/logs --exclude=./t/media --exclude=./tests/repeat.out \
        --exclude=./tests/suite.out --exclude=./tests/stages --exclude=./tests/fuzz/out \
        --exclude=./tests/openapi/node_modules --exclude='./tests/*.out' --exclude=./tests/run.log \
        --warning=no-file-changed -cf - . | tar -C "$tree" -xf -
    [ -x "$tree/scripts/genflow-migrate" ] || { echo "lane $lane: the tree did not copy"; return 1; }
    pgport=$(gf_free_port)
    ( GF_PG_EXTRA_CONF=$GF_PG_STATS gf_pg_start "$dir/pgdata" "$pgport" ) >"$dir/pg.out" 2>&1 \
        || { cat "$dir/pg.out"; echo "lane $lane: PostgreSQL did not start"; return 1; }
    "$tree/scripts/genflow-migrate" "postgresql://genflow@127.0.0.1:$pgport/genflow" >"$dir/migrate.out" 2>&1 \
        || { cat "$dir/migrate.out"; echo "lane $lane: genflow-migrate failed"; return 1; }
    mockport=$(gf_suite_mock_start "$dir" "$tree") || { echo "lane $lane: the mock providers did not start"; return 1; }
    {
        printf 'lane_tree=%q\n' "$tree"
        printf 'export GENFLOW_TEST_PG_URI=%q\n' "postgresql://genflow@127.0.0.1:$pgport/genflow"
        printf 'export GENFLOW_TEST_DBD_PARAMS=%q\n' "host=127.0.0.1 port=$pgport dbname=genflow user=genflow"
        printf 'export GENFLOW_TEST_PGDATA=%q GENFLOW_TEST_PGPORT=%q\n' "$dir/pgdata" "$pgport"
        printf 'export GENFLOW_MOCK_URL=%q GENFLOW_MOCK_STATE=%q\n' "http://127.0.0.1:$mockport" "$dir/mock"
    } >"$dir/env"
}

# gf_suite_kill_tree PID: PID and every process below it, the deepest first.
gf_suite_kill_tree() {
    local c
    for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do gf_suite_kill_tree "$c"; done
    kill "$1" 2>/dev/null || true
}

# gf_suite_port_free PORT: nothing listens on 127.0.0.1:PORT.
gf_suite_port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# gf_suite_mock_start DIR TREE: TREE's mock providers (t/mock/providers.pl)
# on a free port, their state in DIR/mock, their pid in DIR/mock.pid;
# prints the port once they are ready (what they printed otherwise).
gf_suite_mock_start() {
    local dir=$1 tree=$2 port
    port=$(gf_free_port)
    perl "$tree/t/mock/providers.pl" "$port" "$dir/mock" >"$dir/mock.out" 2>&1 &
    echo $! >"$dir/mock.pid"
    for _ in $(seq 1 100); do grep -q ready "$dir/mock.out" 2>/dev/null && break; sleep 0.1; done
    grep -q ready "$dir/mock.out" || { cat "$dir/mock.out" >&2; return 1; }
    echo "$port"
}

# gf_suite_lane_down DIR: stops what gf_suite_lane_up started there.
# A run cut short leaves its lanes running: their harness and its httpd
# are stopped too.
gf_suite_lane_down() {
    local dir=$1 tree=""
    [ ! -f "$dir/run.pid" ] || gf_suite_kill_tree "$(cat "$dir/run.pid")"
    rm -f "$dir/run.pid"
    [ ! -f "$dir/env" ] || tree=$(. "$dir/env" >/dev/null 2>&1; echo "${lane_tree:-}")
    if [ -n "$tree" ] && [ -f "$tree/t/logs/httpd.pid" ]; then
        kill "$(cat "$tree/t/logs/httpd.pid")" 2>/dev/null || true
    fi
    [ ! -f "$dir/mock.pid" ] || kill "$(cat "$dir/mock.pid")" 2>/dev/null || true
    rm -f "$dir/mock.pid"
    [ ! -d "$dir/pgdata" ] || gf_pg_stop "$dir/pgdata"
    [ -n "${GENFLOW_TEST_KEEP:-}" ] || rm -rf "$dir/tree" "$dir/pgdata"
}

# gf_suite_lanes OUTDIR HTTPD [FILES...]: the files (all of t/) in lanes.
# OUTDIR gets plan ("LANE FILE" lines), lane-N/ (each lane's env and its
# gf_suite_run in lane-N/run), and the lanes together as one run's
# output.txt, results.tsv, rc, error_log and hung, which gf_suite_slowest
# and gf_suite_counts read as before. The answers recorded for the
# OpenAPI check are gathered into the caller's t/logs/exchanges.jsonl.
# Returns 1 when a lane could not be set up (its files then did not run).
gf_suite_lanes() {
    local outdir=$1 httpd=$2 n i rc=0 start=$SECONDS
    shift 2
    local files
    mapfile -t files < <(gf_suite_files "$@")
    n=$GF_SUITE_LANES
    [ "${#files[@]}" -ge "$n" ] || n=${#files[@]}
    [ "$n" -ge 1 ] || n=1
    rm -rf "$outdir"
    mkdir -p "$outdir"
    gf_suite_plan "$n" "${files[@]}" >"$outdir/plan"
    # Every lane up first (the copies read the tree, which a running
    # lane's harness writes into), each on a port block nothing listens
    # on (GF_SUITE_PORT_BASE and up, 20 a lane).
    local port=$GF_SUITE_PORT_BASE pids=()
    for i in $(seq 1 "$n"); do
        mkdir -p "$outdir/lane-$i"
        # A lane the plan gave no file (a zero weight) would run all of t/.
        [ -n "$(awk -v l="$i" '$1 == l' "$outdir/plan")" ] || continue
        while ! gf_suite_port_free "$port"; do port=$((port + 20)); done
        echo "$port" >"$outdir/lane-$i/port"
        port=$((port + 20))
        if ! gf_suite_lane_up "$i" "$outdir/lane-$i" >"$outdir/lane-$i/up.out" 2>&1; then
            cat "$outdir/lane-$i/up.out"; rc=1; rm -f "$outdir/lane-$i/port"
        fi
    done
    for i in $(seq 1 "$n"); do
        [ -f "$outdir/lane-$i/port" ] || continue
        (
            # shellcheck disable=SC1090,SC1091
            . "$outdir/lane-$i/env"
            cd "$lane_tree" || exit 1
            APACHE_TEST_PORT=$(cat "$outdir/lane-$i/port")
            export APACHE_TEST_PORT
            # shellcheck disable=SC2046
            gf_suite_run "$outdir/lane-$i/run" "$httpd" quiet $(awk -v l="$i" '$1 == l { print $2 }' "$outdir/plan")
            echo "$((SECONDS - start))" >"$outdir/lane-$i/seconds"
        ) &
        pids+=($!)
        echo "$!" >"$outdir/lane-$i/run.pid"
    done
    for i in "${pids[@]}"; do wait "$i" || true; done
    rm -f "$outdir"/lane-*/run.pid
    local lrc=0 run
    : >"$outdir/output.txt"; : >"$outdir/results.tsv"; : >"$outdir/error_log"
    for i in $(seq 1 "$n"); do
        run="$outdir/lane-$i/run"
        {
            echo "==== lane $i ($(awk -v l="$i" '$1 == l' "$outdir/plan" | wc -l) files, $(cat "$outdir/lane-$i/seconds" 2>/dev/null || echo '?') s):"
            cat "$run/output.txt" 2>/dev/null
        } >>"$outdir/output.txt"
        cat "$run/results.tsv" >>"$outdir/results.tsv" 2>/dev/null
        cat "$run/error_log" >>"$outdir/error_log" 2>/dev/null
        cat "$run/hung" >>"$outdir/hung" 2>/dev/null
        cat "$run/hung.txt" >>"$outdir/hung.txt" 2>/dev/null
        [ "$(cat "$run/rc" 2>/dev/null || echo 1)" = 0 ] || lrc=$(cat "$run/rc" 2>/dev/null || echo 1)
        if [ "$i" != 1 ] && [ -f "$outdir/lane-$i/env" ]; then
            local t
            # shellcheck disable=SC1090,SC1091
            t=$(. "$outdir/lane-$i/env" >/dev/null 2>&1; echo "${lane_tree:-}")
            mkdir -p t/logs
            cat "$t/t/logs/exchanges.jsonl" >>t/logs/exchanges.jsonl 2>/dev/null || true
        fi
    done
    echo "$lrc" >"$outdir/rc"
    return $rc
}

# gf_suite_lanes_judge OUTDIR: gf_suite_judge of each lane on its files;
# returns 1 when any lane failed, a file of the plan was in no lane's
# results, or a lane did not run at all.
gf_suite_lanes_judge() {
    local outdir=$1 i verdict=0
    for i in $(awk '{ print $1 }' "$outdir/plan" | sort -un); do
        if [ ! -d "$outdir/lane-$i/run" ]; then
            gf_log "FAILED: lane $i did not run ($(awk -v l="$i" '$1 == l { printf "%s ", $2 }' "$outdir/plan"))"
            verdict=1; continue
        fi
        # shellcheck disable=SC2046
        gf_suite_judge "$outdir/lane-$i/run" $(awk -v l="$i" '$1 == l { print $2 }' "$outdir/plan") || verdict=1
    done
    return $verdict
}

# gf_suite_lanes_each OUTDIR FUNCTION: FUNCTION once per lane, in the
# lane's environment (its database); returns 1 when it failed in any.
gf_suite_lanes_each() {
    local outdir=$1 fn=$2 i rc=0
    for i in $(awk '{ print $1 }' "$outdir/plan" | sort -un); do
        [ -f "$outdir/lane-$i/env" ] || continue
        # shellcheck disable=SC1090,SC1091
        ( . "$outdir/lane-$i/env"; "$fn" ) || { echo "(lane $i)"; rc=1; }
    done
    return $rc
}

# gf_suite_lanes_down OUTDIR: every lane's cluster and mock stopped.
gf_suite_lanes_down() {
    local d
    for d in "$1"/lane-*; do [ -d "$d" ] && gf_suite_lane_down "$d"; done
    return 0
}
