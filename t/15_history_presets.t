# History (newest first, cursor paging, only the caller's rows) and the
# weekly presets.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use POSIX qw(strftime);

plan tests => 22;

my $u = new_user('history');
my $other = new_user('other');
my @ids;
for my $i (1 .. 5) {
    push @ids, json_of(api(POST => '/api/neo-glitch/create', user => $u, body => { prompt => "h$i" }))->{generationId};
}
api(POST => '/api/neo-glitch/create', user => $other, body => { prompt => 'not yours' });

my $res = api(GET => '/api/neo-glitch/history?limit=2', user => $u);
is($res->code, 200, 'history 200');
my $page = json_of($res);
is_deeply([map { $_->{generationId} } @{ $page->{items} }], [@ids[4, 3]], 'newest first, limit 2');
is($page->{next}, $ids[3], 'next is the cursor of the last item');
ok(exists $page->{items}[0]{processingTimeMs} && exists $page->{items}[0]{creditsCharged},
   'items are full status objects');
$page = json_of(api(GET => "/api/neo-glitch/history?limit=2&before=$page->{next}", user => $u));
is_deeply([map { $_->{generationId} } @{ $page->{items} }], [@ids[2, 1]], 'second page');
$page = json_of(api(GET => "/api/neo-glitch/history?limit=2&before=$page->{next}", user => $u));
is_deeply([map { $_->{generationId} } @{ $page->{items} }], [$ids[0]], 'last page');
is($page->{next}, undef, 'no next after the last page');
$page = json_of(api(GET => '/api/neo-glitch/history', user => $u));
is(scalar @{ $page->{items} }, 5, 'only the caller\'s rows (default limit 20)');
$page = json_of(api(GET => "/api/neo-glitch/history?before=$ids[4]", user => $other));
is(scalar @{ $page->{items} }, 0, "another user's cursor reveals nothing");
ok(is_json_error(api(GET => '/api/neo-glitch/history?limit=0', user => $u), 400, 'VALIDATION_ERROR'),
   'limit=0 is 400');
ok(is_json_error(api(GET => '/api/neo-glitch/history?limit=101', user => $u), 400, 'VALIDATION_ERROR'),
   'limit=101 is 400');
ok(is_json_error(api(GET => '/api/neo-glitch/history?before=xyz', user => $u), 400, 'VALIDATION_ERROR'),
   'a malformed cursor is 400');

# Presets: 6 of the presets type's 9 this week, all 4 of neo-glitch's.
$res = api(GET => '/api/presets/presets', user => $u);
is($res->code, 200, 'presets 200');
my $p = json_of($res);
like($p->{week}, qr/^\d{4}-W\d\d$/, "ISO week label ($p->{week})");
is(scalar @{ $p->{presets} }, 6, '6 active presets this week');
ok(!grep({ !defined $_->{key} || !defined $_->{name} || !defined $_->{description} } @{ $p->{presets} }),
   'each with key, name and description');
is(scalar @{ json_of(api(GET => '/api/neo-glitch/presets', user => $u))->{presets} }, 4,
   'a type with fewer presets than the count shows all of them');
my %active = map { $_->{key} => 1 } @{ $p->{presets} };
my ($inactive) = grep { !$active{$_} } split /\n/, psql("SELECT key FROM genflow_presets WHERE type_name = 'presets'");
my $key = $p->{presets}[0]{key};
my $fragment = psql("SELECT prompt FROM genflow_presets WHERE key = '$key'");
$res = api(POST => '/api/presets/create', user => $u, body => { preset => $key });
is($res->code, 201, 'create with an active preset');
like(json_of($res)->{prompt}, qr/\Q$fragment\E/, "the prompt carries the preset's words");
$res = api(POST => '/api/presets/create', user => $u, body => { preset => $inactive });
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), "a preset not active this week ($inactive) is 400");
like(json_of($res)->{error}{message}, qr/^preset: /, '... naming the field');
$res = api(POST => '/api/presets/create', user => $u, body => { preset => 'no-such-preset' });
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'an unknown preset is 400');
