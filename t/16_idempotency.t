# SPDX-License-Identifier: Apache-2.0
# Idempotency-Key: replays, conflicts, and 20 concurrent duplicates making
# exactly one generation and one reservation.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep);

plan tests => 43;

my $u = new_user('idem');
api(GET => '/api/quota', user => $u);
grant($u, 100);
my $key = "key-$$-" . time;

my $res = api(POST => '/api/neo-glitch/create', user => $u, body => { prompt => 'once' },
              headers => { 'Idempotency-Key' => $key });
is($res->code, 201, 'first create 201');
my $first = $res->content;
my $id = json_of($res)->{generationId};
ok(!$res->header('Idempotent-Replayed'), 'not a replay');
$res = api(POST => '/api/neo-glitch/create', user => $u, body => { prompt => 'once' },
           headers => { 'Idempotency-Key' => $key });
is($res->code, 201, 'the same request again: 201');
is($res->header('Idempotent-Replayed'), 'true', 'Idempotent-Replayed: true');
is($res->content, $first, 'the very same body');
is($res->header('Location'), "/api/neo-glitch/status/$id", 'and Location');
is(psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$u'"), 1, 'one generation');
$res = api(POST => '/api/neo-glitch/create', user => $u, body => { prompt => 'twice' },
           headers => { 'Idempotency-Key' => $key });
ok(is_json_error($res, 422, 'IDEMPOTENCY_CONFLICT'), 'same key, different body: 422');
$res = api(POST => '/api/neo-glitch/create', user => $u, body => { prompt => 'x' },
           headers => { 'Idempotency-Key' => 'k' x 256 });
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'a key over 255 characters is 400');

# A refused request stores nothing: the key can be used again.
my $k2 = "$key-bad";
$res = api(POST => '/api/neo-glitch/create', user => $u, body => { prompt => 'x', colour => 1 },
           headers => { 'Idempotency-Key' => $k2 });
is($res->code, 400, 'a bad body under a key is 400');
$res = api(POST => '/api/neo-glitch/create', user => $u, body => { prompt => 'x', colour => 1 },
           headers => { 'Idempotency-Key' => $k2 });
is($res->code, 400, 'and is not replayed: the key was not kept');

# 20 concurrent duplicates of a slow generate.
my $k3 = "$key-race";
my $before = psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$u' AND kind = 'reserve'");
my $dir = tempdir(CLEANUP => 1);
# 20 clients released together (GenFlowTest::burst_clients), each line
# "code replayed status".
my %seen;
$seen{$_}++ for burst_clients(20, sub {
    api(POST => '/api/slow-glitch/generate', user => $u, body => { prompt => 'race' },
        headers => { 'Idempotency-Key' => $k3, Prefer => 'wait=30' });
}, sub {
    my ($r, $doc) = @_;
    join(' ', $r->code, $r->header('Idempotent-Replayed') // '-',
         $doc->{status} // $doc->{error}{code} // 'none');
});
my $summary = join ', ', map { "$_ x$seen{$_}" } sort keys %seen;
is($seen{'200 - completed'}, 1, "one request ran the generation ($summary)");
is(($seen{'409 - IDEMPOTENCY_CONFLICT'} // 0) + ($seen{'200 true completed'} // 0), 19,
   'the others got 409 while it ran, or its replay');
is(psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$u' AND kind = 'reserve'") - $before, 1,
   'exactly one reservation');
is(psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$u' AND prompt LIKE '%race%'"), 1,
   'exactly one generation');
$res = api(POST => '/api/slow-glitch/generate', user => $u, body => { prompt => 'race' },
           headers => { 'Idempotency-Key' => $k3 });
is($res->code, 200, 'after it finished, the key replays');
is($res->header('Idempotent-Replayed'), 'true', 'as a replay');
is(json_of($res)->{status}, 'completed', 'of the completed generation');

# A first request that waits past the key's bound (GenFlowLeaseSeconds 5;
# here its create waits for the account row, which another transaction
# holds) while a duplicate takes the key over: the takeover waits for the
# first request's create and answers for its generation. Checking the key
# only in the create's own snapshot, both would create (found by the model
# in models/). Each step waits for the database to be where it should be,
# not for a fixed time, and the holder is ended only once the duplicate was
# sent.
{
    my $w = new_user('idemwait');
    api(GET => '/api/quota', user => $w);
    grant($w, 10);
    my $k4 = "$key-wait";
    my $until = sub {
        my ($cond, $secs) = @_;
        for (1 .. $secs * 10) { return 1 if $cond->(); sleep 0.1 }
        return $cond->();
    };
    my $before_w = psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$w' AND kind = 'reserve'");
    my $holder = fork // die;
    if (!$holder) {
        eval { psql("BEGIN; SELECT 1 FROM genflow_accounts WHERE user_id = '$w' FOR UPDATE; "
                    . "SELECT pg_sleep(60) AS held_for_t16; COMMIT;") };
        exit 0;
    }
    $until->(sub { psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%held_for_t16%' "
                        . "AND state = 'active' AND pid <> pg_backend_pid()") == 1 }, 20);
    my $ask = sub {   # in a child: the create under the key, its answer into a file
        my ($name) = @_;
        my $pid = fork // die;
        return $pid if $pid;
        my $r = api(POST => '/api/neo-glitch/create', user => $w, body => { prompt => 'held' },
                    headers => { 'Idempotency-Key' => $k4 });
        open my $fh, '>', "$dir/held-$name" or die;
        my $doc = json_of($r) || {};
        print $fh join("\t", $r->code, $doc->{generationId} // '-',
                       ($doc->{error} || {})->{message} // '');
        exit 0;
    };
    my $first_pid = $ask->('first');
    # The first request's record, then older than the key's bound.
    $until->(sub { psql("SELECT count(*) FROM genflow_idempotency WHERE user_id = '$w' "
                        . "AND key = '$k4' AND claimed_at < now() - interval '5.5 seconds'") == 1 }, 30);
    my $second_pid = $ask->('second');
    # The takeover waits for the first create's lock on the record (or, if
    # it did not, the counts below tell); then the account is let go.
    $until->(sub { psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        . "AND query LIKE 'UPDATE genflow_idempotency SET owner%'") >= 1 }, 10);
    psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%held_for_t16%' "
         . "AND pid <> pg_backend_pid()");
    waitpid($_, 0) for $first_pid, $second_pid, $holder;
    my %got;
    for my $name (qw(first second)) {
        open my $fh, '<', "$dir/held-$name" or die;
        $got{$name} = [split /\t/, scalar <$fh>];
    }
    is($got{first}[0], 201, 'the first request created its generation once the account was free');
    is($got{second}[1], $got{first}[1],
       "the duplicate that took the key over answered for that generation ($got{second}[0]"
       . ($got{second}[2] ? ": $got{second}[2]" : '') . ')');
    is(psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$w'"), 1, 'one generation');
    is(psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$w' AND kind = 'reserve'") - $before_w,
       1, 'one reservation');
}

# The same request in other words is the same request: members in
# another order, other spacing, escapes and a number's spelling (7.5 or
# 75e-1) do not count; values and types do (7, 7.0 and "7" are three
# values: seed takes only the first).
{
    my $kc = "$key-canon";
    my $first = api(POST => '/api/neo-glitch/create', user => $u, headers => { 'Idempotency-Key' => $kc },
                    body => '{"prompt":"m\u00e9","parameters":{"seed":7,"guidance_scale":7.5}}');
    is($first->code, 201, 'a create under a key');
    my $same = api(POST => '/api/neo-glitch/create', user => $u, headers => { 'Idempotency-Key' => $kc },
                   body => qq({\n  "parameters" : { "guidance_scale" : 75e-1, "seed" : 7 },\n  "prompt" : "m\xc3\xa9"\n}\n));
    is($same->code, 201, 'the same members in another order, spacing and spelling: 201');
    is($same->header('Idempotent-Replayed'), 'true', 'as a replay');
    is(json_of($same)->{generationId}, json_of($first)->{generationId}, 'of the same generation');
    for my $other ('{"prompt":"m\u00e9","parameters":{"seed":"7","guidance_scale":7.5}}',
                   '{"prompt":"m\u00e9","parameters":{"seed":7.0,"guidance_scale":7.5}}',
                   '{"prompt":"m\u00e9","parameters":{"seed":7,"guidance_scale":7.5},"style":null}',
                   '{"prompt":"M\u00e9","parameters":{"seed":7,"guidance_scale":7.5}}') {
        my $r = api(POST => '/api/neo-glitch/create', user => $u, headers => { 'Idempotency-Key' => $kc },
                    body => $other);
        ok(is_json_error($r, 422, 'IDEMPOTENCY_CONFLICT'), "another value or type is another request: $other");
    }
}

# An answer that created nothing is not kept: the same key works once the
# cause is fixed.
{
    my $p = new_user('idem402');
    api(GET => '/api/quota', user => $p);
    api(POST => '/api/neo-glitch/create', user => $p, body => { prompt => "spend $_" }) for 1 .. 10;
    my $kp = "$key-402";
    my $r = api(POST => '/api/neo-glitch/create', user => $p, body => { prompt => 'later' },
                headers => { 'Idempotency-Key' => $kp });
    ok(is_json_error($r, 402, 'INSUFFICIENT_CREDITS'), 'a create without credits under a key: 402');
    is(psql("SELECT count(*) FROM genflow_idempotency WHERE user_id = '$p' AND key = '$kp'"), 0,
       'the 402 is not kept');
    grant($p, 5);
    $r = api(POST => '/api/neo-glitch/create', user => $p, body => { prompt => 'later' },
             headers => { 'Idempotency-Key' => $kp });
    is($r->code, 201, 'after a grant the same key creates the generation');
    ok(!$r->header('Idempotent-Replayed'), 'not a replay of the 402');

    my $done = json_of($r)->{generationId};
    api(POST => '/api/neo-glitch/generate', user => $p, body => { generationId => $done });
    my %refusals = (
        409 => [ '/api/neo-glitch/generate', { generationId => $done }, 'INVALID_GENERATION_STATUS' ],
        404 => [ '/api/neo-glitch/generate', { generationId => '00000000-0000-4000-8000-000000000000' },
                 'GENERATION_NOT_FOUND' ],
        415 => [ '/api/neo-glitch/create', '{"prompt":"x"}', 'UNSUPPORTED_MEDIA_TYPE', 'text/plain' ],
        400 => [ '/api/neo-glitch/create', { prompt => '' }, 'VALIDATION_ERROR' ],
    );
    for my $status (sort keys %refusals) {
        my ($path, $body, $code, $ctype) = @{ $refusals{$status} };
        my $k = "$key-refused-$status";
        my $res1 = api(POST => $path, user => $p, body => $body, headers => { 'Idempotency-Key' => $k },
                       ($ctype ? (content_type => $ctype) : ()));
        my $kept = psql("SELECT count(*) FROM genflow_idempotency WHERE user_id = '$p' AND key = '$k'");
        ok(is_json_error($res1, $status, $code) && $kept == 0,
           "$status $code under a key is not kept (got " . $res1->code . ", $kept record(s))");
    }
}

# Keys belong to users.
my $v = new_user('idem2');
$res = api(POST => '/api/neo-glitch/create', user => $v, body => { prompt => 'once' },
           headers => { 'Idempotency-Key' => $key });
is($res->code, 201, 'another user with the same key gets their own generation');
ok(!$res->header('Idempotent-Replayed'), 'not a replay of someone else\'s answer');

# After 24 h a record is pruned and the key starts afresh.
psql("UPDATE genflow_idempotency SET created_at = now() - interval '25 hours' "
     . "WHERE user_id = '$u' AND key = '$key'");
my $left = 1;
for (1 .. 40) { $left = psql("SELECT count(*) FROM genflow_idempotency WHERE user_id = '$u' AND key = '$key'"); last if !$left; sleep 0.25 }
is($left, 0, 'a record older than 24 h is pruned by the sweep');
$res = api(POST => '/api/neo-glitch/create', user => $u, body => { prompt => 'once' },
           headers => { 'Idempotency-Key' => $key });
is($res->code, 201, 'the key then makes a new generation');
isnt(json_of($res)->{generationId}, $id, 'not the replay of the old one');
