#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The layers of the glue (tests/glue_layers.sh) hold for calls as they do
# for includes, and so do the engine's parts among themselves: no object of httpd/ uses a function or variable that a
# file of a concern above its own defines. Read from the built objects'
# symbols (nm), so a declaration written by hand does not hide a call.
# The one exception is genflow_module, the module's declaration, which
# httpd's log macros (APLOG_USE_MODULE) and ap_get_module_config need in
# every file, as every module's files do.
top="${top_srcdir:-.}"
build="${top_builddir:-.}"
. "$top/tests/glue_layers.sh"
objs=$(ls "$build"/mod_genflow/httpd/.libs/la-mod_genflow*.o "$build"/mod_genflow/httpd/*/.libs/la-mod_genflow*.o 2>/dev/null)
[ -n "$objs" ] || { echo "no objects of mod_genflow/httpd/ under $build: build first"; exit 1; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
for o in $objs; do
    f=$(basename "$o" .o); f=${f#la-}
    src=""
    for p in "$top"/mod_genflow/httpd/"$f".c "$top"/mod_genflow/httpd/*/"$f".c; do [ -e "$p" ] && src=$p; done
    [ -n "$src" ] || continue   # left from a file since renamed
    nm --defined-only -g "$o" | awk -v f="$f" 'NF == 3 { print $3, f }' >>"$tmp/defs"
    nm -u "$o" | awk -v f="$f" '{ print f, $NF }' >>"$tmp/uses"
done
bad=0 n=0
awk 'NR == FNR { d[$1] = $2; next } ($2 in d) && d[$2] != $1 { print $1, d[$2], $2 }' \
    "$tmp/defs" "$tmp/uses" | sort -u >"$tmp/edges"
while read -r from to sym; do
    n=$((n + 1))
    [ "$sym" = genflow_module ] && continue
    cf=$(concern_of "$from"); ct=$(concern_of "$to")
    if [ "$cf" = "$ct" ] && [ -n "$(parts_of "$cf")" ]; then
        pf=$(part_of "$cf" "$from"); pt=$(part_of "$cf" "$to")
        if [ "$(part_rank "$cf" "$pf")" -lt 0 ]; then
            echo "httpd/$from.c is no part of the $cf's layers (tests/glue_layers.sh)"; bad=1
        elif [ "$(part_rank "$cf" "$pt")" -ge "$(part_rank "$cf" "$pf")" ]; then
            echo "httpd/$from.c ($cf: $pf) uses $sym of httpd/$to.c ($cf: $pt), a part above its own"
            bad=1
        fi
        continue
    fi
    [ "$cf" = "$ct" ] && continue
    if [ "$(rank "$ct")" -ge "$(rank "$cf")" ]; then
        echo "httpd/$from.c ($cf) uses $sym of httpd/$to.c ($ct), a concern above its own"
        bad=1
    fi
done <"$tmp/edges"
[ "$n" -gt 100 ] || { echo "only $n calls between the glue's files: is the build complete?"; exit 1; }
# A module is a shared object: the linker lets an undefined symbol through,
# and httpd refuses to load it. Every symbol of our own must be defined.
so="$build/.libs/mod_genflow.so"
[ -e "$so" ] || { echo "no $so: build first"; exit 1; }
missing=$(nm -D --undefined-only "$so" | awk '$NF ~ /^(gf_|genflow_)/ { print $NF }')
if [ -n "$missing" ]; then
    echo "mod_genflow.so uses symbols of ours that nothing defines (httpd would not load it):"
    echo "$missing" | sed 's/^/  /'
    bad=1
fi
[ "$bad" = 0 ] || exit 1
echo "the layers of the glue hold in $n uses between its $(echo "$objs" | wc -l) objects"
