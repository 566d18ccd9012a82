#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Every source file of the project names its license (LICENSE, Apache-2.0)
# in an SPDX line among its first three lines. In a git checkout the files
# are those git tracks; elsewhere (a tarball) those of the source folders.
top="${top_srcdir:-.}"
tag='SPDX-License-Identifier: Apache-2.0'
is_source() {   # path → 0 when it is a source file that must carry the tag
    case $1 in
        */corpus/*|*.json|*.md|*.png|*.jpg|*.webp|*.svg|*.8|*.gitignore|*.manpages|*.docs|*.apache2) return 1 ;;
        debian/rules) return 0 ;;
        debian/*) return 1 ;;
        *.c|*.h|*.sql|*.sh|*.t|*.pm|*.pl|*.PL|*.pml|*.js|*.mjs|*.ts|*.lua|*.php|*.css|*.html|*.yml|*.yaml|*.in|*.conf|*.am|*.ac) return 0 ;;
    esac
    case $(basename "$1") in *.*) return 1 ;; esac
    head -c 2 "$top/$1" | grep -q '^#!'   # an executable script
}
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    list=$(git -C "$top" ls-files)
else
    list=$(cd "$top" && find mod_genflow sql tests t bench scripts models web conf \
        -name node_modules -prune -o -name .libs -prune -o -type f -print 2>/dev/null \
        | grep -v '^t/conf/[a-z_]*\.conf$')
fi
bad=0 n=0
for f in $list; do
    [ -f "$top/$f" ] || continue
    is_source "$f" || continue
    n=$((n + 1))
    head -n 3 "$top/$f" | grep -qF "$tag" || { echo "$f: no \"$tag\" line at its top"; bad=1; }
done
[ "$n" -gt 100 ] || { echo "only $n source files found under $top"; exit 1; }
[ "$bad" = 0 ] || exit 1
echo "$n source files name their license (SPDX Apache-2.0)"
