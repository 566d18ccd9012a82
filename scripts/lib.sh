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

# gf_demo_providers TOP: the demo's providers for the environment, as
# httpd.conf lines: the site's own ComfyUI servers first (COMFYUI_URL, one
# address or several separated by commas, which become one group, least
# busy, each running one prompt at a time from this site's line;
# COMFYUI_WORKFLOW, the site's workflow in API format, default TOP's
# conf/comfyui-txt2img.json; COMFYUI_INPUTS, where its inputs go), then
# each real provider whose key is in the environment, then local, in
# every type's chain. With OPENAI_API_KEY, prompts pass OpenAI's
# moderation endpoint first (a flagged prompt answers 400 CONTENT_POLICY).
gf_demo_providers() {
    local top=$1 chain="" wf inputs gpus="" k=0 url spec kind var more t
    local -a urls
    if [ -n "${COMFYUI_URL:-}" ]; then
        wf=${COMFYUI_WORKFLOW:-$top/conf/comfyui-txt2img.json}
        inputs=${COMFYUI_INPUTS:-prompt=6.text seed=3.seed width=5.width height=5.height steps=3.steps}
        IFS=, read -r -a urls <<< "$COMFYUI_URL"
        for url in "${urls[@]}"; do
            k=$((k + 1))
            echo "GenFlowProvider gpu$k comfyui base_url=$url workflow=$wf $inputs max_jobs=1 breaker_failures=2"
            gpus="$gpus gpu$k"
        done
        if [ "$k" -gt 1 ]; then chain=" {${gpus# }}@least-busy ->"; else chain=" gpu1 ->"; fi
    fi
    for spec in stability:STABILITY_API_KEY fal:FAL_KEY replicate:REPLICATE_API_TOKEN aiml:AIMLAPI_KEY \
                openai:OPENAI_API_KEY gemini:GEMINI_API_KEY bfl:BFL_API_KEY; do
        kind=${spec%%:*} var=${spec#*:} more=""
        # BFL runs 24 tasks of an account at once: the rest wait here.
        [ "$kind" = bfl ] && more=" max_jobs=24"
        # OpenAI streams the picture as it draws it: previews on the page.
        [ "$kind" = openai ] && more=" partial_images=2"
        if [ -n "${!var:-}" ]; then
            echo "GenFlowProvider $kind $kind key_env=$var$more"
            chain="$chain $kind ->"
        fi
    done
    if [ -n "${OPENAI_API_KEY:-}" ]; then
        echo "GenFlowPromptPolicy moderation=https://api.openai.com/v1/moderations key_env=OPENAI_API_KEY model=omni-moderation-latest"
    fi
    if [ -n "$chain" ]; then
        for t in neo-glitch emotion-mask presets ghibli-reaction custom-prompt; do
            printf '<Location /api/%s>\n    GenFlowProviders%s local\n</Location>\n' "$t" "$chain"
        done
    fi
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
