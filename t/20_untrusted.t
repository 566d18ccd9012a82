# Untrusted input: strict UTF-8 everywhere a client can put text, NUL
# refused, methods checked by their exact token, bare JSON values told
# apart. Each answer is a JSON 400/405 that names what is wrong, and
# nothing is written.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use LWP::UserAgent;
use HTTP::Request;

plan tests => 19;

my $u = new_user('untrusted');
api(GET => '/api/quota', user => $u);
my %admin = (user => 'admin', password => 'admin');
my $rows = sub { psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$u'") };

# Raw bytes that json-c lets through but PostgreSQL refuses (once a 500).
my %forms = (surrogate => "\xed\xa0\x80", overlong_nul => "\xc0\x80",
             overlong_slash => "\xe0\x80\xaf", above_max => "\xf4\x90\x80\x80");
for my $name (sort keys %forms) {
    my $res = api(POST => '/api/neo-glitch/create', user => $u,
                  body => qq({"prompt":"bad $forms{$name} text"}));
    ok(is_json_error($res, 400, 'VALIDATION_ERROR') && (json_of($res)->{error}{message} // '') =~ /^prompt:/,
       "$name in a prompt: 400 naming the field");
}
my $res = api(POST => '/api/neo-glitch/create', user => $u, body => '{"prompt":"a\u0000b"}');
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'an escaped NUL in a prompt: 400');
is($rows->(), 0, 'nothing was created');

$res = api(POST => '/api/neo-glitch/create', user => $u, body => 'null');
ok(is_json_error($res, 400, 'VALIDATION_ERROR') && json_of($res)->{error}{message} =~ /null/,
   'a body of null: 400 that says null');
$res = api(POST => '/api/neo-glitch/create', user => $u, body => '123');
ok(is_json_error($res, 400, 'VALIDATION_ERROR') && json_of($res)->{error}{message} =~ /object/,
   'a bare number: 400 that asks for an object (not "truncated")');

# The admin grant: a NUL in the user name would credit another account.
my $before = psql("SELECT count(*) FROM genflow_accounts WHERE user_id = 'a'");
$res = api(POST => '/api/admin/credits', %admin, body => '{"user":"a\u0000b","amount":1}');
ok(is_json_error($res, 400, 'VALIDATION_ERROR') && json_of($res)->{error}{message} =~ /^user:/,
   'NUL in the grant user: 400 naming user');
is(psql("SELECT count(*) FROM genflow_accounts WHERE user_id = 'a'"), $before, 'no account opened');
$res = api(POST => '/api/admin/credits', %admin, body => qq({"user":"nobody_$$","amount":1,"reason":"\xed\xa0\x80"}));
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'a surrogate in the grant reason: 400');
is(psql("SELECT count(*) FROM genflow_accounts WHERE user_id = 'nobody_$$'"), 0, 'and no account was opened');

# Query parameters: a bad value is refused, never read as "no filter".
$res = api(GET => '/api/admin/jobs?user=%ED%A0%80', %admin);
ok(is_json_error($res, 400, 'VALIDATION_ERROR') && json_of($res)->{error}{message} =~ /^user:/,
   'admin jobs ?user=%ED%A0%80: 400 naming user');
$res = api(GET => '/api/admin/jobs?user=a%00b', %admin);
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), '?user=a%00b: 400');
$res = api(GET => "/api/neo-glitch/history?before=%zz", user => $u);
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'a malformed escape in history: 400');
$res = api(DELETE => '/api/admin/jobs?olderThan=-1', %admin);
ok(is_json_error($res, 400, 'VALIDATION_ERROR') && json_of($res)->{error}{message} =~ /whole number/,
   'olderThan=-1: says it must be a whole number (not "is required")');

# Methods by their exact token.
$res = api(OS => '/api/neo-glitch/create', user => $u, body => '{"prompt":"x"}');
ok(is_json_error($res, 405, 'METHOD_NOT_ALLOWED'), 'the OS method: 405');
is($res->header('Allow'), 'POST', 'with Allow: POST');
is($rows->(), 0, 'and no generation, no reservation');
