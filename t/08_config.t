# SPDX-License-Identifier: Apache-2.0
# Bad configuration stops httpd at startup with a message that names the
# directive and the problem.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);

# A webhook secret file whose second line is no secret: refused, naming the
# file and the line, never echoing the good secret on the first.
my $secrets = tempdir(CLEANUP => 1);
chmod 0755, $secrets;
open my $wf, '>', "$secrets/whsec" or die $!;
print $wf "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\nthe-old-one\n";
close $wf;

my @cases = (
    [ 'GenFlowCost abc',                      qr/GenFlowCost: 'abc' is not a whole number/ ],
    [ 'GenFlowCost -2',                       qr/GenFlowCost: '-2' is not a whole number/ ],
    [ 'GenFlowMaxBody 10',                    qr/GenFlowMaxBody: must be at least 256 bytes/ ],
    [ 'GenFlowWait 61',                       qr/GenFlowWait: '61' is not a whole number between 0 and 60/ ],
    [ 'GenFlowRequire prompt colour',         qr/GenFlowRequire: unknown field 'colour'/ ],
    [ 'GenFlowPromptTemplate "x {nope}"',     qr/unknown placeholder \{nope\}/ ],
    [ 'GenFlowProviders fal:',                qr/empty model after ':'/ ],
    [ 'GenFlowType Neo_Glitch',               qr/GenFlowType: type name 'Neo_Glitch' must be lower-case/ ],
    [ 'GenFlowType neo-glitch "x; drop"',     qr/GenFlowType: table name 'x; drop' must be/ ],
    [ 'GenFlowCORSOrigins http://studio.example/', qr{GenFlowCORSOrigins: origin 'http://studio.example/': an origin has no path, not even '/'; write http://studio.example} ],
    [ 'GenFlowCORSOrigins https://a.example:443', qr/GenFlowCORSOrigins: .*leave out the scheme's default port/ ],
    [ 'GenFlowCORSOrigins http://A.example',  qr/GenFlowCORSOrigins: .*write the host in lower case/ ],
    [ 'GenFlowCORSOrigins "*" http://a.example', qr/GenFlowCORSOrigins: '\*' stands alone/ ],
    [ 'GenFlowCORSOrigins http://*.example',  qr/GenFlowCORSOrigins: .*no user, path, query or wildcard/ ],
    [ 'GenFlowCORSOrigins',                   qr/GenFlowCORSOrigins: needs at least one origin/ ],
    [ 'GenFlowPriority high',                 qr/GenFlowPriority: takes a whole number, -1000..1000/ ],
    [ 'GenFlowPriority 5000',                 qr/GenFlowPriority: takes a whole number, -1000..1000/ ],
);
my @server_cases = (
    [ 'GenFlowProvider s dalle',              qr/unknown provider kind 'dalle'/ ],
    [ 'GenFlowProvider s local colour=red',   qr/has no option 'colour'/ ],
    [ 'GenFlowProvider s local max_concurrent=0', qr/max_concurrent= takes a whole number of calls, 1..100000/ ],
    [ 'GenFlowProvider s local rate=5',       qr{rate= takes N/S: at most N calls started in any S seconds} ],
    [ 'GenFlowProvider s local rate=5/0',     qr{rate= takes N/S} ],
    [ 'GenFlowStartingCredits lots',          qr/GenFlowStartingCredits: 'lots' is not a whole number/ ],
    [ 'GenFlowDailyLimit 1e3',                qr/GenFlowDailyLimit: '1e3' is not a whole number/ ],
    [ 'GenFlowStorageURL media',              qr/GenFlowStorageURL: must be a path/ ],
    [ 'GenFlowMaxInFlight 0',                 qr/GenFlowMaxInFlight: must be at least 1/ ],
    [ 'GenFlowMaxInFlight many',              qr/GenFlowMaxInFlight: 'many' is not a whole number/ ],
    [ 'GenFlowCORSOrigins studio.example',    qr{GenFlowCORSOrigins: origin 'studio.example' must start with http:// or https://} ],
    [ "GenFlowWebhookSecretFile $secrets/whsec", qr{GenFlowWebhookSecretFile: \Q$secrets\E/whsec: line 2: the secret must start with whsec_(?!.*MfKQ9r8)} ],
);
plan tests => @cases + @server_cases + 14;

my $dir = tempdir(CLEANUP => 1);
my $port = free_port();

sub conf {
    my (%a) = @_;
    return own_httpd_conf($dir, $port, <<"BODY");
@{[ $a{storage} // "GenFlowStorageDir \"$dir\"\nGenFlowStorageURL /media" ]}
$a{server}
<Location /api/neo-glitch>
    GenFlowType neo-glitch
    $a{location}
</Location>
BODY
}

sub syntax_check {
    my ($file) = @_;
    my $out = `/usr/sbin/apache2 -t -f '$file' 2>&1`;
    return ($? == 0, $out);
}

for my $c (@cases) {
    my ($ok, $out) = syntax_check(conf(location => $c->[0], server => ''));
    ok(!$ok && $out =~ $c->[1], "refused: $c->[0]") or diag $out;
}
for my $c (@server_cases) {
    my ($ok, $out) = syntax_check(conf(location => '', server => $c->[0]));
    ok(!$ok && $out =~ $c->[1], "refused: $c->[0]") or diag $out;
}

my ($ok, $out) = syntax_check(conf(location => 'GenFlowProviders local', server => ''));
ok($ok, 'a good configuration passes apache2 -t') or diag $out;

# Cross-directive checks run at startup (post_config): httpd refuses to start.
sub start_fails {
    my ($file, $re) = @_;
    unlink "$dir/error_log";
    my $rc = system("timeout 20 /usr/sbin/apache2 -f '$file' -DFOREGROUND >/dev/null 2>'$dir/stderr'");
    # What the checks before the logs open (check_config) say goes to
    # stderr, as apache2ctl -t prints it.
    my $log = '';
    for my $f ("$dir/error_log", "$dir/stderr") {
        open my $fh, '<', $f or next;
        local $/;
        $log .= <$fh> // '';
    }
    system("kill \$(cat '$dir/httpd.pid' 2>/dev/null) 2>/dev/null") if $rc == 0 || $rc >> 8 == 124;
    return $rc != 0 && ($rc >> 8) != 124 && $log =~ $re;
}
ok(start_fails(conf(location => 'GenFlowProviders ghost', server => ''),
               qr/GenFlowProviders names 'ghost', which no GenFlowProvider declares/),
   'an undeclared provider in a chain stops startup');
($ok, $out) = syntax_check(conf(location => 'GenFlowProviders ghost', server => ''));
ok(!$ok && $out =~ /GF1001.*GenFlowProviders names 'ghost'/, 'apache2 -t says so too') or diag $out;
ok(start_fails(conf(location => '', server => 'GenFlowProvider s stability'),
               qr/provider s has no API key: add key_file=PATH or key_env=NAME/),
   'a network provider without a key stops startup');
ok(start_fails(conf(location => '', server => 'GenFlowProvider s fal key_env=PATH base_url=http://example.com'),
               qr/only https is allowed/),
   'plain http to a non-loopback host stops startup');
ok(start_fails(conf(location => '', server => "DBDKeep 10\nDBDMax 4"),
               qr/DBDKeep 10 \(\S+:\d+\) is above DBDMax 4 \(\S+:\d+\): mod_dbd cannot make its connection pool/),
   'DBDKeep above DBDMax stops startup, naming both');
ok(start_fails(conf(location => '', server => "DBDMin 3\nDBDKeep 2"),
               qr/DBDMin 3 \(\S+:\d+\) is above DBDKeep 2/),
   'DBDMin above DBDKeep stops startup');
ok(start_fails(conf(location => '', server => '', storage => ''),
               qr/GenFlowStorageDir and GenFlowStorageURL are not both set/),
   'a type without storage stops startup');

# Loaded with no type mounted, site handlers still answer: health is a JSON
# 503 (no database functions were bound), metrics a valid page, and the
# child does not crash.
{
    my $htpasswd = Apache::Test::vars('t_conf') . '/htpasswd';
    my $file = own_httpd_conf($dir, $port, <<"BODY", qw(auth_basic authn_core authn_file authz_user));
<Location /health>
    SetHandler genflow-health
</Location>
<Location /metrics>
    SetHandler genflow-metrics
    AuthType Basic
    AuthName metrics
    AuthBasicProvider file
    AuthUserFile "$htpasswd"
    Require valid-user
</Location>
# Granted to anyone: the handler still answers no one it did not authenticate.
<Location /openmetrics>
    SetHandler genflow-metrics
    Require all granted
</Location>
BODY
    unlink "$dir/error_log";
    system("/usr/sbin/apache2 -f '$file' -k start") == 0 or die "start";
    for (1 .. 50) { last if -s "$dir/httpd.pid"; select undef, undef, undef, 0.1 }
    require LWP::UserAgent;
    my $ua = LWP::UserAgent->new(timeout => 10);
    my $h = $ua->get("http://127.0.0.1:$port/health");
    ok($h->code == 503 && $h->decoded_content =~ /"SERVICE_UNAVAILABLE"|"database"/,
       'no type mounted: health answers 503 JSON') or diag($h->code . ' ' . $h->decoded_content);
    my $m = $ua->get("http://127.0.0.1:$port/metrics", Authorization => 'Basic YWRtaW46YWRtaW4=');
    is($m->code, 200, 'and metrics answers');
    $m = $ua->get("http://127.0.0.1:$port/openmetrics");
    ok($m->code == 401 && $m->decoded_content =~ /"UNAUTHORIZED"/,
       'metrics granted to anyone by Require still answer no one without a login: 401')
        or diag($m->code . ' ' . $m->decoded_content);
    system("/usr/sbin/apache2 -f '$file' -k stop");
    for (1 .. 50) { last unless -e "$dir/httpd.pid"; select undef, undef, undef, 0.1 }
    my $log = '';
    if (open my $fh, '<', "$dir/error_log") { local $/; $log = <$fh> // '' }
    ok($log !~ /Segmentation fault|exit signal/, 'and no child crashed') or diag($log);
}

# A type's location is not a directory: httpd's filesystem walk is skipped
# for it (as for mod_proxy's URLs), so a broken .htaccess on the path its
# URL would map to is never read, while the same file elsewhere is (500).
{
    require File::Path;
    for my $sub ('htdocs/api/neo-glitch', 'htdocs/plain') {
        File::Path::make_path("$dir/$sub");
        open my $fh, '>', "$dir/$sub/.htaccess" or die "$dir/$sub/.htaccess: $!";
        print $fh "NoSuchDirectiveAnywhere on\n";
        close $fh;
    }
    my $file = own_httpd_conf($dir, $port, <<"BODY");
GenFlowStorageDir "$dir"
GenFlowStorageURL /media
DocumentRoot "$dir/htdocs"
<Directory "$dir/htdocs">
    AllowOverride All
    Require all granted
</Directory>
<Location /api/neo-glitch>
    GenFlowType neo-glitch
    GenFlowProviders local
</Location>
BODY
    unlink "$dir/error_log";
    system("/usr/sbin/apache2 -f '$file' -k start") == 0 or die "start";
    for (1 .. 50) { last if -s "$dir/httpd.pid"; select undef, undef, undef, 0.1 }
    require LWP::UserAgent;
    my $ua = LWP::UserAgent->new(timeout => 10);
    my $api = $ua->get("http://127.0.0.1:$port/api/neo-glitch/status/00000000-0000-4000-8000-000000000000");
    ok($api->code == 401 && $api->decoded_content =~ /"UNAUTHORIZED"/,
       "a type's location skips the filesystem walk: its broken .htaccess is not read")
        or diag($api->code . ' ' . $api->decoded_content);
    my $plain = $ua->get("http://127.0.0.1:$port/plain/x");
    is($plain->code, 500, 'the same .htaccess outside a type location is read (500)');
    system("/usr/sbin/apache2 -f '$file' -k stop");
    for (1 .. 50) { last unless -e "$dir/httpd.pid"; select undef, undef, undef, 0.1 }
}
