# SPDX-License-Identifier: Apache-2.0
# GenFlowTest: helpers shared by the mod_genflow Apache::Test files.
package GenFlowTest;
use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use Apache::Test ();
use Apache::TestRequest ();
use LWP::UserAgent ();
use HTTP::Request ();
use JSON::PP ();
use Digest::SHA ();
use MIME::Base64 ();
use FindBin;
use Time::HiRes ();

our @EXPORT = qw(new_user api json_of psql psql_rows base_url is_json_error pg_ctl grant
                 free_port own_httpd_conf start_own_server stop_own_server own_api
                 wait_for mock_at mock_call arrivals pids_of crash_report own_listening
                 ledger_of row_of wait_terminal_of mock_journal burst_clients);

my $json = JSON::PP->new->canonical->allow_nonref;
my $counter = 0;

# The suite runs its files in lanes side by side (tests/suite.sh). A file
# that needs the machine to itself says so in its first 40 lines
# ("# genflow-test: alone, because ..."): it waits here until the files
# running in every other lane, of both suites, have ended, and keeps new
# ones from starting until it ends. The gate keeps it from waiting
# forever behind files that keep starting: every file passes the gate
# before it takes its share, and a file alone holds the gate.
our @machine_locks;
if (my $dir = $ENV{GENFLOW_TEST_LOCKDIR}) {
    require Fcntl;
    my $alone = 0;
    if (open my $self, '<', $0) {
        while (my $line = <$self>) {
            last if $. > 40;
            $alone = 1 if $line =~ /^# genflow-test: alone\b/;
        }
        close $self;
    }
    open my $gate, '>>', "$dir/gate" or die "$dir/gate: $!";
    open my $machine, '>>', "$dir/machine" or die "$dir/machine: $!";
    flock($gate, Fcntl::LOCK_EX()) or die "flock $dir/gate: $!";
    flock($machine, $alone ? Fcntl::LOCK_EX() : Fcntl::LOCK_SH()) or die "flock $dir/machine: $!";
    flock($gate, Fcntl::LOCK_UN()) unless $alone;
    @machine_locks = ($gate, $machine);
}
# A child the file forks (a server of its own, a client of a crowd) does
# not keep the locks should it outlive the file: it closes its copies of
# the handles (the file's own stay open, and with them the locks).
# Installed before the test file's code is compiled, so its forks use it.
BEGIN {
    no warnings 'once';
    *CORE::GLOBAL::fork = sub () {
        my $pid = CORE::fork();
        if (defined $pid && $pid == 0 && @GenFlowTest::machine_locks) {
            close $_ for @GenFlowTest::machine_locks;
            @GenFlowTest::machine_locks = ();
        }
        return $pid;
    };
}

sub base_url {
    my $cfg = Apache::Test::config();
    return 'http://' . Apache::TestRequest::hostport($cfg);
}

# A fresh Basic-auth user (password = name), unique per run, so tests never
# share balances and can run again on the same database.
sub new_user {
    my ($prefix) = @_;
    $prefix //= 'user';
    my $name = sprintf '%s_%d_%d_%d', $prefix, $$, time, ++$counter;
    my $file = Apache::Test::vars('t_conf') . '/htpasswd';
    my $hash = '{SHA}' . MIME::Base64::encode_base64(Digest::SHA::sha1($name), '');
    open my $fh, '>>', $file or die "$file: $!";
    print $fh "$name:$hash\n";
    close $fh;
    return $name;
}

# api(METHOD, PATH, user => U, body => REF|STRING, headers => {...},
#     password => P, content_type => CT)
sub api {
    my ($method, $path, %a) = @_;
    my $req = HTTP::Request->new($method => base_url() . $path);
    if (defined $a{user}) {
        $req->authorization_basic($a{user}, $a{password} // $a{user});
    }
    if (exists $a{body}) {
        my $body = ref $a{body} ? $json->encode($a{body}) : $a{body};
        $req->content($body);
        $req->header('Content-Type' => $a{content_type} // 'application/json');
    }
    my $h = $a{headers} || {};
    $req->header($_ => $h->{$_}) for keys %$h;
    my $ua = LWP::UserAgent->new(timeout => 90, keep_alive => 0);
    my $res = $ua->request($req);
    record_exchange($method, $path, $res);
    return $res;
}

# Every answer of the API is kept for scripts/test, which validates them
# all against docs/openapi.yaml afterwards.
sub record_exchange {
    my ($method, $path, $res) = @_;
    return unless $path =~ m{^/(api|hooks)/};
    # OpenAPI can only describe the standard methods; answers to made-up
    # ones (t/20: "OS") are checked by their tests instead.
    return unless $method =~ /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)$/;
    my $file = Apache::Test::vars('t_logs') . '/exchanges.jsonl';
    my %headers;
    for my $name ($res->headers->header_field_names) {
        $headers{lc $name} = join ', ', $res->headers->header($name);
    }
    my $line = $json->encode({ method => $method, path => $path, status => $res->code + 0,
                               content_type => scalar($res->header('Content-Type')) // '',
                               headers => \%headers,
                               body => $res->decoded_content // '' });
    open my $fh, '>>', $file or return;
    flock $fh, 2;
    print $fh $line, "\n";
    close $fh;
}

sub json_of {
    my ($res) = @_;
    my $doc = eval { $json->decode($res->decoded_content // '') };
    return $doc;
}

# Does the answer have the docs/api.md error shape with this status and code?
sub is_json_error {
    my ($res, $status, $code) = @_;
    return 0 unless $res->code == $status;
    return 0 unless ($res->header('Content-Type') // '') =~ m{^application/json};
    my $doc = json_of($res) or return 0;
    return 0 unless ref $doc eq 'HASH' && ref $doc->{error} eq 'HASH';
    return 0 unless defined $doc->{error}{message} && length $doc->{error}{message};
    return $doc->{error}{code} eq $code;
}

sub psql {
    my ($sql) = @_;
    my $bin = $ENV{GENFLOW_TEST_PG_BINDIR} ? "$ENV{GENFLOW_TEST_PG_BINDIR}/psql" : 'psql';
    open my $fh, '-|', $bin, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-F', '|',
        $ENV{GENFLOW_TEST_PG_URI}, '-c', $sql
        or die "psql: $!";
    local $/;
    my $out = <$fh>;
    my $ok = close $fh;
    $out =~ s/\n\z// if defined $out;
    return wantarray ? ($out, $ok) : $out;
}

sub psql_rows {
    my ($sql) = @_;
    my $out = psql($sql);
    return map { [ split /\|/, $_, -1 ] } grep { length } split /\n/, $out // '';
}

sub free_port {
    require IO::Socket::INET;
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0)
        or die "no free port: $!";
    return $s->sockport;
}

# The httpd.conf of an httpd of the test's own (a second server on the same
# database, or a configuration that must fail): ServerRoot DIR, Listen on
# PORT, the modules mod_genflow needs (plus extra ones), DBD settings of
# the suite, then BODY. Returns the file's path.
# The MPM of the next own server (mpm_event, mpm_worker or mpm_prefork).
our $MPM = 'mpm_event';

# The module an own server loads and the database it serves: this
# build's and the suite's, unless a test names others (t/55 runs the
# previous release's module, then this one, on a database of its own).
our ($own_module, $own_dbd_params);
sub own_httpd_conf {
    my ($dir, $port, $body, @modules) = @_;
    my $mods = $ENV{GENFLOW_HTTPD_MODULES};
    my $so = $own_module // Apache::Test::vars('serverroot') . '/../.libs/mod_genflow.so';
    my $dbd = $own_dbd_params // $ENV{GENFLOW_TEST_DBD_PARAMS};
    my $load = join '', map { "LoadModule ${_}_module $mods/mod_$_.so\n" }
                         ($MPM, 'authz_core', 'dbd', @modules);
    # The suite's administrator, as the module names it (an earlier
    # release's module, t/55, knows no such directive).
    my $admins = $own_module ? '' : "GenFlowAdministrators user admin\n";
    my $file = "$dir/httpd.conf";
    open my $fh, '>', $file or die "$file: $!";
    print $fh <<"CONF";
ServerRoot "$dir"
Listen 127.0.0.1:$port
ServerName localhost
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error_log"
LogLevel warn genflow:info
Mutex file:$dir default
DefaultRuntimeDir "$dir"
CoreDumpDirectory "$dir"
${load}LoadModule genflow_module "$so"
StartServers 1
DBDriver pgsql
DBDParams "$dbd"
$admins$body
CONF
    close $fh;
    return $file;
}

# An httpd of the test's own on the suite's database, users and media:
# /api behind the suite's Basic authentication, then BODY (locations,
# limits), with the extra modules named. Returns (dir, base URL); stop it
# with stop_own_server(dir).
sub start_own_server {
    my ($body, @modules) = @_;
    require File::Temp;
    my $dir = File::Temp::tempdir(CLEANUP => !$ENV{GENFLOW_TEST_KEEP});
    my $port = free_port();
    my $root = Apache::Test::vars('serverroot');
    my $htpasswd = Apache::Test::vars('t_conf') . '/htpasswd';
    own_httpd_conf($dir, $port, <<"BODY", qw(auth_basic authn_core authn_file authz_user), @modules);
GenFlowStorageDir "$root/media"
GenFlowStorageURL /media
<Location /api>
    AuthType Basic
    AuthName "genflow tests"
    AuthBasicProvider file
    AuthUserFile "$htpasswd"
    Require valid-user
</Location>
$body
BODY
    # As many descriptors as the user may have: a test may park thousands.
    # A child that crashes leaves a core in $dir for crash_report().
    system("ulimit -c unlimited 2>/dev/null; ulimit -n \$(ulimit -Hn); /usr/sbin/apache2 -f '$dir/httpd.conf' -k start") == 0
        or die "own httpd: $dir";
    for (1 .. 50) { last if -s "$dir/httpd.pid"; select undef, undef, undef, 0.1 }
    return ($dir, "http://127.0.0.1:$port");
}

# Seconds until an own server's engine listens (its /api/health, which
# the server's body must route, says workers.listening), or undef after
# SECS. httpd.pid appears before a child's engine has its threads and its
# LISTEN connection: a test that needs a node's engine to take part in
# a burst waits for this first.
sub own_listening {
    my ($base, $user, $secs) = @_;
    my $t0 = Time::HiRes::time();
    my $ok = wait_for(sub {
        my $h = json_of(own_api($base, GET => '/api/health', user => $user)) // {};
        ($h->{workers} // {})->{listening};
    }, $secs // 30);
    return $ok ? Time::HiRes::time() - $t0 : undef;
}

sub stop_own_server {
    my ($dir) = @_;
    system("/usr/sbin/apache2 -f '$dir/httpd.conf' -k stop");
    for (1 .. 100) { last unless -e "$dir/httpd.pid"; select undef, undef, undef, 0.1 }
}

# The crashes an own server's error_log shows, each with the backtrace of
# the core its child left in DIR (start_own_server allows cores; gdb reads
# them), so that a crash seen once in CI says where it was. Empty: none.
sub crash_report {
    my ($dir) = @_;
    open my $log, '<', "$dir/error_log" or return "no error_log in $dir\n";
    my @bad = grep { /exit signal|AH00052|Segmentation|AddressSanitizer/ } <$log>;
    close $log;
    return '' unless @bad;
    my $report = join '', @bad;
    for my $core (glob "$dir/core*") {
        $report .= "--- $core:\n" . `gdb -batch -nx -ex 'thread apply all bt 30' /usr/sbin/apache2 '$core' 2>&1`;
    }
    return $report;
}

# As api(), against another server's base URL; recorded for the OpenAPI
# check too (the same API on the same module).
sub own_api {
    my ($url, $method, $path, %a) = @_;
    my $req = HTTP::Request->new($method => $url . $path);
    $req->authorization_basic($a{user}, $a{user}) if defined $a{user};
    if (exists $a{body}) {
        $req->content(ref $a{body} ? $json->encode($a{body}) : $a{body});
        $req->header('Content-Type' => 'application/json');
    }
    my $h = $a{headers} || {};
    $req->header($_ => $h->{$_}) for keys %$h;
    my $res = LWP::UserAgent->new(timeout => 90, keep_alive => 0)->request($req);
    record_exchange($method, $path, $res);
    return $res;
}

# Give a user credits the way an admin grant does: a ledger row and the
# balance in one statement (the account must exist).
sub grant {
    my ($user, $amount) = @_;
    psql("WITH g AS (INSERT INTO genflow_ledger (user_id, kind, amount, reason) "
         . "VALUES ('$user', 'grant', $amount, 'test grant') RETURNING user_id, amount) "
         . "UPDATE genflow_accounts a SET balance = a.balance + g.amount FROM g "
         . "WHERE a.user_id = g.user_id");
}

# N clients at once: each a process of its own, released together, calling
# $call->($i) (an HTTP::Response); returns, in client order, what
# $line->($res, its JSON or {}) made of each answer (one line of text).
sub burst_clients {
    my ($n, $call, $line) = @_;
    require File::Temp;
    my $bd = File::Temp::tempdir(CLEANUP => 1);
    my @kids;
    for my $i (1 .. $n) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            select(undef, undef, undef, 0.01) until -e "$bd/go";
            my $res = $call->($i);
            open my $out, '>', "$bd/$i" or die;
            print $out $line->($res, json_of($res) || {}), "\n";
            close $out;
            exit 0;
        }
        push @kids, $pid;
    }
    open my $g, '>', "$bd/go" or die;
    close $g;
    waitpid $_, 0 for @kids;
    my @lines;
    for my $i (1 .. $n) {
        open my $in, '<', "$bd/$i" or die "client $i wrote nothing";
        my $l = <$in>;
        chomp $l;
        push @lines, $l;
    }
    return @lines;
}

# pg_ctl(ACTION): stop, start or restart the suite's PostgreSQL.
sub pg_ctl {
    my ($action) = @_;
    my $bin = "$ENV{GENFLOW_TEST_PG_BINDIR}/pg_ctl";
    my @opts = $action eq 'stop' ? ('-m', 'fast') : ();
    my $rc = system($bin, '-D', $ENV{GENFLOW_TEST_PGDATA}, '-w', '-t', '60', @opts,
                    '-l', "$ENV{GENFLOW_TEST_PGDATA}/postgresql.log", $action);
    return $rc == 0;
}

# Poll $cond until it holds or $secs pass, every $GenFlowTest::wait_step
# seconds (0.1 unless a test file sets it): 1 when it held.
our $wait_step = 0.1;
sub wait_for {
    my ($cond, $secs) = @_;
    my $until = Time::HiRes::time() + $secs;
    while (Time::HiRes::time() < $until) {
        return 1 if $cond->();
        Time::HiRes::sleep($wait_step);
    }
    return $cond->() ? 1 : 0;
}

# The requests the suite's mock providers got (t/mock/providers.pl's
# journal), oldest first.
sub mock_journal {
    my $res = LWP::UserAgent->new(timeout => 30)->get("$ENV{GENFLOW_MOCK_URL}/_log");
    return map { $json->decode($_) } grep { length } split /\n/, $res->content;
}

# A generation's ledger rows in order, as "kind:amount,…".
sub ledger_of {
    my ($id) = @_;
    return psql("SELECT string_agg(kind || ':' || amount, ',' ORDER BY id) FROM genflow_ledger "
                . "WHERE generation_id = '$id'");
}

# A column of a generation's row in TABLE; and its status once terminal
# (or the last one seen after SECS, default 30).
sub row_of {
    my ($table, $id, $col) = @_;
    return psql("SELECT $col FROM $table WHERE id = '$id'");
}
sub wait_terminal_of {
    my ($table, $id, $secs) = @_;
    my $st = '';
    wait_for(sub { ($st = row_of($table, $id, 'status')) =~ /^(completed|failed|cancelled)$/ }, $secs // 30);
    return $st;
}

# A mock provider's control endpoints (/_stats, /_reset, ...): mock_at
# names its base URL once, mock_call answers the JSON ({} on a failure).
my $mock_base = '';
sub mock_at { $mock_base = $_[0] }
sub mock_call {
    my ($method, $path) = @_;
    my $res = LWP::UserAgent->new(timeout => 10)->request(HTTP::Request->new($method => "$mock_base$path"));
    return $res->is_success ? $json->decode($res->decoded_content) : {};
}

# The crowd mock's submissions whose prompt has $tag (only those answered
# $status, when given), by the time they arrived (ms).
sub arrivals {
    my ($tag, $status) = @_;
    my @a = grep { index($_->{prompt}, $tag) >= 0 && (!$status || $_->{status} == $status) }
        @{ mock_call(GET => '/_stats?arrivals=1')->{arrivals} // [] };
    return sort { $a <=> $b } map { $_->{t} } @a;
}

# An httpd's parent and then its children, from the pid file in $dir.
sub pids_of {
    my ($dir) = @_;
    open my $fh, '<', "$dir/httpd.pid" or return ();
    chomp(my $parent = <$fh>);
    return ($parent, grep { /^\d+$/ } split /\s+/, `pgrep -P $parent` // '');
}

1;
