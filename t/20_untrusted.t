# SPDX-License-Identifier: Apache-2.0
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
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep);
use JSON::PP;

plan tests => 27;

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

$res = api(POST => '/api/neo-glitch/create', user => $u, body => { prompt => "  \t\n " });
ok(is_json_error($res, 400, 'VALIDATION_ERROR') && json_of($res)->{error}{message} =~ /^prompt\b.*blank/,
   'a blank prompt: 400, not a charged picture of nothing');
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

# A 60-character type with a 50-character table (the longest: the
# indexes are named after it), mounted at "/" of a server of its own:
# statement labels longer than PostgreSQL's 63 bytes stay unique (hashed),
# and status URLs are "/status/<id>", not "//status".
{
    my $type = 'long-type-' . ('a' x 50);
    my $table = 'long_type_' . ('a' x 37) . '_tb';
    is(length($type) . '/' . length($table), '60/50', 'a 60-character type, a 50-character table');
    psql("SELECT genflow_create_type_table('$type', '$table')");
    my @indexes = map { "${table}_$_" }
        qw(user_history provider_job due prunable fresh again polls created deadline status);
    is(psql("SELECT count(*) FROM pg_indexes WHERE tablename = '$table' AND indexname IN ("
            . join(', ', map { "'$_'" } @indexes) . ")"), scalar @indexes,
       'it has all ' . scalar(@indexes) . ' of its indexes, under their full names');
    my (undef, $ok) = psql("SELECT genflow_create_type_table('too-long', '${table}x')");
    ok(!$ok && psql("SELECT count(*) FROM pg_tables WHERE tablename = '${table}x'") == 0,
       'a 51-character table is refused and not created');
    my $dir = tempdir(CLEANUP => 1);
    my $port = free_port();
    my $root = Apache::Test::vars('serverroot');
    my $htpasswd = Apache::Test::vars('t_conf') . '/htpasswd';
    own_httpd_conf($dir, $port, <<"BODY", qw(auth_basic authn_core authn_file authz_user));
GenFlowStorageDir "$root/media"
GenFlowStorageURL /media
<Location />
    AuthType Basic
    AuthName "genflow tests"
    AuthBasicProvider file
    AuthUserFile "$htpasswd"
    Require valid-user
    GenFlowType $type $table
    GenFlowWait 20
</Location>
BODY
    system("/usr/sbin/apache2 -f '$dir/httpd.conf' -k start") == 0 or die "own httpd";
    for (1 .. 50) { last if -s "$dir/httpd.pid"; sleep 0.1 }
    my $ua = LWP::UserAgent->new(timeout => 60, keep_alive => 0);
    my $req = HTTP::Request->new(POST => "http://127.0.0.1:$port/generate");
    $req->authorization_basic($u, $u);
    $req->header('Content-Type' => 'application/json');
    $req->content('{"prompt":"at the root"}');
    my $gen = $ua->request($req);
    my $g = eval { decode_json($gen->decoded_content) } || {};
    is($g->{status}, 'completed', 'generate at / completes on the long type');
    $req = HTTP::Request->new(POST => "http://127.0.0.1:$port/create");
    $req->authorization_basic($u, $u);
    $req->header('Content-Type' => 'application/json');
    $req->content('{"prompt":"where is it"}');
    my $created = $ua->request($req);
    like($created->header('Location') // '', qr{^/status/[0-9a-f-]{36}$}, 'Location is /status/<id>');
    $req = HTTP::Request->new(GET => "http://127.0.0.1:$port" . ($created->header('Location') // '/none'));
    $req->authorization_basic($u, $u);
    is($ua->request($req)->code, 200, 'and that URL answers');
    is(psql("SELECT count(*) FROM $table WHERE user_id = '$u'"), 2, 'both rows are in the long table');
    system("/usr/sbin/apache2 -f '$dir/httpd.conf' -k stop");
}
