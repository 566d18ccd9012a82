# SPDX-License-Identifier: Apache-2.0
# scripts/lib.sh: shared steps of scripts/demo and scripts/test (sourced).
#
# Packages, the build, and a throwaway PostgreSQL cluster. Nothing here
# assumes a machine prepared by hand: what is missing is installed (as
# root) or named (as an ordinary user).

GF_PACKAGES="build-essential autoconf automake libtool pkg-config
 apache2 apache2-dev apache2-utils libapr1-dev libaprutil1-dev libaprutil1-dbd-pgsql
 libcurl4-openssl-dev libssl-dev openssl libjson-c-dev libunistring-dev libicu-dev libpng-dev libjpeg-dev libwebp-dev libpq-dev check
 postgresql postgresql-client libapache2-mod-perl2 libwww-perl libhttp-daemon-perl libyaml-libyaml-perl curl"

# Each line carries the seconds since the script started, so the log of a
# run shows how long every stage took.
gf_log() { printf '%s: [%4ds] %s\n' "${GF_SCRIPT:-genflow}" "$SECONDS" "$*" >&2; }
gf_die() { gf_log "error: $*"; exit 1; }

gf_missing_packages() {
    local p missing=""
    for p in $GF_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing="$missing $p"
    done
    echo "$missing"
}

# Install what is missing (root), or stop with the list (other users).
gf_ensure_packages() {
    local missing
    missing=$(gf_missing_packages)
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" = 0 ]; then
        gf_log "installing:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null
        # policy-rc.d keeps the packages' own services (apache2, postgresql)
        # from starting: the scripts run their own throwaway instances.
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
            chmod +x /usr/sbin/policy-rc.d
            GF_REMOVE_POLICY=1
        fi
        # shellcheck disable=SC2086
        apt-get install -y -q --no-install-recommends $missing >/dev/null
        [ -n "${GF_REMOVE_POLICY:-}" ] && rm -f /usr/sbin/policy-rc.d
        missing=$(gf_missing_packages)
        [ -z "$missing" ] || gf_die "still missing after apt-get:$missing"
    else
        gf_die "missing Debian packages:$missing (run this script once as root, or: sudo apt-get install$missing)"
    fi
}

# An unprivileged account for what must not run as root (PostgreSQL,
# Apache::Test).
gf_ensure_user() {
    local user=$1
    id -u "$user" >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash "$user"
}

gf_pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -x "$d/initdb" ] || gf_die "PostgreSQL server binaries not found under /usr/lib/postgresql"
    echo "$d"
}

gf_free_port() {
    python3 - <<'PY' 2>/dev/null || perl -MIO::Socket::INET -e 'my $s=IO::Socket::INET->new(Listen=>1,LocalAddr=>"127.0.0.1",LocalPort=>0) or die; print $s->sockport, "\n"'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# What a cluster needs for a test or a bench to count what PostgreSQL ran
# (pg_stat_statements; t/50_watching.t, bench/waiters): GF_PG_EXTRA_CONF.
GF_PG_STATS="shared_preload_libraries = 'pg_stat_statements'"

# gf_pg_start DATADIR PORT: a fresh cluster with trust auth on 127.0.0.1,
# database "genflow", owned by the current user; GF_PG_EXTRA_CONF's lines
# go into a new cluster's postgresql.conf.
gf_pg_start() {
    local data=$1 port=$2 bin
    bin=$(gf_pg_bindir)
    if [ ! -f "$data/PG_VERSION" ]; then
        mkdir -p "$data"
        "$bin/initdb" -D "$data" -U genflow --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null \
            || gf_die "initdb failed"
        # In the config file, not on the command line, so that a plain
        # "pg_ctl start" (the database-restart test) brings it back the same.
        cat >> "$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
max_connections = 200
fsync = off
CONF
        # GF_PG_EXTRA_CONF: lines a bench adds (pg_stat_statements, say).
        [ -z "${GF_PG_EXTRA_CONF:-}" ] || printf '%s\n' "$GF_PG_EXTRA_CONF" >> "$data/postgresql.conf"
    fi
    "$bin/pg_ctl" -D "$data" -l "$data/postgresql.log" -w -t 60 start >/dev/null \
        || { cat "$data/postgresql.log" >&2; gf_die "PostgreSQL did not start"; }
    "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U genflow -d postgres \
        -c "SELECT 1 FROM pg_database WHERE datname = 'genflow'" -At | grep -q 1 \
        || "$bin/createdb" -h 127.0.0.1 -p "$port" -U genflow genflow
}

gf_pg_stop() {
    local data=$1
    [ -f "$data/postmaster.pid" ] || return 0
    "$(gf_pg_bindir)/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

# The previous release, as NEWS names it (its second "Release" entry):
# gf_prev_release TOP prints "VERSION COMMIT", nothing when NEWS names none.
gf_prev_release() {
    awk '/^Release /{n++; if (n == 2) v = $2} n == 2 && /^  commit: /{print v, $2; exit}' "$1/NEWS"
}

# gf_prev_release_export TOP DEST: the previous release's source, from
# TOP's git history at the commit NEWS names, into DEST (replaced). The
# upgrade tests build it (t/55_rolling_upgrade.t, the .deb of
# tests/debian_package.sh). Fails when TOP has no such commit: a shallow
# clone or a tarball has no history.
gf_prev_release_export() {
    local top=$1 dest=$2 commit
    read -r _ commit <<<"$(gf_prev_release "$top")"
    [ -n "${commit:-}" ] && git -C "$top" cat-file -e "$commit^{commit}" 2>/dev/null || return 1
    rm -rf "$dest"
    mkdir -p "$dest"
    git -C "$top" archive "$commit" | tar -C "$dest" -xf -
}

# Build from scratch with warnings as errors.
gf_build() {
    local top=$1
    ( cd "$top" \
      && ./autogen.sh >/dev/null 2>&1 \
      && ./configure --enable-werror --with-apxs="$(command -v apxs)" >/dev/null \
      && make clean >/dev/null \
      && make -j"$(nproc)" >/dev/null ) || gf_die "build failed"
}
