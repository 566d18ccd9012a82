# SPDX-License-Identifier: Apache-2.0
# create and status: the row, the reservation, the Location, ownership.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;

plan tests => 40;

my $alice = new_user('alice');
my $bob = new_user('bob');

my $res = api(POST => '/api/neo-glitch/create', user => $alice,
              body => { prompt => 'a red fox', style => 'minimal', quality => 'high',
                        aspectRatio => '16:9', parameters => { seed => 42 } });
is($res->code, 201, 'create answers 201');
like($res->header('Content-Type'), qr{^application/json; charset=utf-8}, 'JSON content type');
my $c = json_of($res);
like($c->{generationId} // '', qr/^[0-9a-f-]{36}$/, 'generationId is a UUID');
is($c->{type}, 'neo-glitch', 'type');
is($c->{status}, 'pending', 'status pending');
is($c->{estimatedCost}, 1, 'estimatedCost is the configured cost');
like($c->{prompt}, qr/a red fox.*minimalist.*highly detailed.*aspect ratio 16:9/,
     'prompt built from the template, style, quality and aspect ratio');
like($c->{createdAt} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'createdAt is RFC 3339 UTC');
is($res->header('Location'), "/api/neo-glitch/status/$c->{generationId}", 'Location header');

my $id = $c->{generationId};
my ($balance) = psql("SELECT balance FROM genflow_accounts WHERE user_id = '$alice'");
is($balance, 9, 'the cost is reserved at create');
is(psql("SELECT count(*) FROM genflow_ledger WHERE generation_id = '$id' AND kind = 'reserve'"),
   1, 'one reservation in the ledger');

$res = api(GET => "/api/neo-glitch/status/$id", user => $alice);
is($res->code, 200, 'status 200');
my $s = json_of($res);
is($s->{status}, 'pending', 'status object says pending');
is_deeply([sort keys %$s],
          [sort qw(generationId type status prompt preset imageUrl provider model providerJobId
                   retryCount maxRetries error estimatedCost creditsCharged createdAt
                   startedAt finishedAt processingTimeMs traceId queuePosition estimatedStartAt progress estimatedFinishAt
                   eventsUrl images count)],
          'status object has exactly the documented fields');
ok(!defined $s->{imageUrl} && !defined $s->{error} && !defined $s->{finishedAt},
   'unknown values are null');
like($s->{traceId} // '', qr/^[0-9a-f]{32}$/, 'the trace id of the create');
is($s->{maxRetries}, 3, 'maxRetries defaults to 3');

# Another user's id is "not found", the same as an unknown id.
$res = api(GET => "/api/neo-glitch/status/$id", user => $bob);
ok(is_json_error($res, 404, 'GENERATION_NOT_FOUND'), "another user's generation is 404");
$res = api(GET => '/api/neo-glitch/status/00000000-0000-0000-0000-000000000000', user => $bob);
ok(is_json_error($res, 404, 'GENERATION_NOT_FOUND'), 'unknown id is 404');
$res = api(GET => "/api/neo-glitch/status/x' OR '1'='1", user => $alice);
ok(is_json_error($res, 404, 'GENERATION_NOT_FOUND'), 'a non-UUID id is 404, not an SQL error');

# The same id under another type's location is not found either.
$res = api(GET => "/api/custom-prompt/status/$id", user => $alice);
ok(is_json_error($res, 404, 'GENERATION_NOT_FOUND'), 'types are separate tables');

# HEAD works on status and sends no body.
$res = api(HEAD => "/api/neo-glitch/status/$id", user => $alice);
is($res->code, 200, 'HEAD status');
is($res->content, '', 'HEAD has no body');

# Pollers revalidate: the ETag comes back in If-None-Match, and while
# nothing changed the answer is 304 with no body.
$res = api(GET => "/api/neo-glitch/status/$id", user => $alice);
my $etag = $res->header('ETag') // '';
like($etag, qr/^"[A-Za-z0-9+\/]{27}"$/, 'status has a strong ETag');
is($res->header('Cache-Control'), 'private, no-cache', 'cacheable by the client only, revalidated');
is(api(HEAD => "/api/neo-glitch/status/$id", user => $alice)->header('ETag'), $etag,
   'HEAD gives the same ETag');
$res = api(GET => "/api/neo-glitch/status/$id", user => $alice, headers => { 'If-None-Match' => $etag });
is($res->code, 304, 'If-None-Match with the current ETag: 304');
is($res->content, '', 'with no body');
ok(defined $res->header('Retry-After'), 'and still the Retry-After of a pending generation');
$res = api(GET => "/api/neo-glitch/status/$id", user => $alice, headers => { 'If-None-Match' => '"stale"' });
is($res->code, 200, 'another ETag: 200 with the object');
api(POST => "/api/neo-glitch/cancel/$id", user => $alice);
$res = api(GET => "/api/neo-glitch/status/$id", user => $alice, headers => { 'If-None-Match' => $etag });
ok($res->code == 200 && json_of($res)->{status} eq 'cancelled' && ($res->header('ETag') // '') ne $etag,
   'after a change: 200, the new object and a new ETag');
$res = api(GET => "/api/neo-glitch/status/$id", user => $bob, headers => { 'If-None-Match' => $etag });
ok(is_json_error($res, 404, 'GENERATION_NOT_FOUND'), "another user's id stays 404 with any ETag");

# A client reads its own writes: once the cancel has answered, no child
# serves the pending answer it keeps, whether or not the child has heard
# the change's NOTIFY yet (the children share marks of what they changed).
my $carol = new_user('carol');
my @stale;
for my $n (1 .. 20) {
    my $g = json_of(api(POST => '/api/neo-glitch/create', user => $carol,
                        body => { prompt => "read your writes $n" }))->{generationId} // '';
    my $old = '';
    $old = api(GET => "/api/neo-glitch/status/$g", user => $carol)->header('ETag') // '' for 1 .. 4;
    api(POST => "/api/neo-glitch/cancel/$g", user => $carol);
    my $r = api(GET => "/api/neo-glitch/status/$g", user => $carol,
                headers => { 'If-None-Match' => $old });
    push @stale, "$n: " . $r->code . ' ' . ($r->code == 200 ? json_of($r)->{status} : '')
        unless $r->code == 200 && json_of($r)->{status} eq 'cancelled';
}
ok(!@stale, 'the read right after a cancel is the cancelled object, 20 times out of 20')
    or diag("stale answers: @stale");

# A finished generation's answer never changes, so each child keeps it
# (GenFlowStatusCache) and answers later reads without a query. A change
# made behind the module's back (no NOTIFY: the prompt is not a watched
# column) shows that the cached answer is what is served... Each read is
# a connection of its own, so it may reach a child that has not read the
# answer yet (a child the MPM has just started, whose listener is still
# connecting and which keeps nothing until it listens): up to three
# rounds of 12 reads, each after a change of its own. The number of reads
# that did not see the round's change, and the round.
sub served_from_cache {
    my ($gid) = @_;
    my ($served, $try) = (0, 0);
    while (!$served && ++$try <= 3) {
        api(GET => "/api/neo-glitch/status/$gid", user => $alice) for 1 .. 12;
        psql("UPDATE neo_glitch_media SET prompt = 'changed behind the module $try' WHERE id = '$gid'");
        $served = grep { ($_ // '') ne "changed behind the module $try" }
                  map { json_of(api(GET => "/api/neo-glitch/status/$gid", user => $alice))->{prompt} } 1 .. 12;
    }
    return ($served, $try);
}
my ($served, $try) = served_from_cache($id);
ok($served > 0, "a finished generation's answer comes from the child's cache (round $try)");
$res = api(GET => "/api/neo-glitch/status/$id", user => $bob);
ok(is_json_error($res, 404, 'GENERATION_NOT_FOUND'), "the cache never answers another user");
# ...and a deletion, announced by NOTIFY (sql/012), empties it everywhere.
psql("DELETE FROM neo_glitch_media WHERE id = '$id'");
my $gone = 0;
for (1 .. 40) {
    my @codes = map { api(GET => "/api/neo-glitch/status/$id", user => $alice)->code } 1 .. 6;
    if (!grep { $_ != 404 } @codes) { $gone = 1; last }
    select(undef, undef, undef, 0.05);
}
ok($gone, 'a deleted generation is 404 in every child right after the DELETE');
# A generation still running is served from the cache as well (pollers
# read running generations): a change behind the module's back is not
# seen...
my $p = json_of(api(POST => '/api/neo-glitch/create', user => $alice, body => { prompt => 'still pending' }));
my $pid = $p->{generationId};
($served, $try) = served_from_cache($pid);
ok($served > 0, "a pending generation's answer comes from the child's cache (round $try)");
psql("UPDATE neo_glitch_media SET prompt = 'seen after the notification' WHERE id = '$pid'");
my $cached = api(GET => "/api/neo-glitch/status/$pid", user => $alice);
ok(defined $cached->header('Retry-After') && $cached->header('Retry-After') =~ /^\d+$/,
   'a cached pending answer still carries its Retry-After');
# ...while every change the module makes is announced and seen at once
# (here the announcement the triggers send, by hand).
psql("NOTIFY genflow_change, '$pid'");
my $seen = 0;
for (1 .. 40) {
    my @p = map { json_of(api(GET => "/api/neo-glitch/status/$pid", user => $alice))->{prompt} } 1 .. 6;
    if (!grep { $_ ne 'seen after the notification' } @p) { $seen = 1; last }
    select(undef, undef, undef, 0.05);
}
ok($seen, 'a pending generation is read again in every child once its change is announced');
api(POST => "/api/neo-glitch/cancel/$pid", user => $alice);
# Its NOTIFY reaches every child within moments.
my $cancelled = 0;
for (1 .. 40) {
    my @s = map { json_of(api(GET => "/api/neo-glitch/status/$pid", user => $alice))->{status} } 1 .. 6;
    if (!grep { $_ ne 'cancelled' } @s) { $cancelled = 1; last }
    select(undef, undef, undef, 0.05);
}
ok($cancelled, "the module's own change (cancel) is seen in every child");
