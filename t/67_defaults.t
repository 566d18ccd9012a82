# SPDX-License-Identifier: Apache-2.0
# The production defaults of the timers that the other files shorten
# (docs/testing.md, "Timers"): a server whose configuration sets none of
# them. The lease is 30 s (GenFlowLeaseSeconds), the deadline stored with a
# generation 120 s (GenFlowDeadline), a transient failure is retried 3
# times (GenFlowMaxRetries) after 2, 4 and 8 s (jittered 80 to 120 %), and
# a provider's circuit opens after 5 failures within 60 s for 30 s
# (breaker_failures, breaker_window, breaker_cooldown).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;

plan tests => 13;

my $mock = $ENV{GENFLOW_MOCK_URL} or die 'GENFLOW_MOCK_URL is not set';
# A type only this file's server knows: the suite's httpd on the same
# database never claims its rows.
my $table = 'dflt_media';
psql("SELECT genflow_create_type_table('dflt', '$table')");
my $u = new_user('dflt');
api(GET => '/api/quota', user => $u);
grant($u, 1000);
my $tag = "dflt-$$-" . time;

my ($dir, $base) = start_own_server(<<"BODY");
GenFlowProvider dflt-stab stability base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on
GenFlowProvider dflt-slow local latency=6000
<Location /api/dflt-fail>
    GenFlowType dflt
    GenFlowProviders dflt-stab
    GenFlowWait 0
</Location>
<Location /api/dflt-slow>
    GenFlowType dflt
    GenFlowProviders dflt-slow
    GenFlowWait 0
</Location>
BODY
sub row { psql("SELECT $_[1] FROM $table WHERE id = '$_[0]'") }

# The lease and the deadline, on a call of 6 s.
my $slow = json_of(own_api($base, POST => '/api/dflt-slow/generate', user => $u,
                           body => { prompt => "$tag slow" })) // {};
my $sid = $slow->{generationId} // '';
ok($sid, 'a slow generation is queued') or diag explain $slow;
ok(wait_for(sub { row($sid, 'status') eq 'processing' }, 20), 'and worked');
my $left = row($sid, "round(extract(epoch FROM lease_until - now()))");
# Renewed every third of it while the call runs: 20 to 30 s ahead.
ok($left =~ /^\d+$/ && $left >= 19 && $left <= 31, "the lease runs 30 s ahead at most, and is renewed (now $left s)");
is(row($sid, 'deadline_secs'), 120, 'the deadline stored with the generation is 120 s');
my $st = json_of(own_api($base, GET => "/api/dflt-slow/status/$sid", user => $u)) // {};
is($st->{maxRetries}, 3, 'maxRetries is 3');

# Three retries of a transient failure, 2, 4 and 8 s apart (80 to 120 %).
my $fail = json_of(own_api($base, POST => '/api/dflt-fail/generate', user => $u,
                           body => { prompt => "$tag first [fault:500]" })) // {};
my $fid = $fail->{generationId} // '';
ok($fid, 'a generation whose provider answers 500 is queued');
ok(wait_for(sub { row($fid, 'status') eq 'failed' }, 40), 'it fails after its retries');
my @at = map { $_->{at} } grep { ($_->{fields}{prompt} // '') =~ /\Q$tag\E first/ } mock_journal();
is(scalar @at, 4, 'one call and 3 retries');
my @gap = map { $at[$_] - $at[$_ - 1] } 1 .. $#at;
my @want = (2, 4, 8);
ok(@gap == 3 && !grep({ $gap[$_] < 0.8 * $want[$_] || $gap[$_] > 1.2 * $want[$_] + 0.5 } 0 .. 2),
   'the retries wait 2, 4 and 8 s, jittered') or diag "gaps: @gap";

# The fifth failure within 60 s opens the circuit, for 30 s.
my $second = json_of(own_api($base, POST => '/api/dflt-fail/generate', user => $u,
                             body => { prompt => "$tag second [fault:500]" })) // {};
ok($second->{generationId}, 'a second one is queued');
my $opened = '';
ok(wait_for(sub {
    open my $log, '<', "$dir/error_log" or return 0;
    ($opened) = grep { /provider dflt-stab: \d+ failures within/ } <$log>;
    close $log;
    defined $opened;
}, 20), 'its first failure opens the circuit') or diag `tail -n 20 $dir/error_log`;
like($opened // '', qr/dflt-stab: 5 failures within 60 s .*circuit opened: no submission for 30 s/,
     'after 5 failures within 60 s, for 30 s');
ok(wait_for(sub { row($second->{generationId} // '', 'status') =~ /^(failed|completed)$/ }, 40),
   'the second one ends');
stop_own_server($dir);
