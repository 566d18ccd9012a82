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

plan tests => 40 - 1 + 4 * 4 + 1 + 4 + 1 + 2;

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

my $mock = $ENV{GENFLOW_MOCK_URL};
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
# Asynchronous jobs: each holds its cost from its submission to its end.
GenFlowProvider $run-afal fal base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on breaker=off cost=1 budget=3/day
GenFlowProvider $run-arep replicate base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on wait=1 breaker=off cost=1 budget=3/day
GenFlowProvider $run-aloc local async=3 cost=1 budget=2/day max_concurrent=1
# A usage price (Replicate's predict_time, 2.5 s a job in the mock) with
# the worst cost of a job held.
# An account that runs 2 jobs at once (max_jobs=: jobs accepted and not
# finished, on every node), of its own model so that the mock's log tells
# its jobs apart.
GenFlowProvider $run-fjobs fal base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on breaker=off model=fal-ai/jobs$run max_jobs=2
# max_concurrent= counts calls open (exchanges): an asynchronous job
# between its polls holds no place.
GenFlowProvider $run-fconc fal base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on breaker=off model=fal-ai/conc$run max_concurrent=1
GenFlowProvider $run-ausage replicate base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on wait=1 breaker=off cost_per_unit=1 budget=6/day budget_hold=3
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
<Location /api/bud-afal>
    GenFlowType bud-art
    GenFlowProviders $run-afal -> $run-free
    GenFlowWait 0
</Location>
<Location /api/bud-arep>
    GenFlowType bud-art
    GenFlowProviders $run-arep -> $run-free
    GenFlowWait 0
</Location>
<Location /api/bud-aloc>
    GenFlowType bud-art
    GenFlowProviders $run-aloc -> $run-free
    GenFlowWait 0
</Location>
<Location /api/bud-fjobs>
    GenFlowType bud-art
    GenFlowProviders $run-fjobs
    GenFlowWait 0
</Location>
<Location /api/bud-fconc>
    GenFlowType bud-art
    GenFlowProviders $run-fconc
    GenFlowWait 0
</Location>
<Location /api/bud-ausage>
    GenFlowType bud-art
    GenFlowProviders $run-ausage -> $run-free
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
# The most jobs of fal app APP the mock had at once: from a submission
# (POST /APP) to the fetch of its result (GET /APP/requests/ID), by the
# times of the mock's log; and how many were submitted.
sub mock_jobs_peak {
    my ($app) = @_;
    my @ev;
    for my $line (split /\n/, LWP::UserAgent->new->get("$mock/_log")->decoded_content) {
        my $e = eval { $json->decode($line) } or next;
        next unless ($e->{path} // '') =~ m{^/fal-ai/\Q$app\E(/requests/[\w-]+)?$};
        push @ev, [$e->{at}, $1 ? -1 : 1] if $e->{method} eq 'POST' || ($1 && $e->{method} eq 'GET');
    }
    my ($now, $peak, $subs) = (0, 0, 0);
    for my $e (sort { $a->[0] <=> $b->[0] || $a->[1] <=> $b->[1] } @ev) {
        $now += $e->[1];
        $subs++ if $e->[1] > 0;
        $peak = $now if $now > $peak;
    }
    return ($peak, $subs);
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
    ok($peak >= 1 && $peak <= 3, "its calls were in flight at most 3 at once, on the three nodes together ($peak)");
    # Each call held its price from before it was sent: with a price per
    # picture the spend never passes the budget, and uses it up.
    is($spent, 20, 'the budget was used up and never passed (each call held its cost before it went)');
    is(scalar(psql("SELECT count(*) FROM bud_art_media WHERE prompt LIKE '%crowd %' AND status = 'completed' "
                   . "AND provider = '$run-free'")), 45 - $total,
       'the others went to the next entry of the chain');
    # Asynchronous jobs on three nodes: fal's queue, Replicate past
    # Prefer: wait, the local provider's async=, and a usage price. 8 of
    # each queued at once, jobs of 3 s: each job holds its cost from its
    # submission until its cost is recorded, so no more start than the
    # budget holds, on every node together.
    my %budget = (afal => 3, arep => 3, aloc => 2, ausage => 2);
    for my $kind (qw(afal arep aloc ausage)) {
        my $cfg = "$tmp/curl-$kind.cfg";
        open my $kf, '>', $cfg or die $!;
        for my $k (0 .. 7) {
            my $b = $nodes[$k % 3][1];
            print $kf "url = \"$b/api/bud-$kind/generate\"\n"
                    . "data = \"{\\\"prompt\\\":\\\"$kind $k [progress:3]\\\"}\"\n"
                    . "header = \"Content-Type: application/json\"\nuser = \"$u:$u\"\n"
                    . "output = \"/dev/null\"\nwrite-out = \"%{http_code}\\n\"\n" . ($k < 7 ? "next\n" : '');
        }
        close $kf;
        my @codes = split /\n/, `curl -s --parallel --parallel-max 8 -K $cfg`;
        my $queued = grep { /^20[02]$/ } @codes;   # 200: done at once (the next entry)
        diag("$kind: answers @codes") if $queued != 8;
        if ($kind eq 'afal') {
            # While its jobs run, what they hold shows in the admin list,
            # the metrics and server-status.
            my $held_now = 0;
            wait_for(sub {
                my %it = map { ($_->{name} // '?') => $_ }
                         @{ (json_of(own_api($base, GET => '/api/admin/providers', user => 'admin')) // {})->{items} || [] };
                $held_now = (($it{"$run-afal"} || {})->{budget} || {})->{held} // 0;
                $held_now >= 1;
            }, 10);
            my $m = own_api($base, GET => '/api/metrics', user => 'admin')->decoded_content;
            my ($mh) = $m =~ /^genflow_provider_held\{provider="\Q$run-afal\E",period="day"\} ([\d.]+)$/m;
            my $st = own_api($base, GET => '/server-status?auto', user => 'admin')->decoded_content;
            my ($sh) = $st =~ /^GenFlowBudgetHeld_\Q$run-afal\E: ([\d.]+)$/m;
            ok($held_now >= 1 && ($mh // 0) >= 1 && ($sh // 0) >= 1,
               "afal: jobs in flight hold their cost: the admin list ($held_now), the metrics ("
               . ($mh // 'none') . ') and server-status (' . ($sh // 'none') . ') show it');
        }
        ok($queued == 8 && psql("SELECT count(*) FROM bud_art_media WHERE prompt LIKE '%$kind %'") == 8
           && wait_for(sub { psql("SELECT count(*) FROM bud_art_media WHERE prompt LIKE '%$kind %' "
                                              . "AND status NOT IN ('completed', 'failed', 'cancelled')") == 0 }, 90),
           "$kind: 8 queued on three nodes at once ($queued), all finished");
        my $paid = psql("SELECT count(*) FROM bud_art_media WHERE prompt LIKE '%$kind %' AND status = 'completed' "
                        . "AND provider = '$run-$kind'");
        my $free = psql("SELECT count(*) FROM bud_art_media WHERE prompt LIKE '%$kind %' AND status = 'completed' "
                        . "AND provider = '$run-free'");
        my $spent = spent_row("$run-$kind");
        my $held = psql("SELECT COALESCE(sum(held), 0)::float8 FROM genflow_provider_spend WHERE provider = '$run-$kind'");
        my $limit = $kind eq 'ausage' ? 6 : $budget{$kind};
        diag("$kind: $paid on the budgeted provider, $free on the next entry; spent $spent of $limit, held $held");
        is("$paid/" . ($paid + $free), "$budget{$kind}/8",
           "$kind: as many jobs as the budget holds ran there ($budget{$kind}), the others on the next entry");
        ok($spent <= $limit && $spent >= ($kind eq 'ausage' ? 5 : $limit),
           "$kind: the spend never passed the budget ($spent of $limit)");
        is(0 + $held . '/' . psql("SELECT count(*) FROM genflow_provider_holds WHERE provider = '$run-$kind'"),
           '0/0', "$kind: every hold was settled");
    }
    # max_jobs=2 on three nodes: 6 jobs of 2 s at once. The mock sees a
    # job from its submission to the fetch of its result: never more than
    # 2 at once, and every one done there (a job waits for a slot; it does
    # not go elsewhere).
    {
        my @ids = map { generate($nodes[$_ % 3][1], 'bud-fjobs', "fjobs $_ [progress:2]")->{generationId} } 0 .. 5;
        ok(6 == grep({ $_ } @ids) && psql("SELECT count(*) FROM bud_art_media WHERE prompt LIKE '%fjobs %'") == 6
           && wait_for(sub { psql("SELECT count(*) FROM bud_art_media WHERE prompt LIKE '%fjobs %' "
                                                          . "AND status NOT IN ('completed', 'failed', 'cancelled')") == 0 }, 90),
           'max_jobs: 6 queued on three nodes, all finished');
        is(scalar(psql("SELECT count(*) FROM bud_art_media WHERE prompt LIKE '%fjobs %' AND status = 'completed' "
                       . "AND provider = '$run-fjobs'")), 6, 'max_jobs: all 6 completed at the provider');
        my ($peak, $subs) = mock_jobs_peak("jobs$run");
        diag("max_jobs: $subs submissions, at most $peak jobs at the mock at once");
        ok($subs == 6 && $peak == 2, "max_jobs=2: 6 submissions, never more than 2 jobs running at once on "
                                     . "three nodes ($peak), and 2 at times");
        is(scalar(psql("SELECT COALESCE(sum(running), 0) FROM genflow_provider_jobs WHERE provider = '$run-fjobs'"))
           . '/' . psql("SELECT count(*) FROM genflow_provider_holds WHERE provider = '$run-fjobs'"), '0/0',
           'max_jobs: every slot given back');
        # max_concurrent=1 on the same kind: 3 jobs of 2 s run at once at
        # the provider (each exchange is short; a job between its polls
        # holds no place).
        my @c = map { generate($base, 'bud-fconc', "fconc $_ [progress:2]")->{generationId} } 0 .. 2;
        wait_for(sub { psql("SELECT count(*) FROM bud_art_media WHERE prompt LIKE '%fconc %' "
                            . "AND status NOT IN ('completed', 'failed', 'cancelled')") == 0 }, 60);
        my ($cpeak, $csubs) = mock_jobs_peak("conc$run");
        ok($csubs == 3 && $cpeak >= 2, "max_concurrent=1 counts exchanges: $csubs jobs, $cpeak at the "
                                        . 'provider at once (max_jobs= counts jobs)');
    }
    stop_own_server($_->[0]) for @nodes[1, 2];
}

# ---- 5. bad budgets stop apache2 -t ---------------------------------------------
{
    my %bad = ("GenFlowProvider x local budget=10" => 'AMOUNT/PERIOD',
               "GenFlowProvider x local budget=10/week" => 'the period is hour, day or month',
               "GenFlowProvider x local budget=0/day" => 'the amount is a number above 0',
               "GenFlowProvider x local budget=10/day budget_tz=Mars/Olympus" => 'no such time zone',
               "GenFlowProvider x local budget_tz=UTC" => 'budget_tz= needs budget=',
               "GenFlowProvider x local cost_per_unit=1 budget_hold=2" => 'budget_hold= needs budget=',
               "GenFlowProvider x aiml key_env=GENFLOW_MOCK_KEY max_jobs=2" => 'max_jobs= is for a provider whose jobs run asynchronously');
    for my $line (sort keys %bad) {
        write_file("$tmp/budgets.conf", "$line\n");
        my $out = `/usr/sbin/apache2 -f '$dir/httpd.conf' -t 2>&1`;
        ok($? != 0 && index($out, $bad{$line}) >= 0, "-t refuses: $line") or diag $out;
    }
    write_file("$tmp/budgets.conf", '');
}

unlike(crash_report($dir), qr/\S/, 'no child crashed');
stop_own_server($dir);
