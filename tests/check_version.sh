#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# One release number everywhere a site reads it, and the schema the module
# needs equal to the newest expand migration (NEWS, docs/operations.md
# "Upgrading"):
#  - configure.ac's AC_INIT version is semantic versioning (X.Y.Z, with an
#    optional -pre-release);
#  - debian/changelog's first entry is the same (a pre-release's '-'
#    written '~', which Debian sorts before the release);
#  - NEWS's first release and docs/openapi.yaml's info.version name it;
#    the man pages' headers too;
#  - GF_SCHEMA_NEEDS (core/gf_schema.h) is the highest migration in sql/
#    that is not phase=contract, and NEWS's first release says that schema.
top="${top_srcdir:-.}"
bad=0
fail() { echo "$*"; bad=1; }

v=$(sed -n 's/^AC_INIT(\[mod_genflow\], \[\([^]]*\)\].*/\1/p' "$top/configure.ac")
echo "$v" | grep -Eq '^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.]+)?$' \
    || fail "configure.ac: '$v' is not a semantic version"
deb=$(sed -n '1s/^libapache2-mod-genflow (\([^)]*\)).*/\1/p' "$top/debian/changelog")
[ "$deb" = "$(echo "$v" | tr '-' '~')" ] || fail "debian/changelog's first entry is $deb, configure.ac says $v"
news=$(sed -n 's/^Release \([^ ]*\) .*/\1/p' "$top/NEWS" | head -1)
[ "$news" = "$(echo "$v" | sed 's/-.*//')" ] || fail "NEWS's first release is $news, configure.ac says $v"
api=$(sed -n 's/^  version: //p' "$top/docs/openapi.yaml" | head -1)
[ "$api" = "$v" ] || fail "docs/openapi.yaml info.version is $api, configure.ac says $v"
for m in "$top"/debian/*.8; do
    grep -q "^\.TH .*\"mod_genflow $v\"" "$m" || fail "$m: its .TH does not name mod_genflow $v"
done

needs=$(sed -n 's/^#define GF_SCHEMA_NEEDS \([0-9]*\)$/\1/p' "$top/mod_genflow/core/gf_schema.h")
newest=0
for f in "$top"/sql/[0-9][0-9][0-9]_*.sql; do
    grep -q '^-- genflow-migrate: phase=contract' "$f" && continue
    n=$(basename "$f" | sed 's/_.*//' | sed 's/^0*//')
    [ "$n" -gt "$newest" ] && newest=$n
done
[ "$needs" = "$newest" ] || fail "GF_SCHEMA_NEEDS is $needs, the newest expand migration is $newest"
schema=$(sed -n 's/^  schema: //p' "$top/NEWS" | head -1)
[ "$schema" = "$needs" ] || fail "NEWS's first release says schema $schema, the module needs $needs"

[ "$bad" = 0 ] && echo "version $v, .deb $deb, schema $needs: consistent"
exit "$bad"
