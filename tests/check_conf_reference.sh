#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# conf/genflow.conf documents every directive of the command table, and
# names no directive that does not exist.
top="${top_srcdir:-.}"
# The command table's own entries, and the numeric settings' lines, from
# which the table gets one entry each.
code=$( (grep -o 'AP_INIT_[A-Z0-9_]*("GenFlow[A-Za-z0-9]*"' "$top"/mod_genflow/httpd/config/mod_genflow_config*.c \
         | sed 's/.*("\(.*\)"/\1/';
         grep -o '^ *S([A-Z]*, [a-z]*, [a-z_]*, "GenFlow[A-Za-z0-9]*"' \
             "$top"/mod_genflow/httpd/config/mod_genflow_config_settings.h | sed 's/.*"\(.*\)"/\1/') \
       | sort -u)
doc=$(grep -o '^#* *GenFlow[A-Za-z0-9]*' "$top"/conf/genflow.conf | sed 's/^#* *//' | sort -u)
[ -n "$code" ] || { echo "no directives found in the command table"; exit 1; }
missing=$(for d in $code; do echo "$doc" | grep -qx "$d" || echo "$d"; done)
extra=$(for d in $doc; do echo "$code" | grep -qx "$d" || echo "$d"; done)
if [ -n "$missing$extra" ]; then
    [ -n "$missing" ] && echo "undocumented in conf/genflow.conf: $missing"
    [ -n "$extra" ] && echo "documented but not in the code: $extra"
    exit 1
fi

# The directives a <VirtualHost> may not set, as conf/genflow.conf lists
# them, are those whose line in the settings' X-macro gives a reason in
# its vhost column (the ninth), not NULL.
settings="$top"/mod_genflow/httpd/config/mod_genflow_config_settings.h
refused=$(sed -n '/^#define GF_SERVER_SETTINGS(S)/,/^$/p' "$settings" | tr '\n' ' ' | sed 's/\\ / /g' \
    | awk 'BEGIN { RS = "S\\(" } NR > 1 { split($0, a, ","); d = a[4]; v = a[9];
                                          gsub(/[ "]/, "", d); gsub(/ /, "", v);
                                          if (d != "" && v != "NULL") print d }' | sort)
listed=$(sed -n '/are refused inside <VirtualHost>/,/^$/p' "$top"/conf/genflow.conf \
    | grep -o 'GenFlow[A-Za-z0-9]*' | sort -u)
[ -n "$refused" ] || { echo "no setting refused inside <VirtualHost> found in $settings"; exit 1; }
if [ "$refused" != "$listed" ]; then
    echo "conf/genflow.conf's list of directives refused inside <VirtualHost> differs from the settings':"
    echo "  settings: $(echo $refused)"
    echo "  listed:   $(echo $listed)"
    exit 1
fi
echo "conf/genflow.conf documents all $(echo "$code" | wc -l) directives, and the $(echo "$refused" | wc -l) a virtual host may not set"
