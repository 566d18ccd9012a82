# SPDX-License-Identifier: Apache-2.0
# Every failure path answers the JSON error shape of docs/api.md.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;

plan tests => 36;

my $user = new_user('err');
my $res = api(GET => '/api/quota', user => $user);   # opens the account: 10 credits

# 400: bad JSON, bad fields (named), required fields.
$res = api(POST => '/api/neo-glitch/create', user => $user, body => '{"prompt": "x"');
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'truncated JSON is 400');
$res = api(POST => '/api/neo-glitch/create', user => $user, body => 'not json');
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'garbage is 400');
$res = api(POST => '/api/neo-glitch/create', user => $user, body => { prompt => 'x', colour => 'red' });
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'unknown field is 400');
like(json_of($res)->{error}{message}, qr/colour/, '... naming the field');
$res = api(POST => '/api/neo-glitch/create', user => $user,
           body => { prompt => 'x', parameters => { seed => 4294967295 } });
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'out-of-range seed is 400');
like(json_of($res)->{error}{message}, qr/parameters\.seed/, '... naming parameters.seed');
$res = api(POST => '/api/neo-glitch/create', user => $user, body => { prompt => 'x' x 2001 });
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'a 2001-character prompt is 400');
$res = api(POST => '/api/neo-glitch/create', user => $user, body => { style => 'minimal' });
like(json_of($res)->{error}{message} // '', qr/prompt is required/, 'neo-glitch requires prompt');
$res = api(POST => '/api/emotion-mask/create', user => $user, body => { prompt => 'x' });
like(json_of($res)->{error}{message} // '', qr/sourceImage is required/, 'emotion-mask requires sourceImage');
$res = api(POST => '/api/emotion-mask/create', user => $user,
           body => { sourceImage => 'http://example.com/a.png' });
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'sourceImage must be https');

# 415: not JSON.
$res = api(POST => '/api/neo-glitch/create', user => $user, body => 'prompt=x',
           content_type => 'application/x-www-form-urlencoded');
ok(is_json_error($res, 415, 'UNSUPPORTED_MEDIA_TYPE'), 'a form body is 415');

# 413: larger than GenFlowMaxBody (4096 here), with and without a length.
$res = api(POST => '/api/neo-glitch/create', user => $user,
           body => '{"prompt":"' . ('y' x 5000) . '"}');
ok(is_json_error($res, 413, 'PAYLOAD_TOO_LARGE'), 'a 5 KB body is 413');

# httpd's own 403 (Require all denied) and 413 (LimitRequestBody) are JSON.
$res = api(POST => '/forbidden/neo-glitch/create', body => { prompt => 'x' });
ok(is_json_error($res, 403, 'FORBIDDEN'), "Require's 403 is JSON");
$res = api(POST => '/small/neo-glitch/create', user => $user,
           body => '{"prompt":"' . ('z' x 200) . '"}');
ok(is_json_error($res, 413, 'PAYLOAD_TOO_LARGE'), "LimitRequestBody's 413 is JSON");
$res = api(POST => '/small/neo-glitch/create', user => new_user('small'), body => { prompt => 'fits' });
is($res->code, 201, 'a body within LimitRequestBody is accepted');

# 401: no Apache authentication at all → the module answers.
$res = api(POST => '/open/neo-glitch/create', body => { prompt => 'x' });
ok(is_json_error($res, 401, 'UNAUTHORIZED'), 'no user is 401 from the module');
# 401 from mod_auth_basic (wrong password) → still JSON.
$res = api(POST => '/api/neo-glitch/create', user => $user, password => 'wrong',
           body => { prompt => 'x' });
ok(is_json_error($res, 401, 'UNAUTHORIZED'), "httpd's own 401 is JSON too");
like($res->header('WWW-Authenticate') // '', qr/^Basic/, '... and keeps WWW-Authenticate');
$res = api(GET => '/api/quota', password => 'x', user => 'nobody-at-all');
ok(is_json_error($res, 401, 'UNAUTHORIZED'), "quota's 401 is JSON");

# 402: not enough credits; no row, no ledger movement.
my $poor = new_user('poor');
for (1 .. 5) {   # custom-prompt costs 2: five use up the 10 starting credits
    api(POST => '/api/custom-prompt/create', user => $poor, body => { prompt => "p$_" });
}
my $rows_before = psql("SELECT count(*) FROM custom_prompt_media WHERE user_id = '$poor'");
$res = api(POST => '/api/custom-prompt/create', user => $poor, body => { prompt => 'one more' });
ok(is_json_error($res, 402, 'INSUFFICIENT_CREDITS'), 'an empty balance is 402');
like(json_of($res)->{error}{message}, qr/costs 2 credits and the balance is 0/, '... saying why');
is(psql("SELECT count(*) FROM custom_prompt_media WHERE user_id = '$poor'"), $rows_before,
   '402 inserts no row');
is(psql("SELECT balance FROM genflow_accounts WHERE user_id = '$poor'"), 0, 'balance stays 0');

# 404: unknown endpoint and unknown id.
$res = api(GET => '/api/neo-glitch/nothing-here', user => $user);
ok(is_json_error($res, 404, 'NOT_FOUND'), 'unknown endpoint is 404');
$res = api(POST => '/api/neo-glitch/generate', user => $user,
           body => { generationId => '11111111-1111-1111-1111-111111111111' });
ok(is_json_error($res, 404, 'GENERATION_NOT_FOUND'), 'generate of an unknown id is 404');

# 405: wrong method, with Allow.
$res = api(GET => '/api/neo-glitch/create', user => $user);
ok(is_json_error($res, 405, 'METHOD_NOT_ALLOWED'), 'GET create is 405');
is($res->header('Allow'), 'POST', '... with Allow: POST');
$res = api(DELETE => '/api/neo-glitch/status/11111111-1111-1111-1111-111111111111', user => $user);
ok(is_json_error($res, 405, 'METHOD_NOT_ALLOWED'), 'DELETE status is 405');
$res = api(POST => '/api/quota', user => $user, body => {});
ok(is_json_error($res, 405, 'METHOD_NOT_ALLOWED'), 'POST quota is 405');

# 404 for a path httpd refuses before it walks the locations (an encoded
# slash, AllowEncodedSlashes Off): JSON too, under the API's prefix.
$res = api(GET => '/api/neo-glitch%2Fstatus/11111111-1111-1111-1111-111111111111', user => $user);
ok(is_json_error($res, 404, 'NOT_FOUND'), 'an encoded slash under the API is a JSON 404')
    or diag($res->as_string);
# A path that only looks like an endpoint of a site-wide handler is none.
$res = api(GET => '/api/quota/x', user => $user);
ok(is_json_error($res, 404, 'NOT_FOUND'), '/api/quota/x is no endpoint: 404');
$res = api(GET => '/api/quota/', user => $user);
ok(is_json_error($res, 404, 'NOT_FOUND'), 'nor is /api/quota/ (a trailing slash): 404');

# 409 is covered by 02_generate.t; 503 by 07_db_restart.t.

# Nothing above charged the user for a failure.
is(psql("SELECT balance FROM genflow_accounts WHERE user_id = '$user'"), 10,
   'failed requests cost nothing');
is(psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$user' AND kind <> 'grant'"), 0,
   'and moved nothing in the ledger');

# The error_log has no trace of a crash so far.
my $log = Apache::Test::vars('t_logs') . '/error_log';
open my $fh, '<', $log or die "$log: $!";
my $crash = grep { /Segmentation fault|exit signal (?!Killed)/ } <$fh>;
is($crash, 0, 'no crash in the error_log');

# Status of a generation that does not exist in this type, via HEAD.
$res = api(HEAD => '/api/neo-glitch/status/11111111-1111-1111-1111-111111111111', user => $user);
is($res->code, 404, 'HEAD of an unknown id is 404');
