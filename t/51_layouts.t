# SPDX-License-Identifier: Apache-2.0
# genflow-test: alone, because it bounds each layout's starts in seconds
# The layouts sites write: a type's chain in its own <Location>, in a
# separate <Location> of the same path, once in a parent <Location> (with
# the authentication, as sites write <Location /api>), in a
# <LocationMatch> over the paths that make rows, in a virtual host's own
# block (the type mounted by the main server), at the server's level, and
# in an Include'd file that declares its provider too (the shape of the
# demo's providers.conf with a real key, `GenFlowProvider stability
# stability …` and `<Location /api/T> GenFlowProviders stability -> local`). Each layout serves a
# type of its own through a provider of its own (the mock Stability,
# max_concurrent=2, then local), and every layout must give the same
# behaviours:
#
#  - a generation starts within 1 s of its create, never at the sweep's
#    10 s tick (the engine watches the provider wherever the chain is
#    written);
#  - the limit holds: a third generation waits while two hold the places
#    (5 s calls), first in line (queuePosition 0), and starts within 1 s
#    of a place freed;
#  - Cancel-After: 4 ends the two calls under way within 1 s of it
#    (cancelled, CANCEL_AFTER; the synchronous call is cut);
#  - a provider's failure (402) falls back to the chain's next entry
#    (local);
#  - nothing is claimed by the sweep's stray claims
#    (genflow_engine_events_total{event="stray"} stays 0).
#
# And a free place locked for a moment by another statement is busy, not
# full: the claim asks again rather than leaving the provider for a second.
#
# And apache2ctl -t warns about a chain in a <Directory> (GF5201), which
# never applies to a type. One httpd for the file; the layouts run side by
# side.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
$GenFlowTest::wait_step = 0.1;
use JSON::PP;
use File::Temp ();
use Time::HiRes qw(sleep time);
use Time::Local qw(timegm);

my @layouts = qw(own sep par rx vh srv inc);
plan tests => 3 + 10 * @layouts + 4;

my $json = JSON::PP->new;
my $mock = $ENV{GENFLOW_MOCK_URL};
my $u = new_user('layouts');
api(GET => '/api/quota', user => $u);
grant($u, 200);
psql("SELECT genflow_create_type_table('lay-$_', 'lay_${_}_media')") for @layouts;

my $vport = free_port();
my $htpasswd = Apache::Test::vars('t_conf') . '/htpasswd';
my $prov = sub {
    my ($name) = @_;
    return "GenFlowProvider $name stability base_url=$mock key_env=GENFLOW_MOCK_KEY "
         . "insecure_loopback=on timeout=20000 breaker=off max_concurrent=2";
};
my $inc = File::Temp::tempdir(CLEANUP => !$ENV{GENFLOW_TEST_KEEP});
{
    open my $fh, '>', "$inc/providers.conf" or die $!;
    print $fh $prov->('stab_inc'), "\n",
              "<Location /api/lay-inc>\n    GenFlowProviders stab_inc -> local\n</Location>\n";
    close $fh;
}
my $types = join '', map { <<"T" } grep { $_ ne 'par' } @layouts;
<Location /api/lay-$_>
    GenFlowType lay-$_
@{[ $_ eq 'own' ? "    GenFlowProviders stab_own -> local\n" : '' ]}    GenFlowWait 0
    GenFlowDeadline 60
</Location>
T
my ($dir, $base) = start_own_server(<<"BODY");
GenFlowDailyLimit 0
GenFlowMaxActive 100
@{[ join "\n", map { $prov->("stab_$_") } grep { $_ ne 'inc' } @layouts ]}
GenFlowProviders stab_srv -> local
<Location /api/metrics>
    SetHandler genflow-metrics
</Location>
$types
<Location /api/lay-sep>
    GenFlowProviders stab_sep -> local
</Location>
<Location /gen>
    AuthType Basic
    AuthName "genflow tests"
    AuthBasicProvider file
    AuthUserFile "$htpasswd"
    Require valid-user
    GenFlowProviders stab_par -> local
</Location>
<Location /gen/lay-par>
    GenFlowType lay-par
    GenFlowWait 0
    GenFlowDeadline 60
</Location>
<LocationMatch "^/api/lay-rx/(create|generate|retry)">
    GenFlowProviders stab_rx -> local
</LocationMatch>
Include "$inc/providers.conf"
Listen 127.0.0.1:$vport
<VirtualHost 127.0.0.1:$vport>
    ServerName layouts-vhost.test
    <Location /api/lay-vh>
        GenFlowProviders stab_vh -> local
    </Location>
</VirtualHost>
<Directory "$inc">
    GenFlowProviders local
</Directory>
BODY
ok(-s "$dir/httpd.pid", 'the server of seven layouts started')
    or BAIL_OUT('no server: ' . `tail -n 20 '$dir/error_log'`);

my %url = map { $_ => $base } @layouts;
$url{vh} = "http://127.0.0.1:$vport";
my %path = map { $_ => "/api/lay-$_" } @layouts;
$path{par} = '/gen/lay-par';

# The configuration check says where a chain never applies.
my $t = `/usr/sbin/apache2 -t -f '$dir/httpd.conf' 2>&1`;
like($t, qr/GF5201.*GenFlowProviders in <Directory/, 'apache2 -t: a chain in a <Directory> never applies (GF5201)');
unlike($t, qr/GF1001/, 'every chain names a declared provider');

sub gen {
    my ($l, $prompt, %h) = @_;
    my $res = own_api($url{$l}, POST => "$path{$l}/generate", user => $u, headers => \%h,
                      body => { prompt => $prompt });
    return (json_of($res) // {})->{generationId} // '';
}
sub status_of {
    my ($l, $id) = @_;
    return json_of(own_api($url{$l}, GET => "$path{$l}/status/$id", user => $u)) // {};
}
sub secs {
    my ($s) = @_;
    return undef unless defined $s && $s =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(\.\d+)?Z$/;
    return timegm($6, $5, $4, $3, $2 - 1, $1) + ($7 // 0);
}
sub terminal {
    my ($l, $id, $secs) = @_;
    wait_for(sub { (status_of($l, $id)->{status} // '') =~ /^(completed|failed|cancelled)$/ }, $secs);
    return status_of($l, $id);
}
sub strays {
    my $m = own_api($base, GET => '/api/metrics', user => 'admin')->decoded_content;
    return $m =~ /^genflow_engine_events_total\{event="stray"\} (\d+)/m ? $1 : -1;
}

# Two that hold both places with 5 s calls, cut at their Cancel-After;
# one behind them. A start "within a second" is 2.5 s on the sanitizer
# build, several times slower (the sweep's tick that a layout without a
# watched chain falls back to is 10 s either way).
my $soon = $ENV{GENFLOW_SANITIZE_HTTPD} ? 2.5 : 1;
my (%a, %b, %c);
my $t0 = time;
for my $l (@layouts) {
    $a{$l} = gen($l, "[fault:slow] $l a", 'Cancel-After' => 4);
    $b{$l} = gen($l, "[fault:slow] $l b", 'Cancel-After' => 4);
}
$c{$_} = gen($_, "$_ c") for @layouts;
wait_for(sub { !grep { !defined status_of($_, $a{$_})->{startedAt} || !defined status_of($_, $b{$_})->{startedAt} }
                    @layouts }, $soon + 0.5);
for my $l (@layouts) {
    my ($sa, $sb) = (status_of($l, $a{$l}), status_of($l, $b{$l}));
    my @late = grep { !defined $_->{startedAt} || secs($_->{startedAt}) - secs($_->{createdAt}) > $soon }
               ($sa, $sb);
    is(scalar(@late), 0, "$l: both started within $soon s of their create")
        or diag(join ' ', map { "$_->{status} $_->{createdAt} -> " . ($_->{startedAt} // 'none') } $sa, $sb);
    is(psql("SELECT string_agg(DISTINCT cur_provider, ',') FROM lay_${l}_media WHERE id IN ('$a{$l}', '$b{$l}')"),
       "stab_$l", "$l: both at the layout's own provider");
    my $sc = status_of($l, $c{$l});
    is($sc->{status}, 'pending', "$l: a third waits while two hold the places (max_concurrent=2)");
    is($sc->{queuePosition}, 0, "$l: first in line");
}
diag(sprintf('the places were read %.1f s after the first create', time - $t0));
for my $l (@layouts) {
    my ($ta, $tb) = (terminal($l, $a{$l}, 15), terminal($l, $b{$l}, 15));
    my $late = (sort { $b <=> $a } map { (secs($_->{finishedAt}) // 1e12) - (secs($_->{createdAt}) // 0) - 4 }
                $ta, $tb)[0];
    is(join(' ', map { ($_->{status} // '') . '/' . ($_->{error}{code} // '') } $ta, $tb),
       'cancelled/CANCEL_AFTER cancelled/CANCEL_AFTER', "$l: both ended at their Cancel-After");
    cmp_ok($late, '<', $soon, sprintf('%s: within %s s of it, their calls cut (%+.2f s)', $l, $soon, $late));
    my $tc = terminal($l, $c{$l}, 20);
    is("$tc->{status} $tc->{provider}", "completed stab_$l", "$l: the third completed at the provider");
    my $freed = (sort { $a <=> $b } map { secs($_->{finishedAt}) // 0 } $ta, $tb)[0];
    my $start = secs($tc->{startedAt}) // 1e12;
    cmp_ok($start - $freed, '<', $soon, sprintf('%s: it started within %s s of a freed place (%.2f s)',
                                                $l, $soon, $start - $freed));
}
my %d = map { $_ => gen($_, "[fault:402] $_ d") } @layouts;
for my $l (@layouts) {
    my $td = terminal($l, $d{$l}, 20);
    is("$td->{status} $td->{provider}", 'completed local', "$l: a failure (402) fell back to local");
    my $sd = secs($td->{startedAt}) // 1e12;
    cmp_ok($sd - (secs($td->{createdAt}) // 0), '<', $soon, "$l: started within $soon s of its create");
}

# A free place that another statement holds locked for a moment (as a
# claim that found no row to give it holds it until its end) is busy, not
# full: the claim asks again and the generation starts once the lock
# ends. Taken for full, it kept every claim of this httpd away for a
# second (the late starts this file saw under load, three claims at once
# on two places).
sub busy_claims {
    my $m = own_api($base, GET => '/api/metrics', user => 'admin')->decoded_content;
    return $m =~ /^genflow_claims_total\{result="busy"\} (\d+)/m ? $1 : -1;
}
{
    my $busy0 = busy_claims();
    my $bin = $ENV{GENFLOW_TEST_PG_BINDIR} ? "$ENV{GENFLOW_TEST_PG_BINDIR}/psql" : 'psql';
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        exec $bin, '-X', '-q', $ENV{GENFLOW_TEST_PG_URI}, '-c',
            "BEGIN; SELECT place FROM genflow_provider_places WHERE provider = 'stab_own' "
            . "FOR UPDATE; SELECT pg_sleep(0.3) AS held_by_t51; COMMIT";
        exit 127;
    }
    wait_for(sub { psql("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                        . "AND query LIKE '%held_by_t51%' AND pid <> pg_backend_pid()") > 0 }, 5);
    my $id = gen('own', 'own behind a locked place');
    waitpid $pid, 0;
    my $released = time;
    my $st = terminal('own', $id, 20);
    my $took = (secs($st->{startedAt}) // 1e12) - $released;
    my $bound = $ENV{GENFLOW_SANITIZE_HTTPD} ? 0.5 : 0.3;
    cmp_ok($took, '<', $bound, sprintf('places locked for 0.3 s by another statement: started '
                                       . '%+.2f s after the lock ended, not a second later', $took));
    cmp_ok(busy_claims(), '>', $busy0, 'its claim found the places busy and asked again '
                                       . '(genflow_claims_total{result="busy"})');
}
is(strays(), 0, 'no row claimed by the sweep\'s stray claims (genflow_engine_events_total{event="stray"})');
is(crash_report($dir), '', 'no crash in the error_log');
stop_own_server($dir);
