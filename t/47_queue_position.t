# SPDX-License-Identifier: Apache-2.0
# A place in line: queuePosition (how many of the type's queued rows for
# the same provider a claim takes first, users in turn) and
# estimatedStartAt (from the provider's limits and its recent call times),
# in the status object, the status long-poll and the event stream, which
# sends a new place at most once a second and only when it changed.
#
# A line held behind a call that does not end (max_concurrent=1, a 30 s
# call) keeps still while the places are read: three users' rows are
# placed in turn order, a cancel ahead moves everyone behind it up, a row
# queued behind moves nobody, and every place equals the brute-force count
# of the rows ahead. A line that drains (1.5 s calls) shows falling places
# on its stream, a second or more apart, and estimates from the measured
# call time; a rate-limited line estimates from its rate alone. The
# line's counts are exact (genflow_line_check) after all of it, and after
# a fold. One httpd for the file.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
$GenFlowTest::wait_step = 0.2;
use LWP::UserAgent;
use HTTP::Request;
use JSON::PP;
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);
use Time::Local qw(timegm);

plan tests => 32;

my $json = JSON::PP->new;
psql("SELECT genflow_create_type_table('qp-line', 'qp_line_media')");
psql("SELECT genflow_create_type_table('qp-est', 'qp_est_media')");
psql("SELECT genflow_create_type_table('qp-rate', 'qp_rate_media')");
my %u;
for my $who (qw(z a b c)) {
    $u{$who} = new_user("qp$who");
    api(GET => '/api/quota', user => $u{$who});
    grant($u{$who}, 100);
}

my ($dir, $base) = start_own_server(<<"BODY");
GenFlowDailyLimit 0
GenFlowMaxActive 100
GenFlowProvider held local latency=30000 max_concurrent=1
GenFlowProvider timed local latency=1500 max_concurrent=1
GenFlowProvider paced local latency=10 rate=1/4
<Location /api/qp-line>
    GenFlowType qp-line
    GenFlowProviders held
    GenFlowDeadline 120
    GenFlowWait 0
</Location>
<Location /api/qp-est>
    GenFlowType qp-est
    GenFlowProviders timed
    GenFlowDeadline 120
    GenFlowWait 0
</Location>
<Location /api/qp-rate>
    GenFlowType qp-rate
    GenFlowProviders paced
    GenFlowDeadline 120
    GenFlowWait 0
</Location>
BODY

sub generate {
    my ($type, $who, $prompt) = @_;
    my $res = own_api($base, POST => "/api/$type/generate", user => $u{$who},
                      body => { prompt => $prompt });
    return (json_of($res) // {})->{generationId};
}
sub status_of {
    my ($type, $id, $who) = @_;
    return json_of(own_api($base, GET => "/api/$type/status/$id", user => $u{$who})) // {};
}
sub rfc3339 {
    my ($s) = @_;
    return undef unless defined $s && $s =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.\d+)?Z$/;
    return timegm($6, $5, $4, $3, $2 - 1, $1);
}
# Each queued row's rank among the queued rows of its line, by the claim's
# order: what queuePosition must say (no retries are due in these lines).
sub brute {
    my ($table) = @_;
    my %rank = map { split /\|/ } split /\n/, scalar psql(
        "SELECT id, row_number() OVER (PARTITION BY cur_provider ORDER BY turn, ticket) - 1 "
        . "FROM $table WHERE status = 'pending' AND queued_at IS NOT NULL");
    return \%rank;
}
# In a child process: after each delay, one call (a code ref).
sub later {
    my @steps = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    return $pid if $pid;
    while (my ($delay, $what) = splice @steps, 0, 2) {
        sleep $delay;
        $what->();
    }
    _exit(0);
}
# The events of a stream until $stop says so or $secs pass: each with the
# time it arrived and its status object.
sub follow {
    my ($type, $id, $who, $secs, $stop) = @_;
    my (@ev, $buf);
    $buf = '';
    my $t0 = time;
    my $req = HTTP::Request->new(GET => "$base/api/$type/events/$id");
    $req->authorization_basic($u{$who}, $u{$who});
    LWP::UserAgent->new(timeout => $secs + 5)->request($req, sub {
        $buf .= $_[0];
        while ($buf =~ s/^(.*?)\n\n//s) {
            my $block = $1;
            push @ev, { at => time - $t0, s => $json->decode($1) } if $block =~ /^data: (.*)$/m;
        }
        die "enough\n" if ($stop && @ev && $stop->(\@ev)) || time - $t0 > $secs;
    }, 512);
    return @ev;
}

# ---- a line that keeps still -------------------------------------------------
my $blocker = generate('qp-line', 'z', 'qp blocker');
ok(wait_for(sub { (status_of('qp-line', $blocker, 'z')->{status} // '') eq 'processing' }, 20),
   'the blocker holds the only place of held');
my $bs = status_of('qp-line', $blocker, 'z');
ok(exists $bs->{queuePosition} && !defined $bs->{queuePosition}
   && exists $bs->{estimatedStartAt} && !defined $bs->{estimatedStartAt},
   'a started generation has no place in line (both fields null)');

my %id;
$id{"a$_"} = generate('qp-line', 'a', "qp a$_") for 1 .. 5;
$id{b1} = generate('qp-line', 'b', 'qp b1');
$id{"c$_"} = generate('qp-line', 'c', "qp c$_") for 1 .. 2;
sub owner_of { substr($_[0], 0, 1) }
sub places {
    return { map { $_ => status_of('qp-line', $id{$_}, owner_of($_))->{queuePosition} } keys %id };
}
# Users in turn: A's first, then B's and C's first (one turn), then A's
# and C's seconds, then the rest of A's.
is_deeply(places(), { a1 => 0, b1 => 1, c1 => 2, a2 => 3, c2 => 4, a3 => 5, a4 => 6, a5 => 7 },
          'places follow the claim order: users take turns');
my $rank = brute('qp_line_media');
is_deeply(places(), { map { $_ => $rank->{ $id{$_} } + 0 } keys %id },
          'every place equals the count of the rows ahead (brute force)');
my $s = status_of('qp-line', $id{a5}, 'a');
ok(!defined $s->{estimatedStartAt},
   'no estimate while held has a place cap and no call measured');

# Created, then queued: the created answer (null) is not served after.
my $late = own_api($base, POST => '/api/qp-line/create', user => $u{c}, body => { prompt => 'qp late' });
my $late_id = (json_of($late) // {})->{generationId};
$s = status_of('qp-line', $late_id, 'c');
ok(exists $s->{queuePosition} && !defined $s->{queuePosition}, 'a created generation has no place');
own_api($base, POST => '/api/qp-line/generate', user => $u{c}, body => { generationId => $late_id });
is(status_of('qp-line', $late_id, 'c')->{queuePosition}, 6,
   'queued now, it has its place (the read after its queue, not a cached answer)');
$id{c3} = $late_id;

# A cancel ahead moves everyone behind it up; nobody ahead moves.
my $before = places();
own_api($base, POST => "/api/qp-line/cancel/$id{b1}", user => $u{b});
delete $id{b1};
my $after = places();
is_deeply($after, { map { $_ => $before->{$_} - ($before->{$_} > 1 ? 1 : 0) } keys %id },
          'a cancel ahead moves the rows behind it up by one, and only those');
$rank = brute('qp_line_media');
is_deeply($after, { map { $_ => $rank->{ $id{$_} } + 0 } keys %id }, 'and still equals the brute force');

# The stream of a5: its place now; a row queued behind it sends nothing;
# a cancel ahead sends the new place.
my $p5 = $after->{a5};
my $kid = later(0.5 => sub { generate('qp-line', 'a', 'qp a6') },
                2.5 => sub { own_api($base, POST => "/api/qp-line/cancel/$id{c1}", user => $u{c}) });
my @ev = follow('qp-line', $id{a5}, 'a', 8, sub { @{ $_[0] } >= 2 });
waitpid $kid, 0;
delete $id{c1};
is($ev[0]{s}{queuePosition}, $p5, "the stream's first event has the place ($p5)");
is(scalar @ev, 2, 'two events: the first and the one after the cancel ahead');
ok(@ev == 2 && $ev[1]{at} >= 2.4,
   sprintf('a row queued behind sent nothing (the second event came at %.1f s)', $ev[1]{at} // -1));
ok(@ev == 2 && $ev[1]{at} <= 4.5, sprintf('the cancel ahead came within 2 s (at %.1f s)', $ev[1]{at} // -1));
is($ev[1]{s}{queuePosition}, $p5 - 1, 'with the place one further up');

# The long-poll of a4 answers when its place moves, not at its deadline.
my $st = own_api($base, GET => "/api/qp-line/status/$id{a4}", user => $u{a});
my $etag = $st->header('ETag');
my $p4 = (json_of($st) // {})->{queuePosition};
$kid = later(1 => sub { own_api($base, POST => "/api/qp-line/cancel/$id{a1}", user => $u{a}) });
my $t0 = time;
my $lp = own_api($base, GET => "/api/qp-line/status/$id{a4}", user => $u{a},
                 headers => { 'If-None-Match' => $etag, Prefer => 'wait=15' });
my $took = time - $t0;
waitpid $kid, 0;
delete $id{a1};
is($lp->code, 200, 'the long-poll of a queued generation answers 200');
ok($took < 4, sprintf('when its place moved (%.1f s), not at its deadline', $took));
is((json_of($lp) // {})->{queuePosition}, $p4 - 1, 'with the new place');
isnt($lp->header('ETag'), $etag, 'and a new ETag');

is(scalar psql("SELECT count(*) FROM genflow_line_check('qp-line')"), 0,
   "the line's counts equal its rows (genflow_line_check)");
psql("SELECT genflow_fold_line_counts(100000)");
is(scalar psql("SELECT count(*) FROM genflow_line_counts WHERE shard <> 0"), 0,
   'a fold leaves one row a bucket');
is(scalar psql("SELECT count(*) FROM genflow_line_check('qp-line')"), 0, 'with the same counts');
$rank = brute('qp_line_media');
is_deeply(places(), { map { $_ => $rank->{ $id{$_} } + 0 } keys %id }, 'and the same places');

# ---- a line that drains ------------------------------------------------------
my $w0 = generate('qp-est', 'z', 'qp warm');
ok(wait_for(sub { (status_of('qp-est', $w0, 'z')->{status} // '') eq 'completed' }, 20),
   'a first call of timed measured its time (1.5 s)');
my @e = map { generate('qp-est', 'b', "qp e$_") } 1 .. 5;
$s = status_of('qp-est', $e[4], 'b');
my $pos = $s->{queuePosition};
my $eta = rfc3339($s->{estimatedStartAt});
my $wait = defined $eta ? $eta - time : undef;
ok(defined $pos && defined $wait && $wait >= ($pos + 1) * 1.0 - 1 && $wait <= ($pos + 1) * 2.0 + 6,
   sprintf('estimatedStartAt of place %s: in about (place + 1) calls of 1.5 s (%s s)',
           $pos // 'null', defined $wait ? sprintf('%.1f', $wait) : 'null'));
@ev = follow('qp-est', $e[4], 'b', 25, sub { ($_[0][-1]{s}{status} // '') =~ /completed|failed/ });
my @pending = grep { $_->{s}{status} eq 'pending' } @ev;
ok(@pending >= 2, scalar(@pending) . ' events while it waited in line');
my @places = map { $_->{s}{queuePosition} } @pending;
my @etas = map { $_->{s}{estimatedStartAt} // '' } @pending;
# Each event says something new: a place further up, or (the place the
# same) an estimate that moved on its 5 s grid; never one back.
ok(@places >= 2 && $places[-1] < $places[0]
   && !grep({ $places[$_] > $places[$_ - 1]
              || ($places[$_] == $places[$_ - 1] && $etas[$_] eq $etas[$_ - 1]) } 1 .. $#places),
   'each with a place further up, or a new estimate (' . join(', ', map { "$places[$_] $etas[$_]" }
                                                             0 .. $#places) . ')');
my @gaps = map { $pending[$_]{at} - $pending[$_ - 1]{at} } 1 .. $#pending;
# Measured where the events arrive, so a little of the network's jitter
# is allowed: the server reads again a second after each look.
ok(!grep({ $_ < 0.75 } @gaps),
   'at most one a second (gaps ' . join(', ', map { sprintf '%.2f', $_ } @gaps) . ')');
is($ev[-1]{s}{status}, 'completed', 'then it ran and completed');

# ---- a line paced by its rate ------------------------------------------------
my @r = map { generate('qp-rate', 'c', "qp r$_") } 1 .. 3;
$s = status_of('qp-rate', $r[2], 'c');
$pos = $s->{queuePosition};
$eta = rfc3339($s->{estimatedStartAt});
$wait = defined $eta ? $eta - time : undef;
ok(defined $pos && defined $wait && $wait >= $pos * 4 - 1 && $wait <= $pos * 4 + 6,
   sprintf('rate=1/4 without call times: place %s starts in about 4 s a place (%s s)',
           $pos // 'null', defined $wait ? sprintf('%.1f', $wait) : 'null'));

# ---- the end -----------------------------------------------------------------
# Every generation of the line still open is cancelled, by its owner (the
# blocker's provider call is cut): none is left processing for the next
# tests' invariants. A cancel that is not answered 200 is asked again, and
# said.
my @refused;
for my $try (1 .. 5) {
    my @open = map { [split /\|/] } split /\n/,
        scalar psql("SELECT id || '|' || user_id FROM qp_line_media WHERE status IN ('pending', 'processing')");
    last unless @open;
    for (@open) {
        my $res = own_api($base, POST => "/api/qp-line/cancel/$_->[0]", user => $_->[1]);
        push @refused, "try $try: $_->[0]: " . $res->code . ' ' . $res->decoded_content if $res->code != 200;
    }
}
is(scalar psql("SELECT count(*) FROM qp_line_media WHERE status IN ('pending', 'processing')"), 0,
   'every generation of the line ended, cancelled by its owner') or diag join "\n", @refused;
ok(wait_for(sub { psql("SELECT count(*) FROM qp_rate_media WHERE status = 'pending'") == 0 }, 20),
   'the paced line drained');
is(scalar psql("SELECT count(*) FROM genflow_line_check('qp-line') UNION ALL "
               . "SELECT count(*) FROM genflow_line_check('qp-est') UNION ALL "
               . "SELECT count(*) FROM genflow_line_check('qp-rate')"), "0\n0\n0",
   'every line counted exactly to the end');
stop_own_server($dir);
