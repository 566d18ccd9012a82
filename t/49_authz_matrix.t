# SPDX-License-Identifier: Apache-2.0
# The authorization matrix (t/lib/GenFlowMatrix.pm), generated from the
# x-genflow-authz of every operation of docs/openapi.yaml: every operation
# on every host of a site (the main host, its events host, a second virtual
# host with a type of its own), with every credential (none, the owner,
# another user, the administrator; the events URL's token, another
# generation's, an expired one and a changed one, without a login), and
# every spelling of its path (canonical, a trailing slash, an extra segment,
# "/events" before the last segment, ";x", "//", "/./", "/x/../", "%2F").
# The fourth host writes its rule for /api after its admin's and metrics'
# sections (as mods-enabled/ before conf-enabled/ gives a site): httpd
# lets every user through to the admin API and the metrics there, and the
# module (GenFlowAdministrators) answers them 403.
# One assertion per (operation, host, credential) covers all the forms;
# a refused call must have changed nothing in the database. One httpd for
# the file.
#
# Then the configuration checks of the site's layout, with apache2 -t: an
# events host's access rule that covers more than the streams (GF5104), an
# admin or metrics location without a Require (GF5105), a GenFlowEventsBase
# naming its own virtual host (GF5101, fatal), GenFlowEventsHost at the
# main server level (a syntax error).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use GenFlowMatrix ();
use File::Temp qw(tempdir tempfile);
use Time::HiRes qw(time);

my $t0 = time;
my $doc = "$FindBin::Bin/../docs/openapi.yaml";
my @ops = GenFlowMatrix::operations($doc);
my @creds = GenFlowMatrix::credentials();
my @hosts_names = qw(main events vhost2 later);
my @edit_creds = qw(none owner other admin);
plan tests => @ops * @hosts_names * @creds + 1 + 17 + 1 + @hosts_names * @edit_creds * 3;

for my $t (qw(mx-a mx-b)) {
    (my $table = $t) =~ s/-/_/g;
    psql("SELECT genflow_create_type_table('$t', '${table}_media')");
}
my $owner = new_user('mxowner');
my $other = new_user('mxother');

sub secret_file {
    my ($text) = @_;
    my ($fh, $file) = tempfile(UNLINK => 1);
    print $fh "$text\n";
    close $fh;
    chmod 0644, $file;
    return $file;
}
my $secret = 'm' x 16 . join('', map { sprintf '%02x', int rand 256 } 1 .. 16);
my $secret_file = secret_file($secret);
my $whsec_file = secret_file('whsec_' . join('', map { ('A' .. 'Z')[rand 26] } 1 .. 32));
my $key_file = secret_file('authz-matrix-dummy-key');
my $ep = free_port();
my $p3 = free_port();
my $p4 = free_port();

# The site-wide handlers as the suite's configuration mounts them.
my $handlers = <<'CONF';
<Location /api>
    SetHandler genflow-api
</Location>
<Location /api/quota>
    SetHandler genflow-quota
</Location>
<Location /api/types>
    SetHandler genflow-types
</Location>
<Location /api/uploads>
    SetHandler genflow-uploads
</Location>
<Location /api/admin>
    SetHandler genflow-admin
    Require user admin
    AuthzSendForbiddenOnFailure On
</Location>
<Location /api/health>
    SetHandler genflow-health
    Require all granted
</Location>
<Location /api/metrics>
    SetHandler genflow-metrics
    Require user admin
    AuthzSendForbiddenOnFailure On
</Location>
<Location /hooks>
    SetHandler genflow-webhook
</Location>
CONF

my ($dir, $base) = start_own_server(<<"BODY");
DBDMin 0
DBDKeep 4
DBDMax 12
GenFlowStartingCredits 100000
GenFlowDailyLimit 0
GenFlowMaxActive 0
GenFlowEventsSecretFile "$secret_file"
# A provider that signs its webhooks: /hooks/mxhook checks a signature.
GenFlowProvider mxhook replicate key_file=$key_file webhook_url=https://example.test/hooks/mxhook webhook_secret_file=$whsec_file
$handlers
<Location /api/mx-a>
    GenFlowType mx-a
    GenFlowProviders local
    GenFlowEventsBase http://127.0.0.1:$ep
</Location>
# Edits (a mask, reference pictures) name uploads: created only, never run.
GenFlowProvider mxedit openai key_file=$key_file base_url=http://127.0.0.1:9/v1 insecure_loopback=on
<Location /api/mx-edit>
    GenFlowType mx-a
    GenFlowProviders mxedit
    GenFlowAccept mask referenceImages
</Location>
Listen 127.0.0.1:$ep
<VirtualHost 127.0.0.1:$ep>
    # The events host: no access rule of its own (the module closes it).
    Protocols http/1.1
</VirtualHost>
Listen 127.0.0.1:$p3
<VirtualHost 127.0.0.1:$p3>
    # A second site: a type of its own, the main server's other locations.
    <Location /api/mx-b>
        GenFlowType mx-b
        GenFlowProviders local
    </Location>
</VirtualHost>
Listen 127.0.0.1:$p4
<VirtualHost 127.0.0.1:$p4>
    # A site whose admin's sections come first and whose /api rule comes
    # later: the rule in force for /api/admin and /api/metrics is
    # valid-user. The module still answers the administrator alone.
    <Location /api/mx-b>
        GenFlowType mx-b
        GenFlowProviders local
    </Location>
    <Location /api/admin>
        SetHandler genflow-admin
        Require user admin
    </Location>
    <Location /api/metrics>
        SetHandler genflow-metrics
        Require user admin
    </Location>
    <Location /api>
        Require valid-user
    </Location>
    <Location /api/health>
        Require all granted
    </Location>
</VirtualHost>
BODY

my %base = (main => $base, events => "http://127.0.0.1:$ep", vhost2 => "http://127.0.0.1:$p3",
            later => "http://127.0.0.1:$p4");
my $m = eval {
    GenFlowMatrix::run_matrix(
        doc => $doc,
        hosts => [ { name => 'main', base => $base{main}, kind => 'api', type => 'mx-a' },
                   { name => 'events', base => $base{events}, kind => 'events', type => 'mx-a',
                     fixtures_from => $base{main} },
                   { name => 'vhost2', base => $base{vhost2}, kind => 'api', type => 'mx-b' },
                   { name => 'later', base => $base{later}, kind => 'api', type => 'mx-b' } ],
        users => { owner => [$owner, $owner], other => [$other, $other], admin => ['admin', 'admin'] },
        events_key => $secret,
        provider => 'mxhook',
        psql => $ENV{GENFLOW_TEST_PG_URI},
        tables => ['mx_a_media', 'mx_b_media'],
        log => sub { diag(@_) if $ENV{GENFLOW_TEST_VERBOSE} },
    );
};
diag("the matrix did not run: $@") unless $m;
$m //= { results => [], ran => {}, requests => 0, seconds => 0 };

my %by;
push @{ $by{"$_->{op} $_->{host} $_->{cred}"} }, $_ for @{ $m->{results} };
for my $op (@ops) {
    for my $host (@hosts_names) {
        for my $cred (@creds) {
            my $rs = $by{"$op->{id} $host $cred"} || [];
            my @bad = grep { !$_->{ok} } @$rs;
            ok(@$rs == GenFlowMatrix::forms() && !@bad,
               "$op->{id} on $host as $cred: " . scalar(@$rs) . ' forms')
                or diag(join "\n", (@$rs ? () : ('not run')), map {
                    sprintf '  %s %s [%s]: expected %s, got %s%s%s; %s', $_->{method},
                        $_->{path}, $_->{form}, $_->{expected}, $_->{status},
                        defined $_->{code} ? " $_->{code}" : '', $_->{why} ? " ($_->{why})" : '',
                        $_->{status} < 400 ? 'a success (the database is compared for refusals)'
                        : $_->{db_changed} ? 'the database CHANGED' : 'the database did not change'
                } @bad);
        }
    }
}
my @missed = grep { ($m->{ran}{ $_->{id} } // 0) != @hosts_names * @creds * GenFlowMatrix::forms() } @ops;
ok(!@missed && @ops >= 21, 'every operation of the document was run on every host, with every '
   . 'credential and form (' . scalar(@ops) . ' operations)')
    or diag('not run in full: ' . join(', ', map { $_->{id} } @missed));
my ($passed, $failed) = GenFlowMatrix::summary($m);
diag(sprintf 'authz-matrix: %d passed, %d failed; %d requests in all (fixtures included) in %.1f s',
             $passed, $failed, $m->{requests}, $m->{seconds});

# ---- the edits' inputs on every host, with every login -------------------------
# A mask and reference pictures name uploads: only their owner's creates
# take them; another user (the administrator too) gets 400 naming the
# field, the same as for an id that does not exist, and nothing changes.
{
    my $png = $GenFlowMatrix::PNG;
    my @up = map {
        json_of(own_api($base{main}, POST => '/api/uploads', user => $owner, body => $png,
                        headers => { 'Content-Type' => 'image/png' })) || {}
    } 1 .. 3;
    ok(3 == grep({ ($_->{sourceImage} // '') =~ /^upload:/ } @up), 'edits: the owner\'s three uploads')
        or diag explain \@up;
    my ($src, $mask, $ref) = map { $_->{sourceImage} } @up;
    my %who = (none => undef, owner => $owner, other => $other, admin => 'admin');
    my $state = sub {
        psql("SELECT (SELECT count(*) FROM mx_a_media) || '/' || (SELECT count(*) FROM genflow_ledger)"
             . " || '/' || (SELECT string_agg(balance::text, ',' ORDER BY user_id) FROM genflow_accounts)");
    };
    my @bodies = (
        [mask => { prompt => 'edit', sourceImage => $src, mask => $mask }, 'sourceImage'],
        [references => { prompt => 'edit', referenceImages => [$ref] }, 'referenceImages\[0\]'],
        [all => { prompt => 'edit', sourceImage => $src, mask => $mask, referenceImages => [$ref] }, 'sourceImage'],
    );
    for my $host (@hosts_names) {
        for my $cred (@edit_creds) {
            for my $b (@bodies) {
                my $before = $state->();
                my $res = own_api($base{$host}, POST => '/api/mx-edit/create', user => $who{$cred}, body => $b->[1]);
                my $err = (json_of($res) || {})->{error} || {};
                my $ok = $host eq 'events' ? $res->code >= 400 && $state->() eq $before
                       : $cred eq 'none'   ? $res->code == 401 && $state->() eq $before
                       : $cred eq 'owner'  ? $res->code == 201
                       : $res->code == 400 && ($err->{message} // '') =~ /^$b->[2]: no upload of yours/
                         && $state->() eq $before;
                ok($ok, "edits, $b->[0], on $host as $cred: "
                   . ($host eq 'events' ? 'refused' : $cred eq 'owner' ? '201' : $cred eq 'none' ? '401' : '400')
                   . ', nothing changed when refused') or diag $res->code . ' ' . $res->content;
            }
        }
    }
}

# Everything the matrix made ends (the suite's invariants hold no
# generation open for good).
for my $t (qw(mx-a mx-b)) {
    (my $table = $t) =~ s/-/_/g;
    my $b = $t eq 'mx-a' ? $base{main} : $base{vhost2};
    for my $row (psql_rows("SELECT id, user_id FROM ${table}_media WHERE status IN ('pending', 'processing')")) {
        own_api($b, POST => "/api/$t/cancel/$row->[0]", user => $row->[1]);
    }
}
# On the later host httpd let the users through: the module refused them.
{
    my @codes = map { own_api($base{later}, GET => $_, user => $other)->code } qw(/api/admin/jobs /api/metrics);
    is(join(',', @codes), '403,403', 'on the host whose /api rule comes later, a user reaches the '
       . 'admin API and the metrics (httpd) and the module answers 403');
}
my $crash = crash_report($dir);
is($crash, '', 'no crash in the error_log');
stop_own_server($dir);

# ---- the configuration checks (apache2 -t) ------------------------------------
my $htpasswd = Apache::Test::vars('t_conf') . '/htpasswd';
sub config_test {
    my ($body) = @_;
    my $d = tempdir(CLEANUP => 1);
    my $port = free_port();
    my $file = own_httpd_conf($d, $port, <<"CONF", qw(auth_basic authn_core authn_file authz_user));
GenFlowEventsSecretFile "$secret_file"
<Location /api>
    AuthType Basic
    AuthName "genflow tests"
    AuthBasicProvider file
    AuthUserFile "$htpasswd"
    Require valid-user
</Location>
$body
CONF
    my $out = `/usr/sbin/apache2 -t -f '$file' 2>&1`;
    return ($? == 0, $out);
}
sub events_site {
    my ($events_rules, %o) = @_;
    my $q = free_port();
    my $h = $handlers;
    $h =~ s{\n    Require user admin\n(?=    AuthzSendForbiddenOnFailure On\n</Location>\n<Location /hooks>)}{\n}
        if $o{unguarded_metrics};
    return <<"CONF";
$h
<Location /api/mx-a>
    GenFlowType mx-a
    GenFlowEventsBase http://127.0.0.1:$q
</Location>
Listen 127.0.0.1:$q
<VirtualHost 127.0.0.1:$q>
    Protocols http/1.1
$events_rules
</VirtualHost>
CONF
}

my ($ok, $out) = config_test(events_site(<<'RULES'));
    <LocationMatch "/events/[^/]+$">
        Require all granted
    </LocationMatch>
RULES
ok($ok && $out =~ /GF5104.*<LocationMatch "\/events\/\[\^\/\]\+\$">/,
   'an unanchored <LocationMatch "/events/[^/]+$"> granting all on the events host: GF5104 names it')
    or diag($out);
# Anchored, but any segment before /events: /api/admin/events/jobs too.
($ok, $out) = config_test(events_site(<<'RULES'));
    <LocationMatch "^/api/[^/]+/events/[^/]+$">
        Require all granted
    </LocationMatch>
RULES
ok($ok && $out =~ m{GF5104.*covers /api/(admin|metrics|quota|health|types|uploads)/events/},
   'an anchored pattern for any segment, <LocationMatch "^/api/[^/]+/events/[^/]+$">, covers '
   . '/api/admin/events/...: GF5104')
    or diag($out);
like($out, qr{GF5104.*e\.g\. <LocationMatch "\^\(/api/mx-a\)/events/\[\^/\]\+\$">},
     "and the warning suggests the pattern of this site's types");
# The types' own paths alone: nothing more.
($ok, $out) = config_test(events_site(<<'RULES'));
    <LocationMatch "^(/api/mx-a)/events/[^/]+$">
        Require all granted
    </LocationMatch>
RULES
ok($ok && $out !~ /GF5104/, 'the pattern of the types\' streams alone, '
                            . '<LocationMatch "^(/api/mx-a)/events/[^/]+$">: no GF5104')
    or diag($out);

($ok, $out) = config_test(events_site('', unguarded_metrics => 1));
ok($ok && $out =~ /GF5105.*<Location \/api\/metrics> sets genflow-metrics/,
   '<Location /api/metrics> SetHandler genflow-metrics without a Require: GF5105')
    or diag($out);
($ok, $out) = config_test(events_site(''));
ok($ok && $out !~ /GF5105/, 'with Require user admin: no GF5105') or diag($out);
unlike($out, qr/GF5104/, 'and an events host without a rule of its own: no GF5104');

# The rule in force, as httpd merges sections: /api's, written after the
# admin's and metrics' sections, lets every user in (GF5108 names both);
# written before them, nothing to say; without GenFlowAdministrators, the
# admin API answers nobody (GF5109).
(my $later = $handlers) =~ s{\A<Location /api>\n    SetHandler genflow-api\n</Location>\n}{};
($ok, $out) = config_test(<<"CONF");
$later
<Location /api>
    SetHandler genflow-api
    Require valid-user
</Location>
CONF
ok($ok && $out =~ m{GF5108.*<Location /api/admin> sets genflow-admin, and the access rule in force for /api/admin/jobs is that of <Location /api>}
   && $out =~ m{GF5108.*<Location /api/metrics> sets genflow-metrics},
   'a later <Location /api> Require valid-user: GF5108 for the admin API and the metrics')
    or diag($out);
($ok, $out) = config_test(events_site(''));
ok($ok && $out !~ /GF510[89]/, 'the admin rules after /api\'s: no GF5108') or diag($out);
{
    local $GenFlowTest::own_module = Apache::Test::vars('serverroot') . '/../.libs/mod_genflow.so';
    ($ok, $out) = config_test(events_site(''));
}
ok($ok && $out =~ /GF5109.*GenFlowAdministrators names nobody/, 'no GenFlowAdministrators: GF5109')
    or diag($out);

my $q = free_port();
($ok, $out) = config_test(<<"CONF");
$handlers
Listen 127.0.0.1:$q
<VirtualHost 127.0.0.1:$q>
    <Location /api/mx-a>
        GenFlowType mx-a
        GenFlowEventsBase http://127.0.0.1:$q
    </Location>
</VirtualHost>
CONF
ok(!$ok && $out =~ /GF5101/, 'a GenFlowEventsBase naming its own virtual host: apache2 -t fails with GF5101')
    or diag($out);

# Which virtual host is the events host: one marked On; not one marked Off
# that the URL names; one named by its ServerName alone (a proxy in front
# on the URL's port 443).
sub vhost_site {
    my ($base_url, $vhost) = @_;
    my $p = free_port();
    return <<"CONF";
$handlers
<Location /api/mx-a>
    GenFlowType mx-a
    GenFlowEventsBase $base_url
</Location>
Listen 127.0.0.1:$p
<VirtualHost 127.0.0.1:$p>
$vhost
</VirtualHost>
CONF
}
($ok, $out) = config_test(vhost_site('https://elsewhere.example.test', 'GenFlowEventsHost On'));
ok($ok && $out =~ /GF5103.*is an events host \(GenFlowEventsHost On\)/,
   'GenFlowEventsHost On marks its virtual host an events host') or diag($out);
($ok, $out) = config_test(vhost_site('https://events.example.test',
                                     "ServerName events.example.test\nGenFlowEventsHost Off"));
ok($ok && $out !~ /GF5103/ && $out =~ /GF5102.*names no virtual host/,
   'GenFlowEventsHost Off keeps the host the URL names a whole API') or diag($out);
($ok, $out) = config_test(vhost_site('https://events.example.test', 'ServerName events.example.test'));
ok($ok && $out =~ m{GF5103.*events\.example\.test.*is an events host \(https://events\.example\.test\)},
   'a host named by its ServerName alone, on another port (a proxy in front): the events host')
    or diag($out);

($ok, $out) = config_test("GenFlowEventsHost On\n");
ok(!$ok && $out =~ /GenFlowEventsHost/ && $out =~ /VirtualHost/,
   'GenFlowEventsHost On at the main server level: a syntax error') or diag($out);
diag(sprintf 'the file took %.1f s', time - $t0);
