#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Every migration in sql/ passes squawk, the PostgreSQL migration linter
# (npm squawk-cli, pinned in tests/squawk/package.json), or carries a
# written exception in sql/squawk-exceptions (which says why); a line there
# that squawk no longer raises fails too, so the list stays true. A file
# run in a transaction by genflow-migrate is read as such; one marked
# "genflow-migrate: transaction=none" (CONCURRENTLY statements) is not,
# and then squawk also asks that each statement can run again.
# Also: every file says its phase and what it locks, from 034 on (the
# headers genflow-migrate --status lists).
top="${top_srcdir:-.}"
sq="$top/tests/squawk/node_modules/.bin/squawk"
if [ ! -x "$sq" ]; then
    # npm install, not npm ci: squawk-cli's binaries are optional packages
    # per platform, which npm leaves out of a lock file made on one
    # platform and npm ci then finds missing. The versions are pinned all
    # the same: squawk-cli's exactly, and it pins its binaries exactly.
    err=$(cd "$top/tests/squawk" && npm install --no-save --no-audit --no-fund --loglevel=error 2>&1) \
        || { echo "$err" | tail -5; echo "npm install in tests/squawk failed: squawk is needed (the npm registry)"; exit 1; }
fi
bad=0 n=0
for f in "$top"/sql/[0-9][0-9][0-9]_*.sql; do
    name=$(basename "$f")
    n=$((n + 1))
    rules=$(awk -v f="$name" '$1 == f { print $2 }' "$top/sql/squawk-exceptions" | sort -u | paste -sd, -)
    tx=--assume-in-transaction
    grep -q '^-- genflow-migrate: transaction=none' "$f" && tx=--no-assume-in-transaction
    base="require-lock-timeout,require-statement-timeout"
    out=$("$sq" --reporter gcc --pg-version 15 $tx --exclude="$base${rules:+,$rules}" "$f" 2>&1)
    if [ -n "$out" ]; then
        echo "$out"
        echo "$name: squawk warns (fix it, or write the exception and why in sql/squawk-exceptions)"
        bad=1
    fi
    for r in $(echo "$rules" | tr ',' ' '); do
        "$sq" --reporter gcc --pg-version 15 $tx --exclude="$base" "$f" 2>&1 | grep -q " $r " \
            || { echo "$name: sql/squawk-exceptions lists $r, which squawk no longer raises: remove the line"; bad=1; }
    done
    num=$(echo "$name" | sed 's/_.*//; s/^0*//')
    if [ "$num" -ge 34 ]; then
        for h in phase locks; do
            grep -q "^-- genflow-migrate: $h=" "$f" || { echo "$name: no '-- genflow-migrate: $h=' line"; bad=1; }
        done
    fi
done
[ "$n" -gt 0 ] || { echo "no migrations in $top/sql"; exit 1; }
[ "$bad" = 0 ] && echo "squawk: $n migrations pass (exceptions: $(grep -c '^[0-9]' "$top/sql/squawk-exceptions"))"
exit "$bad"
