# SPDX-License-Identifier: Apache-2.0
# Virtual hosts: each generation records the server that created it, and
# the workers use that server's providers, storage, lease, deadline and
# database. Directives that hold for a whole child or database are refused
# inside <VirtualHost>; a storage directory the children cannot write, and
# two servers of one name, stop the startup with a message; many virtual
# hosts log no AH02653.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);
use LWP::UserAgent;
use HTTP::Request;
use JSON::PP;

plan tests => 38;

my $dir = tempdir(CLEANUP => 1);
my $port = free_port();
my $htpasswd = Apache::Test::vars('t_conf') . '/htpasswd';
my @auth_modules = qw(auth_basic authn_core authn_file authz_user);
my $json = JSON::PP->new;

# A second database for the second virtual host, with the same schema.
my $db_b = "genflow_vhost_$$";
psql("DROP DATABASE IF EXISTS $db_b");
psql("CREATE DATABASE $db_b");
(my $uri_b = $ENV{GENFLOW_TEST_PG_URI}) =~ s{/[^/]+$}{/$db_b};
(my $params_b = $ENV{GENFLOW_TEST_DBD_PARAMS}) =~ s/dbname=\S+/dbname=$db_b/;
my $migrate = Apache::Test::vars('serverroot') . '/../scripts/genflow-migrate';
my $migrated = qx(PATH='$ENV{GENFLOW_TEST_PG_BINDIR}':"\$PATH" '$migrate' '$uri_b' 2>&1);
$? == 0 or die "cannot migrate $db_b: $migrated";
unlike($migrated, qr/NOTICE/, 'genflow-migrate prints no NOTICE on a new database');
sub psql_b {
    my ($sql) = @_;
    local $ENV{GENFLOW_TEST_PG_URI} = $uri_b;
    return psql($sql);
}
{
    # A site's own type table: made without NOTICE lines (its triggers are
    # dropped IF EXISTS before they are made).
    (my $bin = $ENV{GENFLOW_TEST_PG_BINDIR} ? "$ENV{GENFLOW_TEST_PG_BINDIR}/psql" : 'psql');
    my $out = qx('$bin' -X -q -At -v ON_ERROR_STOP=1 '$uri_b' -c "SELECT genflow_create_type_table('quiet-type', 'quiet_type_media')" 2>&1);
    is($?, 0, 'genflow_create_type_table ran') or diag $out;
    unlike($out, qr/NOTICE/, 'genflow_create_type_table prints no NOTICE');
}

mkdir "$dir/media-main";
mkdir "$dir/media-a";
mkdir "$dir/media-b";

sub location {
    my ($type, $chain, $extra) = @_;
    return <<"LOC";
    <Location /api/$type>
        GenFlowType $type
        GenFlowProviders $chain
        AuthType Basic
        AuthName images
        AuthBasicProvider file
        AuthUserFile "$htpasswd"
        Require valid-user
        $extra
    </Location>
LOC
}

# alpha: the suite's database, its own media directory, a provider "gen"
# that is slow (the lease can be watched) with a 9 s lease and a 77 s
# deadline. beta: its own database and media directory, "gen" declared
# differently, and a provider only it declares.
my $vhosts = <<"BODY";
GenFlowStorageDir "$dir/media-main"
GenFlowStorageURL /media
<VirtualHost 127.0.0.1:$port>
    ServerName alpha.test
    GenFlowProvider gen local model=alpha-model latency=2500
    GenFlowStorageDir "$dir/media-a"
    GenFlowStorageURL /media-a
    GenFlowLeaseSeconds 9
@{[ location('neo-glitch', 'gen', 'GenFlowDeadline 77') ]}
</VirtualHost>
<VirtualHost 127.0.0.1:$port>
    ServerName beta.test
    DBDParams "$params_b"
    GenFlowProvider gen local model=beta-model
    GenFlowProvider betaonly local model=beta-only-model latency=2500
    GenFlowStorageDir "$dir/media-b"
    GenFlowStorageURL /media-b
    GenFlowLeaseSeconds 40
@{[ location('neo-glitch', 'gen', '') ]}
@{[ location('custom-prompt', 'betaonly', '') ]}
</VirtualHost>
BODY

sub start {
    my ($file) = @_;
    unlink "$dir/error_log";
    system("/usr/sbin/apache2 -f '$file' -k start") == 0 or die "start";
    for (1 .. 50) { last if -s "$dir/httpd.pid"; select undef, undef, undef, 0.1 }
}
sub stop {
    my ($file) = @_;
    system("/usr/sbin/apache2 -f '$file' -k stop");
    for (1 .. 100) { last unless -e "$dir/httpd.pid"; select undef, undef, undef, 0.1 }
}
sub error_log {
    open my $fh, '<', "$dir/error_log" or return '';
    local $/;
    return <$fh> // '';
}

my $ua = LWP::UserAgent->new(timeout => 30, keep_alive => 0);
sub call {
    my ($host, $method, $path, $user, $body) = @_;
    my $req = HTTP::Request->new($method => "http://127.0.0.1:$port$path");
    $req->header(Host => $host);
    $req->authorization_basic($user, $user);
    if (defined $body) {
        $req->content($json->encode($body));
        $req->header('Content-Type' => 'application/json');
    }
    my $res = $ua->request($req);
    my $doc = eval { $json->decode($res->decoded_content) };
    return ($res, $doc);
}
sub generate {
    my ($host, $type, $user, $prompt) = @_;
    my ($res, $doc) = call($host, 'POST', "/api/$type/generate", $user, { prompt => $prompt });
    return ($res, $doc);
}
sub wait_terminal {
    my ($host, $type, $user, $id) = @_;
    my $doc;
    for (1 .. 150) {
        (undef, $doc) = call($host, 'GET', "/api/$type/status/$id", $user);
        last if $doc && $doc->{status} =~ /^(completed|failed|cancelled)$/;
        select undef, undef, undef, 0.1;
    }
    return $doc;
}

my $file = own_httpd_conf($dir, $port, "LogLevel warn genflow:debug\n$vhosts", @auth_modules);
start($file);
my $user = new_user('vhost');

# alpha: a slow generation; while it runs its lease follows alpha's 9 s.
my ($ra, $ga) = generate('alpha.test', 'neo-glitch', $user, 'a picture on alpha');
ok($ra->code == 202 && $ga->{generationId}, 'alpha accepts a generation')
    or diag($ra->code . ' ' . $ra->decoded_content);
my $id_a = $ga->{generationId} // '';
my $lease_left;
for (1 .. 50) {
    $lease_left = psql("SELECT extract(epoch FROM lease_until - now())::int FROM neo_glitch_media "
                       . "WHERE id = '$id_a' AND status = 'processing' AND lease_until IS NOT NULL");
    last if defined $lease_left && length $lease_left;
    select undef, undef, undef, 0.1;
}
ok(defined $lease_left && length $lease_left && $lease_left > 0 && $lease_left <= 9,
   "alpha's attempt holds alpha's 9 s lease") or diag("lease left: " . ($lease_left // 'none'));

# beta: its provider "gen" is another model, on beta's database.
my ($rb, $gb) = generate('beta.test', 'neo-glitch', $user, 'a picture on beta');
ok(($rb->code == 202 || $rb->code == 200) && $gb->{generationId},
   'beta accepts a generation (202, or 200 when its worker was quicker than the answer)')
    or diag($rb->code . ' ' . $rb->decoded_content);
my $id_b = $gb->{generationId} // '';
# And a type whose provider only beta declares (once "provider is not configured").
my ($rc, $gc) = generate('beta.test', 'custom-prompt', $user, 'only on beta');
ok($rc->code == 202 && $gc->{generationId}, 'beta accepts a generation of its own provider')
    or diag($rc->code . ' ' . $rc->decoded_content);
my $id_c = $gc->{generationId} // '';

my $da = wait_terminal('alpha.test', 'neo-glitch', $user, $id_a);
my $db = wait_terminal('beta.test', 'neo-glitch', $user, $id_b);
my $dc = wait_terminal('beta.test', 'custom-prompt', $user, $id_c);
is($da->{status}, 'completed', 'alpha\'s generation completes') or diag(explain $da);
is($da->{model}, 'alpha-model', "with alpha's provider");
like($da->{imageUrl} // '', qr{^/media-a/}, "stored in alpha's storage");
is($db->{status}, 'completed', 'beta\'s generation completes') or diag(explain $db);
is($db->{model}, 'beta-model', "with beta's provider of the same name");
like($db->{imageUrl} // '', qr{^/media-b/}, "stored in beta's storage");
is($dc->{status}, 'completed', "beta's own provider works") or diag(explain $dc);
is($dc->{model}, 'beta-only-model', 'with the model only beta declares');

sub files_in { opendir my $d, $_[0] or return 0; return scalar grep { !/^\./ } readdir $d }
ok(files_in("$dir/media-a") >= 1 && files_in("$dir/media-b") >= 2
   && files_in("$dir/media-main") == 0, 'the pictures are in each host\'s own directory')
    or diag(join ' ', map { "$_=" . files_in("$dir/$_") } qw(media-a media-b media-main));

# Each row is in its server's database and names its server.
is(psql("SELECT server_name || ' ' || deadline_secs FROM neo_glitch_media WHERE id = '$id_a'"),
   "alpha.test:$port 77", "alpha's row is in the suite's database, names alpha, has alpha's deadline");
is(psql_b("SELECT server_name FROM neo_glitch_media WHERE id = '$id_b'"), "beta.test:$port",
   "beta's row is in beta's database and names beta");
is(psql("SELECT count(*) FROM neo_glitch_media WHERE id = '$id_b'"), '0',
   "and not in the suite's database");
is(psql_b("SELECT count(*) FROM genflow_ledger WHERE generation_id IN ('$id_b', '$id_c')"), '4',
   "beta's reservations and charges are in beta's ledger");
my @broken = grep { $_->[0] ne 'ok' } map { [split /\|/] }
             split /\n/, psql_b("SELECT * FROM genflow_check_invariants(0)") // '';
ok(!@broken, "beta's ledger invariants hold") or diag(explain \@broken);

my $log = error_log();
like($log, qr/genflow workers started in \S+ for 2 servers on 2 databases/,
     'each child runs one engine per database');
unlike($log, qr/AH02653/, 'no AH02653 with two virtual hosts');
unlike($log, qr/not configured|Segmentation fault|exit signal/, 'no provider missing, no crash')
    or diag($log);
stop($file);

# A generation of a virtual host that no node has any more: no worker
# takes it (none has that host's providers), it expires after
# GenFlowPendingTTL and is refunded.
{
    my $f = own_httpd_conf($dir, $port, "LogLevel warn genflow:debug\nGenFlowPendingTTL 2\n$vhosts",
                           @auth_modules);
    start($f);
    my ($r, $d) = call('alpha.test', 'POST', '/api/neo-glitch/create', $user, { prompt => 'orphan' });
    my $gone = $d->{generationId} // '';
    psql("UPDATE neo_glitch_media SET server_name = 'gone.test:1' WHERE id = '$gone'");
    call('alpha.test', 'POST', '/api/neo-glitch/generate', $user, { generationId => $gone });
    my $st;
    for (1 .. 300) {   # the orphans sweep runs every 10 s
        $st = psql("SELECT status || ' ' || coalesce(error_code, '-') || ' ' || attempts "
                   . "FROM neo_glitch_media WHERE id = '$gone'");
        last if $st =~ /^(completed|failed)/;
        select undef, undef, undef, 0.1;
    }
    is($st, 'failed EXPIRED 0', 'a generation of a server no node has is never attempted; it expires');
    is(psql("SELECT string_agg(kind, ',' ORDER BY kind) FROM genflow_ledger WHERE generation_id = '$gone'"),
       'refund,reserve', 'and is refunded');
    stop($f);
}

# Many virtual hosts on one database: one engine, no AH02653.
{
    my $many = join '', map { <<"VH" } 1 .. 6;
<VirtualHost 127.0.0.1:$port>
    ServerName host$_.test
@{[ location('neo-glitch', 'local', '') ]}
</VirtualHost>
VH
    my $f = own_httpd_conf($dir, $port, "LogLevel warn genflow:debug\nGenFlowStorageDir \"$dir/media-main\"\nGenFlowStorageURL /media\n$many", @auth_modules);
    start($f);
    my ($r, $d) = generate('host4.test', 'neo-glitch', $user, 'host four');
    # 202, or 200 when the worker finished before the answer (the local
    # provider takes milliseconds).
    my $done = $r->code == 202 ? wait_terminal('host4.test', 'neo-glitch', $user, $d->{generationId})
             : $r->code == 200 ? $d : {};
    is($done->{status}, 'completed', 'six virtual hosts: a generation completes');
    is(psql("SELECT coalesce(server_name, 'none') FROM neo_glitch_media WHERE id = '"
            . ($d->{generationId} // '') . "'"), 'none',
       'a host that inherits every worker setting records no name: any node may work it');
    my $l = error_log();
    like($l, qr/for 6 servers on 1 databases/, 'six virtual hosts share one engine');
    unlike($l, qr/AH02653/, 'and log no AH02653');
    stop($f);
}

# Refused inside <VirtualHost>, with the reason.
for my $d ('GenFlowWorkers 4', 'GenFlowStatusCache 10', 'GenFlowPendingTTL 60', 'GenFlowCreatedTTL 60',
           'GenFlowRetention 60') {
    my ($name) = split ' ', $d;
    my $f = own_httpd_conf($dir, $port, <<"BODY");
GenFlowStorageDir "$dir/media-main"
GenFlowStorageURL /media
<VirtualHost 127.0.0.1:$port>
    ServerName alpha.test
    $d
</VirtualHost>
BODY
    my $out = `/usr/sbin/apache2 -t -f '$f' 2>&1`;
    ok($? != 0 && $out =~ /$name cannot occur within <VirtualHost> section: \S.*; set it outside/,
       "$name is refused inside <VirtualHost>") or diag($out);
}

# Startup checks: the storage directory, and two servers of one name.
sub start_fails {
    my ($f, $re) = @_;
    unlink "$dir/error_log";
    my $rc = system("timeout 20 /usr/sbin/apache2 -f '$f' -DFOREGROUND >'$dir/stderr' 2>&1");
    system("kill \$(cat '$dir/httpd.pid' 2>/dev/null) 2>/dev/null") if $rc == 0 || $rc >> 8 == 124;
    my $l = error_log();
    return 1 if $rc != 0 && ($rc >> 8) != 124 && $l =~ $re;
    diag("exit $rc; error_log: $l; stderr: " . `cat '$dir/stderr'`);
    return 0;
}
my $me = getpwuid($<);
ok(start_fails(own_httpd_conf($dir, $port, <<"BODY", @auth_modules),
GenFlowStorageDir "$dir/no-such-dir"
GenFlowStorageURL /media
@{[ location('neo-glitch', 'local', '') ]}
BODY
   qr{GenFlowStorageDir \Q$dir\E/no-such-dir \(the main server\) does not exist.*the user httpd runs as}),
   'a missing storage directory stops startup, naming it and the user');
mkdir "$dir/read-only";
chmod 0555, "$dir/read-only";
ok(start_fails(own_httpd_conf($dir, $port, <<"BODY", @auth_modules),
GenFlowStorageDir "$dir/read-only"
GenFlowStorageURL /media
@{[ location('neo-glitch', 'local', '') ]}
BODY
   qr{GenFlowStorageDir \Q$dir\E/read-only .* is not writable by .*\(uid $<\)}),
   "a storage directory the children cannot write stops startup, naming it and the user ($me)");
ok(start_fails(own_httpd_conf($dir, $port, <<"BODY", @auth_modules),
GenFlowStorageDir "$dir/media-main"
GenFlowStorageURL /media
<VirtualHost 127.0.0.1:$port>
    ServerName twin.test
    GenFlowProvider gen local model=one
@{[ location('neo-glitch', 'gen', '') ]}
</VirtualHost>
<VirtualHost 127.0.0.1:$port>
    ServerName twin.test
    GenFlowProvider gen local model=two
@{[ location('custom-prompt', 'gen', '') ]}
</VirtualHost>
BODY
   qr{both mount GenFlowTypes as server "twin\.test:$port".*give one of them its own ServerName}),
   'two servers of one name stop startup');

psql("DROP DATABASE IF EXISTS $db_b");
