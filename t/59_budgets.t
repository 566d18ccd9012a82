# SPDX-License-Identifier: Apache-2.0
# Provider budgets (GenFlowProvider … budget=AMOUNT/PERIOD budget_tz=ZONE),
# held in PostgreSQL for every node of the database together.
#  1. One node: a provider of cost 1 and a budget of 5 a day takes five
#     generations; the next ones skip it as an open circuit is skipped
#     (the chain's next entry), or, where it is the last entry, fail with
#     BUDGET_EXHAUSTED, refunded. The spend and the budget are in the
#     metrics, the health answer and server-status.
#  2. A budget set during a period counts the calls recorded before it.
#  3. A period in a time zone of its own starts at that zone's midnight.
#  4. Three nodes against the crowd mock, 45 generations at once, the
#     provider's calls at most 3 at once for the three nodes
#     (max_concurrent=3): the spend reaches the budget and passes it by at
#     most the calls that were in flight (the mock's peak, less one).
#  5. Bad budgets stop apache2 -t.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);
use IPC::Open2;
use JSON::PP;
use Time::HiRes qw(sleep);

plan tests => 40;

my $json = JSON::PP->new;
my $tmp = tempdir(CLEANUP => 1);
chmod 0777, $tmp;
sub write_file { open my $fh, '>', $_[0] or die $!; print $fh $_[1]; close $fh }

psql("SELECT genflow_create_type_table('bud-art', 'bud_art_media')");
# The providers' names are this run's own: the spend is the database's.
my $run = "b$$";
my $u = new_user('budget');
api(GET => '/api/quota', user => $u);
grant($u, 1000);

my $cport = free_port();
my $crowd = "http://127.0.0.1:$cport";
mock_at($crowd);
my $cpid = open2(my $cout, my $cin, 'node', "$FindBin::Bin/mock/crowd_provider.mjs", $cport, 1500);
is(scalar(<$cout>) // '', "ready\n", 'the crowd mock listens');
END { kill 'TERM', $cpid if $cpid }

write_file("$tmp/budgets.conf", '');
my $common = <<"CONF";
GenFlowDailyLimit 0
GenFlowMaxActive 0
GenFlowProvider $run-paid local cost=1 budget=5/day
GenFlowProvider $run-solo local cost=1 budget=3/hour
GenFlowProvider $run-pre local cost=1 budget=4/day
GenFlowProvider $run-tz local cost=1 budget=100/day budget_tz=Pacific/Kiritimati
GenFlowProvider $run-free local
GenFlowProvider $run-crowd stability base_url=$crowd key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=30000 breaker=off cost=1 budget=20/day max_concurrent=3
Include "$tmp/budgets.conf"
<Location /api/bud-chain>
    GenFlowType bud-art
    GenFlowProviders $run-paid -> $run-free
    GenFlowWait 30
</Location>
<Location /api/bud-solo>
    GenFlowType bud-art
    GenFlowProviders $run-solo
    GenFlowWait 30
</Location>
<Location /api/bud-pre>
    GenFlowType bud-art
    GenFlowProviders $run-pre
    GenFlowWait 30
</Location>
<Location /api/bud-crowd>
    GenFlowType bud-art
    GenFlowProviders $run-crowd -> $run-free
    GenFlowWait 0
</Location>
<Location /api/metrics>
    SetHandler genflow-metrics
</Location>
<Location /api/health>
    SetHandler genflow-health
</Location>
<Location /server-status>
    SetHandler server-status
</Location>
<Location /api/admin>
    SetHandler genflow-admin
    Require user admin
    AuthzSendForbiddenOnFailure On
</Location>
CONF
my ($dir, $base) = start_own_server("GenFlowWorkers 4\n$common", 'status');

sub generate {
    my ($b, $path, $prompt) = @_;
    return json_of(own_api($b, POST => "/api/$path/generate", user => $u,
                           body => { prompt => $prompt })) // {};
}
sub spent_row {
    my ($prov) = @_;
    return psql("SELECT COALESCE(sum(spent), 0)::float8 FROM genflow_provider_spend WHERE provider = '$prov'");
}

# ---- 1. one node ------------------------------------------------------------
{
    my @by = map { generate($base, 'bud-chain', "chain $_") } 1 .. 8;
    is(join(',', map { $_->{status} // '?' } @by), join(',', ('completed') x 8), 'eight generations completed');
    is(join(',', map { $_->{provider} // '?' } @by),
       join(',', ("$run-paid") x 5, ("$run-free") x 3),
       'the first five on the provider with the budget, then the next entry of the chain');
    is(spent_row("$run-paid"), 5, 'its spend this day is 5, in the database');

    my @solo = map { generate($base, 'bud-solo', "solo $_") } 1 .. 4;
    is(join(',', map { $_->{status} // '?' } @solo), 'completed,completed,completed,failed',
       'the last entry of a chain: three completed, the fourth failed');
    is(($solo[3]{error} || {})->{code} // '', 'BUDGET_EXHAUSTED', 'with BUDGET_EXHAUSTED');
    like(($solo[3]{error} || {})->{message} // '', qr/budget of 3 per hour/, 'saying which budget');
    my $id = $solo[3]{generationId} // '';
    is(psql("SELECT string_agg(kind, ',' ORDER BY id) FROM genflow_ledger WHERE generation_id = '$id'"),
       'reserve,refund', 'and it was refunded');
    is(scalar(psql("SELECT count(*) FROM genflow_provider_costs WHERE generation_id = '$id'")), 0,
       'no call was made for it');

    my $m = own_api($base, GET => '/api/metrics', user => 'admin')->decoded_content;
    like($m, qr/^genflow_provider_budget\{provider="\Q$run-paid\E",period="day"\} 5\.0+$/m,
         'the metrics show the budget');
    like($m, qr/^genflow_provider_spent\{provider="\Q$run-paid\E",period="day"\} 5\.0+$/m,
         'and the spend');
    # Money is an administrator's: health without one carries no budget,
    # spend or limits (and reads nothing for them).
    my $hu = json_of(own_api($base, GET => '/api/health', user => $u)) // {};
    my $hp = ($hu->{providers} || {})->{"$run-paid"} || {};
    ok(%$hp && !exists $hp->{budget} && !exists $hp->{limits},
       'health for a user who is no administrator: the circuit, no budget, no limits')
        or diag(explain $hp);
    my $h = json_of(own_api($base, GET => '/api/health', user => 'admin')) // {};
    my $b = (($h->{providers} || {})->{"$run-paid"} || {})->{budget} || {};
    is(join(' ', map { $b->{$_} // 'null' } qw(amount period timeZone spent left)), '5 day UTC 5 0',
       'the health answer shows the budget, its spend and what is left');
    my $free = (($h->{providers} || {})->{"$run-free"} || {});
    ok(exists $free->{budget} && !defined $free->{budget}, 'a provider without a budget: null');
    my $st = own_api($base, GET => '/server-status?auto', user => $u)->decoded_content;
    like($st, qr/^GenFlowBudget_\Q$run-paid\E: spent 5\.0+ of 5 per day$/m, 'server-status shows it');

    my $res = own_api($base, GET => '/api/admin/providers', user => 'admin');
    is($res->code, 200, 'GET /api/admin/providers answers the admin');
    my %items = map { ($_->{name} // '?') => $_ } @{ (json_of($res) // {})->{items} || [] };
    my $p = $items{"$run-paid"} || {};
    my $pb = $p->{budget} || {};
    is(join(' ', map { $pb->{$_} // 'null' } qw(amount period timeZone spent left)), '5 day UTC 5 0',
       'it lists the budget, its spend and what is left');
    is(join(' ', map { $p->{$_} // 'null' } qw(kind cost costPerUnit)), 'local 1 null',
       'with the kind and the prices');
    is(($p->{circuit} || {})->{state} // '', 'closed', 'and the circuit');
    my $c = $items{"$run-crowd"} || {};
    is(join(' ', map { ($c->{limits} || {})->{$_} // 'null' } qw(maxConcurrent scope)), '3 site',
       'a limited provider shows its limits');
    ok(exists $items{"$run-free"} && !defined $items{"$run-free"}{budget},
       'a provider without a budget: null');
    my @names = map { $_->{name} } @{ (json_of($res) // {})->{items} || [] };
    is(join(',', @names), join(',', sort @names), 'sorted by name');
    is(own_api($base, GET => '/api/admin/providers', user => $u)->code, 403, 'a user is refused');
}

# ---- 2. a budget set during its period ----------------------------------------
{
    psql("INSERT INTO genflow_provider_costs (generation_id, gen_type, attempt, provider, cost) "
         . "SELECT gen_random_uuid(), 'bud-art', 1, '$run-pre', 1 FROM generate_series(1, 3)");
    my @g = map { generate($base, 'bud-pre', "pre $_") } 1 .. 2;
    is(join(',', map { $_->{status} // '?' } @g), 'completed,failed',
       'three calls recorded before it: one more fits a budget of 4');
    is(spent_row("$run-pre"), 4, 'the period row starts from them');
}

# ---- 3. a day in a time zone of its own ---------------------------------------
{
    my $h = json_of(own_api($base, GET => '/api/health', user => 'admin')) // {};
    my $b = (($h->{providers} || {})->{"$run-tz"} || {})->{budget} || {};
    my $want = psql("SELECT to_char(date_trunc('day', now() AT TIME ZONE 'Pacific/Kiritimati') "
                    . "AT TIME ZONE 'Pacific/Kiritimati' AT TIME ZONE 'UTC', "
                    . "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
    is($b->{periodStart} // '', $want, "its day began at midnight in Kiritimati ($want)");
    is($b->{timeZone} // '', 'Pacific/Kiritimati', 'and says so');
}

# ---- 4. three nodes, one budget -------------------------------------------------
{
    my @nodes = ([$dir, $base]);
    push @nodes, [start_own_server("GenFlowWorkers 4\n$common", 'status')] for 1 .. 2;
    mock_call(POST => '/_reset');
    my $cfg = "$tmp/curl-crowd.cfg";
    open my $fh, '>', $cfg or die $!;
    for my $k (0 .. 44) {
        my $b = $nodes[$k % 3][1];
        print $fh "url = \"$b/api/bud-crowd/generate\"\ndata = \"{\\\"prompt\\\":\\\"crowd $k\\\"}\"\n"
                . "header = \"Content-Type: application/json\"\nuser = \"$u:$u\"\n"
                . "output = \"/dev/null\"\nwrite-out = \"%{http_code}\\n\"\n" . ($k < 44 ? "next\n" : '');
    }
    close $fh;
    my $queued = grep { /^202$/ } split /\n/, `curl -s --parallel --parallel-max 15 -K $cfg`;
    is($queued, 45, '45 generations queued on three nodes at once');
    ok(wait_for(sub { psql("SELECT count(*) FROM bud_art_media WHERE prompt LIKE '%crowd %' "
                           . "AND status NOT IN ('completed', 'failed', 'cancelled')") == 0 }, 90),
       'all of them finished');
    my $stats = mock_call(GET => '/_stats');
    my ($total, $peak) = ($stats->{total} // 0, $stats->{peak} // 0);
    my $spent = spent_row("$run-crowd");
    diag("crowd: $total calls, at most $peak open at once; spent $spent of 20");
    is($spent, $total, 'each call to the provider cost 1, and was counted once');
    ok($spent >= 20, 'the budget was used up');
    ok($peak >= 1 && $peak <= 3, "its calls were in flight at most 3 at once, on the three nodes together ($peak)");
    # The bound is of the calls holding a place (max_concurrent=3): one may
    # hold it before it reaches the mock, so it is 3, not the mock's peak.
    ok($spent <= 20 + 3 - 1,
       "and it passed the budget by at most the calls in flight less one ($spent <= 20 + 3 - 1)");
    is(scalar(psql("SELECT count(*) FROM bud_art_media WHERE prompt LIKE '%crowd %' AND status = 'completed' "
                   . "AND provider = '$run-free'")), 45 - $total,
       'the others went to the next entry of the chain');
    stop_own_server($_->[0]) for @nodes[1, 2];
}

# ---- 5. bad budgets stop apache2 -t ---------------------------------------------
{
    my %bad = ("GenFlowProvider x local budget=10" => 'AMOUNT/PERIOD',
               "GenFlowProvider x local budget=10/week" => 'the period is hour, day or month',
               "GenFlowProvider x local budget=0/day" => 'the amount is a number above 0',
               "GenFlowProvider x local budget=10/day budget_tz=Mars/Olympus" => 'no such time zone',
               "GenFlowProvider x local budget_tz=UTC" => 'budget_tz= needs budget=');
    for my $line (sort keys %bad) {
        write_file("$tmp/budgets.conf", "$line\n");
        my $out = `/usr/sbin/apache2 -f '$dir/httpd.conf' -t 2>&1`;
        ok($? != 0 && index($out, $bad{$line}) >= 0, "-t refuses: $line") or diag $out;
    }
    write_file("$tmp/budgets.conf", '');
}

unlike(crash_report($dir), qr/\S/, 'no child crashed');
stop_own_server($dir);
