# SPDX-License-Identifier: Apache-2.0
# Signed webhooks complete asynchronous jobs at once; bad or stale
# signatures change nothing; duplicate deliveries are harmless.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use LWP::UserAgent;
use JSON::PP;
use Digest::SHA qw(hmac_sha256 sha256_hex);
use MIME::Base64;
use File::Temp qw(tempfile);
use Time::HiRes qw(sleep time);

plan tests => 27;

my $u = new_user('hooks');
api(GET => '/api/quota', user => $u);
grant($u, 50);
my $ua = LWP::UserAgent->new;

sub row { my ($id, $col) = @_; psql("SELECT $col FROM neo_glitch_media WHERE id = '$id'") }
sub start {
    my ($path, $prompt) = @_;
    my $res = api(POST => "/api/$path/generate", user => $u, body => { prompt => $prompt },
                  headers => { Prefer => 'wait=0' });
    my $id = json_of($res)->{generationId};
    my $job;
    for (1 .. 60) { $job = row($id, 'provider_job_id'); last if $job; sleep 0.1 }
    return ($id, $job);
}
sub mock_log {
    map { decode_json($_) } grep { length } split /\n/, $ua->get("$ENV{GENFLOW_MOCK_URL}/_log")->content;
}
sub replicate_hook {
    my ($body, %o) = @_;
    my $ts = $o{ts} // int time;
    my $id = $o{id} // 'msg_' . int(rand 1e9);
    (my $b64 = $ENV{GENFLOW_TEST_WHSEC}) =~ s/^whsec_//;
    my $sig = encode_base64(hmac_sha256("$id.$ts.$body", decode_base64($b64)), '');
    $sig = $o{sig} if defined $o{sig};
    return $ua->post(base_url() . '/hooks/rephook', Content => $body, 'Content-Type' => 'application/json',
                     'webhook-id' => $id, 'webhook-timestamp' => $ts, 'webhook-signature' => "v1,$sig");
}
sub wait_status {
    my ($id, $want, $secs) = @_;
    my $st;
    for (1 .. $secs * 10) { $st = row($id, 'status'); last if $st eq $want; sleep 0.1 }
    return $st;
}

# Replicate: created with the webhook, polled rarely, completed by the webhook.
my ($id, $pred) = start('rep-hook', 'a comet [fault:never]');
ok($pred, "prediction $pred accepted");
my ($create) = grep { $_->{method} eq 'POST' && ($_->{fields}{input}{prompt} // '') =~ /a comet/ } mock_log();
is($create->{fields}{webhook}, 'https://example.test/hooks/rephook', 'create carries the webhook URL');
is_deeply($create->{fields}{webhook_events_filter}, ['completed'], 'for the completed event');
$ua->get("$ENV{GENFLOW_MOCK_URL}/_complete/$pred");   # the provider finishes
sleep 1.5;
is(row($id, 'status'), 'processing', 'without a webhook nothing happens yet (backup poll in 30 s)');

my $res = replicate_hook(encode_json({ id => $pred, status => 'succeeded' }), sig => 'AAAA');
is($res->code, 401, 'a bad signature is refused with 401');
like($res->header('Content-Type'), qr{^application/json}, 'as JSON');
$res = replicate_hook(encode_json({ id => $pred, status => 'succeeded' }), ts => int(time) - 3600);
is($res->code, 401, 'a stale timestamp is refused');
sleep 1;
is(row($id, 'status'), 'processing', 'refused webhooks changed nothing');

my $t0 = time;
my $body = encode_json({ id => $pred, status => 'succeeded' });
$res = replicate_hook($body, id => 'msg_dup');
is($res->code, 200, 'a valid webhook is accepted');
is(decode_json($res->content)->{woken}, 1, 'it woke the generation');
is(wait_status($id, 'completed', 10), 'completed', 'and the generation completed');
cmp_ok(time - $t0, '<', 5, sprintf('at once (%.1f s), not at the 30 s backup poll', time - $t0));
$res = replicate_hook($body, id => 'msg_dup');
is($res->code, 200, 'a duplicate delivery is accepted');
is(decode_json($res->content)->{woken}, 0, 'and wakes nothing');
is(psql("SELECT count(*) FROM genflow_ledger WHERE generation_id = '$id' AND kind = 'charge'"), 1,
   'charged exactly once');

# fal: Ed25519 over request_id, user_id, timestamp and sha256(body).
($id, my $req) = start('fal-hook', 'a nebula [fault:never]');
ok($req, "fal request $req accepted");
my ($submit) = grep { $_->{method} eq 'POST' && ($_->{fields}{prompt} // '') =~ /a nebula/ } mock_log();
is(lc $submit->{query}, lc 'fal_webhook=https%3A%2F%2Fexample.test%2Fhooks%2Ffalhook', 'submit carries ?fal_webhook= (URL-encoded)');
$ua->get("$ENV{GENFLOW_MOCK_URL}/_complete/$req");
my $fbody = encode_json({ request_id => $req, gateway_request_id => $req, status => 'OK', payload => {}, error => undef });
my $ts = int time;
my ($fh, $msgfile) = tempfile();
print $fh "$req\nuser-1\n$ts\n" . sha256_hex($fbody);
close $fh;
my $pem = Apache::Test::vars('t_conf') . '/fal-webhook.pem';
my $sig = unpack 'H*', `openssl pkeyutl -sign -inkey '$pem' -rawin -in '$msgfile'`;
sub fal_hook {
    my ($s) = @_;
    $ua->post(base_url() . '/hooks/falhook', Content => $fbody, 'Content-Type' => 'application/json',
              'X-Fal-Webhook-Request-Id' => $req, 'X-Fal-Webhook-User-Id' => 'user-1',
              'X-Fal-Webhook-Timestamp' => $ts, 'X-Fal-Webhook-Signature' => $s);
}
my $bad = $sig;
substr($bad, 0, 2) = substr($bad, 0, 2) eq 'ff' ? '00' : 'ff';
is(fal_hook($bad)->code, 401, 'fal: a wrong signature is refused');
is(row($id, 'status'), 'processing', 'and changes nothing');
is(fal_hook($sig)->code, 200, 'fal: a valid signature is accepted');
is(wait_status($id, 'completed', 10), 'completed', 'the fal job completes at once');
is(api(POST => '/hooks/nosuch', body => '{}')->code, 404, 'an unknown provider name is 404');

# Regression: the Replicate MAC once ran over a C-string copy of the body
# that stopped at the first NUL, reading past it, so an unsigned 1 MB body
# starting with NUL killed the child. It must be a plain 401 now, the server
# must keep answering, and the error_log must show no crash.
my $elog = Apache::Test::vars('t_logs') . '/error_log';
my $elog_start = -s $elog // 0;
my $nul_body = "\0" . ('x' x 999_999);          # 1 MB, within the 1 MiB cap
$res = $ua->post(base_url() . '/hooks/rephook', Content => $nul_body,
                 'Content-Type' => 'application/json', 'webhook-id' => 'msg_nul',
                 'webhook-timestamp' => int time, 'webhook-signature' => 'v1,AAAA');
is($res->code, 401, 'a 1 MB body starting with NUL and a bad signature is 401');
like($res->header('Content-Type') // '', qr{^application/json}, 'as JSON');
# Over the cap: refused with 413 before anything reads or MACs it.
$res = $ua->post(base_url() . '/hooks/rephook', Content => 'x' x (1024 * 1024 + 1),
                 'Content-Type' => 'application/json', 'webhook-id' => 'msg_big',
                 'webhook-timestamp' => int time, 'webhook-signature' => 'v1,AAAA');
is($res->code, 413, 'a body over 1 MiB is refused with 413');
is(api(GET => '/api/health')->code, 200, 'the server still answers afterwards');
sleep 0.5;
my $crash = 0;
if (open my $fh, '<', $elog) {
    seek $fh, $elog_start, 0;
    $crash = grep { /Segmentation fault|exit signal (?!Killed)/ } <$fh>;
}
is($crash, 0, 'no crash in the error_log');

