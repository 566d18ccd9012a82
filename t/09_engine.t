# SPDX-License-Identifier: Apache-2.0
# The job engine: asynchronous providers, retries, fallback, moderation,
# deadlines, cancel, retry, events, the per-user limit, expiry, retention.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use Time::HiRes qw(sleep time);

plan tests => 65;

my $u = new_user('engine');
api(GET => '/api/quota', user => $u);
grant($u, 200);

sub gen {
    my ($path, %a) = @_;
    my $res = api(POST => "/api/$path/generate", user => $a{user} // $u,
                  body => { prompt => $a{prompt} // "engine $path" },
                  headers => { Prefer => 'wait=' . ($a{wait} // 30) });
    return ($res, json_of($res) || {});
}
sub ledger {
    my ($id) = @_;
    return psql("SELECT string_agg(kind || ':' || amount, ',' ORDER BY id) FROM genflow_ledger "
                . "WHERE generation_id = '$id'");
}
sub status_of {
    my ($id, $user) = @_;
    return json_of(api(GET => "/api/neo-glitch/status/$id", user => $user // $u)) || {};
}

# Asynchronous provider: accepted, polled by the workers, completed.
my ($res, $g) = gen('async-glitch');
is($g->{status}, 'completed', 'async job completes through background polling');
is($g->{providerJobId}, "local-$g->{generationId}", 'the provider job id is recorded');
is(psql("SELECT poll_count FROM neo_glitch_media WHERE id = '$g->{generationId}'"), 2,
   'polled until the provider said done (3rd answer)');
is(ledger($g->{generationId}), 'reserve:-1,charge:0', 'charged once');

# Permanent failure → fallback → exactly one charge.
($res, $g) = gen('fallback-glitch');
is($g->{status}, 'completed', 'falls back to the next provider');
is($g->{provider}, 'local', 'and reports the provider that succeeded');
is(ledger($g->{generationId}), 'reserve:-1,charge:0', 'exactly one charge');

# Every provider fails → failed, refunded, 0 charged.
my $before = psql("SELECT balance FROM genflow_accounts WHERE user_id = '$u'");
($res, $g) = gen('allfail-glitch');
is($res->code, 200, 'a failed generation is a terminal 200 answer');
is($g->{status}, 'failed', 'all providers failing → failed');
is($g->{error}{code}, 'API_ERROR', 'with the last provider\'s code');
is($g->{creditsCharged}, 0, 'creditsCharged 0');
is(ledger($g->{generationId}), 'reserve:-1,refund:1', 'reserved then refunded');
is(psql("SELECT balance FROM genflow_accounts WHERE user_id = '$u'"), $before,
   'the balance is back where it was');

# Content moderation: no fallback.
($res, $g) = gen('filtered-glitch');
is($g->{status}, 'failed', 'content filtered → failed');
is($g->{error}{code}, 'CONTENT_FILTERED', 'CONTENT_FILTERED');
is($g->{provider}, 'filter', 'the local fallback was NOT tried');
is(ledger($g->{generationId}), 'reserve:-1,refund:1', 'refunded');

# Transient failure: retried once after the backoff, then the fallback.
my $t0 = time;
($res, $g) = gen('transient-glitch');
my $took = time - $t0;
is($g->{status}, 'completed', 'transient failures → retry → fallback completes');
is(psql("SELECT attempts FROM neo_glitch_media WHERE id = '$g->{generationId}'"), 3,
   'three attempts: first, one retry, the fallback');
ok($took >= 1.5, sprintf('the retry waited for its backoff (%.1f s, 2 s ± 20%%)', $took));

# Deadline: an asynchronous job that never finishes → TIMEOUT, refunded.
($res, $g) = gen('stuck-glitch', wait => 20);
is($g->{status}, 'failed', 'a job past its deadline fails');
is($g->{error}{code}, 'TIMEOUT', 'with TIMEOUT');
is(ledger($g->{generationId}), 'reserve:-1,refund:1', 'and is refunded');

# No wait: 202 with pollUrl and Retry-After; the status read says so too.
($res, $g) = gen('slow-glitch', wait => 0);
is($res->code, 202, 'Prefer: wait=0 answers 202 at once');
my $slow = $g->{generationId};
is($g->{pollUrl}, "/api/slow-glitch/status/$slow", 'pollUrl');
like($res->header('Retry-After') // '', qr/^\d+$/, 'Retry-After on 202');
$res = api(GET => "/api/slow-glitch/status/$slow", user => $u);
like(json_of($res)->{status}, qr/^(pending|processing)$/, 'status is not terminal yet');
like($res->header('Retry-After') // '', qr/^\d+$/, 'a non-terminal status carries Retry-After');

# Cancel it while the provider works: refunded, and the late result dropped.
$res = api(POST => "/api/slow-glitch/cancel/$slow", user => $u);
is($res->code, 200, 'cancel answers 200');
is(json_of($res)->{status}, 'cancelled', 'cancelled');
is(json_of($res)->{error}{code}, 'CANCELLED', 'error code CANCELLED');
sleep 3.5;   # the slow provider finishes meanwhile
is(status_of($slow)->{status}, 'cancelled', 'still cancelled after the provider finished');
is(ledger($slow), 'reserve:-1,refund:1', 'refunded once, never charged');
$res = api(POST => "/api/slow-glitch/cancel/$slow", user => $u);
ok(is_json_error($res, 409, 'INVALID_GENERATION_STATUS'), 'cancelling twice is 409');
my $other = new_user('other');
$res = api(POST => "/api/slow-glitch/cancel/$slow", user => $other);
ok(is_json_error($res, 404, 'GENERATION_NOT_FOUND'), "another user's cancel is 404");

# Retry: a NEW generation from the same input.
$res = api(POST => "/api/slow-glitch/retry/$slow", user => $u, headers => { Prefer => 'wait=30' });
is($res->code, 200, 'retry answers like generate');
my $r = json_of($res);
isnt($r->{generationId}, $slow, 'with a new id');
is($r->{status}, 'completed', 'and runs to completion');
is($r->{prompt}, status_of($slow)->{prompt}, 'from the same input');
is(ledger($r->{generationId}), 'reserve:-1,charge:0', 'with its own reservation and charge');
$res = api(POST => "/api/slow-glitch/retry/$r->{generationId}", user => $u);
ok(is_json_error($res, 409, 'INVALID_GENERATION_STATUS'), 'retrying a completed generation is 409');
$res = api(POST => "/api/slow-glitch/retry/$slow", user => $other);
ok(is_json_error($res, 404, 'GENERATION_NOT_FOUND'), "retrying another user's generation is 404");

# Events: one status event per change, ending at the terminal state.
($res, $g) = gen('slow-glitch', wait => 0);
$res = api(GET => "/api/slow-glitch/events/$g->{generationId}", user => $u);
is($res->code, 200, 'events 200');
like($res->header('Content-Type'), qr{^text/event-stream}, 'text/event-stream');
my @events = $res->content =~ /^event: status\ndata: (.*)$/mg;
ok(@events >= 2, scalar(@events) . ' status events');
my @states = map { JSON::PP->new->decode($_)->{status} } @events;
is($states[-1], 'completed', 'the last event is the terminal state');
isnt($states[0], 'completed', 'the first event came before it');
$res = api(GET => "/api/slow-glitch/events/$g->{generationId}", user => $other);
ok(is_json_error($res, 404, 'GENERATION_NOT_FOUND'), "another user's events are 404");

# GenFlowMaxActive (40 here) counts generations queued or processing:
# created ones do not count and never block (t/04 tests the limit itself).
my $busy = new_user('busy');
api(GET => '/api/quota', user => $busy);
grant($busy, 100);
my @pending;
for (1 .. 41) {
    my $c = api(POST => '/api/neo-glitch/create', user => $busy, body => { prompt => "p$_" });
    push @pending, json_of($c)->{generationId} if $c->code == 201;
}
is(scalar @pending, 41, 'more created generations than GenFlowMaxActive are allowed');
is(psql("SELECT active FROM genflow_accounts WHERE user_id = '$busy'"), 0,
   'created generations are not counted as active');
api(POST => "/api/neo-glitch/cancel/$pending[0]", user => $busy);
$res = api(POST => '/api/neo-glitch/generate', user => $busy,
           body => { generationId => $pending[40] });
is((json_of($res) || {})->{status}, 'completed', 'one of them generates');
is(psql("SELECT active FROM genflow_accounts WHERE user_id = '$busy'"), 0,
   'and is no longer active once completed');

# Expiry: a generation never started within GenFlowCreatedTTL (not set
# here, nor GenFlowPendingTTL: 15 minutes by default).
my $old = $pending[1];
my $younger = $pending[2];
psql("UPDATE neo_glitch_media SET created_at = now() - interval '16 minutes' WHERE id = '$old'");
psql("UPDATE neo_glitch_media SET created_at = now() - interval '13 minutes' WHERE id = '$younger'");
my $st;
for (1 .. 40) { $st = status_of($old, $busy); last if $st->{status} ne 'pending'; sleep 0.25 }
is($st->{status}, 'failed', 'a never-started generation expires after 15 minutes by default');
is(status_of($younger, $busy)->{status}, 'pending', 'one created 13 minutes ago does not');
is($st->{error}{code}, 'EXPIRED', 'with EXPIRED');
is(ledger($old), 'reserve:-1,refund:1', 'and is refunded');

# Retention: old failed rows are pruned; the ledger stays.
psql("UPDATE neo_glitch_media SET finished_at = now() - interval '40 days' WHERE id = '$old'");
my $gone;
for (1 .. 40) { $gone = psql("SELECT count(*) FROM neo_glitch_media WHERE id = '$old'"); last if !$gone; sleep 0.25 }
is($gone, 0, 'a failed generation past GenFlowRetention is deleted');
is(ledger($old), 'reserve:-1,refund:1', 'its ledger rows are kept');

# The sweep finds what it may delete through an index of its own, not by
# reading the whole table (sql/010).
{
    my $plan = join "\n", map { $_->[0] } psql_rows(
        "SET enable_seqscan = off; EXPLAIN SELECT x.id FROM neo_glitch_media x "
        . "WHERE x.status IN ('failed', 'cancelled') AND x.finished_at < now() - make_interval(secs => 3600) LIMIT 500");
    like($plan, qr/neo_glitch_media_prunable/, 'the prune sweep can use the partial index')
        or diag $plan;
}

# Polls of accepted jobs are claimed in batches, and new work goes ahead of
# them. 30 jobs held at a provider that never finishes (GenFlowMaxActive is
# 40 here), all made due at once: each is polled exactly once (none lost,
# none twice in a batch), and a new generation queued meanwhile completes
# within its wait.
{
    my $holder = new_user('holder');
    api(GET => '/api/quota', user => $holder);
    grant($holder, 100);
    my @held;
    for (1 .. 30) {
        my ($r, $j) = gen('held-glitch', user => $holder, wait => 0);
        push @held, $j->{generationId} if $j->{generationId};
    }
    my $in = join ',', map { "'$_'" } @held;
    my $accepted = 0;
    for (1 .. 80) {
        $accepted = psql("SELECT count(*) FROM neo_glitch_media WHERE id IN ($in) "
                         . "AND provider_job_id IS NOT NULL AND lease_owner IS NULL");
        last if $accepted == 30;
        sleep 0.25;
    }
    is($accepted, 30, '30 jobs accepted and waiting for their next poll');
    my $due_at = psql("SELECT now()");
    psql("UPDATE neo_glitch_media SET next_attempt_at = now() - interval '1 minute', "
         . "poll_count = 100 WHERE id IN ($in)");
    psql("NOTIFY genflow_work, 'neo-glitch'");
    my ($r, $j) = gen('neo-glitch', user => $holder, wait => 10);
    is($j->{status}, 'completed', 'a new generation completes while 30 polls are due');
    my $polled = 0;
    for (1 .. 40) {
        $polled = psql("SELECT count(*) FROM neo_glitch_media WHERE id IN ($in) AND poll_count = 101");
        last if $polled == 30;
        sleep 0.25;
    }
    is($polled, 30, 'every due poll ran exactly once');
    is(psql("SELECT count(*) FROM neo_glitch_media WHERE id IN ($in) AND poll_count > 101"), 0,
       'and none twice');
    # A job polled 100 times is polled every 5 s or less often (never the
    # 0.5 s of a new job): each next poll is 5 s after this one or later.
    is(psql("SELECT count(*) FROM neo_glitch_media WHERE id IN ($in) "
            . "AND next_attempt_at < '$due_at'::timestamptz + interval '4.9 seconds'"), 0,
       'the next poll of a long-polled job is 5 s away');
    api(POST => "/api/held-glitch/cancel/$_", user => $holder) for @held;
    is(psql("SELECT count(*) FROM neo_glitch_media WHERE id IN ($in) AND status = 'cancelled'"), 30,
       'the held jobs are cancelled and refunded');
}
