# SPDX-License-Identifier: Apache-2.0
# genflow-cache: a bcrypt password is verified once and then served from
# the shared cache; never a wrong password, never another user's, never an
# old password after the watched file changed, never past the TTL without
# asking the file again, and the entries are the same in every child.
#
# What the cache did is read from the error_log (LogLevel genflow:debug):
# "genflow-cache: hit|miss ... for user U" and "stored user U".
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use LWP::UserAgent ();
use HTTP::Request ();
use File::Temp qw(tempdir);

plan tests => 36;

my $file = Apache::Test::vars('t_conf') . '/htpasswd-cache';
my $log = Apache::Test::vars('t_logs') . '/error_log';
my $tag = "$$" . '_' . time;
my ($alice, $bob, $carol, $dave) = map { "${_}_$tag" } qw(alice bob carol dave);

# bcrypt at cost 5: the real hash, only cheaper for the test machine.
sub htpasswd {
    my @args = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {   # quietly: it reports every change on stderr
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec 'htpasswd', @args or exit 127;
    }
    waitpid $pid, 0;
    $? == 0 or die "htpasswd @args failed";
}
htpasswd(-e $file ? () : '-c', '-bB', '-C', '5', $file, $alice, 'alice-pw-1');
htpasswd('-bB', '-C', '5', $file, $bob, 'bob-pw');
htpasswd('-bB', '-C', '5', $file, $carol, 'carol-pw');
htpasswd('-bB', '-C', '5', $file, $dave, 'dave-pw');

# Every request on a connection of its own (whichever child takes it).
sub get {
    my ($path, $user, $password) = @_;
    my $req = HTTP::Request->new(GET => base_url() . $path);
    $req->authorization_basic($user, $password);
    my $ua = LWP::UserAgent->new(timeout => 30, keep_alive => 0);
    return $ua->request($req)->code;
}

# The error_log lines written since the last call.
my $offset = -s $log // 0;
sub new_log {
    open my $fh, '<', $log or die "$log: $!";
    seek $fh, $offset, 0;
    local $/;
    my $text = <$fh> // '';
    $offset = tell $fh;
    close $fh;
    return $text;
}
# How many cache events of this kind for this user the text holds.
sub events {
    my ($text, $kind, $user) = @_;
    my $re = $kind eq 'stored' ? qr/genflow-cache: stored user \Q$user\E(?![\w])/
                               : qr/genflow-cache: \Q$kind\E for user \Q$user\E(?![\w])/;
    my @n = $text =~ /$re/g;
    return scalar @n;
}

# ---- a bcrypt user, verified once, then from the cache --------------------------
new_log();
is(get('/gfcache-watched', $alice, 'alice-pw-1'), 200, 'a bcrypt user gets in');
my $t = new_log();
is(events($t, 'miss', $alice) . '/' . events($t, 'stored', $alice), '1/1',
   'the first request asked the file and stored the verification');
is(get('/gfcache-watched', $alice, 'alice-pw-1'), 200, 'the same user and password again');
$t = new_log();
is(events($t, 'hit', $alice) . '/' . events($t, 'miss', $alice), '1/0',
   'the second request was a hit: bcrypt did not run');
unlike($t, qr/alice-pw-1/, 'the password is never logged');

# ---- wrong passwords never use the entry ---------------------------------------
is(get('/gfcache-watched', $alice, 'alice-pw-X'), 401, 'a wrong password is refused after the right one was cached');
$t = new_log();
is(events($t, 'hit', $alice) . '/' . events($t, 'miss', $alice) . '/' . events($t, 'stored', $alice),
   '0/1/0', 'the wrong password was a miss, asked the file, and nothing was stored');
is(get('/gfcache-watched', $alice, 'alice-pw-X'), 401, 'and it stays refused (refusals are not cached)');

is(get('/gfcache-watched', $bob, 'bob-pw'), 200, 'a second user gets in');
is(get('/gfcache-watched', $alice, 'bob-pw'), 401, "the second user's password does not open the first user's entry");
is(get('/gfcache-watched', $bob, 'alice-pw-1'), 401, "nor the first user's password the second's");
$t = new_log();
is(events($t, 'hit', $alice) + events($t, 'hit', $bob), 0, 'neither cross attempt was a hit');

# ---- a changed password file takes effect on the next request -------------------
is(get('/gfcache-watched', $alice, 'alice-pw-1'), 200, 'alice is cached again');
new_log();
htpasswd('-bB', '-C', '5', $file, $alice, 'alice-pw-2');
is(get('/gfcache-watched', $alice, 'alice-pw-1'), 401, 'the old password is refused on the very next request');
is(get('/gfcache-watched', $alice, 'alice-pw-2'), 200, 'and the new one works');
$t = new_log();
is(events($t, 'hit', $alice), 0, 'no entry made under the old file was used');
is(get('/gfcache-watched', $alice, 'alice-pw-2'), 200, 'the new password, again');
is(events(new_log(), 'hit', $alice), 1, 'is a hit now');

# ---- a removed user is refused at once when the file is watched ----------------
# The edit above voided bob's entry too: the first request stores it again.
is(get('/gfcache-watched', $bob, 'bob-pw') . '/' . get('/gfcache-watched', $bob, 'bob-pw'), '200/200',
   'bob, cached again');
$t = new_log();
is(events($t, 'miss', $bob) . '/' . events($t, 'hit', $bob), '1/1',
   'the edit of the file had voided his entry as well; now it is a hit');
htpasswd('-D', $file, $bob);
is(get('/gfcache-watched', $bob, 'bob-pw'), 401, 'a user removed from the watched file is refused at once');

# ---- without a watched file only the TTL bounds staleness (documented) ----------
is(get('/gfcache-unwatched', $carol, 'carol-pw'), 200, 'carol gets in where no file is watched');
htpasswd('-D', $file, $carol);
is(get('/gfcache-unwatched', $carol, 'carol-pw'), 200,
   'removed from the unwatched file, carol is still let in within the TTL');
is(get('/gfcache-watched', $carol, 'carol-pw'), 401, 'but not in the watched location');

# ---- the TTL: after it, the file is asked again ---------------------------------
new_log();
is(get('/gfcache-short', $dave, 'dave-pw'), 200, 'dave, in a location with a 3 s TTL');
is(get('/gfcache-short', $dave, 'dave-pw'), 200, 'and again at once');
$t = new_log();
is(events($t, 'stored', $dave) . '/' . events($t, 'hit', $dave), '1/1', 'stored, then a hit');
sleep 4;
is(get('/gfcache-short', $dave, 'dave-pw'), 200, 'after the TTL dave still gets in');
$t = new_log();
is(events($t, 'hit', $dave) . '/' . events($t, 'miss', $dave) . '/' . events($t, 'stored', $dave),
   '0/1/1', 'because the file was asked again (a miss, then stored again)');

# ---- one cache for every child ---------------------------------------------------
# Several clients at once, each request on a new connection: the children
# that answer them must all find the entry stored by whichever child
# verified it first.
is(get('/gfcache-watched', $dave, 'dave-pw'), 200, 'dave in the watched location');
$t = new_log();
my ($stored_pid) = $t =~ /\[pid (\d+)[^\]]*\][^\n]*genflow-cache: stored user \Q$dave\E(?![\w])/;
my @kids;
for my $k (1 .. 4) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $bad = 0;
        for (1 .. 10) { $bad++ if get('/gfcache-watched', $dave, 'dave-pw') != 200 }
        exit($bad ? 1 : 0);
    }
    push @kids, $pid;
}
my $failed = 0;
for (@kids) { waitpid $_, 0; $failed++ if $? }
$t = new_log();
my %hit_pids;
$hit_pids{$1}++ while $t =~ /\[pid (\d+)[^\]]*\][^\n]*genflow-cache: hit for user \Q$dave\E(?![\w])/g;
my $hits = 0;
$hits += $_ for values %hit_pids;
diag('stored by child ' . ($stored_pid // '?') . '; hits by children ' . join(', ', map { "$_ ($hit_pids{$_})" } sort keys %hit_pids));
is("$failed/$hits/" . events($t, 'miss', $dave), '0/40/0',
   '40 requests on 40 connections: all 200, all hits, no miss');
ok(defined $stored_pid && grep({ $_ != $stored_pid } keys %hit_pids),
   'children other than the one that verified the password used its entry');

# ---- startup without the socache module fails with a clear message ------------------
{
    my $dir = tempdir(CLEANUP => 1);
    my $port = free_port();
    my $conf = own_httpd_conf($dir, $port, <<"BODY", 'authn_core', 'authn_file', 'auth_basic', 'authz_user');
<Location /x>
    AuthType Basic
    AuthName x
    AuthBasicProvider genflow-cache
    GenFlowAuthnCacheProvider file
    AuthUserFile "$file"
    Require valid-user
</Location>
BODY
    my $rc = system("timeout 20 /usr/sbin/apache2 -f '$conf' -DFOREGROUND >/dev/null 2>&1");
    system("kill \$(cat '$dir/httpd.pid' 2>/dev/null) 2>/dev/null") if $rc == 0 || $rc >> 8 == 124;
    my $elog = do { local $/; open my $fh, '<', "$dir/error_log" or die; <$fh> } // '';
    ok($rc != 0 && ($rc >> 8) != 124
       && $elog =~ /GenFlowAuthnCache: the socache provider 'shmcb' is not loaded; add LoadModule socache_shmcb_module/,
       'without mod_socache_shmcb httpd refuses to start and says which LoadModule is missing') or diag $elog;

    # Bad directives are refused by apache2 -t, naming the problem.
    for my $c ([ 'GenFlowAuthnCacheTTL 0', qr/GenFlowAuthnCacheTTL must be between 1 and 3600 seconds/ ],
               [ 'GenFlowAuthnCacheProvider nosuch', qr/unknown authn provider 'nosuch'/ ],
               [ 'GenFlowAuthnCacheProvider genflow-cache', qr/cannot wrap genflow-cache itself/ ]) {
        my $bad = own_httpd_conf($dir, $port, "<Location /x>\n    $c->[0]\n</Location>\n",
                                 'authn_core', 'authn_file', 'auth_basic');
        my $out = `/usr/sbin/apache2 -t -f '$bad' 2>&1`;
        ok($? != 0 && $out =~ $c->[1], "refused: $c->[0]") or diag $out;
    }
}
