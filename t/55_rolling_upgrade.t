# SPDX-License-Identifier: Apache-2.0
# genflow-test: alone, because it bounds a request's wait during the rolling upgrade in seconds
# A rolling upgrade from the previous release (NEWS names it; scripts/test
# builds its module from that commit into prev-release/) to this build,
# under traffic, as docs/operations.md ("Upgrading") tells a site to do
# it: two nodes behind Apache's mod_proxy_balancer on one database at the
# previous release's schema, with 1,000,000 rows of history; creates with
# webhooks, status reads and event streams through the balancer all along,
# to a provider behind max_concurrent= whose calls are open at every step:
#
#   the new module installed on node a: apache2 -t refuses (GF5303) before
#   the expand phase, and the node keeps serving with the module it runs;
#   the expand phase; node a restarted gracefully on the new module, then
#   rolled back to the previous one, then upgraded again; node b upgraded;
#   the contract phase. Each restart as docs/operations.md has it ("A
#   rolling upgrade behind a balancer"): the node out of rotation
#   (balancer-manager), the module file replaced, apache2 -t, graceful,
#   back in rotation; and each with an event stream open on the node for a
#   generation still at the provider, which the restart ends and which
#   opens again through the balancer, as EventSource does.
#
# Then: every generation completed, charged once (reserve, charge),
# submitted once; the invariants hold; no request was refused, and none
# from the first step on waited 1 s (3 s under the sanitizers; the worst
# is printed, and bench/upgrade reports it over runs); every stream saw its generation complete and
# every webhook was delivered; the
# provider never had more calls open than the nodes' limits allowed (each
# previous-release node its own max_concurrent=, the new ones one
# max_concurrent= for the whole site), and once every old child is gone,
# the site-wide limit alone. One crowd mock, one webhook receiver and
# three httpds for the file.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
$GenFlowTest::wait_step = 0.25;   # each look of its waits runs psql
use GenFlowReceiver;
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use IPC::Open2;
use JSON::PP;
use LWP::UserAgent;
use HTTP::Request;
use POSIX ();
use Time::HiRes qw(sleep time);

plan tests => 32;

my $json = JSON::PP->new;
my $top = Apache::Test::vars('serverroot') . '/..';
my $LIMIT = 3;            # the provider's max_concurrent=
my $WORST = 1.0;          # seconds a request may wait (printed; see below)

# ---- the previous release, its schema and its module -----------------------
my ($prev, $schema) = do {
    open my $n, '<', "$top/NEWS" or die $!;
    my ($k, @r) = (0);
    while (<$n>) {
        $k++ if /^Release /;
        push @r, $1 if $k == 2 && (/^Release (\S+)/ || /^  schema: (\d+)/);
    }
    @r;
};
ok($prev && $schema, "NEWS names the previous release ($prev) and its schema ($schema)");
my $prev_so = "$top/prev-release/.libs/mod_genflow.so";
my $new_so = "$top/.libs/mod_genflow.so";
ok(-f $prev_so, "the previous release's module was built from its commit ($prev_so)")
    or BAIL_OUT('no previous release to upgrade from (a clone without history?)');
my $version = do {
    open my $c, '<', "$top/configure.ac" or die $!;
    my ($v) = map { /AC_INIT\(\[[^]]*\],\s*\[([^]]+)\]/ ? $1 : () } <$c>;
    $v;
};

my $tmp = tempdir(CLEANUP => !$ENV{GENFLOW_TEST_KEEP});
chmod 0755, $tmp;

# ---- a database at the previous release's schema, with history -------------
my $db = "genflow_rolling_$$";
psql("DROP DATABASE IF EXISTS $db");
psql("CREATE DATABASE $db");
(my $uri = $ENV{GENFLOW_TEST_PG_URI}) =~ s{/[^/]+$}{/$db};
(my $dbd = $ENV{GENFLOW_TEST_DBD_PARAMS}) =~ s/dbname=\S+/dbname=$db/;
sub psql_db { local $ENV{GENFLOW_TEST_PG_URI} = $uri; return psql($_[0]) }
sub migrate {
    my $out = qx(PATH='$ENV{GENFLOW_TEST_PG_BINDIR}':"\$PATH" '$top/scripts/genflow-migrate' @_ '$uri' 2>&1);
    return ($? == 0, $out);
}
mkdir "$tmp/sql" or die $!;
for (glob("$top/sql/[0-9][0-9][0-9]_*.sql")) {
    my ($n) = m{/(\d{3})_[^/]+$};
    copy($_, "$tmp/sql") or die $! if $n <= $schema;
}
my ($ok, $out) = migrate('--sql-dir', "$tmp/sql");
ok($ok, "the database at ${prev}'s schema") or diag $out;
psql_db("SELECT genflow_create_type_table('roll-art', 'roll_art_media')");
my $t0 = time;
psql_db(<<'SQL');
INSERT INTO roll_art_media (user_id, status, prompt, seed, input, image_url, provider, model,
        estimated_cost, credits_charged, created_at, started_at, finished_at, chain, attempts, error_code)
SELECT 'hist' || (g % 1000), (ARRAY['completed','failed','cancelled'])[1 + g % 3], 'h' || g, g, '{}',
       CASE WHEN g % 3 = 0 THEN 'https://media.example/' || g END, 'crowd', 'core', 1,
       CASE WHEN g % 3 = 0 THEN 1 ELSE 0 END, now() - make_interval(secs => g),
       now() - make_interval(secs => g), now() - make_interval(secs => g) + interval '1 s', 'crowd', 1,
       CASE WHEN g % 3 <> 0 THEN 'X' END
  FROM generate_series(1, 1000000) g;
ANALYZE roll_art_media;
SQL
is(psql_db("SELECT count(*) FROM roll_art_media"), 1000000,
   sprintf('1,000,000 rows of history (%.0f s)', time - $t0));
my $u = new_user('rolling');
psql_db("INSERT INTO genflow_accounts (user_id, balance) VALUES ('$u', 100000)");
psql_db("INSERT INTO genflow_ledger (user_id, kind, amount, reason) VALUES ('$u', 'grant', 100000, 'test grant')");

# ---- the provider, the receiver, two nodes and the balancer ----------------
my $mport = free_port();
my $mock = "http://127.0.0.1:$mport";
mock_at($mock);
my $mpid = open2(my $mout, my $min, 'node', "$FindBin::Bin/mock/crowd_provider.mjs", $mport, 500);
is(scalar(<$mout>) // '', "ready\n", 'the crowd mock listens');
END { kill 'TERM', $mpid if $mpid }
my $secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
open my $sf, '>', "$tmp/whsec" or die $!;
print $sf "$secret\n";
close $sf;
my $R = start_receiver($secret);
ok($R->{ready}, 'the webhook receiver listens');

# The site's configuration, the same for both releases and never edited.
my $lbport = free_port();
my $lb = "http://127.0.0.1:$lbport";
my $site = <<"BODY";
GenFlowWorkers 2
GenFlowLeaseSeconds 4
GenFlowDailyLimit 0
GenFlowMaxActive 1000
GenFlowWebhookSecretFile $tmp/whsec
GenFlowWebhookFirstRetry 1
GenFlowProvider crowd stability base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=30000 breaker=off max_concurrent=$LIMIT
<Location /api/roll-art>
    GenFlowType roll-art
    GenFlowProviders crowd
    GenFlowWait 0
    GenFlowWebhookOrigins $R->{url}
</Location>
BODY
my (%dir, %base);
for my $n (qw(a b)) {
    copy($prev_so, "$tmp/mod-$n.so") or die $!;
    local $GenFlowTest::own_module = "$tmp/mod-$n.so";
    local $GenFlowTest::own_dbd_params = $dbd;
    ($dir{$n}, $base{$n}) = start_own_server($site);
}
END { stop_own_server($dir{$_}) for grep { $dir{$_} } qw(a b) }
my $mods = $ENV{GENFLOW_HTTPD_MODULES};
my $lbdir = tempdir(CLEANUP => !$ENV{GENFLOW_TEST_KEEP});
open my $conf, '>', "$lbdir/httpd.conf" or die $!;
print $conf <<"CONF";
ServerRoot "$lbdir"
Listen 127.0.0.1:$lbport
ServerName localhost
PidFile "$lbdir/httpd.pid"
ErrorLog "$lbdir/error_log"
LogLevel warn
DefaultRuntimeDir "$lbdir"
Mutex file:$lbdir default
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule slotmem_shm_module $mods/mod_slotmem_shm.so
LoadModule proxy_module $mods/mod_proxy.so
LoadModule proxy_http_module $mods/mod_proxy_http.so
LoadModule proxy_balancer_module $mods/mod_proxy_balancer.so
LoadModule lbmethod_byrequests_module $mods/mod_lbmethod_byrequests.so
<Proxy "balancer://genflow">
    BalancerMember "$base{a}" route=a retry=5
    BalancerMember "$base{b}" route=b retry=5
    ProxySet lbmethod=byrequests failonstatus=502,503
</Proxy>
ProxyPass        "/api/"  "balancer://genflow/api/"
ProxyPassReverse "/api/"  "balancer://genflow/api/"
<Location /balancer-manager>
    SetHandler balancer-manager
</Location>
CONF
close $conf;
ok(system("/usr/sbin/apache2 -f '$lbdir/httpd.conf' -k start") == 0, "two nodes of $prev and the balancer started");
for (1 .. 50) { last if -s "$lbdir/httpd.pid"; sleep 0.1 }
END { system("/usr/sbin/apache2 -f '$lbdir/httpd.conf' -k stop") if $lbdir && -s "$lbdir/httpd.pid" }

# ---- the traffic: creates, status reads, event streams ---------------------
# Each request's start, wait (ms) and status go to a file per kind; a
# stream's whole body to a file of its own.
# Not recorded for the OpenAPI check (own_api would): the previous
# release's nodes answer with its own API.
sub request {
    my ($method, $path, $body, $base) = @_;
    my $req = HTTP::Request->new($method => ($base // $lb) . $path);
    $req->authorization_basic($u, $u);
    if ($body) {
        $req->content($json->encode($body));
        $req->header('Content-Type' => 'application/json', Prefer => 'wait=0');
    }
    my $t = time;
    my $res = LWP::UserAgent->new(timeout => 30, keep_alive => 0)->request($req);
    return ($res, $t, time - $t);
}
sub logline {
    my ($file, @f) = @_;
    open my $fh, '>>', $file or die "$file: $!";
    print $fh join(' ', @f), "\n";
    close $fh;
}
sub stopped { -e "$tmp/stop" }
# An event stream read as EventSource reads it: a stream that ends before
# the generation does (its child stopping in a graceful restart answers
# every parked request at once) is opened again after retry:, with
# Last-Event-ID. Its file: the number of connections, then what they said.
sub watch {
    my ($id, $first) = @_;   # the first connection to $first (a node), if given
    my ($last, $body, $tries, $until) = (undef, '', 0, time + 120);
    while (time < $until) {
        $tries++;
        my $req = HTTP::Request->new(GET => ($tries == 1 && $first ? $first : $lb) . "/api/roll-art/events/$id");
        $req->authorization_basic($u, $u);
        $req->header('Last-Event-ID' => $last) if defined $last;
        my $res = LWP::UserAgent->new(timeout => 90, keep_alive => 0)->request($req);
        my $c = $res->decoded_content // '';
        $body .= $c;
        $last = $1 while $c =~ /^id: (\S+)$/mg;
        last if $res->code == 204 || $c =~ /"status"\s*:\s*"(?:completed|failed|cancelled)"/;
        sleep 2;
    }
    logline("$tmp/stream.$id", "$tries\n$body");
}
my @traffic;
push @traffic, fork // die;
if (!$traffic[-1]) {   # creates, five a second; every fifth watched by a stream
    my $i = 0;
    until (stopped()) {
        $i++;
        my ($res, $t, $d) = request(POST => '/api/roll-art/generate',
                                    { prompt => "roll $i", webhook => "$R->{url}/ok" });
        my $id = eval { $json->decode($res->decoded_content)->{generationId} } // '-';
        logline("$tmp/creates", sprintf('%.3f', $t), sprintf('%.0f', $d * 1000), $res->code, $id);
        if ($i % 5 == 0 && $id ne '-' && !fork) {
            watch($id);
            POSIX::_exit(0);
        }
        sleep 0.25;
    }
    1 while waitpid(-1, 0) > 0;
    POSIX::_exit(0);
}
push @traffic, fork // die;
if (!$traffic[-1]) {   # status reads of recent generations, ten a second
    until (stopped()) {
        my @l = lines("$tmp/creates");
        my @ids = map { (split ' ')[3] } grep { / 202 / } @l[-(@l < 20 ? @l : 20) .. -1];
        if (@ids) {
            my ($res, $t, $d) = request(GET => '/api/roll-art/status/' . $ids[rand @ids]);
            logline("$tmp/reads", sprintf('%.3f', $t), sprintf('%.0f', $d * 1000), $res->code);
        }
        sleep 0.1;
    }
    POSIX::_exit(0);
}
END { if (@traffic) { open my $s, '>', "$tmp/stop"; close $s; waitpid $_, 0 for @traffic } }

# The steps, each with its start time (for the worst wait's step).
my @steps;
sub step { push @steps, [time, $_[0]] }
sub creates_since { my $t = $_[0]; scalar grep { (split ' ')[0] >= $t } lines("$tmp/creates") }
sub lines { open my $fh, '<', $_[0] or return (); return <$fh> }
sub log_count {
    my ($n, $re) = @_;
    return scalar grep { /$re/ } lines("$dir{$n}/error_log");
}
sub install {   # as dpkg does: the new file beside, renamed over the old
    my ($n, $so) = @_;
    copy($so, "$tmp/mod-$n.so.new") or die $!;
    rename "$tmp/mod-$n.so.new", "$tmp/mod-$n.so" or die $!;
}
sub graceful {   # as apache2ctl graceful does: the configuration test first
    my ($n) = @_;
    my $test = `/usr/sbin/apache2 -f '$dir{$n}/httpd.conf' -t 2>&1`;
    return (0, $test) if $?;
    return (system("/usr/sbin/apache2 -f '$dir{$n}/httpd.conf' -k graceful") == 0, $test);
}
# A node out of the balancer's rotation (Disabled in balancer-manager) or
# back in it: docs/operations.md, "A rolling upgrade behind a balancer".
sub rotation {
    my ($n, $in) = @_;
    my $ua = LWP::UserAgent->new(timeout => 10);
    $ua->default_header(Referer => "$lb/balancer-manager");   # its guard against cross-site requests
    my ($nonce) = $ua->get("$lb/balancer-manager?xml=1")->decoded_content =~ m{<httpd:nonce>([^<]+)<};
    my $res = $ua->post("$lb/balancer-manager", Content => { b => 'genflow', w => $base{$n}, nonce => $nonce // '',
                                     w_status_D => $in ? 0 : 1 });
    my $page = $ua->get("$lb/balancer-manager?xml=1")->decoded_content;
    my ($status) = $page =~ m{<httpd:name>\Q$base{$n}\E</httpd:name>.*?<httpd:status>([^<]*)<}s;
    return $res->is_success && defined $status && ($in xor $status =~ /Dis/);
}
# Upgrade (or roll back) node n as a site does behind a balancer: out of
# rotation, the module file replaced, a graceful restart, back in rotation
# once its new children answer.
# Before each restart, a generation whose provider call takes 2.5 s (the
# crowd mock's [latency:MS]), created on the node with its event stream
# open there: the restart ends that stream, which must open again through
# the balancer and see the generation complete.
my (@pinned, @watchers);
sub pin {
    my ($n) = @_;
    my ($res) = request(POST => '/api/roll-art/generate',
                        { prompt => "pinned $n " . (@pinned + 1) . " [latency:2500]", webhook => "$R->{url}/ok" },
                        $base{$n});
    my $id = (json_of($res) // {})->{generationId} or return;
    push @pinned, $id;
    push @watchers, fork // die;
    if (!$watchers[-1]) { watch($id, $base{$n}); POSIX::_exit(0) }
    sleep 0.3;   # the stream is open
}
sub roll {
    my ($n, $so, $loaded) = @_;
    pin($n);
    return (0, 'could not take it out of rotation') unless rotation($n, 0);
    sleep 0.5;   # what it was serving ends; its streams end at the restart
    install($n => $so);
    my ($up, $test) = graceful($n);
    $up &&= wait_for($loaded, 20)
        && wait_for(sub { (request(GET => '/api/roll-art/history?limit=1', undef, $base{$n}))[0]->code == 200 }, 20);
    return (rotation($n, 1) && $up, $test);
}
sub settle { my $t = time; sleep 0.2 while time - $t < $_[0] }

step("both nodes on $prev");
settle(4);
ok(creates_since($steps[-1][0]) >= 10, 'generations are created through the balancer');

# The package is upgraded on node a before the migrations: the check
# refuses the new module, and the node serves on with the one it runs.
install(a => $new_so);
my ($up, $test) = graceful('a');
ok(!$up && $test =~ /GF5303.*genflow-migrate/, 'apache2 -t with the new module refuses the old schema (GF5303)')
    or diag $test;

step('the expand phase');
my $te = time;
($ok, $out) = migrate('--phase', 'expand');
my $expand_secs = time - $te;
ok($ok, sprintf('the expand phase under traffic (%.1f s)', $expand_secs)) or diag $out;

my $new_line = qr/GF5305: mod_genflow\/\Q$version\E /;
my $resumed = qr/AH00489|resuming normal operations/;
step("node a on $version");
($up, $test) = roll(a => $new_so, sub { log_count(a => $new_line) == 1 });
ok($up, "node a restarted gracefully on $version") or diag $test;
settle(4);

step("node a rolled back to $prev");
my $before = log_count(a => $resumed);
($up, $test) = roll(a => $prev_so, sub { log_count(a => $resumed) > $before });
ok($up && log_count(a => $new_line) == 1, "node a rolled back to $prev after the expand phase") or diag $test;
settle(4);

step("node a on $version again");
($up, $test) = roll(a => $new_so, sub { log_count(a => $new_line) == 2 });
ok($up, 'node a upgraded again') or diag $test;
settle(3);

step("node b on $version");
($up, $test) = roll(b => $new_so, sub { log_count(b => $new_line) == 1 });
ok($up, "node b restarted gracefully on $version") or diag $test;
settle(4);

step('the contract phase');
($ok, $out) = migrate('--phase', 'contract');
ok($ok, 'the contract phase under traffic') or diag $out;
settle(4);
ok(creates_since($steps[-1][0]) >= 10, 'generations are created after it');
step('the end');
open my $s, '>', "$tmp/stop" or die $!;
close $s;
waitpid $_, 0 for @traffic;
@traffic = ();

# ---- what the traffic saw ----------------------------------------------------
my @creates = map { [split] } lines("$tmp/creates");
my @reads = map { [split] } lines("$tmp/reads");
my @ids = ((map { $_->[3] } grep { $_->[2] == 202 } @creates), @pinned);
is(scalar(grep { $_->[2] != 202 } @creates), 0,
   sprintf('no create refused (%d created)', scalar @creates));
is(scalar(grep { $_->[2] != 200 } @reads), 0, sprintf('no status read refused (%d read)', scalar @reads));
# Timed from the first step on: the traffic starts as the nodes do, and
# the first requests of a child that has just started wait for its
# database connections and prepared statements, which is not the upgrade
# (they are counted above, and their worst is printed).
my @warm = grep { $_->[0] < $steps[0][0] } @creates, @reads;
my ($warm_worst) = sort { $b <=> $a } map { $_->[1] } @warm;
my ($worst) = sort { $b->[1] <=> $a->[1] } grep { $_->[0] >= $steps[0][0] } @creates, @reads;
my $when = (grep { $_->[0] <= $worst->[0] } @steps)[-1][1];
# bench/upgrade reads this line (scripts/test --repeat prints it) and holds
# the worst wait to 1 s.
diag(sprintf 'bench: rolling upgrade: the worst wait %d ms (%s, during "%s"); %d requests; the expand phase %.1f s'
             . '; before the first step (the nodes starting): %d requests, the worst %d ms',
     $worst->[1], @$worst == 4 ? 'a create' : 'a status read', $when, @creates + @reads, $expand_secs,
     scalar @warm, $warm_worst // 0);
cmp_ok($worst->[1], '<', 1000 * $WORST * ($ENV{GENFLOW_SANITIZE_HTTPD} ? 3 : 1),
       'no request waited long (the worst above)');

my $idlist = join ',', map { "'$_'" } @ids;
ok(wait_for(sub { psql_db("SELECT count(*) FROM roll_art_media WHERE id IN ($idlist) AND status = 'completed'")
                  == @ids }, 120), 'every generation completed')
    or diag psql_db("SELECT status, count(*) FROM roll_art_media WHERE id IN ($idlist) GROUP BY 1");
is(psql_db(<<"SQL"), 0, 'each charged once: reserve, charge');
SELECT count(*) FROM roll_art_media g WHERE g.id IN ($idlist)
   AND (SELECT string_agg(kind, ',' ORDER BY id) FROM genflow_ledger l WHERE l.generation_id = g.id)
       IS DISTINCT FROM 'reserve,charge'
SQL
# The history was written without money (as an import would be): its rows
# have no ledger at all, and only that is let through.
sub broken {
    return psql_db("SELECT $_[0] FROM genflow_check_invariants(60) x "
                   . "WHERE x NOT LIKE 'roll-art % (%): 0 reservation(s), 0 charge(s), 0 refund(s)'");
}
is(broken('count(*)'), 0, 'the invariants hold') or diag broken('*');
my $stats = mock_call(GET => '/_stats');
is_deeply($stats->{repeated} // ['no stats'], [], 'no generation was submitted to the provider twice');
cmp_ok($stats->{peak} // 99, '<=', 2 * $LIMIT,
       "calls open at the provider: at most each node's max_concurrent=$LIMIT (" . ($stats->{peak} // 'none') . ')');

my @streamed = grep { $_->[2] == 202 } @creates[grep { ($_ + 1) % 5 == 0 } 0 .. $#creates];
sub streamed { my @l = lines("$tmp/stream.$_[0]"); return (shift(@l) // 0, join '', @l) }
waitpid $_, 0 for @watchers;
is(scalar(grep { my ($tries, $body) = streamed($_); $tries > 1 && $body =~ /"status"\s*:\s*"completed"/ } @pinned),
   4, 'each stream open on a node as it restarted was opened again and saw its generation complete');
ok(wait_for(sub { !grep { (streamed($_->[3]))[1] !~ /"status"\s*:\s*"completed"/ } @streamed }, 130),
   sprintf('every event stream saw its generation complete (%d streams, %d of them opened again)',
           scalar @streamed, scalar grep { (streamed($_->[3]))[0] > 1 } @streamed));
my %heard;
ok(wait_for(sub { %heard = map { ($_->{generationId} // '') => $_ } grep { $_->{verified} } receiver_log($R);
                  !grep { !$heard{$_} } @ids }, 60),
   sprintf('every webhook was delivered and verified (%d of %d)', scalar(grep { $heard{$_} } @ids), scalar @ids));

# ---- once the old children are gone: the site-wide limit -------------------
# A child of the old generation still maps the module file the upgrade
# renamed over.
sub old_children {
    my ($n) = @_;
    my (undef, @kids) = pids_of($dir{$n});
    return grep { my $m = join '', lines("/proc/$_/maps"); $m =~ /mod-$n\.so \(deleted\)/ } @kids;
}
ok(wait_for(sub { !old_children('a') && !old_children('b') }, 90), 'the old children finished and left');
mock_call(POST => '/_reset');
my @burst = map { (request(POST => '/api/roll-art/generate', { prompt => "burst $_" }))[0] } 1 .. 4 * $LIMIT;
my @bids = map { eval { $json->decode($_->decoded_content)->{generationId} } // () } @burst;
my $blist = join ',', map { "'$_'" } @bids, '00000000-0000-0000-0000-000000000000';
ok(@bids == 4 * $LIMIT && wait_for(sub { psql_db("SELECT count(*) FROM roll_art_media WHERE id IN ($blist) "
                                                 . "AND status = 'completed'") == @bids }, 60),
   sprintf('a burst of %d completes on the upgraded nodes', 4 * $LIMIT));
$stats = mock_call(GET => '/_stats');
cmp_ok($stats->{peak} // 99, '<=', $LIMIT,
       "then at most max_concurrent=$LIMIT open for the whole site (" . ($stats->{peak} // 'none') . ')');

is(crash_report($dir{a}) . crash_report($dir{b}), '', 'no child crashed');
my $lbl = join '', lines("$lbdir/error_log");
is(join('', grep { /\[proxy\w*:error\]/ } split /^/, $lbl), '', 'the balancer never failed to reach a node');

psql("DROP DATABASE IF EXISTS $db WITH (FORCE)") unless $ENV{GENFLOW_TEST_KEEP};
