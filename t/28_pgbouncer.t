# SPDX-License-Identifier: Apache-2.0
# PgBouncer in transaction pooling in front of the suite's PostgreSQL
# (Debian 12's pgbouncer 1.18: no max_prepared_statements).
#
# Transaction pooling gives each transaction whichever server connection
# is free, so a statement prepared in one transaction is missing in the
# next only when the next lands on another server connection: likely
# under load, never certain. This PgBouncer makes it certain: it resets
# every server connection with DISCARD ALL when a transaction gives it
# back (server_reset_query_always), so no session state outlives its
# transaction, whichever connection the next one gets.
#
# With GenFlowPreparedStatements unnamed and GenFlowListenParams straight
# to PostgreSQL, a burst of concurrent creates, generates, status reads
# and cancels from many httpd connections over two server connections all
# end correctly, the ledger invariants hold, notifications arrive (Prefer:
# wait answers at once, not at the 2 s backstop; a deleted generation is
# not served from the status cache), and PgBouncer really shared its
# server connections. With named statements through the same PgBouncer
# the statements fail as expected ("prepared statement ... does not
# exist"), and a listener given only the pooler refuses it.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);
use LWP::UserAgent;
use HTTP::Request;
use JSON::PP;
use Time::HiRes qw(sleep time);
use POSIX ();

my $pgbouncer = '/usr/sbin/pgbouncer';
plan tests => 23;

my $dir = tempdir(CLEANUP => 1);
my $json = JSON::PP->new;
my $htpasswd = Apache::Test::vars('t_conf') . '/htpasswd';
my $direct = $ENV{GENFLOW_TEST_DBD_PARAMS};

# ---- a private PgBouncer: transaction pooling, two server connections,
# each reset after every transaction ----------------------------------------
my $bport = free_port();
open my $ul, '>', "$dir/userlist.txt" or die $!;
print $ul qq{"genflow" ""\n};
close $ul;
open my $ini, '>', "$dir/pgbouncer.ini" or die $!;
print $ini <<"INI";
[databases]
genflow = host=127.0.0.1 port=$ENV{GENFLOW_TEST_PGPORT} dbname=genflow user=genflow

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
admin_users = genflow
pool_mode = transaction
server_reset_query = DISCARD ALL
server_reset_query_always = 1
default_pool_size = 2
min_pool_size = 0
reserve_pool_size = 0
max_db_connections = 2
max_client_conn = 300
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
close $ini;
system($pgbouncer, '-d', '-q', "$dir/pgbouncer.ini") == 0 or die "pgbouncer did not start";
for (1 .. 50) { last if -s "$dir/pgbouncer.pid"; sleep 0.1 }
my $bouncer_pid = do { open my $p, '<', "$dir/pgbouncer.pid" or die $!; local $/; <$p> };
chomp $bouncer_pid;
END { kill 'TERM', $bouncer_pid if $bouncer_pid && $bouncer_pid =~ /^\d+$/ }

sub bouncer_admin {
    my ($sql) = @_;
    local $ENV{GENFLOW_TEST_PG_URI} = "postgresql://genflow\@127.0.0.1:$bport/pgbouncer";
    return psql($sql);
}
my $pooled = "host=127.0.0.1 port=$bport dbname=genflow user=genflow";

# ---- our own httpd: one virtual host (its rows are worked by us only) ----
my $port = free_port();
my @modules = qw(auth_basic authn_core authn_file authz_user);
sub conf {
    my ($statements, $listen) = @_;
    local $ENV{GENFLOW_TEST_DBD_PARAMS} = $pooled;
    return own_httpd_conf($dir, $port, <<"BODY", @modules);
DBDMin 0
DBDKeep 12
DBDMax 16
GenFlowWorkers 4
GenFlowLeaseSeconds 5
GenFlowMaxActive 100
GenFlowStorageDir "$dir/media"
GenFlowStorageURL /media
GenFlowPreparedStatements $statements
$listen
<VirtualHost 127.0.0.1:$port>
    ServerName pgb.test
    GenFlowProvider gen local model=pgb-model latency=300
    <Location /api/neo-glitch>
        GenFlowType neo-glitch
        GenFlowProviders gen
        AuthType Basic
        AuthName images
        AuthBasicProvider file
        AuthUserFile "$htpasswd"
        Require valid-user
    </Location>
    <Location /api/health>
        SetHandler genflow-health
        Require all granted
    </Location>
</VirtualHost>
BODY
}
mkdir "$dir/media";
sub start {
    my ($file) = @_;
    unlink "$dir/error_log";
    system("/usr/sbin/apache2 -f '$file' -k start") == 0 or die "httpd start";
    for (1 .. 50) { last if -s "$dir/httpd.pid"; sleep 0.1 }
}
END {
    if (open my $p, '<', "$dir/httpd.pid") { my $pid = <$p>; kill 'TERM', $1 if $pid =~ /^(\d+)/ }
}
sub stop {
    my ($file) = @_;
    system("/usr/sbin/apache2 -f '$file' -k stop");
    for (1 .. 150) { last unless -e "$dir/httpd.pid"; sleep 0.1 }
}
sub error_log {
    open my $fh, '<', "$dir/error_log" or return '';
    local $/;
    return <$fh> // '';
}

my $ua = LWP::UserAgent->new(timeout => 30, keep_alive => 0);
sub call {
    my ($method, $path, $user, $body, %h) = @_;
    my $req = HTTP::Request->new($method => "http://127.0.0.1:$port$path");
    $req->header(Host => 'pgb.test');
    $req->authorization_basic($user, $user) if defined $user;
    if (defined $body) {
        $req->content($json->encode($body));
        $req->header('Content-Type' => 'application/json');
    }
    $req->header($_ => $h{$_}) for keys %h;
    my $res = $ua->request($req);
    my $doc = eval { $json->decode($res->decoded_content) };
    return ($res, $doc);
}
sub health {
    my $doc;
    for (1 .. 40) {
        (undef, $doc) = call(GET => '/api/health');
        last if $doc && $doc->{workers} && $doc->{workers}{listening};
        sleep 0.25;
    }
    return $doc;
}

# Forked clients, each with a user of its own; each writes "code id" lines.
sub burst {
    my ($clients, $rounds, $with_generate) = @_;
    my @users = map { new_user("pgb$_") } 1 .. $clients;
    for my $u (@users) { api(GET => '/api/quota', user => $u); grant($u, 100) }
    my @pids;
    for my $c (0 .. $clients - 1) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $u = $users[$c];
            open my $out, '>', "$dir/burst.$c" or POSIX::_exit(1);
            for my $i (1 .. $rounds) {
                my ($r, $d) = call(POST => '/api/neo-glitch/create', $u, { prompt => "burst $c $i" });
                print $out "create ", $r->code, " ", ($d && $d->{generationId} // '-'), "\n";
                next unless $r->code == 201 && $d->{generationId};
                my $id = $d->{generationId};
                if (!$with_generate) {
                    # Pending rows only: nothing is left for workers that stop.
                    for (1 .. 2) {
                        ($r) = call(GET => "/api/neo-glitch/status/$id", $u);
                        print $out "status ", $r->code, " $id\n";
                    }
                    next;
                }
                ($r) = call(POST => '/api/neo-glitch/generate', $u, { generationId => $id },
                            Prefer => 'wait=0');
                print $out "generate ", $r->code, " $id\n";
                ($r) = call(GET => "/api/neo-glitch/status/$id", $u);
                print $out "status ", $r->code, " $id\n";
                if ($i % 3 == 0) {
                    ($r) = call(POST => "/api/neo-glitch/cancel/$id", $u);
                    # 409: it finished first, which is a correct answer too.
                    print $out "cancel ", $r->code, " $id\n";
                }
            }
            close $out;
            POSIX::_exit(0);    # not exit: the END blocks are the parent's
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
    my @lines;
    for my $c (0 .. $clients - 1) {
        open my $in, '<', "$dir/burst.$c" or next;
        push @lines, map { chomp; [ split / /, $_ ] } <$in>;
        unlink "$dir/burst.$c";
    }
    return (\@users, \@lines);
}

# ---- unnamed statements, listener direct ---------------------------------
my $file = conf('unnamed', qq{GenFlowListenParams "$direct"});
start($file);
my $h = health();
ok($h && $h->{database} eq 'ok' && $h->{workers}{listening},
   'through PgBouncer: the database answers and the listener (direct) is connected')
    or diag(explain $h);

my ($users, $lines) = burst(10, 6, 1);
my %codes;
$codes{"$_->[0] $_->[1]"}++ for @$lines;
my @ids = map { $_->[2] } grep { $_->[0] eq 'create' && $_->[1] == 201 } @$lines;
is(scalar @ids, 60, '60 concurrent creates through two server connections: all 201')
    or diag(explain \%codes);
is(scalar(grep { $_->[0] eq 'generate' && $_->[1] != 202 && $_->[1] != 200 } @$lines), 0,
   'every generate accepted') or diag(explain \%codes);
is(scalar(grep { $_->[0] eq 'status' && $_->[1] != 200 } @$lines), 0, 'every status read 200')
    or diag(explain \%codes);
my @cancels = grep { $_->[0] eq 'cancel' } @$lines;
ok(@cancels == 20 && !grep({ $_->[1] != 200 && $_->[1] != 409 } @cancels),
   '20 cancels: each 200, or 409 when the generation had finished first') or diag(explain \%codes);

my $list = join ',', map { "'$_'" } @ids;
my $open = 60;
for (1 .. 240) {
    $open = psql("SELECT count(*) FROM neo_glitch_media WHERE id IN ($list) "
                 . "AND status NOT IN ('completed', 'failed', 'cancelled')");
    last if $open == 0;
    sleep 0.25;
}
is($open, 0, 'all 60 generations reached a terminal state');
my %by = map { @$_ } psql_rows("SELECT status, count(*) FROM neo_glitch_media WHERE id IN ($list) "
                               . "GROUP BY status");
ok(($by{completed} // 0) >= 40 && ($by{failed} // 0) == 0
   && ($by{completed} // 0) + ($by{cancelled} // 0) == 60,
   'completed or cancelled, none failed') or diag(explain \%by);
is(psql("SELECT count(*) FROM neo_glitch_media WHERE id IN ($list) "
        . "AND server_name <> 'pgb.test:$port'"), 0, 'every row is the virtual host\'s (worked by us)');
my @broken = grep { length } split /\n/, psql("SELECT * FROM genflow_check_invariants(600)") // '';
ok(!@broken, 'genflow_check_invariants: balances match ledgers, one reservation and one '
   . 'charge or refund per generation') or diag(explain \@broken);

# PgBouncer shared two server connections among many httpd connections.
my @servers = grep { $_->[2] eq 'genflow' } map { [ split /\|/ ] }
              split /\n/, bouncer_admin('SHOW SERVERS') // '';
my @clients = grep { $_->[2] eq 'genflow' } map { [ split /\|/ ] }
              split /\n/, bouncer_admin('SHOW CLIENTS') // '';
ok(@servers >= 1 && @servers <= 2 && @clients > @servers,
   scalar(@clients) . ' httpd connections over ' . scalar(@servers) . ' server connection(s)');
my ($xacts) = map { $_->[1] } grep { $_->[0] eq 'genflow' } map { [ split /\|/ ] }
              split /\n/, bouncer_admin('SHOW STATS') // '';
cmp_ok($xacts // 0, '>', 300, "PgBouncer ran the statements (" . ($xacts // 0) . " transactions)");

# NOTIFY reaches the direct listener: Prefer: wait answers when the
# generation completes (~0.3 s), not at the 2 s backstop re-read
# (without the notification it would take 2 s or more).
my $u = new_user('pgbwait');
api(GET => '/api/quota', user => $u);
grant($u, 20);
my @slow;
for my $i (1 .. 3) {
    my $t0 = time;
    my ($r, $d) = call(POST => '/api/neo-glitch/generate', $u, { prompt => "wait $i" },
                       Prefer => 'wait=10');
    my $took = time - $t0;
    push @slow, sprintf('%d %s %.2fs', $r->code, $d->{status} // '?', $took)
        unless $r->code == 200 && ($d->{status} // '') eq 'completed' && $took < 1.8;
}
ok(!@slow, 'Prefer: wait answers as the generation completes (NOTIFY), three times')
    or diag(explain \@slow);

# And a finished answer is served from the status cache only while the
# notifications come: deleting the row (NOTIFY genflow_change '*') ends it.
my ($r, $d) = call(POST => '/api/neo-glitch/generate', $u, { prompt => 'cached' },
                   Prefer => 'wait=10');
my $cid = $d->{generationId} // '';
call(GET => "/api/neo-glitch/status/$cid", $u) for 1 .. 2;
psql("DELETE FROM neo_glitch_media WHERE id = '$cid'");
sleep 0.5;
($r) = call(GET => "/api/neo-glitch/status/$cid", $u);
is($r->code, 404, 'a generation deleted in the database is gone at once (its NOTIFY arrived)');

my $log = error_log();
unlike($log, qr/GF4601|does not exist|GF1107|GF1108/,
       'no pooler warning, no statement errors with unnamed statements');
unlike($log, qr/Segmentation fault|exit signal/, 'no crash');
stop($file);

# ---- named statements through transaction pooling: why the directive -----
$file = conf('named', '');
start($file);
($users, $lines) = burst(16, 8, 0);
%codes = ();
$codes{"$_->[0] $_->[1]"}++ for @$lines;
my @failed = grep { $_->[1] >= 500 } @$lines;
$log = error_log();
# The module repairs a connection whose statement is missing and runs the
# statement once more, but its PREPARE is again a transaction of its own,
# discarded before the statement runs: every create fails. The log shows
# what PostgreSQL said each time.
my $missing = () = $log =~ /GF1106: statement \S+ failed \(ERROR:  prepared statement \\?"gf_\w+\\?" does not exist/g;
my @creates = grep { $_->[0] eq 'create' } @$lines;
ok($missing > 0 && @creates == 128 && !grep({ $_->[1] != 500 } @creates),
   "named statements through transaction pooling: $missing statement(s) "
   . 'found their prepared statement missing on the server connection that ran them, '
   . scalar(@failed) . ' of ' . scalar(@$lines) . ' requests failed (every create, 500)')
    or diag(explain \%codes);
like($log, qr/GF1104: database session was reset/,
     'and each costs a connection repair (GF1104), which unnamed statements never need');
like($log, qr/GF4601: .*does not reach PostgreSQL directly/,
     'a listener given only the pooler (no GenFlowListenParams) refuses it');
my (undef, $hd) = call(GET => '/api/health');
ok($hd && !$hd->{workers}{listening}, 'and the child does not claim to be listening')
    or diag(explain $hd);
stop($file);

# A wrong GenFlowListenParams is refused by the configuration test.
$file = conf('unnamed', 'GenFlowListenParams "host=127.0.0.1 nosuchkey=1"');
my $out = `/usr/sbin/apache2 -t -f '$file' 2>&1`;
like($out, qr/GenFlowListenParams: .*nosuchkey/, 'GenFlowListenParams is checked by libpq at startup');
$file = conf('sometimes', '');
$out = `/usr/sbin/apache2 -t -f '$file' 2>&1`;
like($out, qr/GenFlowPreparedStatements: named or unnamed/, 'GenFlowPreparedStatements takes named or unnamed');

@broken = grep { length } split /\n/, psql("SELECT * FROM genflow_check_invariants(600)") // '';
ok(!@broken, 'the invariants still hold after the failed statements') or diag(explain \@broken);
kill 'TERM', $bouncer_pid;
for (1 .. 50) { last unless kill 0, $bouncer_pid; sleep 0.1 }
ok(!kill(0, $bouncer_pid), 'our PgBouncer stopped');
$bouncer_pid = undef;
