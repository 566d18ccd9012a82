#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
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
    for f in "$dir"*.[ch] "$dir"*/*.[ch]; do
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

# Inside httpd/, the concerns in layers (tests/glue_layers.sh).
. "${top_srcdir:-.}/tests/glue_layers.sh"
m=0
for f in "$src"/httpd/*.[ch] "$src"/httpd/*/*.[ch]; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    c=$(concern_of "$name")
    if [ -z "$c" ] || { [ "$c" != record ] && [ "$(rank "$c")" -lt 0 ]; }; then
        echo "httpd/$name belongs to no concern: name it after one (tests/check_includes.sh)"
        bad=1
        continue
    fi
    # Its folder is its concern's (tests/glue_layers.sh, folder_of).
    at=$(basename "$(dirname "$f")")
    [ "$at" = httpd ] && at=.
    if [ "$at" != "$(folder_of "$c")" ]; then
        echo "httpd/$at/$name ($c) belongs in httpd/$(folder_of "$c")/"; bad=1
    fi
    m=$((m + 1))
    [ "$c" = record ] && continue
    mine=$(rank "$c")
    for inc in $(sed -nE 's/^#include "httpd\/([a-z]+\/)?([a-z_]+\.h)".*/\2/p' "$f"); do
        ic=$(concern_of "$inc")
        [ "$ic" = "$c" ] && continue
        if [ "$(rank "$ic")" -ge "$mine" ]; then
            echo "httpd/$name ($c) includes $inc ($ic), a concern above its own"; bad=1
        fi
    done
    # A folder's private header (its one *_int.h) is for its own files.
    for inc in $(sed -nE 's/^#include "httpd\/([a-z]+\/[a-z_]+_int\.h)".*/\1/p' "$f"); do
        [ "${inc%%/*}" = "$at" ] \
            || { echo "httpd/$at/$name includes httpd/$inc, the inside of another folder"; bad=1; }
    done
done
for d in "$src"/httpd/*/; do
    set -- "$d"*_int.h
    [ -e "$1" ] && [ $# -gt 1 ] \
        && { echo "httpd/$(basename "$d")/ has $# private headers (*_int.h): one is its files' own"; bad=1; }
done
[ "$bad" = 0 ] || exit 1
echo "include rule holds in $n files; the layers of the glue hold in $m files"
