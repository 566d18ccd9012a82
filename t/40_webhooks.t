# SPDX-License-Identifier: Apache-2.0
# Webhooks to the site's backend: a create's webhook (on an origin its
# location allows) and webhookEvents; deliveries from the durable outbox,
# signed as Standard Webhooks says and verified here by the reference
# library (tests/webhooks/receiver.mjs, npm standardwebhooks), at least
# once with a stable webhook-id: a receiver that fails twice then recovers,
# one that never answers, one that redirects (never followed), the admin
# API's list of failed deliveries and its redelivery, and a child killed
# during a delivery (delivered once it is back, with the same id), a
# receiver that answers 410 Gone (failed at once, never retried), and a
# secret being rotated: the file holds the new and the old secret, and
# every delivery verifies under each alone. One receiver and one httpd for
# the file.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
$GenFlowTest::wait_step = 0.25;   # each look of its waits runs psql
use File::Temp qw(tempdir);
use GenFlowReceiver;
use LWP::UserAgent;
use JSON::PP;
use Time::HiRes qw(sleep time);

plan tests => 39;

# Newest first: the new secret, then the old one the backend still knows.
my $new_secret = 'whsec_c2VjcmV0LW51bWJlci10d28taXMtbmV3ZXI=';
my $old_secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
my $tmp = tempdir(CLEANUP => 1);
chmod 0755, $tmp;
open my $sf, '>', "$tmp/whsec" or die $!;
print $sf "# rotating: the new secret first\n$new_secret\n$old_secret\n";
close $sf;
my $R = start_receiver($new_secret, $old_secret);
ok($R->{ready}, 'the receiver listens');
my $recv = $R->{url};

sub deliveries { receiver_log($R) }
sub of { my ($path, $id) = @_; grep { $_->{path} eq $path && ($_->{generationId} // '') eq $id } deliveries() }
sub outbox {
    my ($id, $event) = @_;
    return psql("SELECT state || ' ' || attempts FROM genflow_webhook_outbox "
                . "WHERE generation_id = '$id' AND event = '$event'");
}

psql("SELECT genflow_create_type_table('hook-art', 'hook_art_media')");
my $u = new_user('hooks');
api(GET => '/api/quota', user => $u);
grant($u, 100);

my ($dir, $base) = start_own_server(<<"BODY");
GenFlowWebhookSecretFile $tmp/whsec
GenFlowWebhookFirstRetry 1
GenFlowWebhookRetryPeriod 12
GenFlowRetention 3600
GenFlowDailyLimit 0
GenFlowMaxActive 100
<Location /api/hook-art>
    GenFlowType hook-art
    GenFlowProviders local
    GenFlowWait 30
    GenFlowWebhookOrigins $recv
</Location>
<Location /api/hook-closed>
    GenFlowType hook-art
    GenFlowProviders local
</Location>
<Location /api/admin>
    SetHandler genflow-admin
    Require user admin
</Location>
BODY

sub create {
    my ($path, $body, $how) = @_;
    return own_api($base, POST => "/api/$path/" . ($how // 'generate'), user => $u, body => $body);
}

# 1. Refused: another origin, a location that allows none, an unknown
#    event, events without a webhook; nothing is created.
{
    my $rows = psql("SELECT count(*) FROM hook_art_media WHERE user_id = '$u'");
    ok(is_json_error(create('hook-art', { prompt => 'x', webhook => 'https://elsewhere.example/h' }),
                     400, 'VALIDATION_ERROR'), 'a webhook on another origin: 400');
    ok(is_json_error(create('hook-closed', { prompt => 'x', webhook => "$recv/ok" }), 400,
                     'VALIDATION_ERROR'), 'a webhook where no origin is allowed: 400');
    ok(is_json_error(create('hook-art', { prompt => 'x', webhook => "$recv/ok", webhookEvents => ['done'] }),
                     400, 'VALIDATION_ERROR'), 'an unknown event: 400');
    ok(is_json_error(create('hook-art', { prompt => 'x', webhookEvents => ['completed'] }), 400,
                     'VALIDATION_ERROR'), 'webhookEvents without a webhook: 400');
    is(psql("SELECT count(*) FROM hook_art_media WHERE user_id = '$u'"), $rows, 'nothing was created');
}

# 2. The terminal events by default: one delivery, verified, stable id.
my $ok = json_of(create('hook-art', { prompt => 'heard by the backend', webhook => "$recv/ok" })) // {};
is($ok->{status}, 'completed', 'a generation with a webhook completes');
ok(wait_for(sub { of('/ok', $ok->{generationId} // 'none') }, 20), 'its webhook was delivered');
my @d = of('/ok', $ok->{generationId} // 'none');
is(scalar @d, 1, 'once: started is not among the default events');
ok($d[0]{verified}, 'the signature verifies with standardwebhooks') or diag($d[0]{error});
is(join(',', map { $_ ? 'yes' : 'no' } @{ $d[0]{verifiedWith} // [] }), 'yes,yes',
   'under the new secret alone and under the old one alone (rotation)');
is($d[0]{type}, 'generation.completed', 'type generation.completed, with the status object');
(my $hex = $ok->{generationId} // '') =~ s/-//g;
is($d[0]{id}, "msg_${hex}_completed", 'webhook-id msg_<generation>_<event>');
is(outbox($ok->{generationId} // 'none', 'completed'), 'delivered 1', 'the outbox row is delivered');

# 3. Asked for started and completed: both, in order.
my $both = json_of(create('hook-art', { prompt => 'both events', webhook => "$recv/ok",
                                        webhookEvents => ['started', 'completed'] })) // {};
ok(wait_for(sub { of('/ok', $both->{generationId} // 'none') >= 2 }, 20), 'two deliveries');
is(join(',', map { $_->{type} } sort { $a->{at} <=> $b->{at} } of('/ok', $both->{generationId} // 'none')),
   'generation.started,generation.completed', 'started, then completed');

# 4.-6. A flaky receiver, a silent one and a redirecting one, side by side.
my %g;
for my $path (qw(flaky silent redirect)) {
    $g{$path} = (json_of(create('hook-art', { prompt => "to $path", webhook => "$recv/$path" })) // {})
                ->{generationId} // 'none';
}
ok(wait_for(sub { outbox($g{flaky}, 'completed') =~ /^delivered/ }, 30), 'the flaky receiver got it in the end');
my @f = sort { $a->{at} <=> $b->{at} } of('/flaky', $g{flaky});
is(scalar @f, 3, 'after two failures, the third delivery');
is(scalar(keys %{ { map { $_->{id} => 1 } @f } }), 1, 'all three with the same webhook-id');
# 1 s then 2 s, each spread to 80..120 % (less a little for the clocks).
ok(($f[1]{at} // 0) - ($f[0]{at} // 0) >= 750 && ($f[2]{at} // 0) - ($f[1]{at} // 0) >= 1550,
   sprintf('after waits of at least 0.8 s, then 1.6 s (%d ms, %d ms)',
           ($f[1]{at} // 0) - ($f[0]{at} // 0), ($f[2]{at} // 0) - ($f[1]{at} // 0)));
ok(wait_for(sub { outbox($g{silent}, 'completed') =~ /^failed/ }, 60),
   'a receiver that never answers: failed once the retry period (12 s) is over');
ok(wait_for(sub { outbox($g{redirect}, 'completed') =~ /^failed/ }, 60), 'a redirecting one: failed too');
is(scalar(grep { ($_->{generationId} // '') eq $g{redirect} } of('/ok', $g{redirect})), 0,
   'the redirect was never followed');
my $failed = json_of(own_api($base, GET => '/api/admin/webhooks', user => 'admin')) // {};
my %listed = map { $_->{generationId} => $_ } @{ $failed->{items} // [] };
ok($listed{$g{silent}} && $listed{$g{redirect}}, 'the admin API lists both failed deliveries');
like($listed{$g{redirect}}{lastError} // '', qr/302/, 'with what went wrong (the 302)');

# 7. Redelivered from the admin API: again, with the same id.
{
    my $before = scalar of('/redirect', $g{redirect});
    my $res = own_api($base, POST => "/api/admin/webhooks/$listed{$g{redirect}}{id}/redeliver", user => 'admin');
    is($res->code, 202, 'redeliver: 202');
    ok(wait_for(sub { scalar(of('/redirect', $g{redirect})) > $before }, 20), 'it went out again');
    is((of('/redirect', $g{redirect}))[-1]{id}, $listed{$g{redirect}}{webhookId}, 'with the same webhook-id');
}

# 8. A child killed during a delivery: once the lease is over, the next
#    child delivers it, with the same id.
{
    my $k = (json_of(create('hook-art', { prompt => 'a killed delivery', webhook => "$recv/hang-first" })) // {})
            ->{generationId} // 'none';
    ok(wait_for(sub { of('/hang-first', $k) }, 20), 'the delivery is under way (no answer yet)');
    open my $fh, '<', "$dir/httpd.pid" or die;
    chomp(my $parent = <$fh>);
    kill 'KILL', split /\s+/, `pgrep -P $parent`;
    ok(wait_for(sub { outbox($k, 'completed') =~ /^delivered/ }, 60), 'delivered after the child died');
    my @h = of('/hang-first', $k);
    is(scalar(keys %{ { map { $_->{id} => 1 } @h } }), 1, 'every delivery of it with the same webhook-id');
}

# 9. A receiver that answers 410 Gone: failed at the first answer, with
#    the reason, and never tried again.
{
    my $gone = (json_of(create('hook-art', { prompt => 'to a gone receiver', webhook => "$recv/gone" })) // {})
               ->{generationId} // 'none';
    ok(wait_for(sub { outbox($gone, 'completed') =~ /^failed/ }, 20), '410 Gone: failed');
    is(outbox($gone, 'completed'), 'failed 1', 'after one attempt, not retried for the period');
    my $list = json_of(own_api($base, GET => '/api/admin/webhooks', user => 'admin')) // {};
    my ($item) = grep { ($_->{generationId} // '') eq $gone } @{ $list->{items} // [] };
    like($item->{lastError} // '', qr/410 Gone/, 'the admin API says why');
    sleep 3;   # past the first retry (1 s) and a sweep: still one delivery
    is(scalar(of('/gone', $gone)), 1, 'the receiver heard it once');
}

# The admin API's refusals.
ok(is_json_error(own_api($base, GET => '/api/admin/webhooks?limit=0', user => 'admin'), 400,
                 'VALIDATION_ERROR'), 'a list with limit=0: 400');
ok(is_json_error(own_api($base, POST => '/api/admin/webhooks/999999999/redeliver', user => 'admin'), 404,
                 'NOT_FOUND'), 'redeliver of no such delivery: 404');

# 10. Every delivery verified, under each secret.
is(scalar(grep { !$_->{verified} } deliveries()), 0,
   'every delivery verifies with standardwebhooks under the new and the old secret');

# 11. Deliveries done with leave the outbox after GenFlowRetention (1 h
#     here): one delivered a day ago goes, the others stay.
psql("UPDATE genflow_webhook_outbox SET delivered_at = now() - interval '1 day' "
     . "WHERE generation_id = '" . ($ok->{generationId} // '00000000-0000-4000-8000-000000000000') . "'");
ok(wait_for(sub { outbox($ok->{generationId} // 'none', 'completed') eq '' }, 20)
   && outbox($both->{generationId} // 'none', 'completed') =~ /^delivered/,
   'a delivery done with a day ago leaves the outbox; a recent one stays');
stop_own_server($dir);
