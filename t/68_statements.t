# SPDX-License-Identifier: Apache-2.0
# What a create and a job cost the database, pinned: the statements (each
# one round trip: every statement of the module is a prepared statement
# executed alone, no transaction block around it) that one create runs,
# and that one job runs from its claim to its outcome, for a job without
# a picture to store (`local` draw=none) and one with a picture
# (draw=once): the same, as a picture is stored without asking the row
# first while the claim's own lease holds. New work is claimed up to 16
# rows a statement (a provider without limits kept in the database, a
# child with a loop and its places free): 20 jobs queued at once take 2
# claim statements, 16 and 4. The completions of a child share their
# statements (COMPLETE_BATCH_SQL): the 20 take
# at most 10, half a statement a job, whether their pictures are URLs or
# each is stored first. URLs come in two claims and usually take 2; on a
# loaded machine (a CI run's three lanes) a claim's completions can reach
# the batch in two groups, and 3 were seen. A change that adds a statement to
# either fails here until the tables below say so (docs/benchmarks.md,
# "Cost per job").
#
# Counted by pg_stat_statements (scripts/test loads it) for the database
# role of this file's own server alone (gf_pin): the other files of the
# suite run beside it under their own. K creates and K jobs: a statement
# run K times or more is the create's or the job's; the idle worker's
# looks and the sweeps run fewer times in the window and are left out.
# A claim that takes nothing returns one row (why: the gate), so the
# claim statements that took rows are calls - rows + K.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use JSON::PP qw(decode_json);

plan tests => 16;

my $K = 20;
# The statements pinned, by their prepared name without the "gf_" prefix
# and the type's table: how many of each one create or one job runs.
my %CREATE = (create => 1);
my %JOB_URL = ();
# A stored picture asks the row first (RENEW) only once the claim's own
# lease may have run out: never in a job this quick.
my %JOB_STORED = ();
# The claim statements that take K rows queued at once.
my $CLAIMS = 2;
# The outcome statements (COMPLETE alone, COMPLETE_BATCH) of K jobs, at
# most: half a job (for URLs usually one per claim; for stored pictures,
# whose completions come as their stores end, more).
my $OUTCOMES_URL = $K / 2;
my $OUTCOMES_STORED = $K / 2;

psql("SELECT genflow_create_type_table('pin-a', 'pin_a_media')");
psql("SELECT genflow_create_type_table('pin-b', 'pin_b_media')");
my (undef, $pgss) = psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements; "
                         . "SELECT count(*) FROM pg_stat_statements");
BAIL_OUT('pg_stat_statements is not loaded in the suite\'s PostgreSQL (scripts/lib.sh, GF_PG_STATS)')
    unless $pgss;
psql("DO \$\$ BEGIN CREATE ROLE gf_pin LOGIN SUPERUSER; "
     . "EXCEPTION WHEN duplicate_object THEN NULL; END \$\$");
my $role = psql("SELECT oid FROM pg_roles WHERE rolname = 'gf_pin'");
my $U = new_user('pin');

(my $dbd = $ENV{GENFLOW_TEST_DBD_PARAMS}) =~ s/\buser=\S+/user=gf_pin/;
local $GenFlowTest::own_dbd_params = $dbd;
# One child, one worker: every job's statements come from one place.
my ($dir, $base) = start_own_server(<<'BODY');
StartServers 1
ServerLimit 1
ThreadsPerChild 25
MaxRequestWorkers 25
DBDMin 1
DBDKeep 4
DBDMax 8
GenFlowWorkers 1
GenFlowMaxActive 0
GenFlowStartingCredits 100000
GenFlowDailyLimit 0
GenFlowProvider pin-url local draw=none
GenFlowProvider pin-stored local draw=once
<Location /api/pin-a>
    GenFlowType pin-a
    GenFlowProviders pin-url
    GenFlowWait 0
</Location>
<Location /api/pin-b>
    GenFlowType pin-b
    GenFlowProviders pin-stored
    GenFlowWait 0
</Location>
<Location /api/health>
    SetHandler genflow-health
</Location>
BODY

sub call { return own_api($base, $_[0], $_[1], user => $U, (@_ > 2 ? (body => $_[2]) : ())) }
sub json { my $r = shift; return eval { decode_json($r->decoded_content) } // {} }

# The role's statements since the reset, by name: "claim" for
# gf_pin_a_media_claim; a statement without a prepared name by its first
# words. In list context also the rows each returned.
sub calls {
    my (%c, %r);
    for my $row (psql_rows("SELECT regexp_replace(query, '^PREPARE (\\S+) .*\$', '\\1'), calls, rows "
                           . "FROM pg_stat_statements WHERE userid = $role")) {
        my ($q, $n, $rows) = @$row;
        $q =~ s/^gf_pin_[ab]_media_// or $q =~ s/^gf_//;
        $q = substr($q, 0, 40);
        $c{$q} += $n;
        $r{$q} += $rows;
    }
    return wantarray ? (\%c, \%r) : \%c;
}
sub reset_calls { psql("SELECT pg_stat_statements_reset($role)") }
# The statements run K times or more, as calls per one (K creates or jobs).
sub per_one {
    my ($c) = @_;
    return { map { ($_ => $c->{$_} / $K) } grep { $c->{$_} >= $K } keys %$c };
}
sub show { my $h = shift; join(', ', map { "$_=$h->{$_}" } sort keys %$h) || 'none' }

ok(own_listening($base, $U, 30), 'the server listens');
# The user's account exists before the window: a user's first create
# makes it (and runs the create again), which a first create of another
# type does here, its row then taken away.
is(call(POST => '/api/pin-b/create', { prompt => 'warm-up' })->code, 201, 'the user is known');
psql("DELETE FROM pin_b_media WHERE user_id = '$U'");

# ---- one create ------------------------------------------------------------
reset_calls();
my @ids;
for my $i (1 .. $K) {
    my $r = call(POST => '/api/pin-a/create', { prompt => "pinned create $i" });
    push @ids, json($r)->{generationId} if $r->code == 201;
}
is(scalar @ids, $K, "$K creates answered 201");
my $c = per_one(calls());
is_deeply($c, \%CREATE, 'one create runs these statements, each once')
    or diag('ran: ' . show($c) . '; all: ' . show(calls()));

# ---- one job, its picture a URL (nothing stored) -----------------------------
sub queue_and_drain {
    my ($table, $n) = @_;
    reset_calls();
    psql("WITH q AS (UPDATE $table SET queued_at = now(), next_attempt_at = now() "
         . "WHERE user_id = '$U' AND status = 'pending' AND queued_at IS NULL RETURNING 1) "
         . "UPDATE genflow_accounts SET active = active + (SELECT count(*) FROM q) WHERE user_id = '$U'");
    my $done = wait_for(sub {
        psql("SELECT count(*) FROM $table WHERE user_id = '$U' AND status = 'completed'") == $n
    }, 60);
    return $done;
}
# The claim statements that took rows, of K jobs: calls - rows + K.
sub claims_taking {
    my ($all, $rows) = @_;
    return ($all->{claim} // 0) - ($rows->{claim} // 0) + $K;
}
# The outcome statements of K jobs: every job completed by one of them
# (each returns a row per completion), and no more statements than most.
sub outcomes_within {
    my ($all, $rows, $most, $what) = @_;
    my $n = ($all->{complete} // 0) + ($all->{completes} // 0);
    my $done = ($rows->{complete} // 0) + ($rows->{completes} // 0);
    is($done, $K, "$what: the outcome statements completed the $K jobs");
    cmp_ok($n, '<=', $most, "$what: $K completions took at most $most statements")
        or diag("complete: " . ($all->{complete} // 0) . ", completes: "
                . ($all->{completes} // 0));
    diag("$what: $K completions in $n statements") if $ENV{GENFLOW_TEST_VERBOSE};
}
ok(queue_and_drain('pin_a_media', $K), "$K jobs completed");
my ($all, $rows) = calls();
$c = per_one($all);
is_deeply($c, \%JOB_URL, 'one job whose picture is a URL runs these statements, and its share of a claim')
    or diag('ran: ' . show($c));
is(claims_taking($all, $rows), $CLAIMS, "$K jobs queued at once: $CLAIMS claim statements took them")
    or diag('claims: ' . ($all->{claim} // 0) . ' calls, ' . ($rows->{claim} // 0) . ' rows');
outcomes_within($all, $rows, $OUTCOMES_URL, 'URLs');

# ---- one job, its picture stored ---------------------------------------------
my @more;
for my $i (1 .. $K) {
    my $r = call(POST => '/api/pin-b/create', { prompt => "pinned job $i" });
    push @more, json($r)->{generationId} if $r->code == 201;
}
is(scalar @more, $K, "$K more creates answered 201");
ok(queue_and_drain('pin_b_media', $K), "$K jobs with a stored picture completed");
($all, $rows) = calls();
$c = per_one($all);
is_deeply($c, \%JOB_STORED, 'one job whose picture is stored runs these statements')
    or diag('ran: ' . show($c));
is(claims_taking($all, $rows), $CLAIMS, "and $CLAIMS claim statements took its $K jobs")
    or diag('claims: ' . ($all->{claim} // 0) . ' calls, ' . ($rows->{claim} // 0) . ' rows');
outcomes_within($all, $rows, $OUTCOMES_STORED, 'stored pictures');

stop_own_server($dir);
is(crash_report($dir), '', 'no crash');
