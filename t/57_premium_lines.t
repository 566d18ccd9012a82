# SPDX-License-Identifier: Apache-2.0
# Premium lines (GenFlowLine NAME "EXPR" weight=N): the request's
# expression chooses the line a generation is queued in, and a user of
# weight N takes N turns of a provider's line for one of a standard
# user's.
#
# A line held behind one call (max_concurrent=1 at the crowd mock; its
# user cancels it once the rest are queued)
# while 1 premium user of weight 4 (chosen by reqenv() over a variable a
# RewriteRule sets from the user) and 3 standard users queue 100 each:
# premium's share of the first 140 starts is 4/7 +- 5 %, the places in
# line follow (equal to the brute-force count, premium's 100th ahead of a
# standard user's 30th), and genflow_line_starts_total counts the starts
# per line. Two premium users of weight 2 beside a standard one share
# 2:2:1. The lines in every layout: the type's own <Location>, a parent
# <LocationMatch> (and "none" below it), an Included file at server level,
# a <VirtualHost>'s own; through each queue path (generate with the
# fields, create then generate, retry). Bad lines stop apache2 -t. One
# httpd and one crowd mock for the file.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
$GenFlowTest::wait_step = 0.2;
use File::Temp qw(tempdir);
use IPC::Open2;
use JSON::PP;
use LWP::UserAgent;

plan tests => 35;

my $json = JSON::PP->new;
my $run = "l$$";
my $tmp = tempdir(CLEANUP => 1);
chmod 0777, $tmp;
sub write_file { open my $fh, '>', $_[0] or die $!; print $fh $_[1]; close $fh }

my $cport = free_port();
my $crowd = "http://127.0.0.1:$cport";
mock_at($crowd);
my $cpid = open2(my $cout, my $cin, 'node', "$FindBin::Bin/mock/crowd_provider.mjs", $cport, 15);
is(scalar(<$cout>) // '', "ready\n", 'the crowd mock listens');
END { kill 'TERM', $cpid if $cpid }

psql("SELECT genflow_create_type_table('pl-share', 'pl_share_media')");
psql("SELECT genflow_create_type_table('pl-fair', 'pl_fair_media')");
psql("SELECT genflow_create_type_table('pl-lay', 'pl_lay_media')");
my %u;
for my $who (qw(pp ps1 ps2 ps3 pb pp2 pg pv)) {
    (my $prefix = $who) =~ s/\d+$//;
    $u{$who} = new_user($prefix eq 'ps' ? 'ps' : $prefix);
    api(GET => '/api/quota', user => $u{$who});
    grant($u{$who}, 1000);
}

my $vport = free_port();
my $included = qq{GenFlowLine gold "%{REMOTE_USER} =~ /^pg_/" weight=3\n};
write_file("$tmp/lines.conf", $included);
my $prov = "stability base_url=$crowd key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=30000 breaker=off";
my ($dir, $base) = start_own_server(<<"BODY", 'rewrite');
GenFlowDailyLimit 0
GenFlowMaxActive 1000
GenFlowProvider crowdp $prov max_concurrent=1
GenFlowProvider crowdf $prov max_concurrent=1
GenFlowProvider quick local latency=1
Include "$tmp/lines.conf"
<Location /api/metrics>
    SetHandler genflow-metrics
</Location>
<LocationMatch "^/api/pl-(fair|none)">
    GenFlowLine premium "%{REMOTE_USER} =~ /^pp_/" weight=2
</LocationMatch>
<Location /api/pl-share>
    GenFlowType pl-share
    GenFlowProviders crowdp
    GenFlowWait 0
    RewriteEngine On
    RewriteCond %{REMOTE_USER} ^pp_
    RewriteRule ^ - [E=GENFLOW_TIER:pro]
    GenFlowLine premium "reqenv('GENFLOW_TIER') == 'pro'" weight=4
</Location>
<Location /api/pl-fair>
    GenFlowType pl-fair
    GenFlowProviders crowdf
    GenFlowWait 0
</Location>
<Location /api/pl-none>
    GenFlowType pl-lay
    GenFlowProviders quick
    GenFlowWait 0
    GenFlowLine none
</Location>
<Location /api/pl-inc>
    GenFlowType pl-lay
    GenFlowProviders quick
    GenFlowWait 0
</Location>
Listen 127.0.0.1:$vport
<VirtualHost 127.0.0.1:$vport>
    ServerName lines-vhost.test
    GenFlowLine vip "%{REMOTE_USER} =~ /^pv_/" weight=2
    <Location /api/pl-vh>
        GenFlowType pl-lay
        GenFlowProviders quick
        GenFlowWait 0
    </Location>
</VirtualHost>
BODY

sub generate {
    my ($url, $type, $who, $prompt) = @_;
    my $res = own_api($url, POST => "/api/$type/generate", user => $u{$who}, body => { prompt => $prompt });
    return (json_of($res) // {})->{generationId};
}
sub metric {
    my ($type, $line) = @_;
    my $text = own_api($base, GET => '/api/metrics', user => 'admin')->decoded_content;
    return $text =~ /^genflow_line_starts_total\{type="\Q$type\E",line="\Q$line\E"\} (\d+)$/m ? $1 : undef;
}
# Queue the generations (user key => count) at once, 8 in parallel,
# interleaved; the number answered 202.
sub queue_many {
    my ($type, $tag, %n) = @_;
    my @reqs;
    for my $i (1 .. 100) {
        push @reqs, map { [$_, $i] } grep { $i <= $n{$_} } sort keys %n;
    }
    my $cfg = "$tmp/curl-$type.cfg";
    open my $fh, '>', $cfg or die $!;
    for my $k (0 .. $#reqs) {
        my ($who, $i) = @{ $reqs[$k] };
        (my $body = $json->encode({ prompt => "$tag $who $i" })) =~ s/(["\\])/\\$1/g;
        print $fh "url = \"$base/api/$type/generate\"\ndata = \"$body\"\n"
                . "header = \"Content-Type: application/json\"\nuser = \"$u{$who}:$u{$who}\"\n"
                . "output = \"/dev/null\"\nwrite-out = \"%{http_code}\\n\"\n" . ($k < $#reqs ? "next\n" : '');
    }
    close $fh;
    return scalar grep { /^202$/ } split /\n/, `curl -s --parallel --parallel-max 8 -K $cfg`;
}
# Hold the provider's one place with a call of user pb that does not end
# until its user cancels it (the cut frees the place), and wait until the
# mock has it.
sub hold {
    my ($type, $tag) = @_;
    mock_call(POST => '/_reset');
    my $id = generate($base, $type, 'pb', "$tag hold [latency:120000]");
    ok($id && wait_for(sub { (mock_call(GET => '/_stats')->{open} // 0) == 1 }, 20),
       "$type: one long call holds the provider's only place");
    return $id // 'none';
}
sub release {
    my ($type, $id) = @_;
    my $res = own_api($base, POST => "/api/$type/cancel/$id", user => $u{pb});
    ok($res->code == 200 && wait_for(sub { (mock_call(GET => '/_stats')->{open} // 1) == 0 }, 20),
       "$type: its user's cancel cuts the long call, and the line drains");
}
# The users of the generations tagged, in the order they started.
sub starts {
    my ($table, $tag) = @_;
    return split /,/, psql("SELECT string_agg(user_id, ',' ORDER BY started_at, id) FROM $table "
                           . "WHERE user_prompt LIKE '$tag %' AND user_id <> '$u{pb}'");
}
sub all_queued_first {
    my ($table, $tag) = @_;
    my ($r) = psql_rows("SELECT max(queued_at) < min(started_at), max(queued_at), min(started_at) FROM $table"
                        . " WHERE user_prompt LIKE '$tag %' AND user_id <> '$u{pb}'");
    ok(($r->[0] // '') eq 't', 'all were queued before the first of them started (the last queued at '
                               . ($r->[1] // '?') . ', the first started at ' . ($r->[2] // '?') . ')');
}

# 1. One premium user of weight 4 and three standard users, 100 each.
{
    my $tag = "$run-share";
    my $hold = hold('pl-share', $tag);
    is(queue_many('pl-share', $tag, pp => 100, ps1 => 100, ps2 => 100, ps3 => 100), 400,
       '400 generations queued behind it');
    # Places while the line keeps still: each the count of the rows a
    # claim takes first (smaller turn, then ticket), premium's far ahead.
    my %last;
    for my $who (qw(pp ps1)) {
        my $n = $who eq 'pp' ? 100 : 30;
        my $id = psql("SELECT id FROM pl_share_media WHERE user_prompt = '$tag $who $n'");
        my $st = json_of(own_api($base, GET => "/api/pl-share/status/$id", user => $u{$who})) // {};
        my $brute = psql("SELECT count(*) FROM pl_share_media g, pl_share_media x WHERE x.id = '$id'"
                         . " AND g.status = 'pending' AND g.queued_at IS NOT NULL AND (g.turn, g.ticket) < (x.turn, x.ticket)");
        $last{$who} = [$st->{queuePosition} // -1, $brute, $st->{estimatedStartAt}];
    }
    ok($last{pp}[0] == $last{pp}[1] && $last{ps1}[0] == $last{ps1}[1],
       "each place is the count of the rows ahead (premium's 100th: $last{pp}[0], a standard user's 30th: $last{ps1}[0])")
        or diag explain \%last;
    cmp_ok($last{pp}[0], '<', $last{ps1}[0], "premium's 100th is ahead of a standard user's 30th");
    release('pl-share', $hold);
    ok(wait_for(sub { psql("SELECT count(*) FROM pl_share_media WHERE user_prompt LIKE '$tag %' AND status = 'completed'") == 400 }, 180),
       'all 400 completed');
    all_queued_first('pl_share_media', $tag);
    my @s = starts('pl_share_media', $tag);
    my $p = grep { $_ eq $u{pp} } @s[0 .. 139];
    my $share = $p / 140;
    diag(sprintf "premium lines: premium's share of the first 140 starts %.3f (%d), target %.3f +- 0.05",
         $share, $p, 4 / 7);
    ok(abs($share - 4 / 7) <= 0.05, sprintf("premium's share of the first 140 starts: %d (%.3f; weight/(weight+3) = %.3f)",
                                            $p, $share, 4 / 7))
        or diag join ' ', map { $_ eq $u{pp} ? 'P' : 's' } @s;
    my %per = map { my $w = $_; ($w => scalar grep { $_ eq $u{$w} } @s[0 .. 139]) } qw(ps1 ps2 ps3);
    ok(!grep({ abs($per{$_} - 20) > 3 } keys %per), "the standard users in turn among themselves (@per{qw(ps1 ps2 ps3)})");
    is(psql("SELECT string_agg(DISTINCT COALESCE(line, '-') || ':' || user_id, ',' ORDER BY COALESCE(line, '-') || ':' || user_id)"
            . " FROM pl_share_media WHERE user_prompt LIKE '$tag %' AND user_id IN ('$u{pp}', '$u{ps1}')"),
       "-:$u{ps1},premium:$u{pp}", "each row keeps its line (premium's; standard's NULL)");
    is(metric('pl-share', 'premium'), 100, 'genflow_line_starts_total counts premium\'s 100 starts');
    is(metric('pl-share', 'standard'), 301, 'and the standard line\'s 301');
}

# 2. Two premium users of weight 2 (a parent <LocationMatch>) and one
#    standard user: 2:2:1, fair among the premium ones.
{
    my $tag = "$run-fair";
    my $hold = hold('pl-fair', $tag);
    is(queue_many('pl-fair', $tag, pp => 30, pp2 => 30, ps1 => 30), 90, '90 generations queued behind it');
    release('pl-fair', $hold);
    ok(wait_for(sub { psql("SELECT count(*) FROM pl_fair_media WHERE user_prompt LIKE '$tag %' AND status = 'completed'") == 90 }, 120),
       'all 90 completed');
    all_queued_first('pl_fair_media', $tag);
    my @s = starts('pl_fair_media', $tag);
    my %n = map { my $w = $_; ($w => scalar grep { $_ eq $u{$w} } @s[0 .. 49]) } qw(pp pp2 ps1);
    diag("premium lines: of the first 50 starts, $n{pp} and $n{pp2} (weight 2) and $n{ps1} (standard), target 20:20:10");
    ok(abs($n{pp} / 50 - 0.4) <= 0.05 && abs($n{pp2} / 50 - 0.4) <= 0.05 && abs($n{ps1} / 50 - 0.2) <= 0.05,
       "of the first 50 starts, the premium users $n{pp} and $n{pp2}, the standard one $n{ps1} (2:2:1)")
        or diag join ' ', map { my $x = $_; (grep { $u{$_} eq $x } qw(pp pp2 ps1))[0] } @s;
}

# 3. The layouts, and each path that queues.
{
    my $vbase = "http://127.0.0.1:$vport";
    my $line_of = sub { psql("SELECT COALESCE(line, 'NULL') FROM pl_lay_media WHERE user_prompt = '$_[0]'") };
    generate($base, 'pl-inc', 'pg', "$run-inc gold");
    generate($base, 'pl-inc', 'pp', "$run-inc pp");
    is($line_of->("$run-inc gold"), 'gold', 'an Included file at server level: its line for a location without its own');
    is($line_of->("$run-inc pp"), 'NULL', 'and the standard line for a user its expression does not name');
    generate($base, 'pl-none', 'pp', "$run-none pp");
    is($line_of->("$run-none pp"), 'NULL', '"GenFlowLine none" below a parent with lines: everyone standard');
    generate($vbase, 'pl-vh', 'pv', "$run-vh pv");
    generate($vbase, 'pl-vh', 'pg', "$run-vh pg");
    is($line_of->("$run-vh pv"), 'vip', "a <VirtualHost>'s own line");
    is($line_of->("$run-vh pg"), 'NULL', "which replaces the server's there");
    # Created, then queued by a generate of its id (the queue statement);
    # and a retry of a cancelled one (a new generation, queued in the
    # line of the retry's request).
    my $create = sub { (json_of(own_api($base, POST => '/api/pl-inc/create', user => $u{pg},
                                        body => { prompt => $_[0] })) // {})->{generationId} // 'none' };
    my $c = $create->("$run-two gold");
    is($line_of->("$run-two gold"), 'NULL', 'a generation created, not queued, has no line yet');
    own_api($base, POST => '/api/pl-inc/generate', user => $u{pg}, body => { generationId => $c });
    is($line_of->("$run-two gold"), 'gold', 'queued by a generate of its id: in the line of that request');
    my $d = $create->("$run-three gold");
    own_api($base, POST => "/api/pl-inc/cancel/$d", user => $u{pg});
    my $r = (json_of(own_api($base, POST => "/api/pl-inc/retry/$d", user => $u{pg})) // {})->{generationId}
            // '00000000-0000-0000-0000-000000000000';
    is(psql("SELECT COALESCE(line, 'NULL') FROM pl_lay_media WHERE id = '$r'"), 'gold',
       'a retry is queued in the line of its own request');
}

# 4. Bad lines stop apache2 -t, naming what is wrong.
{
    my %bad = ('GenFlowLine premium "%{REMOTE_USER} =~" weight=2' => 'premium: the expression does not parse',
               'GenFlowLine premium "true" weight=0' => 'a weight is a whole number from 1 to 16',
               'GenFlowLine premium "true" weight=17' => 'a weight is a whole number from 1 to 16',
               'GenFlowLine standard "true"' => "'standard': a name is 1 to 32",
               qq{GenFlowLine a "true"\nGenFlowLine a "false"} => "'a' twice in one place",
               qq{GenFlowLine none\nGenFlowLine a "true"} => 'none, and lines, in one place',
               'GenFlowLine premium' => 'NAME "EXPR" [weight=N], or none');
    for my $line (sort keys %bad) {
        write_file("$tmp/lines.conf", "$line\n");
        my $out = `/usr/sbin/apache2 -f '$dir/httpd.conf' -t 2>&1`;
        (my $name = $line) =~ s/\n/; /g;
        ok($? != 0 && index($out, $bad{$line}) >= 0, "-t refuses: $name") or diag $out;
    }
    write_file("$tmp/lines.conf", $included);
}

unlike(crash_report($dir), qr/\S/, 'no child crashed');
stop_own_server($dir);
