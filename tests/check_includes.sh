#!/bin/sh
# The include rule of mod_genflow/ (each folder's README.md, and
# docs/architecture.md "Where each concern lives"): a folder includes only
# the folders it may, and nothing outside httpd/ includes httpd, mod_dbd or
# libpq headers, so the core library links without httpd.
src="${top_srcdir:-.}/mod_genflow"
allowed() {
    case $1 in
        core) echo "core" ;;
        net) echo "core net" ;;
        image) echo "core image" ;;
        webhooks) echo "core webhooks" ;;
        storage) echo "core net storage" ;;
        providers) echo "core net image webhooks providers" ;;
        httpd) echo "core net image webhooks storage providers httpd" ;;
        *) echo "" ;;
    esac
}
bad=0 n=0
for dir in "$src"/*/; do
    folder=$(basename "$dir")
    ok=$(allowed "$folder")
    [ -n "$ok" ] || { echo "unknown folder mod_genflow/$folder: give it an include rule"; bad=1; continue; }
    for f in "$dir"*.[ch]; do
        [ -e "$f" ] || continue
        n=$((n + 1))
        for inc in $(sed -n 's/^#include "\([a-z]*\)\/.*/\1/p' "$f"); do
            case " $ok " in *" $inc "*) ;; *)
                echo "$f includes $inc/, which $folder/ may not"; bad=1 ;;
            esac
        done
        if [ "$folder" != httpd ] \
           && grep -qE '^#include <(httpd|http_[a-z_]+|ap_[a-z_]+|mod_dbd|apr_dbd|libpq-fe|unixd)\.h>' "$f"; then
            echo "$f includes an httpd, mod_dbd or libpq header outside httpd/"; bad=1
        fi
        if grep -qE '^#include "[a-z_]+\.h"' "$f"; then
            echo "$f includes a header without its folder (write \"folder/name.h\")"; bad=1
        fi
    done
done
[ "$n" -gt 0 ] || { echo "no sources found in $src"; exit 1; }
[ "$bad" = 0 ] || exit 1
echo "include rule holds in $n files"
