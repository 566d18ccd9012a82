# SPDX-License-Identifier: Apache-2.0
# The circuit breaker of each provider, on an httpd of the test's own with
# three child processes (event MPM): after N failures within the window
# the provider's circuit opens and generations fall through to the chain's
# next entry without a request to it (counted at the mock); after the
# cool-down one probe at a time reaches it (here exactly one: the others
# fall through while it runs), whose success closes the circuit
# and whose failure opens it again; at the chain's end an open circuit
# fails the generation at once, refunded. Every child answers the same
# state in /api/health (at least three of them, after a graceful restart
# into children of 10 connections each), the metrics and server-status show
# it, and the ledger invariants hold.
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

plan tests => 59;

my $dir = tempdir(CLEANUP => 1);
my $port = free_port();
my $htpasswd = Apache::Test::vars('t_conf') . '/htpasswd';
my $mock = $ENV{GENFLOW_MOCK_URL} or die 'GENFLOW_MOCK_URL is not set';
my $json = JSON::PP->new;
my $host = "breaker-$$.test";
# Models only this run uses: the mock's log tells this run's requests apart.
my ($model, $model_end) = ("brk-$$-" . time, "brkend-$$-" . time);
my $COOLDOWN = 10;
mkdir "$dir/media";

my $aiml = "aiml base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=8000";
sub location {
    my ($path, $chain) = @_;
    return <<"LOC";
    <Location /api/$path>
        GenFlowType neo-glitch
        GenFlowProviders $chain
        GenFlowMaxRetries 0
        GenFlowWait 30
        AuthType Basic
        AuthName images
        AuthBasicProvider file
        AuthUserFile "$htpasswd"
        Require valid-user
    </Location>
LOC
}
# A virtual host of its own: the generations record its name, so the
# suite's httpd on the same database never claims them.
my $body = <<"BODY";
StartServers 3
ServerLimit 3
ThreadsPerChild 5
MaxRequestWorkers 15
MinSpareThreads 5
MaxSpareThreads 15
GenFlowStorageDir "$dir/media"
GenFlowStorageURL /media
GenFlowStartingCredits 100
<Location /api/health>
    SetHandler genflow-health
    Require all granted
</Location>
<Location /api/metrics>
    SetHandler genflow-metrics
    # The handler answers an administrator only (GenFlowAdministrators).
    AuthType Basic
    AuthName metrics
    AuthBasicProvider file
    AuthUserFile "$htpasswd"
    Require valid-user
</Location>
<Location /server-status>
    SetHandler server-status
    Require all granted
</Location>
<VirtualHost 127.0.0.1:$port>
    ServerName $host
    GenFlowProvider brk $aiml model=$model breaker_failures=3 breaker_window=60 breaker_cooldown=$COOLDOWN
    GenFlowProvider brkend $aiml model=$model_end breaker_failures=2 breaker_cooldown=600
@{[ location('brk', 'brk -> local') ]}
@{[ location('brkend', 'brkend') ]}
</VirtualHost>
BODY

my $file = own_httpd_conf($dir, $port, "LogLevel warn genflow:info\n$body",
                          qw(auth_basic authn_core authn_file authz_user status));
system("/usr/sbin/apache2 -f '$file' -k start") == 0 or die 'start';
for (1 .. 50) { last if -s "$dir/httpd.pid"; sleep 0.1 }
END { system("/usr/sbin/apache2 -f '$file' -k stop") if $file && -s "$dir/httpd.pid" }

my $ua = LWP::UserAgent->new(timeout => 60, keep_alive => 0);
sub call {
    my ($method, $path, %a) = @_;
    my $req = HTTP::Request->new($method => "http://127.0.0.1:$port$path");
    $req->header(Host => $host);
    $req->authorization_basic($a{user}, $a{user}) if $a{user};
    if ($a{body}) {
        $req->content($json->encode($a{body}));
        $req->header('Content-Type' => 'application/json');
    }
    $req->header(Prefer => "wait=$a{wait}") if defined $a{wait};
    my $res = $ua->request($req);
    return ($res, eval { $json->decode($res->decoded_content) });
}
my $user = new_user('breaker');
sub gen {
    my ($path, $prompt, $wait) = @_;
    my (undef, $doc) = call('POST', "/api/$path/generate", user => $user,
                            body => { prompt => $prompt }, wait => $wait);
    return $doc || {};
}
sub wait_terminal {
    my ($path, $id) = @_;
    my $doc;
    for (1 .. 300) {
        (undef, $doc) = call('GET', "/api/$path/status/$id", user => $user);
        last if $doc && ($doc->{status} // '') =~ /^(completed|failed|cancelled)$/;
        sleep 0.1;
    }
    return $doc || {};
}
# Requests the mock got for a model (submissions: POST of generations).
sub sent {
    my ($m) = @_;
    my $log = LWP::UserAgent->new->get("$mock/_log")->decoded_content // '';
    return scalar grep { $_->{path} eq '/v1/images/generations' && ($_->{fields}{model} // '') eq $m }
                  map { eval { $json->decode($_) } || () } split /\n/, $log;
}
sub health { my (undef, $doc) = call('GET', '/api/health'); return $doc || {} }
sub circuit { return health()->{providers}{$_[0]} || {} }
sub ledger {
    my ($id) = @_;
    return psql("SELECT string_agg(kind || ':' || amount, ',' ORDER BY id) FROM genflow_ledger "
                . "WHERE generation_id = '$id'");
}

# The service answers before anything is tried.
my $ready;
for (1 .. 100) { $ready = health(); last if ($ready->{status} // '') eq 'ok'; sleep 0.1 }
is($ready->{status}, 'ok', 'the own httpd is up');
my $c = circuit('brk');
is($c->{state}, 'closed', 'a provider starts closed');
is($c->{threshold}, 3, 'with its breaker_failures');
ok($c->{enabled}, 'the breaker is on by default');

# --- (a) N failures open the circuit; then no request reaches the provider ---
for my $i (1 .. 2) {
    my $g = gen('brk', "[fault:500] failing $i");
    is($g->{status} . ' ' . $g->{provider}, 'completed local',
       "failure $i on brk falls back to local");
}
is(circuit('brk')->{state}, 'closed', 'two failures (of three) keep it closed');
is(circuit('brk')->{failures}, 2, 'health counts the failures in the window');
my $g3 = gen('brk', '[fault:500] failing 3');
is($g3->{status}, 'completed', 'the third failing generation completes on local');
is(sent($model), 3, 'three requests reached the mock for brk');
my $open = circuit('brk');
is($open->{state}, 'open', 'after three failures the circuit is open');
ok($open->{openedAt} && $open->{retryAt}, 'health says when it opened and when it retries')
    or diag(explain $open);

my @skipped;
for my $i (1 .. 2) {
    my $g = gen('brk', "a calm picture $i");
    push @skipped, $g;
    is($g->{status} . ' ' . ($g->{provider} // ''), 'completed local',
       "while open, generation $i completes on the next entry");
}
is(sent($model), 3, 'while open, no request reached the provider');
is($skipped[0]{creditsCharged}, 1, 'charged once');
is(ledger($skipped[0]{generationId}), 'reserve:-1,charge:0',
   'the ledger has one reservation and one charge');
is($skipped[1]{retryCount}, 0, 'no retry was spent on the open provider');

# --- (c) every answer sees the same state ------------------------------------
# (Which child accepts a connection is the kernel's choice; that several
# children see it is shown after the graceful restart below, where each
# child serves at most 10 connections.)
my (%pids, %states);
for (1 .. 30) {
    my $h = health();
    $pids{ $h->{workers}{pid} // 0 }++;
    $states{ $h->{providers}{brk}{state} // 'none' }++;
}
is_deeply([keys %states], ['open'], "each of 30 answers (from children "
          . join(', ', sort keys %pids) . ') says open')
    or diag(explain \%states);

# --- (d) metrics and server-status show it -----------------------------------
my ($mres) = call('GET', '/api/metrics', user => 'admin');
my $metrics = $mres->decoded_content // '';
like($metrics, qr/^genflow_provider_circuit_state\{server="\Q$host\E:$port",provider="brk"\} 1$/m,
     'the metrics gauge says open (1)')
    or diag('metrics answer ' . $mres->code . ', its circuit lines: '
            . join(' | ', grep { /circuit/ && !/^#/ } split /\n/, $metrics));
like($metrics, qr/^genflow_provider_circuit_state\{server="main",provider="local"\} 0$/m,
     'and closed (0) for local (the main server\'s, which the virtual host inherits)');
my ($skips) = $metrics =~ /^genflow_provider_circuit_skipped_total\{server="\Q$host\E:$port",provider="brk"\} (\d+)$/m;
is($skips, 2, 'the skipped submissions are counted');
like($metrics, qr/^genflow_fallbacks_total\{type="neo-glitch"\} [1-9]/m,
     'a skip counts as a fallback');
my ($sres) = call('GET', '/server-status');
like($sres->decoded_content // '', qr{<td>\Q$host\E:$port</td><td>brk</td><td>open</td>},
     'server-status lists brk as open');
my ($ares) = call('GET', '/server-status?auto');
like($ares->decoded_content // '', qr/^GenFlowCircuitsNotClosed: 1$/m, 'and counts it in ?auto');

# --- (b) after the cool-down exactly one probe; its success closes ----------
sleep $COOLDOWN + 1;
my $probe = gen('brk', '[fault:slow] the probe', 0);
ok($probe->{generationId}, 'a generation after the cool-down is accepted');
sleep 1.5;
is(circuit('brk')->{state}, 'half_open', 'while the probe runs, the circuit is half-open');
my @during = map { gen('brk', "during the probe $_", 0) } 1 .. 3;
my @done = map { wait_terminal('brk', $_->{generationId}) } @during;
is(join(',', map { "$_->{status}/" . ($_->{provider} // '') } @done),
   'completed/local,completed/local,completed/local',
   'generations during the probe fall through to local');
my $pdone = wait_terminal('brk', $probe->{generationId});
is($pdone->{status} . ' ' . $pdone->{provider}, 'completed brk', 'the probe completes on brk');
is(sent($model), 4, 'exactly one probe request reached the provider');
is(circuit('brk')->{state}, 'closed', 'the successful probe closed the circuit');
my $after = gen('brk', 'after the close');
is($after->{status} . ' ' . $after->{provider}, 'completed brk', 'brk is used again');
is(sent($model), 5, 'and its request reached the provider');

# --- a failing probe opens it again ------------------------------------------
gen('brk', "[fault:500] again $_") for 1 .. 3;
is(circuit('brk')->{state}, 'open', 'three new failures open it again');
is(sent($model), 8, 'each of them was one request');
sleep $COOLDOWN + 1;
my $bad = gen('brk', '[fault:500] a failing probe');
is($bad->{status} . ' ' . $bad->{provider}, 'completed local', 'the failing probe falls back');
is(sent($model), 9, 'the probe was one request');
my $reopened = circuit('brk');
is($reopened->{state}, 'open', 'a failed probe re-opens the circuit');
is($reopened->{opened}, 3, 'opened three times in all');
gen('brk', 'after the failed probe');
is(sent($model), 9, 'no request while re-opened');

# --- the chain's last entry: fail at once, refunded -------------------------
for my $i (1 .. 2) {
    my $g = gen('brkend', "[fault:500] end $i");
    is($g->{status}, 'failed', "failure $i of the only provider fails the generation");
}
is(circuit('brkend')->{state}, 'open', 'two failures open brkend');
my $t0 = time;
my $fast = gen('brkend', 'a calm picture at the end');
ok(time - $t0 < 5, 'the generation is answered at once');
is($fast->{status}, 'failed', 'an open last entry fails the generation');
is($fast->{error}{code}, 'API_ERROR', 'with API_ERROR');
like($fast->{error}{message} // '', qr/provider 'brkend' is unavailable: its circuit breaker is open/,
     'naming the open circuit');
is(ledger($fast->{generationId}), 'reserve:-1,refund:1', 'and refunded');
is(sent($model_end), 2, 'no request reached brkend');

# --- a graceful restart that adds a provider keeps the circuits -------------
# The new children serve at most 10 connections each (MaxConnectionsPerChild),
# so 30 answers come from at least three processes: every one of them reads
# the circuits from the shared memory.
(my $body2 = "MaxConnectionsPerChild 10\n$body")
    =~ s/^(    GenFlowProvider brkend .*)$/$1\n    GenFlowProvider brknew $aiml model=brknew-$$/m;
$file = own_httpd_conf($dir, $port, "LogLevel warn genflow:info\n$body2",
                       qw(auth_basic authn_core authn_file authz_user status));
system("/usr/sbin/apache2 -f '$file' -k graceful") == 0 or die 'graceful';
my $h2;
for (1 .. 100) {
    $h2 = health();
    last if $h2->{providers}{brknew};
    sleep 0.1;
}
is(($h2->{providers}{brknew} || {})->{state}, 'closed',
   'after a graceful restart the added provider is there, closed');
is(($h2->{providers}{brkend} || {})->{state}, 'open', 'and brkend is still open');
is(($h2->{providers}{brkend} || {})->{skipped}, 1, 'with its count of skipped submissions');
my $still = gen('brkend', 'after the restart');
like($still->{error}{message} // '', qr/circuit breaker is open/,
     'and generations on it still fail at once');
is(sent($model_end), 2, 'without a request');
my (%pids2, %states2);
for (1 .. 30) {
    my $h = health();
    $pids2{ $h->{workers}{pid} // 0 }++;
    $states2{ ($h->{providers}{brkend} || {})->{state} // 'none' }++;
}
my $children = keys %pids2;
cmp_ok($children, '>=', 3, "30 health answers came from $children children of at most 10 "
       . 'connections each (pids ' . join(', ', sort keys %pids2) . ')') or diag(explain \%pids2);
is_deeply([keys %states2], ['open'], 'and each of them says brkend is open')
    or diag(explain \%states2);

# --- the ledger and the log ---------------------------------------------------
my @broken = grep { $_->[0] ne 'ok' } map { [split /\|/] }
             split /\n/, psql("SELECT * FROM genflow_check_invariants(0)") // '';
ok(!@broken, 'the ledger invariants hold') or diag(explain \@broken);
my $log = do { local $/; open my $fh, '<', "$dir/error_log" or die; <$fh> };
like($log, qr/GF4408: provider brk: 3 failures within 60 s .*circuit opened/,
     'the opening is logged');
unlike($log, qr/Segmentation fault|exit signal/, 'no crash');
