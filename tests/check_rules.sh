#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# docs/architecture.md, "Where the engine's rules live": every name its
# table gives is where it says: a core function defined in its core file,
# a statement in mod_genflow/core/gf_sql.c or a function of sql/, a step of
# the model in models/. A rule moved, renamed or dropped from the model
# without the table fails make check.
top="${top_srcdir:-.}"
doc="$top/docs/architecture.md"
rows=$(awk '/^## Where the engine.s rules live/ { on = 1; next } on && /^## / { on = 0 }
            on && /^\| / && !/^\| rule \|/ && !/^\|---/' "$doc")
[ -n "$rows" ] || { echo "docs/architecture.md has no table of the engine's rules"; exit 1; }
names() { echo "$1" | tr -d '`' | tr ',' '\n' | sed 's/^ *//; s/ *$//' | grep -v '^-\?$'; }
bad=0 n=0
while IFS='|' read -r _ rule fn file sql model _; do
    n=$((n + 1))
    rule=$(echo "$rule" | sed 's/^ *//; s/ *$//')
    file=$(echo "$file" | tr -d ' `')
    for f in $(names "$fn"); do
        if [ ! -f "$top/$file" ]; then echo "$rule: no file $file"; bad=1; continue; fi
        grep -qE "^([A-Za-z_][A-Za-z0-9_ *]*[ *])?$f\(" "$top/$file" \
            || { echo "$rule: $file defines no $f"; bad=1; }
    done
    for s in $(names "$sql"); do
        cat "$top"/mod_genflow/core/gf_sql*.c "$top"/sql/*.sql | grep -qw -- "$s" \
            || { echo "$rule: no $s in mod_genflow/core/gf_sql*.c nor sql/"; bad=1; }
    done
    for m in $(names "$model"); do
        cat "$top"/models/*.pml | grep -qw -- "$m" || { echo "$rule: no $m in models/"; bad=1; }
    done
done <<ROWS
$rows
ROWS
[ "$n" -ge 10 ] || { echo "the table names only $n rules"; exit 1; }
[ "$bad" = 0 ] || exit 1
echo "the engine's $n rules are where docs/architecture.md says"
