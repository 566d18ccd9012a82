# SPDX-License-Identifier: Apache-2.0
# History (newest first, cursor paging, only the caller's rows) and the
# weekly presets.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use POSIX qw(strftime);

plan tests => 28;

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

# Every type that lists presets puts the chosen one's words into its prompt
# (once, mask-joy and mask-rage built the identical prompt), and the words
# reach the provider.
my $pu = new_user('presetwords');
api(GET => '/api/quota', user => $pu);
grant($pu, 100);
my %prompt_of;
for my $k ('mask-joy', 'mask-rage') {
    my $r = api(POST => '/api/emotion-mask/create', user => $pu,
                body => { preset => $k, sourceImage => 'https://example.com/face.png' });
    $prompt_of{$k} = $r->code == 201 ? json_of($r)->{prompt} : "($k: " . $r->code . ')';
}
isnt($prompt_of{'mask-joy'}, $prompt_of{'mask-rage'}, 'two emotion-mask presets, two prompts');
like($prompt_of{'mask-joy'}, qr/a radiant mask of joy, warm golden light/, "with the preset's words")
    or diag($prompt_of{'mask-joy'});
for my $type (qw(neo-glitch ghibli-reaction custom-prompt)) {
    my ($pk, $words) = split /\|/, psql("SELECT key, prompt FROM genflow_presets "
                                        . "WHERE type_name = '$type' ORDER BY position LIMIT 1");
    my %body = (preset => $pk, prompt => 'a face');
    $body{sourceImage} = 'https://example.com/face.png' if $type eq 'ghibli-reaction';
    my $r = api(GET => "/api/$type/presets", user => $pu);
    my ($listed) = grep { $_->{key} eq $pk } @{ json_of($r)->{presets} || [] };
    $r = api(POST => "/api/$type/create", user => $pu, body => \%body);
    ok($listed && $r->code == 201 && index(json_of($r)->{prompt} // '', $words) >= 0,
       "$type: a listed preset ($pk) puts its words in the prompt")
        or diag($r->code . ' ' . $r->decoded_content);
}
# The provider gets them: AIML (a mock) for a neo-glitch preset.
{
    my ($pk, $words) = split /\|/, psql("SELECT key, prompt FROM genflow_presets "
                                        . "WHERE type_name = 'neo-glitch' ORDER BY position DESC LIMIT 1");
    my $marker = "preset-marker-$$";
    my $r = api(POST => '/api/aiml/generate', user => $pu, body => { preset => $pk, prompt => $marker },
                headers => { Prefer => 'wait=20' });
    require LWP::UserAgent;
    require JSON::PP;
    my $log = LWP::UserAgent->new->get("$ENV{GENFLOW_MOCK_URL}/_log")->content;
    my ($sent) = grep { index($_->{fields}{prompt} // '', $marker) >= 0 }
                 map { JSON::PP::decode_json($_) } grep { length } split /\n/, $log;
    ok($r->code == 200 && $sent && index($sent->{fields}{prompt}, $words) >= 0,
       "the preset's words reach the provider ($pk)")
        or diag($r->code . ' ' . ($sent ? $sent->{fields}{prompt} : 'nothing sent'));
}
