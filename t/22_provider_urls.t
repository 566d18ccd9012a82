# SPDX-License-Identifier: Apache-2.0
# Provider answers are untrusted: a URL they name is followed with the key
# only on the provider's configured origin, result pictures come only from
# public addresses and never with the key, provider text is cleaned before
# it is stored and escaped in the error_log, and the API prefix answers
# JSON for paths nobody serves. A second mock server on another port
# stands for a foreign host and records everything it gets.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use LWP::UserAgent;
use JSON::PP;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep);

plan tests => 35;

my $u = new_user('urls');
api(GET => '/api/quota', user => $u);
grant($u, 200);
my $KEY = $ENV{GENFLOW_MOCK_KEY};

# The foreign host: the same mock script, its own port and journal.
my $fport = free_port();
my $fstate = tempdir(CLEANUP => 1);
my $fpid = fork // die "fork: $!";
if (!$fpid) {
    open STDOUT, '>', "$fstate/out" or die;
    exec $^X, "$FindBin::Bin/mock/providers.pl", $fport, "$fstate/state" or die "exec: $!";
}
for (1 .. 50) { last if -s "$fstate/out"; sleep 0.1 }
END { kill 'TERM', $fpid if $fpid }
my $foreign = "http://127.0.0.1:$fport";
sub foreign_log {
    my $res = LWP::UserAgent->new(timeout => 10)->get("$foreign/_log");
    return map { decode_json($_) } grep { length } split /\n/, $res->content;
}
ok(LWP::UserAgent->new(timeout => 10)->get("$foreign/_log")->is_success, 'the foreign host is up');

my $n = 0;
sub gen {
    my ($path, $prompt) = @_;
    my $tag = 'u' . ++$n . '-' . $$;
    my $res = api(POST => "/api/$path/generate", user => $u, body => { prompt => "$prompt $tag" },
                  headers => { Prefer => 'wait=30' });
    return (json_of($res) || {}, $res);
}
sub balance { psql("SELECT balance FROM genflow_accounts WHERE user_id = '$u'") }
sub error_log {
    open my $fh, '<', Apache::Test::vars('t_logs') . '/error_log' or return '';
    local $/;
    return <$fh>;
}

# 1. fal: a submit answer whose status/response/cancel URLs point at another
# origin. Nothing is followed, the key never leaves, the job fails and is
# refunded.
my $before = balance();
my ($g) = gen('fal', "[fault:foreign:$fport] a fal job");
is($g->{status}, 'failed', 'fal with foreign URLs: failed');
is(($g->{error} || {})->{code}, 'API_ERROR', 'as API_ERROR');
like(($g->{error} || {})->{message} // '', qr/origin/, 'the message says the URL is off the origin');
is(scalar(foreign_log()), 0, 'the foreign host got no request at all');
is(balance(), $before, 'and the credits came back');

# 2. Replicate: urls.get and urls.cancel on another origin.
($g) = gen('rep', "[fault:foreign:$fport] a replicate job");
is($g->{status}, 'failed', 'replicate with foreign urls.get: failed');
like(($g->{error} || {})->{message} // '', qr/origin/, 'saying why');
is(scalar(foreign_log()), 0, 'the foreign host still got nothing');
is(psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$u' AND provider_state LIKE '%$fport%'"),
   0, 'the foreign URLs were not stored for later polls');

# 3. A result picture on another host is fetched, without the key.
($g) = gen('rep', "[fault:foreignfile:$fport] a picture elsewhere");
is($g->{status}, 'completed', 'replicate output on another host: completed');
my @got = foreign_log();
is(scalar(@got), 1, 'the foreign host got one request');
is(($got[0] || {})->{method} // '', 'GET', 'a GET of the picture');
ok(!exists(($got[0] || {})->{headers}{authorization}), 'without an Authorization header');
ok(!grep({ index(JSON::PP->new->canonical->encode($_), $KEY) >= 0 } @got), 'the key appears nowhere in it');
($g) = gen('fal', "[fault:foreignfile:$fport] a fal picture elsewhere");
is($g->{status}, 'completed', 'fal result image on another host: completed');
@got = foreign_log();
ok(@got == 2 && !exists($got[1]{headers}{authorization}), 'fetched without the key too');

# 4. Result pictures at non-public addresses are refused before connecting.
$before = balance();
($g) = gen('aiml', '[fault:private] cloud metadata');
is($g->{status}, 'failed', 'an AIML picture at 169.254.169.254: failed');
like(($g->{error} || {})->{message} // '', qr/169\.254\.169\.254.*link-local/, 'refused as link-local');
($g) = gen('aiml', '[fault:private6] metadata over IPv6');
is($g->{status}, 'failed', 'an AIML picture at fd00:ec2::254: failed');
like(($g->{error} || {})->{message} // '', qr/unique-local/, 'refused as unique-local');
is(balance(), $before, 'both refunded');
like(error_log(), qr/refused to connect to 169\.254\.169\.254/, 'the error_log says what was refused');

# 5. Provider text with a newline, quotes and an escape sequence: stored
# clean, logged escaped, never a forged log line.
($g) = gen('aiml', '[fault:evilmsg] tell me lies');
is($g->{status}, 'failed', 'an AIML 400 with hostile text: failed');
my $msg = ($g->{error} || {})->{message} // '';
ok($msg =~ /bad input/ && $msg !~ /[\x00-\x1f\x7f]/, 'the stored message keeps the words, no control characters')
    or diag("message: $msg");
($g) = gen('fal', '[fault:evilmsg] and again');
is($g->{status}, 'failed', 'a fal 422 detail with hostile text: failed');
$msg = ($g->{error} || {})->{message} // '';
ok($msg =~ /bad input/ && $msg !~ /[\x00-\x1f\x7f]/, 'its stored message is clean too')
    or diag("message: $msg");
my $log = error_log();
ok($log !~ /^AH00000: \[fake\]/m, 'no forged line in the error_log');
ok($log !~ /\e\[31m/, 'no raw escape sequence in the error_log');
# httpd's own error_log escaping leaves double quotes alone (it doubles the
# backslash ap_escape_logitem put before them): a backslash there is ours.
my ($line) = grep { /injected line/ } split /\n/, $log;
like($line // '', qr/injected line \\+"quoted\\+"/, 'its quotes escaped by ap_escape_logitem')
    or diag("log line: " . ($line // 'none'));

# 6. The API prefix answers JSON for what nobody serves.
my $res = api(GET => '/api/no-such-type/status/x', user => $u);
ok(is_json_error($res, 404, 'NOT_FOUND'), 'an unknown type under /api: JSON 404 NOT_FOUND');
$res = api(POST => '/api/nothing-here', user => $u, body => '{}');
ok(is_json_error($res, 404, 'NOT_FOUND'), 'a POST to an unknown path: JSON 404');
$res = api(GET => '/api/no-such-type/nothing/here');
ok(is_json_error($res, 401, 'UNAUTHORIZED'), 'without a user: JSON 401, not an HTML page');

# 7. Duplicate member names: refused, nothing created.
my $rows = psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$u'");
$res = api(POST => '/api/neo-glitch/create', user => $u,
           body => '{"prompt":"first","style":"minimal","prompt":"second"}');
ok(is_json_error($res, 400, 'VALIDATION_ERROR') && json_of($res)->{error}{message} =~ /"prompt" twice/,
   'a member named twice: 400 naming it');
is(psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$u'"), $rows, 'and nothing was created');
