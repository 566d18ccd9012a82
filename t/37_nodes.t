# SPDX-License-Identifier: Apache-2.0
# Several nodes for real: two httpd nodes with the module on the suite's
# database and one S3 bucket, behind a third httpd that balances them with
# Apache's own mod_proxy_balancer and serves the bucket's pictures under
# /pics (docs/operations.md, "Several nodes behind Apache's balancer").
# Generations created through the balancer are worked by both nodes, every
# picture loads through the balancer, and when one node is killed in the
# middle of a run nothing is lost: the other rescues its attempts, and an
# upload the dead node received is the source of a generation the other
# one works. One S3 server and three httpds for the file.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
$GenFlowTest::wait_step = 0.2;   # each look of its waits runs psql
use GenFlowS3;
use File::Temp qw(tempdir);
use LWP::UserAgent;
use JSON::PP;
use Time::HiRes qw(sleep time);

plan tests => 23;

my $S3 = start_s3();
ok($S3->{ready}, 'the S3 server listens');
my $ua = LWP::UserAgent->new(timeout => 30);

sub ledger_once {
    my ($tag) = @_;
    my $bad = psql(<<"SQL");
SELECT g.id || ' ' || g.status || ' ' || coalesce(string_agg(l.kind, ',' ORDER BY l.id), '-')
FROM node_art_media g LEFT JOIN genflow_ledger l ON l.generation_id = g.id
WHERE g.prompt LIKE '%$tag%'
GROUP BY g.id, g.status
HAVING string_agg(l.kind, ',' ORDER BY l.id) IS DISTINCT FROM 'reserve,charge'
LIMIT 1
SQL
    return $bad eq '' ? 'ok' : $bad;
}
sub open_rows {
    psql("SELECT count(*) FROM node_art_media WHERE prompt LIKE '%$_[0]%' "
         . "AND status IN ('pending', 'processing')");
}
# Which node completed the generation: each node's log names what it
# completed (GF1401 at info).
sub worked_by {
    my ($dirs, $id) = @_;
    my @who;
    for my $n (sort keys %$dirs) {
        open my $fh, '<', "$dirs->{$n}/error_log" or next;
        local $/;
        push @who, $n if <$fh> =~ /GF1401: complete type=node-art id=\Q$id\E /;
    }
    return join(',', @who) || 'none';
}

psql("SELECT genflow_create_type_table('node-art', 'node_art_media')");
my $u = new_user('nodes');
api(GET => '/api/quota', user => $u);
grant($u, 500);

# The balancer's port comes first: the nodes' pictures are served from it.
my $lbport = free_port();
my $lb = "http://127.0.0.1:$lbport";
my (%dir, %base);
for my $n (qw(a b)) {
    ($dir{$n}, $base{$n}) = start_own_server(<<"BODY");
GenFlowS3 $S3->{conf} secret_file=$S3->{secret_file} public_url=$lb/pics
GenFlowWorkers 2
GenFlowLeaseSeconds 4
GenFlowDailyLimit 0
GenFlowMaxActive 100
GenFlowProvider slow local latency=1500
<Location /api/node-art>
    GenFlowType node-art
    GenFlowProviders slow
    GenFlowWait 0
</Location>
<Location /api/node-mask>
    GenFlowType node-art
    GenFlowRequire sourceImage
    GenFlowProviders slow
    GenFlowWait 0
</Location>
<Location /api/uploads>
    SetHandler genflow-uploads
</Location>
<Location /api/health>
    SetHandler genflow-health
</Location>
BODY
}
# Both engines listen before the burst: httpd.pid comes before a child's
# engine, and a node not yet working would leave every row to the other.
for my $n (qw(a b)) {
    my $s = own_listening($base{$n}, $u);
    ok(defined $s, "node ${n}'s engine listens" . (defined $s ? sprintf(' (after %.1f s)', $s) : ''));
}
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
ProxyPass        "/pics/" "$S3->{url}/genflow-pics/"
CONF
close $conf;
ok(system("/usr/sbin/apache2 -f '$lbdir/httpd.conf' -k start") == 0, 'the balancer started');
for (1 .. 50) { last if -s "$lbdir/httpd.pid"; sleep 0.1 }
END { system("/usr/sbin/apache2 -f '$lbdir/httpd.conf' -k stop") if $lbdir && -s "$lbdir/httpd.pid" }

sub create {
    my ($b, $path, $body) = @_;
    return json_of(own_api($b, POST => "/api/$path/generate", user => $u, body => $body)) // {};
}

# 1. Twenty generations through the balancer: both nodes work them, each
#    is charged once, and every picture loads through the balancer.
{
    my $tag = "spread-$$";
    my @ids = map { create($lb, 'node-art', { prompt => "$tag $_" })->{generationId} } 1 .. 20;
    is(scalar(grep { defined } @ids), 20, '20 generations created through the balancer');
    ok(wait_for(sub { open_rows($tag) == 0 }, 90), 'all of them ended');
    my %by;
    $by{ worked_by(\%dir, $_ // 'none') }++ for @ids;
    ok(($by{a} // 0) > 0 && ($by{b} // 0) > 0,
       'both nodes worked some (' . join(', ', map { "$_: $by{$_}" } sort keys %by) . ')');
    is(($by{a} // 0) + ($by{b} // 0), 20, 'each by exactly one node');
    is(ledger_once($tag), 'ok', 'each completed and charged once');
    my ($loaded, $png) = (0, 0);
    for my $id (@ids) {
        my $st = json_of(own_api($lb, GET => "/api/node-art/status/" . ($id // 'none'), user => $u)) // {};
        next unless ($st->{imageUrl} // '') =~ m{^\Q$lb\E/pics/};
        my $pic = $ua->get($st->{imageUrl});
        $loaded++ if $pic->code == 200;
        $png++ if substr($pic->content, 1, 3) eq 'PNG';
    }
    is($loaded, 20, 'every picture loads through the balancer');
    is($png, 20, 'as a PNG');
}

# 2. An upload received by node a; then node a is killed (every process)
#    with attempts in flight: nothing is lost.
my $up = json_of(own_api($base{a}, POST => '/api/uploads', user => $u,
                         body => $ua->get("$lb/pics/" . psql(
                             "SELECT substring(image_url FROM '/pics/(.*)\$') FROM node_art_media "
                             . "WHERE user_id = '$u' AND status = 'completed' LIMIT 1"))->content,
                         headers => { 'Content-Type' => 'image/png' })) // {};
like($up->{sourceImage} // '', qr/^upload:/, 'node a took an upload');
{
    my $tag = "kill-$$";
    my @ids = map { create($lb, 'node-art', { prompt => "$tag $_" })->{generationId} } 1 .. 20;
    is(scalar(grep { defined } @ids), 20, '20 more created through the balancer');
    # A lease owner is host:node tag:child pid:worker; two tags, two nodes.
    ok(wait_for(sub {
        psql("SELECT count(DISTINCT split_part(lease_owner, ':', 2)) FROM node_art_media "
             . "WHERE prompt LIKE '%$tag%' AND status = 'processing'") >= 2 }, 30),
       'both nodes have attempts in flight');
    open my $fh, '<', "$dir{a}/httpd.pid" or die;
    chomp(my $parent = <$fh>);
    my @pids = ($parent, split /\s+/, `pgrep -P $parent` // '');
    is(kill('KILL', @pids), scalar(@pids), 'node a killed, parent and children (' . scalar(@pids) . ')');
    ok(wait_for(sub { open_rows($tag) == 0 }, 120), 'no generation stays open');
    is(ledger_once($tag), 'ok', 'all 20 completed, each charged once');
    my $rescued = psql("SELECT count(*) FROM node_art_media WHERE prompt LIKE '%$tag%' AND attempts >= 2");
    cmp_ok($rescued, '>=', 1, "the attempts node a had in flight were rescued ($rescued)");
    my %by;
    $by{ worked_by(\%dir, $_ // 'none') }++ for @ids;
    cmp_ok($by{b} // 0, '>=', $rescued, "node b completed the rescued ones too ($rescued rescued; "
           . join(', ', map { "$_: $by{$_}" } sort keys %by) . ')');

    # The upload node a received, the source of a generation node b works.
    my $g = create($lb, 'node-mask', { sourceImage => $up->{sourceImage} // 'none', prompt => "$tag upload" });
    ok(wait_for(sub { open_rows("$tag upload") == 0 }, 60), 'the generation from the upload ended');
    is(psql("SELECT status FROM node_art_media WHERE id = '" . ($g->{generationId} // '00000000-0000-4000-8000-000000000000') . "'"),
       'completed', 'node b completed it from the upload in the bucket');
    is(worked_by(\%dir, $g->{generationId} // 'none'), 'b', 'node b it was');
}

unlink "$dir{a}/httpd.pid";
stop_own_server($dir{b});
is(psql("SELECT count(*) FROM genflow_check_invariants(600)"), 0,
   'genflow_check_invariants finds nothing wrong');
