#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/readme_install.sh: README.md's "Installing into an existing httpd",
# from source, as written there. Run as root (scripts/test does).
#
# What runs is extracted from README.md, never retyped here: every fenced
# block that directly follows a marker line
#     <!-- install: NAME [ARGS] -->
# NAME is one of
#   packages      the apt-get line: run (a no-op when all is installed)
#   package       the package path: not run here (tests/debian_package.sh
#                 builds, installs, enables and purges the package)
#   source-build  run in a copy of this tree: the build, make install, the
#                 .load/.conf into mods-available, a2enmod genflow
#   migrate       run against a throwaway PostgreSQL
#   media         run: the media directory and the htpasswd file
#   file PATH     the block is the content of the file PATH
#   enable        run: chmod, a2enconf, apache2ctl -t
#   restart       not run ("systemctl restart apache2" would touch the
#                 machine's service): an apache2 of the copy is started
#                 with apache2ctl start instead
#   example       run, in one shell in README order (so $id carries over);
#   answer        the output of the example before it must match this block
# Blocks without a marker (createuser/createdb, "More") are not run.
#
# Substitutions in the extracted text, and nothing else:
#   /etc/apache2           -> the copy, $tmp/apache2 (cp -a /etc/apache2)
#   port 80                -> a free loopback port: "http://localhost" gets
#                             ":PORT"; in the copy's own files (ports.conf,
#                             sites) "Listen 80" becomes "Listen
#                             127.0.0.1:PORT" and "*:80" "*:PORT"
# The environment does the rest (no text changes):
#   APACHE_CONFDIR=$tmp/apache2     apache2ctl, a2enmod, a2enconf use the copy
#   APACHE_STATE_DIRECTORY          a2enmod's state (/var/lib/apache2 copied)
#   APACHE_ENVVARS                  the copy's envvars plus APACHE_RUN_DIR,
#                                   APACHE_PID_FILE, APACHE_LOCK_DIR and
#                                   APACHE_LOG_DIR under $tmp (envvars would
#                                   otherwise set /var/run/apache2 ...)
#   APACHE_STARTED_BY_SYSTEMD=1     apache2ctl start runs apache2 itself,
#                                   never "systemctl start apache2"
#   PGPORT                          the throwaway cluster's port: README's
#                                   URI and DBDParams name no port (5432)
#   MAKEFLAGS=-jN                   a parallel make
#   sudo                            a shell function that runs its command
#                                   as is: this script is root already, and
#                                   the real sudo would reset the
#                                   environment above (and so act on the
#                                   machine's /etc/apache2)
# What README's commands install outside /etc/apache2 (make install: the
# module in /usr/lib/apache2/modules, /usr/local/{sbin,share/mod_genflow};
# /var/lib/genflow/media) is removed afterwards (make uninstall) and any file
# that was there before is put back. The machine's /etc/apache2 is checked
# to be unchanged. All of it holds /run/lock/genflow-install-tests.lock
# (tests/debian_package.sh takes it to install its package). Prints
# "readme_install: N passed, M failed".
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"
GF_SCRIPT=readme_install
readme="$top/README.md"

passed=0 failed=0
ok()  { passed=$((passed + 1)); echo "ok - $*"; }
nok() { failed=$((failed + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }
summary() { echo "readme_install: $passed passed, $failed failed"; }

if [ "$(id -u)" != 0 ]; then
    nok "must run as root (README's commands use sudo; scripts/test runs it as root)"
    summary; exit 1
fi

tmp=$(mktemp -d /tmp/genflow-readme.XXXXXX)
chmod 755 "$tmp"   # apache2's children (www-data) read the htpasswd in the copy
copy="$tmp/apache2"
src="$tmp/src"
pgdata="$tmp/pg/data"
port=$(gf_free_port)
pgport=$(gf_free_port)
blocks="$tmp/blocks"
mkdir -p "$blocks" "$tmp/backup"

# tests/debian_package.sh installs the package's mod_genflow.so: one at a
# time (scripts/test runs the two side by side).
exec 9>/run/lock/genflow-install-tests.lock
flock -n 9 || { gf_log "waiting for tests/debian_package.sh to finish with the machine"; flock 9; }
etc_sum() { (cd /etc/apache2 && find . -printf '%p %y %l %m\n' | sort && find . -type f -exec md5sum {} + | sort) | md5sum; }
etc_before=$(etc_sum)

# ---- README.md -> numbered blocks ------------------------------------------
# blocks/index: "NNN NAME ARGS"; blocks/NNN: the block, its indentation removed.
perl -e '
    my ($readme, $dir) = @ARGV;
    open my $in, "<", $readme or die "$readme: $!";
    open my $idx, ">", "$dir/index" or die;
    my ($marker, $n, $fence, $indent, $out) = (undef, 0);
    while (my $l = <$in>) {
        if (defined $fence) {
            if ($l =~ /^\s*\Q$fence\E\s*$/) { close $out; undef $fence; next }
            $l =~ s/^ {0,$indent}//;
            print $out $l;
            next;
        }
        if ($l =~ /^\s*<!-- install: (.+?) -->\s*$/) { $marker = $1; next }
        if (defined $marker && $l =~ /^(\s*)(```+)/) {
            ($indent, $fence) = (length $1, $2);
            my $name = sprintf "%03d", ++$n;
            print $idx "$name $marker\n";
            open $out, ">", "$dir/$name" or die;
            undef $marker;
            next;
        }
        undef $marker if $l =~ /\S/;   # a marker applies to the very next block
    }
' "$readme" "$blocks" || { nok "README.md could not be read"; summary; exit 1; }

block_names() { awk -v k="$1" '$2 == k { print $1 }' "$blocks/index"; }
block_one() {   # the file of the one block named $1
    local n; n=$(block_names "$1")
    [ "$(wc -w <<<"$n")" = 1 ] || { echo "README.md: expected one '$1' block, found: $n" >&2; return 1; }
    echo "$blocks/$n"
}
subst() {   # the substitutions of the header, on stdin or on a file
    sed -e "s#/etc/apache2#$copy#g" -e "s#http://localhost\\([^:]\\|\$\\)#http://localhost:$port\\1#g" "$@"
}
for k in packages package source-build migrate media enable restart; do
    block_one "$k" >/dev/null || nok "README.md has one '$k' block"
done
[ "$failed" = 0 ] || { summary; rm -rf "$tmp"; exit 1; }
ok "README.md has every marked block ($(wc -l <"$blocks/index") blocks)"

# ---- the environment --------------------------------------------------------
cp -a /etc/apache2 "$copy"
mkdir -p "$tmp/state"
[ -d /var/lib/apache2 ] && cp -a /var/lib/apache2/. "$tmp/state/"
sed -i -e "s/^\\(\\s*\\)Listen 80\\s*\$/\\1Listen 127.0.0.1:$port/" "$copy/ports.conf"
sed -i -e "s/\\*:80>/*:$port>/" "$copy"/sites-available/*.conf
cat > "$tmp/envvars" <<ENV
. "$copy/envvars"
export APACHE_RUN_DIR="$tmp/run"
export APACHE_PID_FILE="$tmp/run/apache2.pid"
export APACHE_LOCK_DIR="$tmp/lock"
export APACHE_LOG_DIR="$tmp/log"
ENV
mkdir -p "$tmp/log"
export APACHE_CONFDIR="$copy" APACHE_STATE_DIRECTORY="$tmp/state" APACHE_ENVVARS="$tmp/envvars"
export APACHE_STARTED_BY_SYSTEMD=1 PGPORT="$pgport" MAKEFLAGS="-j$(nproc)"
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# What README's commands install on the machine itself, saved first.
machine_files="/usr/lib/apache2/modules/mod_genflow.so /usr/local/sbin/genflow-migrate
 /usr/local/sbin/genflow-migrate-legacy /usr/local/share/mod_genflow"
for f in $machine_files; do
    [ -e "$f" ] && mkdir -p "$tmp/backup$(dirname "$f")" && cp -a "$f" "$tmp/backup$f"
done
media_existed=0
module_before=0
[ -e /usr/lib/apache2/modules/mod_genflow.so ] && module_before=1
[ -e /var/lib/genflow ] && media_existed=1
touch "$tmp/started"

pg_user=gftest
gf_ensure_user "$pg_user"
cp "$top/scripts/lib.sh" "$tmp/lib.sh"; chmod 644 "$tmp/lib.sh"
mkdir -p "$tmp/pg"; chown "$pg_user" "$tmp/pg"
apache_pid=""
cleanup() {
    set +e
    if [ -f "$tmp/run/apache2.pid" ]; then
        apache2ctl stop >/dev/null 2>&1
        local p; p=$(cat "$tmp/run/apache2.pid" 2>/dev/null)
        for _ in $(seq 1 50); do [ -n "$p" ] && kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        [ -n "$p" ] && kill -0 "$p" 2>/dev/null && kill -9 "$p"
    fi
    [ -f "$pgdata/postmaster.pid" ] && runuser -u "$pg_user" -- bash -c ". '$tmp/lib.sh'; gf_pg_stop '$pgdata'"
    if [ -f "$src/Makefile" ]; then make -C "$src" uninstall >/dev/null 2>&1; fi
    for f in $machine_files; do
        if [ -e "$tmp/backup$f" ]; then rm -rf "$f"; cp -a "$tmp/backup$f" "$f"; fi
    done
    rmdir /usr/local/share/mod_genflow/web/js /usr/local/share/mod_genflow/web/docs \
          /usr/local/share/mod_genflow/web /usr/local/share/mod_genflow/sql \
          /usr/local/share/mod_genflow 2>/dev/null
    if [ "$media_existed" = 0 ]; then
        rm -rf /var/lib/genflow
    else
        find /var/lib/genflow -type f -newer "$tmp/started" -delete 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# Runs a README block ($1: file) with the substitutions, in bash with -e and
# the sudo stand-in; output to $2.
run_block() {
    { echo 'set -eo pipefail'; echo 'sudo() { "$@"; }'; subst "$1"; } > "$1.sh"
    bash "$1.sh" >"$2" 2>&1
}
show() { sed 's/^/    /' "$1" | tail -n "${2:-30}"; }

# ---- 1. packages --------------------------------------------------------------
gf_log "packages (README block, apt-get)"
f=$(block_one packages)
# Run only when one of them is missing (apt-get with nothing to do still
# takes its time reading the package lists).
absent=""
for p in $(tr -s ' \\\n' '\n' <"$f" | grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vx -e sudo -e apt-get -e install); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || absent="$absent $p"
done
if [ -z "$absent" ]; then ok "every package README's apt-get line names is installed"
elif run_block "$f" "$tmp/packages.out"; then ok "README's apt-get line installed$absent"
else show "$tmp/packages.out"; nok "README's apt-get line installs$absent"; fi
# Everything the package build needs is named in README's two apt-get lines.
named=$(cat "$(block_one packages)" "$(block_one package)" | tr -s ' \\\n' '\n')
missing=""
for p in $(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$top/debian/control" | sed 's/^Build-Depends://; /^[A-Z]/d' \
           | tr ',' '\n' | sed 's/(.*//; s/^ *//; s/ *$//' | grep -v -e '^$' -e '^debhelper-compat' -e '^dh-apache2$'); do
    grep -qx "$p" <<<"$named" || missing="$missing $p"
done
check "README names every Build-Depends of debian/control${missing:+ (missing:$missing)}" [ -z "$missing" ]

# ---- 2. source build, make install, a2enmod (in the copy) ---------------------
gf_log "source build (README block source-build, in a copy of the tree)"
mkdir -p "$src"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$top" ls-files -co --exclude-standard -z | tar -C "$top" --null -T - -cf - | tar -C "$src" -xf -
else
    tar -C "$top" --exclude=./.git --exclude='*.o' --exclude='*.lo' --exclude=./web/node_modules \
        --exclude=./tests/browser/node_modules -cf - . | tar -C "$src" -xf -
fi
f=$(block_one source-build)
if (cd "$src" && run_block "$f" "$tmp/build.out"); then ok "README's source build, make install, a2enmod"
else show "$tmp/build.out" 40; nok "README's source build, make install, a2enmod"; fi
libexec=$(apxs -q LIBEXECDIR)
check "make install put mod_genflow.so into $libexec" [ -f "$libexec/mod_genflow.so" ]
check "genflow.load is in the copy's mods-available with '# Depends: dbd'" grep -qx '# Depends: dbd' "$copy/mods-available/genflow.load"
check "a2enmod enabled genflow in the copy" [ -L "$copy/mods-enabled/genflow.load" ]
check "a2enmod enabled dbd in the copy (the .load's dependency)" [ -L "$copy/mods-enabled/dbd.load" ]

# ---- 3. database -------------------------------------------------------------
gf_log "throwaway PostgreSQL on 127.0.0.1:$pgport, README's genflow-migrate"
if runuser -u "$pg_user" -- bash -c ". '$tmp/lib.sh'; gf_pg_start '$pgdata' '$pgport'" >"$tmp/pg.out" 2>&1; then
    f=$(block_one migrate)
    maxv=$(ls "$src"/sql/[0-9][0-9][0-9]_*.sql | sed 's#.*/0*\([0-9]*\)_.*#\1#' | sort -n | tail -n 1)
    if run_block "$f" "$tmp/migrate.out" && grep -Eq "^genflow-migrate: [0-9]+ migration\\(s\\) applied; schema at version $maxv\$" "$tmp/migrate.out"; then
        ok "README's genflow-migrate: schema at version $maxv"
    else show "$tmp/migrate.out"; nok "README's genflow-migrate: schema at version $maxv"; fi
else
    show "$tmp/pg.out"; nok "throwaway PostgreSQL started"
fi

# ---- 4. media directory, htpasswd -----------------------------------------------
f=$(block_one media)
if run_block "$f" "$tmp/media.out"; then ok "README's media directory and htpasswd"; else show "$tmp/media.out"; nok "README's media directory and htpasswd"; fi
media=$(sed -n 's/^GenFlowStorageDir \(.*\)$/\1/p' "$blocks"/* | head -n 1)
check "GenFlowStorageDir ($media) exists, owned by www-data" [ "$(stat -c %U "${media:-/nonexistent}" 2>/dev/null)" = www-data ]

# ---- 5. configuration file(s), enable, apache2ctl -t ---------------------------------
while read -r n kind path; do
    [ "$kind" = file ] || continue
    dest=$(subst <<<"$path")
    mkdir -p "$(dirname "$dest")"
    subst "$blocks/$n" > "$dest"
    ok "README's $(basename "$path") written to the copy"
done <"$blocks/index"
f=$(block_one enable)
if run_block "$f" "$tmp/enable.out"; then ok "README's a2enconf and apache2ctl -t pass on the copy"
else show "$tmp/enable.out"; nok "README's a2enconf and apache2ctl -t pass on the copy"; fi
check "README's restart is systemctl (not run here)" grep -q 'systemctl restart apache2' "$(block_one restart)"

# ---- 6. start apache2 of the copy ------------------------------------------------
gf_log "apache2 from the copy on 127.0.0.1:$port"
if apache2ctl start >"$tmp/start.out" 2>&1; then
    up=0
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && { up=1; break; }
        sleep 0.1
    done
    if [ "$up" = 1 ]; then ok "apache2 of the copy serves 127.0.0.1:$port"
    else show "$tmp/start.out"; show "$tmp/log/error.log"; nok "apache2 of the copy serves 127.0.0.1:$port"; fi
else
    show "$tmp/start.out"; show "$tmp/log/error.log" 2>/dev/null; nok "apache2ctl start"
fi

# ---- 7. README's examples, and their answers ----------------------------------------
gf_log "README's curl examples"
script="$tmp/examples.sh"
{ echo 'sudo() { "$@"; }'; echo "cd '$tmp'"; } > "$script"
pairs=()   # "example-file answer-file"
last=""
while read -r n kind _; do
    case "$kind" in
        example)
            last=$n
            { echo "{"; subst "$blocks/$n"; echo "} > '$blocks/$n.out' 2>'$blocks/$n.err'"; } >> "$script"
            pairs+=("$n -") ;;
        answer)
            [ -n "$last" ] && pairs[${#pairs[@]}-1]="$last $n"; last="" ;;
    esac
done <"$blocks/index"
[ "${#pairs[@]}" -gt 0 ] || nok "README has example blocks"
bash "$script" >"$tmp/examples.out" 2>&1 || true

# Compare an answer template of README with what the command printed. "…"
# in the template stands for any text; a JSON string that is "…" alone for
# any value. JSON objects must have exactly the template's keys. Two
# tolerances, which README states next to the answer: a 202's "status" may
# be "processing" where README shows "pending" (a worker took it already),
# and a 202 may be a 200 with a finished generation of the same id (the
# worker finished before the answer was written).
compare_answer() {
    perl -MJSON::PP -e '
        use strict; use warnings;
        my ($tf, $af) = @ARGV;
        local $/; open my $t, "<", $tf or die; my $tpl = <$t>; open my $a, "<", $af or die; my $act = <$a>;
        $act =~ s/\r//g;
        my @err;
        sub pat { my $s = shift; join ".*", map { quotemeta } split /\x{2026}/, $s, -1 }
        sub cmpj {
            my ($t, $a, $where) = @_;
            if (ref $t eq "HASH") {
                return push @err, "$where: not an object" unless ref $a eq "HASH";
                my %k = map { $_ => 1 } keys %$t, keys %$a;
                for my $k (sort keys %k) {
                    if (!exists $a->{$k}) { push @err, "$where.$k: missing in the answer" }
                    elsif (!exists $t->{$k}) { push @err, "$where.$k: in the answer, not in README" }
                    else { cmpj($t->{$k}, $a->{$k}, "$where.$k") }
                }
            } elsif (ref $t eq "ARRAY") {
                return push @err, "$where: not an array" unless ref $a eq "ARRAY" && @$a == @$t;
                cmpj($t->[$_], $a->[$_], "$where\[$_]") for 0 .. $#$t;
            } elsif (!defined $t) {
                push @err, "$where: README null, answer " . (defined $a ? $a : "") if defined $a;
            } elsif (!ref $t && $t eq "\x{2026}") {
            } elsif ($where eq "body.status" && $main::accepted && $t eq "pending" && defined $a && $a eq "processing") {
            } elsif (!ref $t && $t =~ /\x{2026}/) {
                my $p = pat($t);
                push @err, "$where: \"" . ($a // "null") . "\" does not match \"$t\"" unless defined $a && !ref $a && $a =~ /^$p$/s;
            } else {
                my $ts = JSON::PP->new->canonical->allow_nonref->encode($t);
                my $as = JSON::PP->new->canonical->allow_nonref->encode($a);
                push @err, "$where: README $ts, answer $as" unless $ts eq $as;
            }
        }
        my $json = JSON::PP->new->utf8;
        utf8::decode($tpl); my $actc = $act; utf8::decode($actc);
        my ($thead, $tbody, $ahead, $abody);
        if ($tpl =~ /^HTTP\//) {
            ($thead, $tbody) = split /\n\n/, $tpl, 2;
            ($ahead, $abody) = split /\n\n/, $actc, 2;
            my @th = split /\n/, $thead; my @ah = split /\n/, ($ahead // "");
            my ($tc) = $th[0] =~ /^HTTP\/\S+ (\d+ .*)$/; my ($ac) = ($ah[0] // "") =~ /^HTTP\/\S+ (\d+ .*)$/;
            if (defined $ac && $tc =~ /^202 / && $ac =~ /^200 /) {
                my $aj = eval { JSON::PP->new->decode((split /\n\n/, $actc, 2)[1] // "") };
                if (ref $aj eq "HASH" && ($aj->{status} // "") =~ /^(completed|failed)$/
                    && defined $aj->{generationId}) {
                    print "    (a 200 with the finished generation: the worker was faster)\n";
                    exit 0;
                }
            }
            push @err, "status: README \"$tc\", answer \"" . ($ac // "none") . "\"" unless defined $ac && $ac eq $tc;
            $main::accepted = $tc =~ /^202 /;
            for my $h (@th[1 .. $#th]) {
                my ($n, $v) = $h =~ /^([^:]+):\s*(.*)$/ or next;
                my ($got) = map { /^[^:]+:\s*(.*)$/ } grep { /^\Q$n\E:/i } @ah;
                my $p = pat($v);
                push @err, "header $n: README \"$v\", answer \"" . ($got // "none") . "\"" unless defined $got && $got =~ /^$p$/;
            }
        } else {
            # Text lines up to the first "{", then one JSON document.
            my @tl = split /\n/, $tpl; my @al = split /\n/, $actc;
            while (@tl && $tl[0] !~ /^\{/) {
                my $t = shift @tl; my $a = shift @al; my $p = pat($t);
                push @err, "line: README \"$t\", answer \"" . ($a // "none") . "\"" unless defined $a && $a =~ /^$p$/;
            }
            $tbody = join "\n", @tl; $abody = join "\n", @al;
        }
        if (defined $tbody && $tbody =~ /\S/) {
            my $tj = eval { JSON::PP->new->decode($tbody) } or die "README answer is not JSON: $@";
            my $aj = eval { JSON::PP->new->decode($abody // "") };
            if (!defined $aj) { push @err, "body is not JSON: " . ($abody // "") }
            else { cmpj($tj, $aj, "body") }
        }
        if (@err) { binmode STDOUT, ":utf8"; print "    $_\n" for @err; exit 1 }
    ' "$1" "$2"
}
i=0
for pair in "${pairs[@]}"; do
    i=$((i + 1))
    set -- $pair
    first=$(grep -m1 -o 'http://localhost[^ ]*' "$blocks/$1" | head -n 1)
    what="example $i ($(grep -c . "$blocks/$1") lines, ${first:-no URL})"
    if [ "$2" = - ]; then
        check "$what ran" [ -s "$blocks/$1.out" ]
        continue
    fi
    if compare_answer "$blocks/$2" "$blocks/$1.out" >"$tmp/cmp.out" 2>&1; then
        ok "$what: the answer README shows"
    else
        nok "$what: the answer README shows"
        cat "$tmp/cmp.out"; echo "    --- the command printed:"; show "$blocks/$1.out" 20; show "$blocks/$1.err" 5
    fi
done
if [ -n "$media" ]; then
    check "the pictures are in $media" [ -n "$(find "$media" -type f -name '*.png' -newer "$tmp/started" 2>/dev/null)" ]
fi
if grep -Eq 'Segmentation fault|exit signal' "$tmp/log/error.log" 2>/dev/null; then
    nok "apache2's error_log shows no crash"; grep -E 'Segmentation fault|exit signal' "$tmp/log/error.log" | head
else ok "apache2's error_log shows no crash"; fi

# ---- 8. stop, clean up, and the machine is as before ---------------------------------
gf_log "stopping, cleaning up"
cleanup; trap - EXIT
check "the machine's /etc/apache2 is unchanged" [ "$(etc_sum)" = "$etc_before" ]
check "mod_genflow.so removed again (or back as it was)" bash -c "[ $module_before = 1 ] || [ ! -e '$libexec/mod_genflow.so' ]"
left=$(pgrep -f -- "-D $pgdata|-d $copy" || true)
check "the throwaway apache2 and PostgreSQL are gone${left:+ (left: $left)}" [ -z "$left" ]
summary
[ "$failed" = 0 ]
