#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Every GF_LOGNO(n) in the module is used once: a log tag names one place.
src="${top_srcdir:-.}/mod_genflow"
dups=$(grep -rho --include="*.c" 'GF_LOGNO([0-9]*)' "$src" | sort | uniq -d)
if [ -n "$dups" ]; then
    echo "duplicate log tags: $dups"
    exit 1
fi
n=$(grep -rho --include="*.c" 'GF_LOGNO([0-9]*)' "$src" | wc -l)
[ "$n" -gt 0 ] || { echo "no log tags found in $src"; exit 1; }
echo "log tags unique: $n"
