#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The glue only moves data between httpd, PostgreSQL and the core's
# decisions (docs/architecture.md, "How the code is laid out"): its lines,
# mod_genflow/httpd/, stay within 1.5 times the httpd-free core's,
# mod_genflow/core/. A rule written into the glue again shows here.
src="${top_srcdir:-.}/mod_genflow"
glue=$(cat "$src"/httpd/*.[ch] "$src"/httpd/*/*.[ch] | wc -l)
core=$(cat "$src"/core/*.[ch] | wc -l)
[ "$core" -gt 0 ] || { echo "no core under $src/core"; exit 1; }
if [ $((glue * 2)) -gt $((core * 3)) ]; then
    echo "the glue has $glue lines, more than 1.5 times the core's $core: move its decisions into core/"
    exit 1
fi
awk -v g="$glue" -v c="$core" 'BEGIN { printf "the glue has %d lines, %.2f times the core'"'"'s %d (at most 1.5)\n", g, g / c, c }'
