#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# tests/authz/matrix.pl: the authorization matrix (t/lib/GenFlowMatrix.pm,
# from the x-genflow-authz of docs/openapi.yaml) against a running site,
# as it is configured: tests/demo_smoke.sh runs it on scripts/demo.
#
#   tests/authz/matrix.pl --base http://127.0.0.1:8080 \
#       --events-secret STATE/events.secret --psql postgresql://genflow@127.0.0.1:PG/genflow \
#       [--type neo-glitch] [--provider rephook] [--owner demo:demo] [--other demo2:demo2] \
#       [--admin admin:admin] [--tables neo_glitch_media,...] [--doc docs/openapi.yaml]
#
# The events host is the one the site names: the origin of a status
# object's eventsUrl (none when it is a path on the same host). Every
# operation runs there and on the main host with every credential and path
# form. Prints each failed request, then "authz-matrix: N passed, M failed";
# the exit status is non-zero when one failed.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/../../t/lib";
use Getopt::Long qw(GetOptions);
use GenFlowMatrix ();
use JSON::PP ();
use LWP::UserAgent ();
use HTTP::Request ();

my %o = (
    type => 'neo-glitch', provider => 'local', owner => 'demo:demo', other => 'demo2:demo2',
    admin => 'admin:admin', doc => "$FindBin::Bin/../../docs/openapi.yaml",
    tables => 'neo_glitch_media,emotion_mask_media,presets_media,ghibli_reaction_media,custom_prompt_media',
);
GetOptions(\%o, 'base=s', 'events-secret=s', 'psql=s', 'type=s', 'provider=s', 'owner=s',
           'other=s', 'admin=s', 'tables=s', 'doc=s', 'verbose')
    && $o{base} && $o{'events-secret'} && $o{psql}
    or die "usage: $0 --base URL --events-secret FILE --psql URI [--type T] [--provider P] "
         . "[--owner U:P] [--other U:P] [--admin U:P] [--tables A,B] [--doc FILE] [--verbose]\n";
$o{base} =~ s{/+$}{};
my %users = map { my ($u, $p) = split /:/, $o{$_}, 2; ($_ => [$u, $p // $u]) } qw(owner other admin);

open my $fh, '<', $o{'events-secret'} or die "$o{'events-secret'}: $!\n";
chomp(my $key = <$fh> // '');
close $fh;
die "$o{'events-secret'}: no key on its first line\n" unless length $key;

# Where the site sends its event streams: a generation's eventsUrl (one
# created for it, then cancelled: its credits come back).
my $json = JSON::PP->new;
my $ua = LWP::UserAgent->new(timeout => 30);
sub call {
    my ($method, $path, $body) = @_;
    my $req = HTTP::Request->new($method => "$o{base}$path");
    $req->authorization_basic(@{ $users{owner} });
    if ($body) {
        $req->content($json->encode($body));
        $req->header('Content-Type' => 'application/json');
    }
    my $res = $ua->request($req);
    return ($res, eval { $json->decode($res->decoded_content) } // {});
}
my ($res, $created) = call(POST => "/api/$o{type}/create", { prompt => 'authorization matrix: where are the streams' });
die "create on $o{base}/api/$o{type}: " . $res->status_line . "\n" unless $res->code == 201;
my (undef, $status) = call(GET => "/api/$o{type}/status/$created->{generationId}");
call(POST => "/api/$o{type}/cancel/$created->{generationId}");
my ($events) = ($status->{eventsUrl} // '') =~ m{^(https?://[^/]+)};

my @hosts = ({ name => 'main', base => $o{base}, kind => 'api', type => $o{type} });
push @hosts, { name => 'events', base => $events, kind => 'events', type => $o{type},
               fixtures_from => $o{base} } if $events;
print "authz-matrix: hosts: " . join(', ', map { "$_->{name} $_->{base}" } @hosts) . "\n";

my $m = GenFlowMatrix::run_matrix(
    doc => $o{doc}, hosts => \@hosts, users => \%users, events_key => $key,
    provider => $o{provider}, psql => $o{psql}, tables => [split /,/, $o{tables}],
    log => sub { print "authz-matrix: @_\n" if $o{verbose} },
);
if ($o{verbose}) {
    my %ms;
    $ms{ $_->{op} } += $_->{ms} for @{ $m->{results} };
    printf "authz-matrix: %-24s %6.1f s\n", $_, $ms{$_} / 1000 for @{ $m->{operations} };
}
my ($passed, $failed, @lines) = GenFlowMatrix::summary($m);
my @missed = grep { !$m->{ran}{$_} } @{ $m->{operations} };
print "authz-matrix: FAIL: $_\n" for @lines;
print "authz-matrix: FAIL: not run: @missed\n" if @missed;
printf "authz-matrix: %d requests (fixtures included) in %.1f s, %d operations\n",
    $m->{requests}, $m->{seconds}, scalar @{ $m->{operations} };
print "authz-matrix: $passed passed, $failed failed\n";
exit($failed || @missed ? 1 : 0);
