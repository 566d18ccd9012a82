#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# docs/architecture.md, "A generation's walk, from its create to its
# charge": every file its table names exists, and defines the function
# named beside it (a definition: the name and its parenthesis at the start
# of a line, after its return type, not a call inside a body). A file
# moved or a function renamed without the walk fails make check.
top="${top_srcdir:-.}"
doc="$top/docs/architecture.md"
rows=$(awk '/^## A generation.s walk/ { on = 1; next } on && /^## / { on = 0 } on && /^\| *[0-9]+ *\|/' "$doc")
[ -n "$rows" ] || { echo "docs/architecture.md has no walk table"; exit 1; }
bad=0 n=0
while IFS='|' read -r _ step file fn _; do
    file=$(echo "$file" | tr -d ' `')
    fn=$(echo "$fn" | tr -d ' `')
    n=$((n + 1))
    if [ ! -f "$top/$file" ]; then
        echo "walk step $(echo "$step" | tr -d ' '): $file does not exist"; bad=1; continue
    fi
    # A definition: the line starts with a type (or the name itself, for
    # a return type on the line before), then the name and "(".
    if ! grep -qE "^([A-Za-z_][A-Za-z0-9_ *]*[ *])?$fn\(" "$top/$file"; then
        echo "walk step $(echo "$step" | tr -d ' '): $file defines no $fn"; bad=1
    fi
done <<ROWS
$rows
ROWS
[ "$n" -ge 10 ] || { echo "the walk names only $n steps"; exit 1; }
[ "$bad" = 0 ] || exit 1
echo "the walk's $n steps name files that exist and functions they define"
