#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# A TCP proxy in front of PostgreSQL that loses a connection at the worst
# moment: after the server committed a statement, before its answer
# reaches the client. The tests use it to prove that the module never
# applies a statement twice after a lost connection.
#
#   pgproxy.pl LISTEN_PORT PG_PORT CONTROL_FILE   (prints "ready")
#
# When CONTROL_FILE exists and holds a prepared statement's name (e.g.
# "gf_neo_glitch_media_create"), the next client message that executes it
# (a Bind message of the unnamed portal naming that statement) is
# forwarded; the server's answer is read and
# thrown away; both sockets are closed, and CONTROL_FILE is removed (one
# shot). Everything else is passed through byte for byte.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use POSIX ':sys_wait_h';
use Time::HiRes qw(time);

my ($port, $pgport, $control) = @ARGV;
die "usage: pgproxy.pl LISTEN_PORT PG_PORT CONTROL_FILE\n" unless $port && $pgport && $control;
my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 64,
                                   ReuseAddr => 1) or die "listen $port: $!";
$SIG{CHLD} = sub { 1 while waitpid(-1, WNOHANG) > 0 };
$SIG{TERM} = sub { exit 0 };
$| = 1;
print "ready\n";

while (1) {
    my $c = $listen->accept or next;
    my $pid = fork;
    if (!defined $pid) { close $c; next }
    if ($pid) { close $c; next }
    close $listen;
    serve($c);
    exit 0;
}

sub armed {
    open my $fh, '<', $control or return undef;
    my $pat = <$fh>;
    close $fh;
    return undef unless defined $pat;
    chomp $pat;
    return length $pat ? $pat : undef;
}

sub serve {
    my ($c) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $pgport) or return;
    my $sel = IO::Select->new($c, $s);
    while (1) {
        for my $h ($sel->can_read(60)) {
            my $buf;
            my $n = sysread($h, $buf, 65536);
            return unless $n;
            if ($h == $c) {
                my $pat = armed();
                syswrite($s, $buf);
                if (defined $pat && $buf =~ /B.{4}\x00\Q$pat\E\x00/s && unlink $control) {
                    # The server commits; its answer is lost with the connection.
                    my $until = time + 1;
                    my $quiet = IO::Select->new($s);
                    while (time < $until && $quiet->can_read(0.2)) {
                        last unless sysread($s, my $drop, 65536);
                    }
                    close $s;
                    close $c;
                    return;
                }
            }
            else {
                syswrite($c, $buf);
            }
        }
    }
}
