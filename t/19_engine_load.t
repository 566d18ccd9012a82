# SPDX-License-Identifier: Apache-2.0
# The engine under real load and real failures: waits that hold no pooled
# connection, leases that follow long calls, accepted jobs never
# re-submitted, exactly-once through a lost connection, idempotency that
# survives a dead request, orphaned rows that expire, late pictures of
# cancelled jobs discarded, and a child exit that never waits out a call.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);
use LWP::UserAgent;
use HTTP::Request;
use JSON::PP;
use Digest::SHA qw(sha1);
use MIME::Base64 qw(encode_base64);

plan tests => 59;

my $root = Apache::Test::vars('serverroot');
my $u = new_user('load');
api(GET => '/api/quota', user => $u);
grant($u, 500);

sub ledger {
    my ($id) = @_;
    return psql("SELECT string_agg(kind || ':' || amount, ',' ORDER BY id) FROM genflow_ledger "
                . "WHERE generation_id = '$id'") // '';
}
sub row { my ($id, $col) = @_; psql("SELECT $col FROM neo_glitch_media WHERE id = '$id'") }
sub stop_server { my ($dir) = @_; system("/usr/sbin/apache2 -f '$dir/httpd.conf' -k stop") }
sub call {
    my ($method, $url, %a) = @_;
    my $req = HTTP::Request->new($method => $url);
    $req->authorization_basic($a{user} // $u, $a{user} // $u);
    if ($a{body}) {
        $req->content(ref $a{body} ? encode_json($a{body}) : $a{body});
        $req->header('Content-Type' => 'application/json');
    }
    my $h = $a{headers} || {};
    $req->header($_ => $h->{$_}) for keys %$h;
    return LWP::UserAgent->new(timeout => 90, keep_alive => 0)->request($req);
}

# 1. A small pool does not starve: DBDMax 4, one child, 10 clients waiting
#    on a 1.5 s provider. Waiting clients hold no connection, so the two
#    workers always get one and every client gets its picture in time. The
#    type is mounted on this server only: no other server's workers help.
{
    psql("SELECT genflow_create_type_table('pool-type', 'pool_type_media')");
    my ($dir, $base) = start_own_server(<<'BODY');
DBDMin 0
DBDKeep 2
DBDMax 4
StartServers 1
ServerLimit 1
ThreadsPerChild 25
MaxRequestWorkers 25
GenFlowWorkers 2
GenFlowLeaseSeconds 5
GenFlowProvider slow15 local latency=1500
<Location /api/pool-type>
    GenFlowType pool-type
    GenFlowProviders slow15
</Location>
BODY
    my $t0 = time;
    my @kids;
    my $out = tempdir(CLEANUP => 1);
    for my $i (1 .. 10) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if (!$pid) {
            my $s = time;
            my $res = call(POST => "$base/api/pool-type/generate", body => { prompt => "pool $i" },
                           headers => { Prefer => 'wait=30' });
            my $doc = eval { decode_json($res->decoded_content) } || {};
            open my $fh, '>', "$out/$i" or die;
            printf $fh "%d %s %.2f\n", $res->code, $doc->{status} // '-', time - $s;
            close $fh;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    waitpid($_, 0) for @kids;
    my @results = map { open my $fh, '<', "$out/$_" or die; my $l = <$fh>; [split ' ', $l] } 1 .. 10;
    diag(join ', ', map { "@$_" } @results);
    is(scalar(grep { $_->[0] == 200 && $_->[1] eq 'completed' } @results), 10,
       'DBDMax 4: all 10 waiting clients got 200 completed');
    my ($slowest) = sort { $b <=> $a } map { $_->[2] } @results;
    cmp_ok($slowest, '<', 30, sprintf('inside their 30 s wait (slowest %.1f s, 2 workers x 1.5 s)', $slowest));
    is(psql("SELECT count(*) FROM pool_type_media WHERE attempts = 1 AND status = 'completed' "
            . "AND user_id = '$u'"), 10, 'each worked once, by this server');
    stop_server($dir);
}

# The listener of the child that answers is connected (LISTEN in force).
ok(wait_for(sub { (json_of(api(GET => '/api/health')) || {})->{workers}{listening} }, 5),
   'health: the answering child listens for NOTIFY');

# 2. A 5 s lease and an 8 s provider call: the heartbeat keeps the lease,
#    the provider is called once, one charge.
{
    my $res = api(POST => '/api/sleepy-glitch/generate', user => $u, body => { prompt => 'long call' },
                  headers => { Prefer => 'wait=40' });
    my $g = json_of($res) || {};
    is($g->{status}, 'completed', '8 s call under a 5 s lease completes');
    is(row($g->{generationId}, 'attempts'), 1, 'one attempt: the provider was called once');
    is(ledger($g->{generationId}), 'reserve:-1,charge:0', 'one charge');
    open my $log, '<', Apache::Test::vars('t_logs') . '/error_log' or die;
    ok(scalar(grep { /GF1004: the worst attempt \(\d+ ms: provider \S+/ } <$log>),
       'startup logged that the worst attempt exceeds the lease by design');
}

# 3. A status poll that fails once (503) on an accepted job: the job is
#    polled again, never submitted again.
sub submissions_for {
    my ($tag) = @_;
    my $res = LWP::UserAgent->new->get("$ENV{GENFLOW_MOCK_URL}/_submitted");
    return scalar grep { index($_, $tag) >= 0 } split /\n/, $res->content;
}
for my $case (['fal', '[fault:pollfail]'], ['rep', '[fault:queue] [fault:pollfail]'],
              ['stab', '[fault:async] [fault:pollfail]']) {
    my ($path, $faults) = @$case;
    my $tag = "pollfail-$path-$$-" . int(rand 1e9);
    my $res = api(POST => "/api/$path/generate", user => $u, body => { prompt => "$faults $tag" },
                  headers => { Prefer => 'wait=40' });
    my $g = json_of($res) || {};
    is($g->{status}, 'completed', "$path: a poll failing once with 503 still completes");
    is(submissions_for($tag), 1, "$path: the job was submitted exactly once");
    is(ledger($g->{generationId}), 'reserve:-1,charge:0', "$path: one charge");
}

# 4. Exactly once through a lost connection: a proxy in front of
#    PostgreSQL drops the connection after the create committed, before
#    its answer arrives.
my $pxdir = tempdir(CLEANUP => 1);
my $pxport = free_port();
my $control = "$pxdir/drop";
my $pxpid = open(my $pxout, '-|', 'perl', "$FindBin::Bin/mock/pgproxy.pl", $pxport,
                 $ENV{GENFLOW_TEST_PGPORT}, $control) or die "pgproxy: $!";
my $ready = <$pxout>;
{
    my ($dir, $base) = start_own_server(<<"BODY");
DBDParams "host=127.0.0.1 port=$pxport dbname=genflow user=genflow"
DBDMin 0
DBDKeep 1
DBDMax 2
StartServers 1
GenFlowWorkers 1
GenFlowLeaseSeconds 5
<Location /api/neo-glitch>
    GenFlowType neo-glitch
    GenFlowProviders local
</Location>
BODY
    my $v = new_user('lost');
    call(GET => "$base/api/neo-glitch/history", user => $v);    # warm the pool
    api(GET => '/api/quota', user => $v);
    my $arm = sub { open my $fh, '>', $control or die; print $fh $_[0]; close $fh };

    $arm->('gf_neo_glitch_media_create');
    my $res = call(POST => "$base/api/neo-glitch/create", user => $v, body => { prompt => 'lost answer' });
    ok(!-e $control, 'the proxy dropped the connection after the create');
    is($res->code, 201, 'the create is answered 201 all the same');
    is(psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$v'"), 1,
       'exactly one generation (the re-run recognised the committed row)');
    is(psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$v' AND kind = 'reserve'"), 1,
       'exactly one reservation');

    $arm->('gf_neo_glitch_media_create');
    my %h = ('Idempotency-Key' => "lost-$$");
    my $first = call(POST => "$base/api/neo-glitch/create", user => $v, body => { prompt => 'keyed' },
                     headers => \%h);
    ok(!-e $control, 'dropped again, this time under an Idempotency-Key');
    my $again = call(POST => "$base/api/neo-glitch/create", user => $v, body => { prompt => 'keyed' },
                     headers => \%h);
    my ($a1, $a2) = map { eval { decode_json($_->decoded_content) } || {} } $first, $again;
    is($again->header('Idempotent-Replayed'), 'true', 'the same key replays');
    ok($a1->{generationId} && $a1->{generationId} eq ($a2->{generationId} // ''),
       'with the same generation');
    is(psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$v'"), 2,
       'one generation per logical request');

    is(psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$v' AND kind = 'reserve'"), 2,
       'two reservations in all');
    $arm->('gf_neo_glitch_media_queue');
    $res = call(POST => "$base/api/neo-glitch/generate", user => $v,
                body => { generationId => $a1->{generationId} }, headers => { Prefer => 'wait=20' });
    is((eval { decode_json($res->decoded_content) } || {})->{status}, 'completed',
       'a queue whose answer was lost still starts the generation');
    unlink $control;
    stop_server($dir);
    is(psql("SELECT balance FROM genflow_accounts WHERE user_id = '$v'")
       , psql("SELECT sum(amount) FROM genflow_ledger WHERE user_id = '$v'"),
       'the balance equals the ledger');
}
kill 'TERM', $pxpid;

# 5. Idempotency that survives a dead request.
{
    my $w = new_user('idemdead');
    api(GET => '/api/quota', user => $w);
    my $body = '{"prompt":"after a crash"}';
    my $fp = '{SHA}' . encode_base64(sha1("POST /api/neo-glitch/create\n$body"), '');
    # The first request created its generation, then died (no answer).
    my $res = api(POST => '/api/neo-glitch/create', user => $w, body => $body);
    my $gid = (json_of($res) || {})->{generationId};
    psql("INSERT INTO genflow_idempotency (user_id, key, fingerprint, owner, claimed_at, generation_id) "
         . "VALUES ('$w', 'died-after-create', '$fp', 'dead-request', now() - interval '10 s', '$gid')");
    $res = api(POST => '/api/neo-glitch/create', user => $w, body => $body,
               headers => { 'Idempotency-Key' => 'died-after-create' });
    is($res->code, 201, 'a key whose request died after its create: taken over');
    is((json_of($res) || {})->{generationId}, $gid, 'and answered with the generation it created');
    is(psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$w'"), 1, 'nothing created twice');
    $res = api(POST => '/api/neo-glitch/create', user => $w, body => $body,
               headers => { 'Idempotency-Key' => 'died-after-create' });
    is($res->header('Idempotent-Replayed'), 'true', 'and replayed from then on');
    # Died before creating anything: the key is free again after a lease.
    psql("INSERT INTO genflow_idempotency (user_id, key, fingerprint, owner, claimed_at) "
         . "VALUES ('$w', 'died-early', '$fp', 'dead-request', now() - interval '10 s')");
    $res = api(POST => '/api/neo-glitch/create', user => $w, body => $body,
               headers => { 'Idempotency-Key' => 'died-early' });
    is($res->code, 201, 'a key whose request died before creating: runs afresh (not 409 for 24 h)');
    # Still fresh: the first request may be alive.
    psql("INSERT INTO genflow_idempotency (user_id, key, fingerprint, owner) "
         . "VALUES ('$w', 'alive', '$fp', 'live-request')");
    ok(is_json_error(api(POST => '/api/neo-glitch/create', user => $w, body => $body,
                         headers => { 'Idempotency-Key' => 'alive' }), 409, 'IDEMPOTENCY_CONFLICT'),
       'a fresh running record still answers 409');
}

# 6. Rows of a type mounted nowhere expire and are refunded.
{
    my $o = new_user('orphan');
    api(GET => '/api/quota', user => $o);
    my $bal = psql("SELECT balance FROM genflow_accounts WHERE user_id = '$o'");
    psql("SELECT genflow_create_type_table('orphan-type', 'orphan_type_media')");
    for my $queued (0, 1) {   # only the queued one counts as active (sql/016)
        psql("WITH g AS (INSERT INTO orphan_type_media (user_id, prompt, seed, input, estimated_cost, "
             . "created_at, queued_at, next_attempt_at) VALUES ('$o', 'orphan', 1, '{}', 2, "
             . "now() - interval '2 hours', "
             . ($queued ? "now() - interval '2 hours', now() - interval '2 hours'" : 'NULL, NULL')
             . ") RETURNING id, user_id, estimated_cost), "
             . "l AS (INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason) "
             . "SELECT user_id, 'reserve', -estimated_cost, 'orphan-type', id, 'create' FROM g) "
             . "UPDATE genflow_accounts a SET balance = a.balance - g.estimated_cost, active = a.active + $queued "
             . "FROM g WHERE a.user_id = g.user_id");
    }
    ok(wait_for(sub { psql("SELECT count(*) FROM orphan_type_media WHERE status = 'failed' "
                           . "AND error_code = 'EXPIRED'") == 2 }, 15),
       'both orphaned rows (never started, and queued but never claimed) expired');
    is(psql("SELECT count(*) FROM genflow_ledger l JOIN orphan_type_media g ON g.id = l.generation_id "
            . "WHERE l.kind = 'refund'"), 2, 'each refunded once');
    is(psql("SELECT balance FROM genflow_accounts WHERE user_id = '$o'"), $bal, 'the balance is whole again');
    is(psql("SELECT active FROM genflow_accounts WHERE user_id = '$o'"), 0, 'and nothing counts as active');
    is(psql("SELECT count(*) FROM genflow_check_invariants(600)"), 0,
       'genflow_check_invariants finds nothing wrong');
}

# 7. A cancelled job's late picture is discarded: nothing stored, 404.
{
    my $res = api(POST => '/api/slow-glitch/generate', user => $u, body => { prompt => 'cancel me late' },
                  headers => { Prefer => 'wait=0' });
    my $id = (json_of($res) || {})->{generationId};
    ok(wait_for(sub { row($id, 'status') eq 'processing' }, 10), 'the slow job is being worked');
    $res = api(POST => "/api/neo-glitch/cancel/$id", user => $u);
    is((json_of($res) || {})->{status}, 'cancelled', 'cancelled while its provider works');
    sleep 3.5;   # the 2.5 s provider answers meanwhile
    my @files = glob("$root/media/neo-glitch/$id* $root/media/neo-glitch/*/$id*");
    is(scalar @files, 0, 'its late picture was not stored');
    is(row($id, "COALESCE(image_url, 'none')"), 'none', 'no image URL on the row');
    is(api(GET => "/media/neo-glitch/$id.png")->code, 404, 'its URL answers 404');
    is(ledger($id), 'reserve:-1,refund:1', 'refunded, never charged');
}

# 8. Child exit is bounded: a stop abandons a running 8 s attempt within
#    seconds and releases its row at once (no lease to wait out); the
#    server's next start completes it. The type is mounted on this server
#    only, so no other worker can take the row meanwhile.
{
    my $conf = <<'BODY';
StartServers 1
GenFlowWorkers 1
GenFlowLeaseSeconds 30
GenFlowProvider sleepy local latency=8000
<Location /api/orphan-type>
    GenFlowType orphan-type
    GenFlowProviders sleepy
</Location>
BODY
    my ($dir, $base) = start_own_server($conf);
    my $res = call(POST => "$base/api/orphan-type/generate", body => { prompt => 'abandon me' },
                   headers => { Prefer => 'wait=0' });
    my $id = (eval { decode_json($res->decoded_content) } || {})->{generationId} // 'none';
    my $orow = sub { psql("SELECT $_[0] FROM orphan_type_media WHERE id = '$id'") // '' };
    ok(wait_for(sub { $orow->('status') eq 'processing' }, 10), 'the 8 s attempt started');
    sleep 1;
    my $t0 = time;
    stop_server($dir);
    ok(wait_for(sub { !(-e "$dir/httpd.pid") }, 15), 'the server stopped');
    my $took = time - $t0;
    cmp_ok($took, '<', 6, sprintf('the stop took %.1f s, not the rest of the 8 s call', $took));
    is($orow->("(lease_until IS NULL OR lease_until <= now())::text"), 'true',
       'the abandoned attempt released its row (no lease to wait out)');
    is($orow->('status'), 'processing', 'which is still to be done, not failed');
    system("/usr/sbin/apache2 -f '$dir/httpd.conf' -k start");
    ok(wait_for(sub { $orow->('status') eq 'completed' }, 30), 'the next start completes it');
    is(psql("SELECT string_agg(kind || ':' || amount, ',' ORDER BY id) FROM genflow_ledger "
            . "WHERE generation_id = '$id'"), 'reserve:-1,charge:0', 'charged once');
    stop_server($dir);
}

# 9. A batch of polls claimed at once is in flight at once: one worker, a
# 2 s lease, polls that take 0.4 s each. The 8 polls made due together
# all run on the child's loop side by side, so none has to be given back
# for want of time (GF1409, which a worker running them one after the
# other needed), and every one is polled soon after. The polls go through
# the queue here (GenFlowKeptPolls 0): kept ones would not be claimed at
# all (t/44_kept_polls.t), nor see the deadline this part moves behind
# the engine's back.
{
    my $b = new_user('batcher');
    api(GET => '/api/quota', user => $b);
    grant($b, 50);
    psql("SELECT genflow_create_type_table('batch-type', 'batch_type_media')");
    my ($dir, $url) = start_own_server(<<"BODY");
LogLevel warn genflow:debug
GenFlowWorkers 1
GenFlowLeaseSeconds 2
GenFlowKeptPolls 0
GenFlowProvider slowpoll local async=never latency=400
<Location /api/batch-type>
    GenFlowType batch-type batch_type_media
    GenFlowProviders slowpoll
    GenFlowDeadline 600
</Location>
BODY
    for (1 .. 8) {
        call(POST => "$url/api/batch-type/generate", user => $b, body => { prompt => "batch $_" },
             headers => { Prefer => 'wait=0' });
    }
    ok(wait_for(sub { psql("SELECT count(*) FROM batch_type_media WHERE provider_job_id IS NOT NULL") == 8 },
                30), 'the 8 jobs were accepted');
    # Park the polls first: push every row the worker does not hold an
    # hour ahead, until the worker holds none and all 8 are parked (a row
    # it holds comes back with its own next poll time, and is parked on the
    # next round). Only then are all 8 made due in one statement, so the
    # worker's next claim takes the whole batch, not whatever it had not
    # already taken.
    ok(wait_for(sub {
        psql("UPDATE batch_type_media SET next_attempt_at = now() + interval '1 hour' "
             . "WHERE lease_owner IS NULL AND next_attempt_at < now() + interval '30 minutes'");
        psql("SELECT count(*) FROM batch_type_media WHERE lease_owner IS NULL "
             . "AND next_attempt_at > now() + interval '30 minutes'") == 8 }, 30),
       'the 8 polls are parked, none held by the worker');
    my $due = psql("WITH u AS (UPDATE batch_type_media SET next_attempt_at = now() - interval '1 minute', "
                   . "poll_count = 100 WHERE lease_owner IS NULL RETURNING id) "
                   . "SELECT string_agg('''' || id || '''', ',') FROM u");
    my @made_due = split /,/, $due;
    is(scalar @made_due, 8, 'all 8 made due at once');
    ok(wait_for(sub { psql("SELECT count(*) FROM batch_type_media WHERE id IN ($due) AND poll_count <= 100") == 0 },
                30), 'every poll made due was run soon after');
    ok(!do { open my $in, '<', "$dir/error_log" or die "$dir/error_log: $!";
             scalar grep { /GF1409/ } <$in> },
       'none of the batch was given back: the polls ran in flight together');
    # Finish them: past their deadline they fail with TIMEOUT and a refund.
    psql("UPDATE batch_type_media SET deadline_at = now() - interval '1 second'");
    ok(wait_for(sub { psql("SELECT count(*) FROM batch_type_media WHERE status = 'processing'") == 0 }, 30),
       'then all of them end (deadline)');
    stop_server($dir);
    is(psql("SELECT count(*) FROM genflow_check_invariants(600)"), 0,
       'genflow_check_invariants finds nothing wrong');
}
