# SPDX-License-Identifier: Apache-2.0
# Progress while a picture is made: a processing generation's status, its
# event stream and its history item carry progress (0..1) and
# estimatedFinishAt.
#  - Replicate and fal: the mock's jobs run a few seconds and their logs
#    carry a diffusion model's progress bar (tqdm's lines: Replicate's
#    prediction logs, fal's status logs when asked with ?logs=1, as the
#    real APIs send them). The stream sends the reports as they grow, at
#    most one event a second; the end follows from the report.
#  - A provider that reports nothing (the local one, 3 s a picture): the
#    estimate from its recent job times on this node, moving with the
#    clock, held short of 1.
#  - The writes: one a second at most per generation, only when it grew.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use Time::HiRes qw(time sleep);
use LWP::UserAgent;
use JSON::PP;
use POSIX qw(floor);

plan tests => 28;

my $mock = $ENV{GENFLOW_MOCK_URL};
my $table = 'prog_art_media';
psql("SELECT genflow_create_type_table('prog-art', '$table')");
my $u = new_user('progress');
api(GET => '/api/quota', user => $u);
grant($u, 100);

my ($dir, $base) = start_own_server(<<"BODY");
GenFlowDailyLimit 0
GenFlowProvider prog-rep replicate base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on wait=1 breaker=off
GenFlowProvider prog-fal fal base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on breaker=off
GenFlowProvider prog-local local latency=3000
<Location /api/prog-rep>
    GenFlowType prog-art
    GenFlowProviders prog-rep
    GenFlowWait 0
</Location>
<Location /api/prog-fal>
    GenFlowType prog-art
    GenFlowProviders prog-fal
    GenFlowWait 0
</Location>
<Location /api/prog-local>
    GenFlowType prog-art
    GenFlowProviders prog-local
    GenFlowWait 0
</Location>
BODY

# Writes of progress, counted as they happen by a trigger of the test's own.
psql("CREATE TABLE prog_writes (id uuid, progress real, at timestamptz DEFAULT clock_timestamp())");
psql("CREATE FUNCTION prog_count() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN "
     . "INSERT INTO prog_writes (id, progress) VALUES (NEW.id, NEW.progress); RETURN NULL; END\$\$");
psql("CREATE TRIGGER prog_count AFTER UPDATE ON $table FOR EACH ROW "
     . "WHEN (NEW.progress IS DISTINCT FROM OLD.progress AND NEW.progress IS NOT NULL) "
     . "EXECUTE FUNCTION prog_count()");

sub generate {
    my ($path, $prompt) = @_;
    my $g = json_of(own_api($base, POST => "/api/$path/generate", user => $u,
                            body => { prompt => $prompt })) // {};
    return $g->{generationId};
}
sub status_of {
    my ($path, $id) = @_;
    return json_of(own_api($base, GET => "/api/$path/status/$id", user => $u)) // {};
}
sub secs_of {    # an RFC 3339 UTC time in seconds since the epoch
    my ($t) = @_;
    return undef unless ($t // '') =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+(?:\.\d+)?)Z$/;
    require Time::Local;
    return Time::Local::timegm(0, $5, $4, $3, $2 - 1, $1) + $6;
}
# The status events of a stream, each with the time it arrived.
sub stream {
    my ($path, $id, $secs) = @_;
    my @events;
    open my $fh, '-|', 'curl', '-s', '-N', '-u', "$u:$u", '--max-time', $secs,
        "$base/api/$path/events/$id" or die "curl: $!";
    while (my $line = <$fh>) {
        next unless $line =~ /^data: (.*)$/;
        push @events, { at => time, s => json_of_text($1) };
    }
    close $fh;
    return @events;
}
sub json_of_text { my $o = eval { JSON::PP->new->decode($_[0]) }; return $o // {} }

# ---- 1. Replicate: the bar in a prediction's logs --------------------------
{
    my $id = generate('prog-rep', 'a lighthouse at dusk [progress:6]');
    ok($id, 'replicate: queued');
    my @ev = stream('prog-rep', $id, 15);
    my @p = map { $_->{s}{progress} } grep { $_->{s}{status} eq 'processing' && defined $_->{s}{progress} } @ev;
    diag('replicate progress events: ' . join(' ', @p));
    ok(@p >= 2, 'the stream sent the reported progress as it grew (' . scalar(@p) . ' events)');
    is(scalar(grep { $_ > 0 && $_ < 1 } @p), scalar @p, 'each is a fraction between 0 and 1');
    is(scalar(grep { $p[$_] <= $p[$_ - 1] } 1 .. $#p), 0, 'and it only grew');
    my @with = grep { $_->{s}{status} eq 'processing' && defined $_->{s}{progress} } @ev;
    my @gaps = map { $with[$_]{at} - $with[$_ - 1]{at} } 1 .. $#with;
    is(scalar(grep { $_ < 0.9 } @gaps), 0, 'at most one progress event a second (gaps: '
       . join(' ', map { sprintf '%.2f', $_ } @gaps) . ')');
    my $last = $with[-1]{s} // {};
    my ($fin, $start) = (secs_of($last->{estimatedFinishAt}), secs_of($last->{startedAt}));
    ok(defined $fin && defined $start && $fin > $start && $fin < $start + 30,
       'each report comes with its estimatedFinishAt, after the start ('
       . ($last->{estimatedFinishAt} // 'none') . ')');
    is($ev[-1]{s}{status}, 'completed', 'the stream ends completed');
    ok(!defined $ev[-1]{s}{progress} && !defined $ev[-1]{s}{estimatedFinishAt},
       'a finished generation carries neither');
    my $writes = psql("SELECT count(*) FROM prog_writes WHERE id = '$id'");
    my $close = psql("SELECT count(*) FROM (SELECT at - lag(at) OVER (ORDER BY at) AS gap "
                     . "FROM prog_writes WHERE id = '$id') x WHERE gap < interval '1 second'");
    ok($writes >= 2 && $close == 0, "its row's progress was written $writes times, never twice "
       . 'within a second');
}

# ---- 2. fal: the bar in the status logs (?logs=1) -------------------------
{
    my $id = generate('prog-fal', 'a fox in the snow [progress:6]');
    ok($id, 'fal: queued');
    my (@p, $fin, $s);
    my $until = time + 20;
    while (time < $until) {
        $s = status_of('prog-fal', $id);
        last if $s->{status} =~ /^(completed|failed|cancelled)$/;
        if (defined $s->{progress} && (!@p || $p[-1] != $s->{progress})) {
            push @p, $s->{progress};
            $fin = $s->{estimatedFinishAt};
        }
        sleep 0.25;
    }
    diag('fal progress seen: ' . join(' ', @p));
    ok(@p >= 2, 'the status read showed the reported progress as it grew');
    is(scalar(grep { $p[$_] <= $p[$_ - 1] } 1 .. $#p), 0, 'only growing');
    ok(defined secs_of($fin), "with an estimatedFinishAt (" . ($fin // 'none') . ')');
    is($s->{status}, 'completed', 'the fal job completed');
    my @polls = grep { $_->{path} =~ m{/requests/[\w-]+/status$} }
        map { json_of_text($_) } grep { length } split /\n/,
        LWP::UserAgent->new->get("$mock/_log")->decoded_content;
    ok(@polls && !grep({ ($_->{query} // '') !~ /(^|&)logs=1(&|$)/ } @polls),
       'every status poll asked for the logs (' . scalar(@polls) . ' polls)');
    my $hist = json_of(own_api($base, GET => '/api/prog-fal/history?limit=5', user => $u)) // {};
    my ($item) = grep { $_->{generationId} eq $id } @{ $hist->{items} || [] };
    ok($item && exists $item->{progress} && !defined $item->{progress},
       'its history item has the field, null once finished');
}

# ---- 3. no report: the estimate from this provider's job times -------------
{
    my $first = generate('prog-local', 'a first picture to time');
    my $s;
    wait_for(sub { ($s = status_of('prog-local', $first))->{status} eq 'completed' }, 20);
    is($s->{status}, 'completed', 'local: one picture made (3 s), its time measured');
    my $id = generate('prog-local', 'a second picture');
    wait_for(sub { ($s = status_of('prog-local', $id))->{status} eq 'processing' }, 10);
    sleep 0.5;
    my $a = status_of('prog-local', $id);
    sleep 1.2;
    my $b = status_of('prog-local', $id);
    diag("estimates: $a->{status} " . ($a->{progress} // 'null') . ' ' . ($a->{estimatedFinishAt} // 'null')
         . ", then $b->{status} " . ($b->{progress} // 'null'));
    ok(defined $a->{progress} && $a->{progress} > 0 && $a->{progress} <= 0.99,
       'a processing generation without a report has an estimated progress');
    ok($b->{status} ne 'processing' || ($b->{progress} // 0) > $a->{progress},
       'which moves with the clock');
    my ($fin, $start) = (secs_of($a->{estimatedFinishAt}), secs_of($a->{startedAt}));
    ok(defined $fin && $fin >= $start + 2 && $fin <= $start + 5,
       'and ends about one job time (3 s) after its start');
    my $writes = psql("SELECT count(*) FROM prog_writes WHERE id = '$id'");
    is($writes, 0, 'an estimate is never written to the row');
    my @ev = stream('prog-local', $id, 10);
    is($ev[-1]{s}{status}, 'completed', 'its stream ends completed');
}

# ---- 4. the statement's own rules -----------------------------------------
{
    # The module's own PROGRESS statement (bench/lib/print-sql) on a row of
    # one attempt: a grown report is written once a second at most, never
    # a smaller one, and nothing for another lease.
    my $text = `$FindBin::Bin/../bench/lib/print-sql prog-art $table progress`;
    my $id = psql("INSERT INTO $table (user_id, status, prompt, seed, input, estimated_cost, chain, "
                  . "queued_at, lease_owner, lease_until, attempts, provider_job_id, job_started_at) "
                  . "VALUES ('$u', 'processing', 'p', 1, '{}', 1, 'prog-rep', now(), 'w', "
                  . "now() + interval '1 hour', 1, 'job', now()) RETURNING id");
    my $upd = sub {
        my @args = ("'$_[0]'", "'$id'", "'$_[1]'", 1);
        (my $sql = $text) =~ s/%[sd]/shift @args/ge;
        return scalar(psql_rows($sql));
    };
    ok($text =~ /genflow_progress/, 'the statement announces on genflow_progress');
    is(join(',', $upd->(0.3, 'w'), $upd->(0.5, 'w'), $upd->(0.4, 'other')), '1,0,0',
       'written once, not again within the second, never for another lease');
    psql("UPDATE $table SET progress_at = now() - interval '2 seconds' WHERE id = '$id'");
    is(join(',', $upd->(0.2, 'w'), $upd->(0.6, 'w')), '0,1', 'never smaller; a grown one a second later');
    psql("DELETE FROM $table WHERE id = '$id'");
}

# ---- 5. a report the database did not take is tried again at the next poll --
{
    # The test's own trigger refuses the first write of this generation's
    # progress (as the statement's own second does when the database's
    # clock is ahead of the node's, or another node wrote last): the row
    # is left alone, and the next poll's report, which grew, must be
    # written then, not a second after the refused try.
    psql("CREATE TABLE prog_tries (id uuid, progress real, written boolean, "
         . "at timestamptz DEFAULT clock_timestamp())");
    psql("CREATE FUNCTION prog_refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN "
         . "IF NEW.prompt LIKE '%refuse-once%' AND NEW.progress IS DISTINCT FROM OLD.progress "
         . "AND NEW.progress IS NOT NULL THEN "
         . "IF NOT EXISTS (SELECT 1 FROM prog_tries WHERE id = NEW.id) THEN "
         . "INSERT INTO prog_tries (id, progress, written) VALUES (NEW.id, NEW.progress, false); "
         . "RETURN NULL; END IF; "
         . "INSERT INTO prog_tries (id, progress, written) VALUES (NEW.id, NEW.progress, true); "
         . "END IF; RETURN NEW; END\$\$");
    psql("CREATE TRIGGER prog_refuse BEFORE UPDATE ON $table FOR EACH ROW EXECUTE FUNCTION prog_refuse()");
    my $id = generate('prog-rep', 'a kite over the dunes refuse-once [progress:5]');
    my $s = {};
    wait_for(sub { ($s = status_of('prog-rep', $id))->{status} =~ /completed|failed/ }, 20);
    my @tries = psql_rows("SELECT progress, written, extract(epoch FROM at) FROM prog_tries "
                          . "WHERE id = '$id' ORDER BY at");
    diag('tries (progress, written, seconds after the first): '
         . join(' ', map { sprintf '%.2f/%s/%.2f', $_->[0], $_->[1], $_->[2] - $tries[0][2] } @tries));
    ok(@tries >= 2 && $tries[0][1] eq 'f' && $tries[1][1] eq 't',
       'the first write was refused, the next try was written');
    # The polls of this prediction (the mock's log, by the same clock):
    # the written try must come from the first poll after the refused
    # one, before the poll after that. (Counted as written, the refused
    # try made the node wait a second, past that poll, when the two polls
    # were less than a second apart.)
    my $pid = psql("SELECT provider_job_id FROM $table WHERE id = '$id'");
    my @polls = map { $_->{at} } grep { $_->{method} eq 'GET' && $_->{path} eq "/v1/predictions/$pid" }
                map { json_of_text($_) } split /\n/, LWP::UserAgent->new->get("$mock/_log")->decoded_content;
    my @after = grep { $_ > $tries[0][2] } @polls;
    diag(sprintf 'polls after the refused try: %s', join(' ', map { sprintf '+%.2f', $_ - $tries[0][2] } @after));
    ok(@tries >= 2 && @after >= 1 && $tries[1][2] > $after[0] && (@after < 2 || $tries[1][2] < $after[1]),
       'the next try was written at the first poll after the refused one, not a poll later');
    is($s->{status}, 'completed', 'the generation completed');
    psql("DROP TRIGGER prog_refuse ON $table");
}

stop_own_server($dir);
