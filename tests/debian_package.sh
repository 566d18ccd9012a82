#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/debian_package.sh: the Debian package of this tree (debian/), built,
# checked, installed, enabled and purged on this machine. Needs root (it
# installs the package); as another user it fails.
#
#  1. copies the tree to a temporary directory (the files git tracks or
#     would track: no build outputs) and runs dpkg-buildpackage -us -uc -b;
#  2. lintian on the .deb and the .changes: any E: line fails;
#  3. dpkg -c: the module, mods-available/genflow.{load,conf}, the two tools
#     in /usr/sbin with their man pages, the migrations, the docs and the
#     studio page are in the package;
#  4. apt-get install ./the.deb (apache2 first if missing), a2enmod genflow:
#     genflow and dbd enabled, apache2ctl -t passes; a2dismod genflow, purge:
#     the module and the mods-available files are gone;
#  5. the previous release's package (NEWS names its commit; built from
#     this clone's history) installed, enabled and its genflow.conf edited,
#     then this one installed over it unattended (--force-confold): the
#     site's genflow.conf kept, the new one as .dpkg-dist, still enabled.
# The machine is left as it was: dbd's enabled state and a2enmod's state in
# /var/lib/apache2 are put back, /etc/apache2 is compared before and after,
# and packages apt-get pulled in for the .deb are purged again. A machine
# that has libapache2-mod-genflow installed already is refused (fail).
# Step 4 holds /run/lock/genflow-install-tests.lock, as tests/readme_install.sh
# does while it changes the machine, so the two can run side by side.
# Prints "debian_package: N passed, M failed"; exit status non-zero on any
# failure.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"
GF_SCRIPT=debian_package
pkg=libapache2-mod-genflow

passed=0 failed=0
ok()  { passed=$((passed + 1)); echo "ok - $*"; }
nok() { failed=$((failed + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }
summary() { echo "debian_package: $passed passed, $failed failed"; }
finish() { summary; [ "$failed" = 0 ]; exit $?; }

if [ "$(id -u)" != 0 ]; then
    nok "must run as root (it installs and purges $pkg)"
    finish
fi
export DEBIAN_FRONTEND=noninteractive

tmp=$(mktemp -d /tmp/genflow-deb.XXXXXX)
state_backup="$tmp/var-lib-apache2"
etc_sum() { (cd /etc/apache2 && find . -printf '%p %y %l %m\n' | sort && find . -type f -exec md5sum {} + | sort) | md5sum; }
removed_policy=0
installed_by_us=0
dbd_before=""
extra=""
package_files="/usr/lib/apache2/modules/mod_genflow.so /etc/apache2/mods-available/genflow.load
 /etc/apache2/mods-available/genflow.conf /usr/sbin/genflow-migrate /usr/sbin/genflow-migrate-legacy"
# Back as found: dbd, a2enmod's state, packages pulled in for the .deb.
restore_machine() {
    if [ "$installed_by_us" = 1 ] && dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'installed'; then
        a2dismod -q genflow >/dev/null 2>&1
        apt-get purge -y -q "$pkg" >/dev/null 2>&1
    fi
    [ -n "$dbd_before" ] || return 0
    local f
    for f in $package_files; do   # files that were there, from no package
        [ -e "$tmp/pre$f" ] && mkdir -p "$(dirname "$f")" && rm -rf "$f" && mv "$tmp/pre$f" "$f"
    done
    if [ "$dbd_before" = disabled ] && a2query -q -m dbd; then a2dismod -q dbd >/dev/null 2>&1; fi
    [ -d "$state_backup" ] && rm -rf /var/lib/apache2 && cp -a "$state_backup" /var/lib/apache2
    dpkg-query -W -f='${Package}\n' | sort >"$tmp/pkgs.after"
    extra=$(comm -13 "$tmp/pkgs.before" "$tmp/pkgs.after" | tr '\n' ' ')
    # shellcheck disable=SC2086
    [ -n "${extra// }" ] && apt-get purge -y -q $extra >/dev/null 2>&1
    dbd_before=""   # done
}
cleanup() {
    set +e
    restore_machine
    [ "$removed_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- tools ------------------------------------------------------------------
need=""
for p in dpkg-dev debhelper fakeroot lintian apache2 apache2-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
done
if [ -n "$need" ]; then
    gf_log "installing:$need"
    if [ ! -e /usr/sbin/policy-rc.d ]; then   # no service starts from this
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; removed_policy=1
    fi
    # shellcheck disable=SC2086
    { apt-get update -q && apt-get install -y -q --no-install-recommends $need; } >"$tmp/apt.out" 2>&1 \
        || { tail -n 20 "$tmp/apt.out"; nok "apt-get install$need"; finish; }
fi

# ---- 1. build -----------------------------------------------------------------
gf_log "dpkg-buildpackage -us -uc -b (in a copy of the tree)"
src="$tmp/src"
mkdir -p "$src"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$top" ls-files -co --exclude-standard -z | tar -C "$top" --null -T - -cf - | tar -C "$src" -xf -
else
    tar -C "$top" --exclude=./.git --exclude='*.o' --exclude='*.lo' --exclude=./web/node_modules \
        --exclude=./tests/browser/node_modules -cf - . | tar -C "$src" -xf -
fi
if ! (cd "$src" && dpkg-checkbuilddeps) >"$tmp/builddeps.out" 2>&1; then
    cat "$tmp/builddeps.out"; nok "the build dependencies of debian/control are installed"
fi
if (cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -us -uc -b) >"$tmp/build.out" 2>&1; then
    ok "dpkg-buildpackage -us -uc -b"
else
    tail -n 40 "$tmp/build.out"; nok "dpkg-buildpackage -us -uc -b"; finish
fi
version=$(cd "$src" && dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
deb="$tmp/${pkg}_${version}_${arch}.deb"
changes="$tmp/${pkg}_${version}_${arch}.changes"
check "built $(basename "$deb")" [ -f "$deb" ]
check "built $(basename "$changes")" [ -f "$changes" ]

# ---- 2. lintian ---------------------------------------------------------------
gf_log "lintian"
lintian --info "$deb" "$changes" >"$tmp/lintian.out" 2>&1
grep -v -e '^running with root privileges' -e '^N:' "$tmp/lintian.out" | sed 's/^/    /'
if grep -q '^E:' "$tmp/lintian.out"; then nok "lintian reports no error (E:)"; else ok "lintian reports no error (E:)"; fi
check "lintian has no unused override" bash -c "! grep -q 'unused-override' '$tmp/lintian.out'"

# ---- 3. contents ----------------------------------------------------------------
dpkg -c "$deb" | awk '{print $6}' | sed 's#^\./#/#' >"$tmp/contents"
for path in /usr/lib/apache2/modules/mod_genflow.so \
            /etc/apache2/mods-available/genflow.load /etc/apache2/mods-available/genflow.conf \
            /usr/sbin/genflow-migrate /usr/sbin/genflow-migrate-legacy \
            /usr/share/man/man8/genflow-migrate.8.gz /usr/share/man/man8/genflow-migrate-legacy.8.gz \
            /usr/share/doc/$pkg/README.md.gz /usr/share/doc/$pkg/copyright \
            /usr/share/mod_genflow/web/index.html /usr/share/mod_genflow/web/js/main.js \
            /usr/share/mod_genflow/web/docs/index.html; do
    check "the package holds $path" grep -qx "$path" "$tmp/contents"
done
n=$(ls "$src"/sql/[0-9][0-9][0-9]_*.sql | wc -l)
check "the package holds the $n migrations in /usr/share/mod_genflow/sql" \
    [ "$(grep -c '^/usr/share/mod_genflow/sql/[0-9][0-9][0-9]_.*\.sql$' "$tmp/contents")" = "$n" ]
for f in "$src"/docs/*.md; do
    check "the package holds docs/$(basename "$f")" grep -qx "/usr/share/doc/$pkg/$(basename "$f").gz" "$tmp/contents"
done
mkdir -p "$tmp/x" && dpkg-deb -x "$deb" "$tmp/x"
check "genflow.load says '# Depends: dbd'" grep -qx '# Depends: dbd' "$tmp/x/etc/apache2/mods-available/genflow.load"
check "genflow.conf is the reference configuration, every line a comment or blank" \
    bash -c "cmp -s '$tmp/x/etc/apache2/mods-available/genflow.conf' '$src/conf/genflow.conf' && ! grep -Ev '^[[:space:]]*(#|\$)' '$src/conf/genflow.conf' | grep -q ."
dpkg-deb -f "$deb" Depends >"$tmp/depends"
check "Depends names libaprutil1-dbd-pgsql" grep -q 'libaprutil1-dbd-pgsql' "$tmp/depends"
check "Recommends postgresql-client" bash -c "dpkg-deb -f '$deb' Recommends | grep -q postgresql-client"

# ---- 4. install, a2enmod, apache2ctl -t, a2dismod, purge --------------------------
# tests/readme_install.sh installs a mod_genflow.so of its own: whichever
# comes second waits (scripts/test runs the two side by side).
exec 9>/run/lock/genflow-install-tests.lock
flock -n 9 || { gf_log "waiting for tests/readme_install.sh to finish with the machine"; flock 9; }
gf_log "apt-get install ./$(basename "$deb"), a2enmod genflow, purge"
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'installed'; then
    nok "$pkg is installed on this machine already: not touching it"
    finish
fi
etc_before=$(etc_sum)
dbd_before=$(a2query -q -m dbd && echo enabled || echo disabled)
rm -rf "$state_backup"; cp -a /var/lib/apache2 "$state_backup"
dpkg-query -W -f='${Package}\n' | sort >"$tmp/pkgs.before"
for f in $package_files; do   # a make install's, say: kept aside, put back
    if [ -e "$f" ]; then gf_log "$f exists (no package's): kept aside"; mkdir -p "$tmp/pre$(dirname "$f")"; mv "$f" "$tmp/pre$f"; fi
done
check "apache2ctl -t passes before (the machine's own configuration)" bash -c "apache2ctl -t >'$tmp/t0.out' 2>&1"
installed_by_us=1
if apt-get install -y -q --no-install-recommends "$deb" >"$tmp/install.out" 2>&1; then
    ok "apt-get install ./$(basename "$deb")"
else
    tail -n 20 "$tmp/install.out"; nok "apt-get install ./$(basename "$deb")"
fi
check "installing enabled nothing (a2enmod does)" bash -c "! a2query -q -m genflow"
a2enmod genflow >"$tmp/a2enmod.out" 2>&1 || { cat "$tmp/a2enmod.out"; nok "a2enmod genflow"; }
check "a2enmod genflow: genflow enabled" a2query -q -m genflow
check "a2enmod genflow: dbd enabled (Depends: dbd)" a2query -q -m dbd
if apache2ctl -t >"$tmp/t.out" 2>&1; then ok "apache2ctl -t with genflow and dbd enabled"
else sed 's/^/    /' "$tmp/t.out"; nok "apache2ctl -t with genflow and dbd enabled"; fi
check "genflow-migrate runs from /usr/sbin (--help)" bash -c "/usr/sbin/genflow-migrate --help | grep -q 'genflow-migrate'"
a2dismod -q genflow >/dev/null 2>&1 || nok "a2dismod genflow"
check "a2dismod genflow: genflow disabled" bash -c "! a2query -q -m genflow"
if apt-get purge -y -q "$pkg" >"$tmp/purge.out" 2>&1; then ok "apt-get purge $pkg"
else tail -n 20 "$tmp/purge.out"; nok "apt-get purge $pkg"; fi
for f in /usr/lib/apache2/modules/mod_genflow.so /etc/apache2/mods-available/genflow.load \
         /etc/apache2/mods-available/genflow.conf /usr/sbin/genflow-migrate /usr/share/mod_genflow; do
    check "purged: $f is gone" [ ! -e "$f" ]
done

# ---- 5. an upgrade from the previous release's package ------------------------
# The previous release (NEWS: its commit), built from this clone's history
# and installed and enabled as a site has it, its genflow.conf edited by
# the site; then this package installed over it as an unattended upgrade
# does (apt-get with --force-confdef --force-confold): the site's
# genflow.conf stays byte for byte, the new reference lands beside it as
# genflow.conf.dpkg-dist, the module stays enabled and apache2ctl -t
# passes.
read -r prev_version prev_commit <<<"$(gf_prev_release "$src")"
if ! gf_prev_release_export "$top" "$tmp/prev-src"; then
    nok "the previous release's commit (NEWS: '${prev_commit:-none}') is in this clone (a shallow clone has no history)"
else
    gf_log "the package of $prev_version ($prev_commit), then this one over it"
    if (cd "$tmp/prev-src" && DEB_BUILD_OPTIONS="parallel=$(nproc) nocheck" dpkg-buildpackage -us -uc -b) \
            >"$tmp/prev-build.out" 2>&1; then
        ok "dpkg-buildpackage of $prev_version"
    else
        tail -n 30 "$tmp/prev-build.out"; nok "dpkg-buildpackage of $prev_version"
    fi
    prev_deb="$tmp/${pkg}_$(cd "$tmp/prev-src" && dpkg-parsechangelog -S Version)_${arch}.deb"
    conf=/etc/apache2/mods-available/genflow.conf
    if apt-get install -y -q --no-install-recommends "$prev_deb" >"$tmp/prev-install.out" 2>&1 \
            && a2enmod -q genflow >/dev/null 2>&1; then
        ok "apt-get install of $prev_version, a2enmod genflow"
    else
        tail -n 20 "$tmp/prev-install.out"; nok "apt-get install of $prev_version, a2enmod genflow"
    fi
    printf '# The site'"'"'s own line, kept across upgrades.\n' >> "$conf"
    site_sum=$(md5sum < "$conf")
    if apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef \
            -o Dpkg::Options::=--force-confold "$deb" >"$tmp/upgrade.out" 2>&1; then
        ok "apt-get install of $version over $prev_version"
    else
        tail -n 20 "$tmp/upgrade.out"; nok "apt-get install of $version over $prev_version"
    fi
    check "the installed version is $version" \
        bash -c "[ \"\$(dpkg-query -W -f='\${Version}' $pkg)\" = '$version' ]"
    check "the site's genflow.conf is kept byte for byte" bash -c "[ \"\$(md5sum < $conf)\" = '$site_sum' ]"
    if cmp -s "$tmp/x/etc/apache2/mods-available/genflow.conf" "$tmp/prev-src/conf/genflow.conf"; then
        check "no genflow.conf.dpkg-dist (the reference did not change)" [ ! -e "$conf.dpkg-dist" ]
    else
        check "the new reference beside it as genflow.conf.dpkg-dist" \
            cmp -s "$conf.dpkg-dist" "$tmp/x/etc/apache2/mods-available/genflow.conf"
    fi
    check "genflow is still enabled" a2query -q -m genflow
    check "the new migrations are installed" \
        [ "$(ls /usr/share/mod_genflow/sql/[0-9][0-9][0-9]_*.sql | wc -l)" = "$n" ]
    if apache2ctl -t >"$tmp/t2.out" 2>&1; then ok "apache2ctl -t after the upgrade"
    else sed 's/^/    /' "$tmp/t2.out"; nok "apache2ctl -t after the upgrade"; fi
    a2dismod -q genflow >/dev/null 2>&1
    apt-get purge -y -q "$pkg" >"$tmp/purge2.out" 2>&1 || { tail -n 20 "$tmp/purge2.out"; nok "apt-get purge after the upgrade"; }
    check "purged after the upgrade: no genflow.conf, no .dpkg-dist" \
        bash -c "[ ! -e $conf ] && [ ! -e $conf.dpkg-dist ]"
fi

dbd_was=$dbd_before
restore_machine
check "dbd is $dbd_was again" bash -c "[ \"\$(a2query -q -m dbd && echo enabled || echo disabled)\" = $dbd_was ]"
check "/etc/apache2 is as it was before" [ "$(etc_sum)" = "$etc_before" ]
check "no package is left behind${extra:+ (purged: $extra)}" \
    bash -c "dpkg-query -W -f='\${Package}\n' | sort | cmp -s - '$tmp/pkgs.before'"
finish
