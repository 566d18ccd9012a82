# SPDX-License-Identifier: Apache-2.0
# Groups of equivalent providers in a chain (GenFlowProviders
# "{a b}@latency -> local"): each attempt at the entry goes to one member,
# chosen from what the site measured of them (genflow_provider_stats, for
# every node).
#  1. @latency between two crowd mocks, one fast and one slow: most calls
#     go to the fast one; when their speeds swap mid-run, the share moves
#     to the new fast one within the window the docs state (about ten calls
#     of the slowed one and a second).
#     A second node that made no call chooses the same from its first.
#  1b. @least-busy, one member limited to one call at a time: both take
#     calls, the limited one never has two open (its place is taken for
#     the group's call), and each generation is done within 0.7 s of its
#     1.5 s call: a row whose chosen member turned out full (its place
#     taken a moment before) chooses again at once, not a second later.
#  1c. @least-busy across nodes: node 1 keeps a member busy; node 2,
#     which has no call of its own open, sends every call to the other
#     member (each httpd writes its calls open every half second).
#  1d. A member without room (its one place held by a call of a chain
#     that names it alone, whose claims find it full), weighted 9 to 1:
#     each generation of the group is done at once by the other member.
#  1e. A child killed in the middle of a call to a member is counted out:
#     the httpd's row for that member goes (a count that only grew would
#     make every node lean away from the member for good); the call's
#     lease owner carries the httpd's name; the generation is rescued
#     (checked at the end of the file, once its lease ran out).
#  2. @shuffle with weights 3 and 1: about three quarters to the first.
#  3. @cost: the cheaper member takes every call until its budget is
#     spent, then the other (a member without room is left out).
#  4. A group written in an Included file, under a parent <Location>.
#  4b. The layouts sites write, each with a group of its own: in a
#     parent <Location> with the authentication, in a <LocationMatch>, in
#     a virtual host's own block, at the server's level. In each, a
#     generation starts within a second of its create (the engine watches
#     the group's line wherever the chain is written, not at the sweep's
#     10 s tick) at a member of that group, and no row is claimed by the
#     sweep's stray claims.
#  5. Bad groups and undeclared members stop apache2 -t.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);
use IPC::Open2;
use LWP::UserAgent;
use HTTP::Request;
use Time::HiRes qw(sleep time);
use Time::Local qw(timegm);

plan tests => 52;

my $tmp = tempdir(CLEANUP => 1);
chmod 0777, $tmp;
sub write_file { open my $fh, '>', $_[0] or die $!; print $fh $_[1]; close $fh }

psql("SELECT genflow_create_type_table('rt-art', 'rt_art_media')");
psql("SELECT genflow_create_type_table('rt-site', 'rt_site_media')");
my $run = "r$$";
my $u = new_user('route');
api(GET => '/api/quota', user => $u);
grant($u, 100000);

# Two crowd mocks: the same API, each its own speed.
my (%mock, @pids);
for my $name (qw(a b)) {
    my $port = free_port();
    my $pid = open2(my $out, my $in, 'node', "$FindBin::Bin/mock/crowd_provider.mjs", $port,
                    $name eq 'a' ? 100 : 700);
    push @pids, $pid;
    is(scalar(<$out>) // '', "ready\n", "crowd mock $name listens");
    $mock{$name} = "http://127.0.0.1:$port";
}
END { kill 'TERM', @pids if @pids }
sub latency {
    my ($name, $ms) = @_;
    LWP::UserAgent->new(timeout => 10)->request(HTTP::Request->new(POST => "$mock{$name}/_latency?ms=$ms"));
}

write_file("$tmp/routing.conf", <<"INC");
<Location /api/rt-inc>
    GenFlowType rt-art
    GenFlowWait 30
</Location>
<Location /api/rt-inc/>
    GenFlowProviders {$run-c1 $run-c2}\@shuffle
</Location>
INC
write_file("$tmp/bad.conf", '');
my $htpasswd = Apache::Test::vars('t_conf') . '/htpasswd';
my $vport = free_port();
my @layouts = qw(par rx vh srv);
my %policy = (par => 'shuffle', rx => 'latency', vh => 'cost', srv => 'least-busy');
my $layout_members = join '', map { "GenFlowProvider $run-$_-1 local latency=200\nGenFlowProvider $run-$_-2 local latency=200\n" } @layouts;
my $layouts = <<"LAYOUTS";
GenFlowProvider $run-gl1 local latency=6000 max_concurrent=1
GenFlowProvider $run-gl2 local
<Location /api/rt-gl-hold>
    GenFlowType rt-art
    GenFlowProviders $run-gl1
    GenFlowWait 0
</Location>
<Location /api/rt-gfull>
    GenFlowType rt-art
    GenFlowProviders {$run-gl1=9 $run-gl2}\@shuffle
    GenFlowWait 30
</Location>
GenFlowProviders {$run-srv-1 $run-srv-2}\@least-busy
<Location /api/rt-srv>
    GenFlowType rt-art
    GenFlowWait 0
</Location>
<Location /gen>
    AuthType Basic
    AuthName "genflow tests"
    AuthBasicProvider file
    AuthUserFile "$htpasswd"
    Require valid-user
    GenFlowProviders {$run-par-1 $run-par-2}\@shuffle
</Location>
<Location /gen/rt-par>
    GenFlowType rt-art
    GenFlowWait 0
</Location>
<Location /api/rt-rx>
    GenFlowType rt-art
    GenFlowWait 0
</Location>
<LocationMatch "^/api/rt-rx/(create|generate|retry)">
    GenFlowProviders {$run-rx-1 $run-rx-2}\@latency
</LocationMatch>
<Location /api/rt-vh>
    GenFlowType rt-art
    GenFlowWait 0
</Location>
Listen 127.0.0.1:$vport
<VirtualHost 127.0.0.1:$vport>
    ServerName routing-vhost.test
    <Location /api/rt-vh>
        GenFlowProviders {$run-vh-1 $run-vh-2}\@cost
    </Location>
</VirtualHost>
<Location /api/metrics>
    SetHandler genflow-metrics
</Location>
LAYOUTS
my $common = <<"CONF";
GenFlowDailyLimit 0
GenFlowMaxActive 0
GenFlowProvider $run-a stability base_url=$mock{a} key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=30000 breaker=off
GenFlowProvider $run-b stability base_url=$mock{b} key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=30000 breaker=off
GenFlowProvider $run-la stability base_url=$mock{a} key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=30000 breaker=off max_concurrent=1
GenFlowProvider $run-lb stability base_url=$mock{b} key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=30000 breaker=off
GenFlowProvider $run-da stability base_url=$mock{a} key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=30000 breaker=off
GenFlowProvider $run-db stability base_url=$mock{b} key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=30000 breaker=off
GenFlowProvider $run-s1 local
GenFlowProvider $run-s2 local
GenFlowProvider $run-c1 local cost=1 budget=4/day
GenFlowProvider $run-c2 local cost=2
Include "$tmp/routing.conf"
Include "$tmp/bad.conf"
<Location /api/rt-lat>
    GenFlowType rt-art
    GenFlowProviders {$run-a $run-b}\@latency -> local
    GenFlowWait 30
</Location>
<Location /api/rt-busy>
    GenFlowType rt-art
    GenFlowProviders {$run-la $run-lb}\@least-busy
    GenFlowWait 0
</Location>
<Location /api/rt-hold>
    GenFlowType rt-art
    GenFlowProviders $run-da
    GenFlowWait 0
</Location>
<Location /api/rt-spare>
    GenFlowType rt-art
    GenFlowProviders {$run-da $run-db}\@least-busy
</Location>
<Location /api/health>
    SetHandler genflow-health
</Location>
<Location /api/rt-shuffle>
    GenFlowType rt-art
    GenFlowProviders {$run-s1=3 $run-s2}\@shuffle
    GenFlowWait 30
</Location>
<Location /api/rt-cost>
    GenFlowType rt-art
    GenFlowProviders {$run-c2 $run-c1}\@cost
    GenFlowWait 30
</Location>
CONF
my ($dir, $base) = start_own_server("GenFlowWorkers 4\n$common$layout_members$layouts");

sub generate {
    my ($path, $prompt) = @_;
    return json_of(own_api($base, POST => "/api/$path/generate", user => $u,
                           body => { prompt => $prompt })) // {};
}
sub providers_of {
    my ($path, $tag, $n) = @_;
    return map { generate($path, "$tag $_")->{provider} // '?' } 1 .. $n;
}
sub share { my ($want, @p) = @_; return @p ? (grep { $_ eq $want } @p) / @p : 0 }
sub secs {
    return undef unless defined $_[0] && $_[0] =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(\.\d+)?Z$/;
    return timegm($6, $5, $4, $3, $2 - 1, $1) + ($7 // 0);
}

# ---- 1. @latency ------------------------------------------------------------------
{
    my @first = providers_of('rt-lat', 'lat1', 30);
    my $a = share("$run-a", @first);
    diag(sprintf 'a (100 ms) took %.0f %% of 30 against b (700 ms)', 100 * $a);
    ok($a >= 0.7, 'most calls went to the faster member');
    ok(share("$run-b", @first) > 0, 'the slower one still got a share (its measure stays fresh)');
    my ($la, $lb) = map { scalar psql("SELECT round(latency_ms) FROM genflow_provider_stats WHERE provider = '$run-$_'") } qw(a b);
    ok($la > 50 && $la < 400 && $lb > 500 && $lb < 1500,
       "the site measured both (a $la ms, b $lb ms), in the database");

    latency('a', 700);
    latency('b', 100);
    my $t0 = time;
    my @swap = providers_of('rt-lat', 'lat2', 40);
    my @late = @swap[20 .. 39];
    my $b = share("$run-b", @late);
    diag(sprintf 'after the swap: b took %.0f %% of the last 20 of 40 (%.1f s)', 100 * $b, time - $t0);
    ok($b >= 0.7, 'the share moved to the new faster member');
    my $first_b = (grep { $swap[$_] eq "$run-b" } 0 .. 39)[0] // 99;
    ok($first_b <= 15, "it took b again within the window ($first_b calls after the swap)");

    # A second node, which has made no call of its own: it chooses from
    # the same measures (the database's) from its first generation.
    my ($dir2, $base2) = start_own_server("GenFlowWorkers 2\n$common");
    my @other = map { (json_of(own_api($base2, POST => '/api/rt-lat/generate', user => $u,
                                       body => { prompt => "lat3 $_" })) // {})->{provider} // '?' } 1 .. 10;
    my $b2 = share("$run-b", @other);
    diag(sprintf 'a second node: b took %.0f %% of its first 10', 100 * $b2);
    ok($b2 >= 0.7, 'a second node sends its first calls to the faster member too');
    stop_own_server($dir2);
}

# ---- 1b. @least-busy, one member limited to one call at a time -----------------------
{
    latency($_, 1500) for qw(a b);
    LWP::UserAgent->new(timeout => 10)->request(HTTP::Request->new(POST => "$mock{$_}/_reset")) for qw(a b);
    # A third of a second apart: each choice sees the calls the ones
    # before it opened.
    my @ids = map { my $id = generate('rt-busy', "busy $_")->{generationId} // ''; sleep 0.3; $id } 1 .. 6;
    ok(wait_for(sub { psql("SELECT count(*) FROM rt_art_media WHERE prompt LIKE '%busy %' "
                           . "AND status = 'completed'") == 6 }, 60), 'six generations at once completed');
    my %by = map { @$_ } psql_rows("SELECT provider, count(*) FROM rt_art_media WHERE prompt LIKE '%busy %' GROUP BY 1");
    my $peak_a = json_of(LWP::UserAgent->new(timeout => 10)->get("$mock{a}/_stats"))->{peak} // -1;
    diag(sprintf 'least-busy: la %d (peak %d), lb %d', $by{"$run-la"} // 0, $peak_a, $by{"$run-lb"} // 0);
    ok(($by{"$run-la"} // 0) >= 1 && ($by{"$run-lb"} // 0) >= 3, 'both members took calls, the unlimited one most');
    ok($peak_a == 1, "the member of max_concurrent=1 never had two calls open (peak $peak_a): its place was taken for the group's call");
    # The calls take 1.5 s: a generation deferred a second (its member
    # full, the row back in the queue) ends 2.5 s or more after its create.
    my @took = map { my $st = json_of(own_api($base, GET => "/api/rt-busy/status/$_", user => $u)) // {};
                     (secs($st->{finishedAt}) // 1e12) - (secs($st->{createdAt}) // 0) } @ids;
    diag('least-busy: done after ' . join(' ', map { sprintf '%.2f', $_ } @took) . ' s (1.5 s calls)');
    my $within = $ENV{GENFLOW_SANITIZE_HTTPD} ? 2.4 : 2.2;
    is(scalar(grep { $_ > $within } @took), 0, "each done within $within s of its create: none waited a second for a full member");
}

# ---- 1c. @least-busy across nodes ----------------------------------------------------
{
    latency('a', 15000);
    latency('b', 100);
    # Node 1 keeps da busy with three calls of a chain that names it alone.
    generate('rt-hold', "hold $_") for 1 .. 3;
    ok(wait_for(sub { (json_of(LWP::UserAgent->new(timeout => 10)->get("$mock{a}/_stats")) // {})->{open} == 3 }, 15),
       'node 1 has three calls open to da');
    ok(wait_for(sub { psql("SELECT string_agg(open::text, ',') FROM genflow_provider_open "
                           . "WHERE provider = '$run-da' AND updated_at > now() - interval '3 seconds'") eq '3' }, 5),
       'and wrote them for the other nodes (one row: da, 3)');
    my $node1 = psql("SELECT node FROM genflow_provider_open WHERE provider = '$run-da'");
    like($node1, qr/^[^:]+:[0-9a-f]{12}$/, "node 1's name there: its host and a random tag ($node1)");
    # Node 2 starts now (so it claimed none of them), with a type node 1
    # does not mount: its own engine makes every choice.
    my ($dir2, $base2) = start_own_server("GenFlowWorkers 2\n$common" . <<"SITE");
<Location /api/rt-site>
    GenFlowType rt-site
    GenFlowProviders {$run-da $run-db}\@least-busy
    GenFlowWait 30
</Location>
SITE
    ok(defined own_listening($base2, $u), 'node 2 listens');
    my @p = map { (json_of(own_api($base2, POST => '/api/rt-site/generate', user => $u,
                                   body => { prompt => "site $_" })) // {})->{provider} // '?' } 1 .. 6;
    diag('least-busy on node 2, while node 1 keeps da busy: ' . join(' ', map { s/^\Q$run-\E//r } @p));
    is(join(',', @p), join(',', ("$run-db") x 6), 'node 2 sent every call to db, the member node 1 does not keep busy');
    # A graceful restart of node 1 while its calls are open: the old
    # children finish them and the new ones write the same counts, under
    # the same name (one row, not two).
    system("/usr/sbin/apache2 -f '$dir/httpd.conf' -k graceful");
    sleep 1.5;
    is(psql("SELECT string_agg(node || ' ' || open, ',') FROM genflow_provider_open "
            . "WHERE provider = '$run-da' AND updated_at > now() - interval '3 seconds'"), "$node1 3",
       'after a graceful restart node 1 still writes its 3 calls, under its name');
    ok(wait_for(sub { psql("SELECT count(*) FROM genflow_provider_open WHERE provider = '$run-da'") == 0 }, 20),
       "when node 1's calls to da ended, its row went");
    unlike(crash_report($dir2), qr/\S/, 'node 2: no child crashed');
    stop_own_server($dir2);
}

# ---- 1d. a member without room --------------------------------------------------------
{
    generate('rt-gl-hold', 'gl hold');
    ok(wait_for(sub { psql("SELECT count(*) FROM genflow_provider_places WHERE provider = '$run-gl1' "
                           . "AND generation_id IS NOT NULL") == 1 }, 10), "gl1's one place is held");
    # The hold's claim left gl1 known full on this httpd for a second:
    # past it, the group's first choice (weight 9) tries gl1's place.
    sleep 1.5;
    my @st = map { json_of(own_api($base, POST => '/api/rt-gfull/generate', user => $u,
                                   body => { prompt => "gfull $_" })) // {} } 1 .. 8;
    my @waited = map { (secs($_->{startedAt}) // 1e12) - (secs($_->{createdAt}) // 0) } @st;
    diag('a member without room: started after ' . join(' ', map { sprintf '%.2f', $_ } @waited) . ' s');
    is(join(',', map { $_->{provider} // '?' } @st), join(',', ("$run-gl2") x 8),
       'every generation of the group went to the member with room');
    my $soon = $ENV{GENFLOW_SANITIZE_HTTPD} ? 1.5 : 0.5;
    is(scalar(grep { $_ > $soon } @waited), 0, "each started within $soon s of its create");
    # startedAt is the first claim at the group, before a member's place
    # is taken: a row sent back to wait a second for the full member would
    # show it only in its finish (gl2 answers at once).
    my @done = map { (secs($_->{finishedAt}) // 1e12) - (secs($_->{createdAt}) // 0) } @st;
    diag('a member without room: done after ' . join(' ', map { sprintf '%.2f', $_ } @done) . ' s');
    is(scalar(grep { $_ > $soon } @done), 0, "each done within $soon s of its create (none waited a second for the full member)");
}

# ---- 1e. a child killed in the middle of a call ------------------------------------------
{
    latency('a', 15000);
    generate('rt-hold', "killed $run");
    ok(wait_for(sub { psql("SELECT string_agg(open::text, ',') FROM genflow_provider_open "
                           . "WHERE provider = '$run-da' AND updated_at > now() - interval '3 seconds'") eq '1' }, 15),
       'node 1 wrote its one call to da');
    my $node = psql("SELECT node FROM genflow_provider_open WHERE provider = '$run-da'");
    my $owner = psql("SELECT lease_owner FROM rt_art_media WHERE prompt LIKE '%killed $run'");
    # Not host:pid: two httpds on one host name (containers on the host's
    # network) may have children of the same pid.
    like($owner, qr/^\Q$node\E:\d+:\d+$/, "the call's lease owner is node 1's name, its child's pid and worker ($owner)");
    my ($victim) = $owner =~ /:(\d+):\d+$/;
    ok($victim && kill('KILL', $victim), 'the child making the call killed (' . ($victim // '?') . ')');
    latency('a', 100);   # the rescue's call, whenever it comes, ends at once
    ok(wait_for(sub { psql("SELECT count(*) FROM genflow_provider_open WHERE provider = '$run-da'") == 0 }, 10),
       "the killed child's call is counted out: node 1's row for da went");
    ok(defined own_listening($base, $u), 'node 1 has a child listening again');
}

# ---- 2. @shuffle, weights 3 : 1 ---------------------------------------------------------
{
    my @p = providers_of('rt-shuffle', 'shuf', 80);
    my $s1 = share("$run-s1", @p);
    diag(sprintf 's1 (weight 3) took %.0f %% of 80', 100 * $s1);
    ok($s1 >= 0.55 && $s1 <= 0.92, 'about three quarters to the member of weight 3');
    is(scalar(grep { $_ ne "$run-s1" && $_ ne "$run-s2" } @p), 0, 'and the rest to the other');
}

# ---- 3. @cost, with a budget ----------------------------------------------------------
{
    my @p = providers_of('rt-cost', 'cost', 7);
    is(join(',', @p), join(',', ("$run-c1") x 4, ("$run-c2") x 3),
       'the cheaper member until its budget of 4 was spent, then the other');
}

# ---- 4. a group from an Included file, in a separate <Location> --------------------------
{
    my @p = providers_of('rt-inc', 'inc', 6);
    is(scalar(grep { /^\Q$run\E-c[12]$/ } @p), 6, 'the Included chain\'s group served every call');
    my $row = psql("SELECT cur_provider || ' ' || chain FROM rt_art_media WHERE prompt LIKE '%inc 1' LIMIT 1");
    like($row, qr/^(group\.[0-9a-f]{10}) \1:\{\Q$run-c1|$run-c2\E\}\@shuffle$/,
         "its rows waited under the group's key, their chain keeps the group ($row)");
}

# ---- 4b. the layouts sites write ------------------------------------------------------
{
    my %url = map { $_ => $base } @layouts;
    $url{vh} = "http://127.0.0.1:$vport";
    my %path = map { $_ => "/api/rt-$_" } @layouts;
    $path{par} = '/gen/rt-par';
    my $soon = $ENV{GENFLOW_SANITIZE_HTTPD} ? 2.5 : 1;
    my %ids;
    for my $l (@layouts) {
        $ids{$l} = [ map { (json_of(own_api($url{$l}, POST => "$path{$l}/generate", user => $u,
                                            body => { prompt => "layout $l $_" })) // {})->{generationId} // 'none' } 1 .. 2 ];
    }
    for my $l (@layouts) {
        my @st;
        for my $id (@{ $ids{$l} }) {
            my $st = {};
            wait_for(sub { $st = json_of(own_api($url{$l}, GET => "$path{$l}/status/$id", user => $u)) // {};
                           ($st->{status} // '') =~ /^(completed|failed|cancelled)$/ }, 20);
            push @st, $st;
        }
        my @late = grep { !defined $_->{startedAt} || secs($_->{startedAt}) - (secs($_->{createdAt}) // 0) > $soon } @st;
        is(scalar(@late), 0, "$l ($policy{$l}): both started within $soon s of their create")
            or diag(join ' ', map { ($_->{status} // '?') . ' ' . ($_->{createdAt} // '?') . ' -> ' . ($_->{startedAt} // 'none') } @st);
        is(scalar(grep { ($_->{status} // '') eq 'completed' && ($_->{provider} // '') =~ /^\Q$run-$l-\E[12]$/ } @st), 2,
           "$l: both completed at a member of the layout's group")
            or diag(join ' ', map { ($_->{status} // '?') . ' ' . ($_->{provider} // '?') } @st);
    }
    my $m = own_api($base, GET => '/api/metrics', user => 'admin')->decoded_content;
    is($m =~ /^genflow_engine_events_total\{event="stray"\} (\d+)/m ? $1 : -1, 0,
       'no row claimed by the sweep\'s stray claims (genflow_engine_events_total{event="stray"})');
}

# ---- 5. bad groups stop apache2 -t ---------------------------------------------------
{
    my %bad = ("{$run-a}\@latency" => 'at least two providers',
               "{$run-a $run-b}\@fastest" => 'the policy after @',
               "{$run-a $run-a}\@shuffle" => 'twice',
               "{$run-a nosuch}\@shuffle" => "'nosuch', which no GenFlowProvider declares",
               "{$run-a $run-b=0}\@shuffle" => 'a weight is',
               "{$run-a local}\@cost -> group.x" => 'are the keys of provider groups');
    for my $group (sort keys %bad) {
        write_file("$tmp/bad.conf", "<Location /api/rt-bad>\n GenFlowType rt-art\n GenFlowProviders $group\n</Location>\n");
        my $out = `/usr/sbin/apache2 -f '$dir/httpd.conf' -t 2>&1`;
        ok($? != 0 && index($out, $bad{$group}) >= 0, "-t refuses $group") or diag $out;
    }
    write_file("$tmp/bad.conf", '');
}

# The generation whose child 1e killed: taken again once its lease ran
# out (GenFlowLeaseSeconds, 30 s), completed and charged once.
ok(wait_for(sub { psql("SELECT status FROM rt_art_media WHERE prompt LIKE '%killed $run'") eq 'completed' }, 60),
   'the generation whose child was killed (1e) was rescued and completed');
is(psql("SELECT count(*) FROM genflow_ledger l JOIN rt_art_media g ON g.id = l.generation_id "
        . "WHERE g.prompt LIKE '%killed $run' AND l.kind = 'charge'"), 1, 'and charged once');
unlike(crash_report($dir), qr/\S/, 'no child crashed');
stop_own_server($dir);
