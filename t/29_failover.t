# SPDX-License-Identifier: Apache-2.0
# PostgreSQL failover under load: a primary with a synchronous streaming
# standby, an httpd of the test's own on the multi-host DBDParams
# (target_session_attrs=read-write), clients creating and generating
# through it; the primary is stopped hard and the standby promoted while
# they run. Nothing the clients were told is lost (synchronous
# replication), every generation ends with one reservation and one
# charge or refund, the clients see 503 with Retry-After during the
# outage and never a 500, and the listener follows the new primary.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);
use LWP::UserAgent;
use HTTP::Request;
use JSON::PP;
use POSIX ();

plan tests => 22;

my $bin = $ENV{GENFLOW_TEST_PG_BINDIR};
my $dir = tempdir(CLEANUP => 1);
my ($p1, $p2, $port, $port_ro) = (free_port(), free_port(), free_port(), free_port());
my $json = JSON::PP->new->canonical;
my $htpasswd = Apache::Test::vars('t_conf') . '/htpasswd';
my @started;   # [pg_ctl data dir] and [httpd conf] to stop at the end

sub run { my $rc = system(@_); return $rc == 0 }
sub pg { my ($data, @args) = @_; return run("$bin/pg_ctl", '-D', $data, '-l', "$data.log", @args) }
sub sql_at {   # SQL on the server at PORT
    my ($p, $sql) = @_;
    local $ENV{GENFLOW_TEST_PG_URI} = "postgresql://genflow\@127.0.0.1:$p/genflow";
    return psql($sql);
}

# ---- the primary, then its standby (pg_basebackup -R), then synchronous
# replication: switched on after the standby exists (before, every commit
# would wait for it) and only on the primary (postgresql.auto.conf is not
# replicated: the promoted standby must not wait for a standby it lacks).
my ($pd, $sd) = ("$dir/primary", "$dir/standby");
run("$bin/initdb -D '$pd' -U genflow --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null")
    or die 'initdb failed';
open my $cf, '>>', "$pd/postgresql.conf" or die $!;
print $cf "listen_addresses = '127.0.0.1'\nport = $p1\nunix_socket_directories = '$dir'\n"
        . "max_connections = 100\nwal_level = replica\nmax_wal_senders = 4\nfsync = off\n";
close $cf;
open my $hba, '>>', "$pd/pg_hba.conf" or die $!;
print $hba "host replication genflow 127.0.0.1/32 trust\n";
close $hba;
ok(pg($pd, '-w', '-t', '60', 'start'), 'primary started');
push @started, [pg => $pd];
run("$bin/createdb -h 127.0.0.1 -p $p1 -U genflow genflow") or die 'createdb failed';
my $migrate = Apache::Test::vars('serverroot') . '/../scripts/genflow-migrate';
run("PATH='$bin':\"\$PATH\" '$migrate' 'postgresql://genflow\@127.0.0.1:$p1/genflow' >/dev/null 2>&1")
    or die 'migrations failed';
run("$bin/pg_basebackup -h 127.0.0.1 -p $p1 -U genflow -D '$sd' -R -X stream -c fast "
    . "-d 'application_name=standby1'") or die 'pg_basebackup failed';
run("sed -i 's/^port = $p1\$/port = $p2/' '$sd/postgresql.conf'");
ok(pg($sd, '-w', '-t', '60', 'start'), 'standby started');
push @started, [pg => $sd];
sql_at($p1, "ALTER SYSTEM SET synchronous_standby_names = 'standby1'");
sql_at($p1, "ALTER SYSTEM SET synchronous_commit = 'on'");
sql_at($p1, 'SELECT pg_reload_conf()');
my $sync = '';
for (1 .. 100) {
    $sync = sql_at($p1, "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'") // '';
    last if $sync eq 'sync';
    sleep 0.1;
}
is($sync, 'sync', 'the standby replicates synchronously');

# ---- the httpd: multi-host DBDParams, workers on, a provider with latency
# and a polled (asynchronous) one, so jobs are mid-call and mid-poll.
my $multi = "host=127.0.0.1,127.0.0.1 port=$p1,$p2 dbname=genflow user=genflow "
          . "target_session_attrs=read-write";
mkdir "$dir/media";
sub body_for {
    my ($media) = @_;
    return <<"BODY";
GenFlowStorageDir "$media"
GenFlowStorageURL /media
GenFlowStartingCredits 1000
GenFlowDailyLimit 0
GenFlowMaxActive 0
GenFlowWorkers 4
GenFlowLeaseSeconds 5
GenFlowDeadline 60
DBDMax 12
GenFlowProvider quick local latency=300
GenFlowProvider polled local async=3
<Location /api>
    SetHandler genflow-api
    AuthType Basic
    AuthName failover
    AuthBasicProvider file
    AuthUserFile "$htpasswd"
    Require valid-user
</Location>
<Location /api/neo-glitch>
    GenFlowType neo-glitch
    GenFlowProviders quick
</Location>
<Location /api/polled-glitch>
    GenFlowType neo-glitch
    GenFlowProviders polled
</Location>
<Location /api/health>
    SetHandler genflow-health
    Require all granted
</Location>
BODY
}
my @auth = qw(auth_basic authn_core authn_file authz_user);
my $conf = do {
    local $ENV{GENFLOW_TEST_DBD_PARAMS} = $multi;
    own_httpd_conf($dir, $port, body_for("$dir/media"), @auth);
};
ok(run("/usr/sbin/apache2 -f '$conf' -k start"), 'httpd on the multi-host DBDParams started');
push @started, [httpd => $conf];
for (1 .. 50) { last if -s "$dir/httpd.pid"; sleep 0.1 }

sub call {   # call(PORT, METHOD, PATH, USER, BODY, HEADERS) → HTTP::Response
    my ($p, $method, $path, $user, $body, $h) = @_;
    my $req = HTTP::Request->new($method => "http://127.0.0.1:$p$path");
    $req->authorization_basic($user, $user) if defined $user;
    if (defined $body) {
        $req->content($json->encode($body));
        $req->header('Content-Type' => 'application/json');
    }
    $req->header($_ => $h->{$_}) for keys %{ $h || {} };
    return LWP::UserAgent->new(timeout => 60, keep_alive => 0)->request($req);
}
sub health_of {
    my $res = call($port, GET => '/api/health');
    return eval { $json->decode($res->decoded_content) } || {};
}
my $listening = 0;
for (1 .. 100) { last if ($listening = (health_of()->{workers} || {})->{listening} ? 1 : 0); sleep 0.1 }
ok($listening, 'the listener is listening on the primary');

# ---- a session on a standby: a statement refused as read-only is
# "database unavailable" (503 with Retry-After), never a 500.
{
    my $rodir = "$dir/ro";
    mkdir $rodir;
    mkdir "$rodir/media";
    my $roconf = do {
        local $ENV{GENFLOW_TEST_DBD_PARAMS} = "host=127.0.0.1 port=$p2 dbname=genflow user=genflow";
        own_httpd_conf($rodir, $port_ro, body_for("$rodir/media"), @auth);
    };
    run("/usr/sbin/apache2 -f '$roconf' -k start") or die 'httpd on the standby did not start';
    for (1 .. 50) { last if -s "$rodir/httpd.pid"; sleep 0.1 }
    my $u = new_user('failover_ro');
    my $res = call($port_ro, POST => '/api/neo-glitch/create', $u, { prompt => 'on a standby' });
    my $doc = eval { $json->decode($res->decoded_content) } || {};
    is($res->code . ' ' . (($doc->{error} || {})->{code} // ''), '503 SERVICE_UNAVAILABLE',
       'a write on a standby is 503 SERVICE_UNAVAILABLE');
    like($res->header('Retry-After') // '', qr/^\d+$/, '... with Retry-After');
    run("/usr/sbin/apache2 -f '$roconf' -k stop");
    for (1 .. 100) { last unless -e "$rodir/httpd.pid"; sleep 0.1 }
    open my $in, '<', "$rodir/error_log" or die $!;
    my $log = do { local $/; <$in> };
    like($log, qr/GF4700: statement \S+ refused by a read-only server/,
         '... logged as a read-only server (GF4700), the session reset');
}

# ---- the load: clients create+queue or generate, half on the polled
# provider, each with an Idempotency-Key it repeats on 503 and 409 until
# it gets its answer. Every answer is recorded.
my @users = map { new_user("failover$_") } 1 .. 4;
my $stop = "$dir/stop";
my @clients;
for my $c (0 .. $#users) {
    my $pid = fork // die;
    if (!$pid) {
        my $u = $users[$c];
        open my $log, '>>', "$dir/client$c.log" or die $!;
        $log->autoflush(1);
        my $n = 0;
        my $send = sub {   # until a final answer; returns the decoded body
            my ($path, $body, $key) = @_;
            while (1) {
                my $t = time;
                my $res = call($port, POST => $path, $u, $body,
                               { 'Idempotency-Key' => $key, Prefer => 'wait=0' });
                my $doc = eval { $json->decode($res->decoded_content) } || {};
                my $code = ref $doc->{error} eq 'HASH' ? $doc->{error}{code} : '-';
                printf $log "%.3f %d %s %s %s %.3f\n", $t, $res->code, $code,
                    $res->header('Retry-After') // '-', $doc->{generationId} // $doc->{id} // '-',
                    time - $t;
                # 409 IDEMPOTENCY_CONFLICT: the first request with the key
                # is still running (or died with the old primary): again.
                return $doc unless $res->code == 503
                    || ($res->code == 409 && $code eq 'IDEMPOTENCY_CONFLICT');
                sleep 0.2;
            }
        };
        until (-e $stop) {
            $n++;
            my $base = $n % 2 ? '/api/neo-glitch' : '/api/polled-glitch';
            my $input = { prompt => "failover $c $n" };
            if ($n % 3) {
                $send->("$base/generate", $input, "g-$c-$n");
            }
            else {
                my $doc = $send->("$base/create", $input, "c-$c-$n");
                my $id = $doc->{generationId} // $doc->{id};
                $send->("$base/generate", { generationId => $id }, "q-$c-$n") if $id;
            }
            sleep 0.05;
        }
        POSIX::_exit(0);   # not exit: END would stop the servers
    }
    push @clients, $pid;
}

sleep 5;
my $t_stop = time;
ok(pg($pd, '-m', 'immediate', 'stop'), 'primary stopped hard (immediate)');
sleep 2;
ok(pg($sd, '-w', '-t', '60', 'promote'), 'standby promoted');
my $t_promoted = time;
is(sql_at($p2, 'SELECT pg_is_in_recovery()'), 'f', 'the new primary takes writes');
sleep 8;
open my $sf, '>', $stop or die $!;
close $sf;
waitpid $_, 0 for @clients;

# ---- the listener found the new primary, and a new job is picked up and
# finished promptly there.
$listening = 0;
for (1 .. 100) { last if ($listening = (health_of()->{workers} || {})->{listening} ? 1 : 0); sleep 0.1 }
ok($listening, 'health: the listener is listening again (on the new primary)');
my $t0 = time;
my $res = call($port, POST => '/api/neo-glitch/generate', $users[0], { prompt => 'after promotion' },
               { Prefer => 'wait=20' });
my $doc = eval { $json->decode($res->decoded_content) } || {};
ok($res->code == 200 && ($doc->{status} // '') eq 'completed' && time - $t0 < 10,
   sprintf('a generation after the promotion completes promptly (%d, %s, %.1f s)',
           $res->code, $doc->{status} // '-', time - $t0));

# ---- what the clients saw.
my (%acked, $n503, $n500, $n503_no_retry, $other, $first503, $last503, $slowest);
($n503, $n500, $n503_no_retry, $other, $slowest) = (0, 0, 0, 0, 0);
for my $c (0 .. $#users) {
    open my $in, '<', "$dir/client$c.log" or next;
    while (<$in>) {
        my ($t, $status, $code, $ra, $id, $took) = split;
        $slowest = $took if $took > $slowest;
        if ($status == 503) {
            $n503++;
            $n503_no_retry++ unless $ra =~ /^\d+$/ && $code eq 'SERVICE_UNAVAILABLE';
            $first503 //= $t;
            $first503 = $t if $t < $first503;
            $last503 = $t if !defined $last503 || $t > $last503;
        }
        elsif ($status >= 500) { $n500++ }
        elsif ($status =~ /^20[012]$/) { $acked{$id} = 1 if $id ne '-' }
        elsif ($status != 409) { $other++; diag("client $c: $_") }
    }
}
my $outage = defined $first503 ? $last503 - $first503 : 0;
diag(sprintf('%d generations acknowledged, %d answers 503 over %.1f s '
             . '(stop at +0, promoted at +%.1f s, first 503 sent at +%.1f s, last at +%.1f s); '
             . 'the slowest answer took %.1f s',
             scalar keys %acked, $n503, $outage, $t_promoted - $t_stop,
             defined $first503 ? $first503 - $t_stop : 0,
             defined $last503 ? $last503 - $t_stop : 0, $slowest));
cmp_ok(scalar keys %acked, '>', 20, 'the clients got generations through');
cmp_ok($n503, '>', 0, "requests during the outage got 503 ($n503)");
is($n503_no_retry, 0, '... each SERVICE_UNAVAILABLE with Retry-After');
is($n500 + $other, 0, 'no 500 (nor any other error) was seen');

# ---- on the new primary: nothing acknowledged is lost, every generation
# is terminal with one reservation and one charge xor refund, and every
# balance equals its ledger.
my $ulist = join ',', map { "'$_'" } @users;
my $open = -1;
for (1 .. 600) {
    $open = sql_at($p2, "SELECT count(*) FROM neo_glitch_media WHERE user_id IN ($ulist) "
                      . "AND status NOT IN ('completed', 'failed', 'cancelled')");
    last if $open == 0;
    sleep 0.25;
}
is($open, 0, 'every generation is terminal');
my %in_db = map { $_ => 1 } split /\n/,
    sql_at($p2, "SELECT id FROM neo_glitch_media WHERE user_id IN ($ulist)");
is(scalar(grep { !$in_db{$_} } keys %acked), 0, 'every acknowledged generation is on the new primary');
is(sql_at($p2, "SELECT count(*) FROM neo_glitch_media g WHERE user_id IN ($ulist) AND "
             . "(SELECT count(*) FROM genflow_ledger l WHERE l.generation_id = g.id AND kind = 'reserve') <> 1"),
   0, 'exactly one reservation per generation');
is(sql_at($p2, "SELECT count(*) FROM neo_glitch_media g WHERE user_id IN ($ulist) AND "
             . "(SELECT count(*) FROM genflow_ledger l WHERE l.generation_id = g.id "
             . "AND kind IN ('charge', 'refund')) <> 1"),
   0, 'one charge xor one refund per generation');
is(sql_at($p2, 'SELECT count(*) FROM genflow_check_invariants(60)'), 0,
   'genflow_check_invariants: balance = ledger for every user, finalizations match the states');
diag('on the new primary: ' . join(', ', split /\n/,
    sql_at($p2, "SELECT count(*) || ' ' || status FROM neo_glitch_media WHERE user_id IN ($ulist) "
              . "GROUP BY status ORDER BY status")));

END {
    local $?;   # the test's verdict, not the last stop command's
    for my $s (reverse @started) {
        if ($s->[0] eq 'httpd') { system("/usr/sbin/apache2 -f '$s->[1]' -k stop") }
        else { system("$bin/pg_ctl -D '$s->[1]' -m fast -w stop >/dev/null 2>&1") }
    }
    for (1 .. 100) { last unless -e "$dir/httpd.pid"; sleep 0.1 }
}
