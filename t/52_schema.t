# SPDX-License-Identifier: Apache-2.0
# The module knows its schema: httpd (and apache2ctl -t) refuses a database
# that lacks the migration the module needs, or that was contracted past
# it, with a message naming what to run; it starts on a database with
# newer migrations, and with a warning on one it cannot reach.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);
use File::Copy qw(copy);

plan tests => 14;

my $dir = tempdir(CLEANUP => 1);
my $port = free_port();
my $top = Apache::Test::vars('serverroot') . '/..';
my ($needs) = do {
    open my $h, '<', "$top/mod_genflow/core/gf_schema.h" or die $!;
    map { /^#define GF_SCHEMA_NEEDS (\d+)/ ? $1 : () } <$h>;
};

my $db = "genflow_schema_$$";
psql("DROP DATABASE IF EXISTS $db");
psql("CREATE DATABASE $db");
(my $uri = $ENV{GENFLOW_TEST_PG_URI}) =~ s{/[^/]+$}{/$db};
(my $params = $ENV{GENFLOW_TEST_DBD_PARAMS}) =~ s/dbname=\S+/dbname=$db/;
sub psql_db { local $ENV{GENFLOW_TEST_PG_URI} = $uri; return psql($_[0]) }
sub migrate {
    my (@args) = @_;
    my $out = qx(PATH='$ENV{GENFLOW_TEST_PG_BINDIR}':"\$PATH" '$top/scripts/genflow-migrate' @args '$uri' 2>&1);
    $? == 0 or die "genflow-migrate @args: $out";
    return $out;
}

sub conf {
    my ($dbd) = @_;
    local $ENV{GENFLOW_TEST_DBD_PARAMS} = $dbd // $params;
    return own_httpd_conf($dir, $port, <<"BODY");
GenFlowStorageDir "$dir"
GenFlowStorageURL /media
<Location /api/neo-glitch>
    GenFlowType neo-glitch
    GenFlowProviders local
</Location>
BODY
}
sub syntax_check {
    my $file = conf(@_);
    my $out = `/usr/sbin/apache2 -t -f '$file' 2>&1`;
    return ($? == 0, $out);
}

# No schema at all.
my ($ok, $out) = syntax_check();
ok(!$ok, 'apache2 -t fails on an empty database');
like($out, qr/GF5303: the database has no mod_genflow schema .*needs schema version $needs: run genflow-migrate DATABASE_URI/,
     'naming genflow-migrate') or diag $out;

# The schema of the previous release (up to 021).
my $old = tempdir(CLEANUP => 1);
copy($_, $old) or die $! for grep { m{/0(0\d|1\d|2[01])_[^/]+\.sql$} } glob("$top/sql/*.sql");
migrate('--sql-dir', $old);
is(psql_db('SELECT max(version) FROM genflow_schema_version'), 21, 'migrated to 21');
($ok, $out) = syntax_check();
ok(!$ok, 'apache2 -t fails on schema 21');
like($out, qr/GF5303: the database schema is at version 21; mod_genflow \S+ needs version $needs: run genflow-migrate --phase expand DATABASE_URI/,
     'naming the versions and the expand phase') or diag $out;

# Starting fails the same way, and says so on stderr.
{
    my $file = conf();
    unlink "$dir/error_log";
    my $rc = system("timeout 20 /usr/sbin/apache2 -f '$file' -DFOREGROUND >/dev/null 2>'$dir/stderr'");
    my $err = join '', map { -e $_ ? do { local (@ARGV, $/) = ($_); <> } // '' : '' }
                       "$dir/stderr", "$dir/error_log";
    system("kill \$(cat '$dir/httpd.pid' 2>/dev/null) 2>/dev/null") if $rc == 0 || $rc >> 8 == 124;
    ok($rc != 0 && $rc >> 8 != 124 && $err =~ /GF5303: .*at version 21/, 'httpd does not start on schema 21')
        or diag "rc=$rc $err";
}

# Migrated: it passes and starts, with its startup line.
migrate();
($ok, $out) = syntax_check();
ok($ok, 'apache2 -t passes once migrated') or diag $out;
{
    my $file = conf();
    unlink "$dir/error_log";
    system("/usr/sbin/apache2 -f '$file' -k start") == 0 or die 'start';
    my $up = wait_for(sub { -s "$dir/httpd.pid" && `cat '$dir/error_log' 2>/dev/null` =~ /GF5305/ }, 10);
    system("/usr/sbin/apache2 -f '$file' -k stop");
    for (1 .. 100) { last unless -e "$dir/httpd.pid"; select undef, undef, undef, 0.1 }
    my $log = `cat '$dir/error_log'`;
    like($log, qr/GF5305: mod_genflow\/\S+ configured \(needs database schema $needs\)/,
         'the startup line names the release and the schema');
}

# A migration newer than the module: still runs.
psql_db("INSERT INTO genflow_schema_version (version, name) VALUES (999, '999_from_the_future')");
($ok, $out) = syntax_check();
ok($ok, 'a newer expand migration does not stop it') or diag $out;

# Contracted for modules that need more than this one.
psql_db("UPDATE genflow_schema_floor SET needs_at_least = " . ($needs + 1));
($ok, $out) = syntax_check();
ok(!$ok, 'apache2 -t fails on a schema contracted past the module');
like($out, qr/GF5303: the database schema \(version 999\) was contracted for modules that need version @{[$needs + 1]} or later; mod_genflow \S+ needs $needs/,
     'naming both versions') or diag $out;
psql_db("UPDATE genflow_schema_floor SET needs_at_least = $needs");
($ok, $out) = syntax_check();
ok($ok, 'a floor at what it needs passes') or diag $out;

# A database that does not answer: a warning, and the check passes.
my $closed = free_port();
(my $away = $params) =~ s/port=\d+/port=$closed/;
($ok, $out) = syntax_check($away);
ok($ok, 'apache2 -t passes when the database does not answer') or diag $out;
like($out, qr/GF5301: could not check the database schema at startup/, 'with a warning') or diag $out;

psql("DROP DATABASE IF EXISTS $db WITH (FORCE)");
