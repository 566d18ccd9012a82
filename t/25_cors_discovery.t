# SPDX-License-Identifier: Apache-2.0
# Cross-origin requests (GenFlowCORSOrigins) and the type list
# (SetHandler genflow-types), against t/conf/extra.conf.in: /api allows
# http://studio.example and http://127.0.0.1:5173, /api/nocors-glitch
# says none, /anyorigin/types allows any origin without credentials.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;

plan tests => 98;

my $studio = 'http://studio.example';
my $evil = 'http://evil.example';
my $u = new_user('cors');
my %auth = (user => $u);
my $id = '0b7c6a52-2f5e-4f1a-9a53-4b6f0d0c7e11';

sub preflight {
    my ($path, $origin, $method, $headers, %a) = @_;
    my %h = (Origin => $origin, 'Access-Control-Request-Method' => $method);
    $h{'Access-Control-Request-Headers'} = $headers if defined $headers;
    return api(OPTIONS => $path, headers => \%h, %a);
}

# No Access-Control-* header at all.
sub no_cors {
    my ($res) = @_;
    return !grep { /^Access-Control-/i } $res->headers->header_field_names;
}

sub varies_on_origin {
    my ($res) = @_;
    return (join(',', $res->header('Vary') // '') =~ /\bOrigin\b/) ? 1 : 0;
}

# ---- preflights from an allowed origin: 204 without credentials ------------
my $res = preflight('/api/neo-glitch/create', $studio, 'POST',
                    'content-type, idempotency-key, x-evil');
is($res->code, 204, 'a preflight from an allowed origin is answered 204 without credentials');
is($res->header('Access-Control-Allow-Origin'), $studio, '... Allow-Origin is the origin');
is($res->header('Access-Control-Allow-Credentials'), 'true', '... with credentials');
is($res->header('Access-Control-Allow-Methods'), 'POST, OPTIONS', '... the endpoint\'s methods');
is($res->header('Access-Control-Allow-Headers'), 'Content-Type, Idempotency-Key',
   '... only the requested headers that are allowed');
is($res->header('Access-Control-Max-Age'), '600', '... Max-Age');
ok(varies_on_origin($res), '... Vary: Origin');
is($res->content, '', '... no body');
ok(!defined $res->header('WWW-Authenticate'), '... and no login prompt');

$res = preflight("/api/neo-glitch/status/$id", $studio, 'GET',
                 'authorization,if-none-match');
is($res->code, 204, 'preflight of a status read');
is($res->header('Access-Control-Allow-Methods'), 'GET, HEAD, OPTIONS', '... GET, HEAD');
is($res->header('Access-Control-Allow-Headers'), 'Authorization, If-None-Match',
   '... Authorization and If-None-Match');

$res = preflight("/api/neo-glitch/events/$id", '', 'GET', 'last-event-id');
is($res->code, 401, 'an empty Origin is no preflight: authentication applies');
$res = preflight("/api/neo-glitch/events/$id", 'http://127.0.0.1:5173', 'GET', 'last-event-id');
is($res->code, 204, 'the second listed origin (with a port) is allowed too');
is($res->header('Access-Control-Allow-Origin'), 'http://127.0.0.1:5173', '... and named');
is($res->header('Access-Control-Allow-Headers'), 'Last-Event-ID', '... Last-Event-ID');
is($res->header('Access-Control-Allow-Methods'), 'GET, OPTIONS', '... events: GET');

$res = preflight('/api/neo-glitch/generate', $studio, 'POST', 'Content-Type, Prefer');
is($res->header('Access-Control-Allow-Headers'), 'Content-Type, Prefer', 'Prefer is allowed');
$res = preflight('/api/neo-glitch/generate', $studio, 'POST');
is($res->code, 204, 'a preflight without requested headers');
ok(!defined $res->header('Access-Control-Allow-Headers'), '... gets no Allow-Headers');

for my $c (['/api/quota', 'GET, HEAD, OPTIONS'], ['/api/types', 'GET, HEAD, OPTIONS'],
           ['/api/admin/jobs', 'GET, DELETE, OPTIONS'], ['/api/admin/credits', 'POST, OPTIONS'],
           ['/api/health', 'GET, HEAD, OPTIONS'], ['/api/nosuch/thing', 'GET, HEAD, POST, DELETE, OPTIONS']) {
    $res = preflight($c->[0], $studio, 'GET', 'authorization');
    is($res->code, 204, "preflight of $c->[0]: 204 (Require does not refuse it)");
    is($res->header('Access-Control-Allow-Methods'), $c->[1], "... methods $c->[1]");
}

# ---- other origins: no CORS, and no way around authentication -------------
$res = preflight('/api/neo-glitch/create', $evil, 'POST', 'content-type');
ok(is_json_error($res, 401, 'UNAUTHORIZED'), 'a preflight from another origin gets the usual 401');
ok(no_cors($res), '... and no CORS header');
$res = preflight('/api/admin/jobs', $evil, 'GET');
ok(is_json_error($res, 401, 'UNAUTHORIZED'), '... nor does it pass Require');
$res = preflight('/api/neo-glitch/create', 'http://studio.example.evil.example', 'POST');
is($res->code, 401, 'an origin that only begins like an allowed one is another origin');
$res = preflight('/api/neo-glitch/create', 'https://studio.example', 'POST');
is($res->code, 401, 'the same host over https is another origin');
$res = preflight('/api/neo-glitch/create', 'null', 'POST');
ok(is_json_error($res, 401, 'UNAUTHORIZED') && no_cors($res), 'Origin: null gets nothing');

# An OPTIONS without Access-Control-Request-Method is no preflight.
$res = api(OPTIONS => '/api/neo-glitch/create', headers => { Origin => $studio });
ok(is_json_error($res, 401, 'UNAUTHORIZED'), 'OPTIONS that is no preflight must authenticate');
is($res->header('Access-Control-Allow-Origin'), $studio, '... and carries the CORS headers');

# A location that says none.
$res = preflight('/api/nocors-glitch/create', $studio, 'POST', 'content-type');
ok(is_json_error($res, 401, 'UNAUTHORIZED'), 'GenFlowCORSOrigins none: the preflight must authenticate');
ok(no_cors($res), '... and gets no CORS header');

# ---- actual requests from an allowed origin ---------------------------------
my %from_studio = (headers => { Origin => $studio });
$res = api(GET => '/api/quota', %auth, %from_studio);
is($res->code, 200, 'GET quota from the allowed origin');
is($res->header('Access-Control-Allow-Origin'), $studio, '... Allow-Origin');
is($res->header('Access-Control-Allow-Credentials'), 'true', '... Allow-Credentials');
like($res->header('Access-Control-Expose-Headers') // '',
     qr/^(?=.*\bLocation\b)(?=.*\bRetry-After\b)(?=.*\bETag\b)(?=.*\bIdempotent-Replayed\b)/,
     '... exposes Location, Retry-After, ETag, Idempotent-Replayed');
ok(varies_on_origin($res), '... Vary: Origin');
ok(!defined $res->header('Access-Control-Allow-Methods'), '... no preflight headers on it');

$res = api(GET => '/api/quota', %from_studio);
ok(is_json_error($res, 401, 'UNAUTHORIZED'), 'without credentials: 401 JSON');
is($res->header('Access-Control-Allow-Origin'), $studio, '... with Allow-Origin (the page can read the 401)');
is($res->header('Access-Control-Allow-Credentials'), 'true', '... and Allow-Credentials');

$res = api(GET => '/api/admin/jobs', %auth, %from_studio);
ok(is_json_error($res, 403, 'FORBIDDEN'), 'a 403 from Require');
is($res->header('Access-Control-Allow-Origin'), $studio, '... carries Allow-Origin');

$res = api(GET => '/api/neo-glitch/nope', %auth, %from_studio);
ok(is_json_error($res, 404, 'NOT_FOUND'), 'a 404 JSON of the module');
is($res->header('Access-Control-Allow-Origin'), $studio, '... carries Allow-Origin');
$res = api(GET => '/api/nosuch/thing', %auth, %from_studio);
ok(is_json_error($res, 404, 'NOT_FOUND') && $res->header('Access-Control-Allow-Origin'),
   'the API prefix\'s 404 too');

$res = api(POST => '/api/neo-glitch/create', %auth, %from_studio, body => { prompt => 1 });
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'a 400 of the module');
is($res->header('Access-Control-Allow-Origin'), $studio, '... carries Allow-Origin');

$res = api(POST => '/api/neo-glitch/create', %auth, %from_studio, body => { prompt => 'a cross-origin fox' },
           headers => { Origin => $studio, 'Idempotency-Key' => "cors-$u" });
is($res->code, 201, 'POST create from the allowed origin');
is($res->header('Access-Control-Allow-Origin'), $studio, '... Allow-Origin');
ok($res->header('Location'), '... and the Location it exposes');
my $created = json_of($res)->{generationId};

$res = api(POST => '/api/neo-glitch/create', %auth, body => { prompt => 'a cross-origin fox' },
           headers => { Origin => $studio, 'Idempotency-Key' => "cors-$u" });
is($res->header('Idempotent-Replayed'), 'true', 'a replay');
is($res->header('Access-Control-Allow-Origin'), $studio, '... carries Allow-Origin too');

$res = api(GET => "/api/neo-glitch/status/$created", %auth, %from_studio);
is($res->code, 200, 'status read from the allowed origin');
my $etag = $res->header('ETag');
$res = api(GET => "/api/neo-glitch/status/$created", %auth,
           headers => { Origin => $studio, 'If-None-Match' => $etag });
is($res->code, 304, 'a 304 revalidation');
is($res->header('Access-Control-Allow-Origin'), $studio, '... still carries Allow-Origin');

# ---- actual requests from elsewhere: untouched -----------------------------
$res = api(GET => '/api/quota', %auth, headers => { Origin => $evil });
is($res->code, 200, 'another origin still gets its answer (the browser hides it)');
ok(no_cors($res), '... with no CORS header at all');
ok(varies_on_origin($res), '... but Vary: Origin');
$res = api(GET => '/api/quota', headers => { Origin => $evil });
ok(is_json_error($res, 401, 'UNAUTHORIZED') && no_cors($res), 'its 401 has none either');
$res = api(GET => '/api/quota', %auth);
is($res->code, 200, 'a request without Origin');
ok(no_cors($res), '... gets no CORS header');
$res = api(GET => "/api/nocors-glitch/status/$id", %auth, %from_studio);
ok(is_json_error($res, 404, 'GENERATION_NOT_FOUND'), 'GenFlowCORSOrigins none: the answer');
ok(no_cors($res), '... has no CORS header, even for a listed origin');
$res = api(GET => '/media/none.png', headers => { Origin => $studio });
ok(no_cors($res), 'a location the module does not serve is untouched');

# ---- "*": any origin, never with credentials ---------------------------------
$res = api(GET => '/anyorigin/types', headers => { Origin => $evil });
is($res->code, 200, 'GenFlowCORSOrigins *: an answer');
is($res->header('Access-Control-Allow-Origin'), '*', '... Allow-Origin: *');
ok(!defined $res->header('Access-Control-Allow-Credentials'), '... never Allow-Credentials');
$res = api(OPTIONS => '/anyorigin/types',
           headers => { Origin => $evil, 'Access-Control-Request-Method' => 'GET' });
is($res->code, 204, '... a preflight from any origin');
is($res->header('Access-Control-Allow-Origin'), '*', '... answered with *');
ok(!defined $res->header('Access-Control-Allow-Credentials'), '... without credentials');

# ---- the type list ------------------------------------------------------------
$res = api(GET => '/api/types', %auth);
is($res->code, 200, 'GET /api/types');
like($res->header('Content-Type') // '', qr{^application/json}, '... JSON');
my $doc = json_of($res);
my @types = @{ $doc->{types} || [] };
my %by_base = map { $_->{base} => $_ } @types;
is_deeply([ map { $_->{base} } @types[0 .. 4] ],
          [ '/api/neo-glitch', '/api/custom-prompt', '/api/emotion-mask', '/api/ghibli-reaction',
            '/api/presets' ], '... every type location, in configuration order');
is(scalar(keys %by_base), scalar(@types), '... each location once');
is_deeply($by_base{'/api/neo-glitch'},
          { type => 'neo-glitch', base => '/api/neo-glitch', needs => ['prompt'], cost => 1,
            fields => [qw(prompt preset sourceImage style quality aspectRatio customPrompt parameters count)],
            presetsUrl => '/api/neo-glitch/presets', historyUrl => '/api/neo-glitch/history',
            defaultWait => 30, maxCount => 4 },
          '... neo-glitch: needs, cost, fields, URLs and the wait inherited from /api');
is_deeply([ map { [ $_->{type}, join(',', @{ $_->{needs} }), $_->{cost} ] }
            @by_base{'/api/emotion-mask', '/api/ghibli-reaction', '/api/presets', '/api/custom-prompt'} ],
          [ [ 'emotion-mask', 'sourceImage', 2 ], [ 'ghibli-reaction', 'sourceImage', 2 ],
            [ 'presets', 'preset', 2 ], [ 'custom-prompt', 'prompt', 2 ] ],
          '... the shipped types\' needs and costs');
is_deeply([ @{ $by_base{'/api/nocors-glitch'} }{qw(type cost)}, $by_base{'/api/nocors-glitch'}{needs} ],
          [ 'neo-glitch', 3, [ 'prompt', 'sourceImage' ] ],
          '... a location\'s own GenFlowCost and GenFlowRequire');
is($by_base{'/api/slow-glitch'}{type}, 'neo-glitch', '... a type mounted at several locations: each');
is($by_base{'/open/neo-glitch'}{defaultWait}, 0, '... outside /api no inherited wait');
is_deeply($doc->{options}{aspectRatio}, [ '1:1', '16:9', '9:16', '4:3', '3:4', '3:2', '2:3', '21:9' ],
          '... the choices of the enumerated fields');
my $types_etag = $res->header('ETag');
like($types_etag // '', qr/^"[^"]+"$/, '... a strong ETag');
$res = api(GET => '/api/types', %auth, headers => { 'If-None-Match' => $types_etag, Origin => $studio });
is($res->code, 304, '... If-None-Match: 304');
is($res->header('Access-Control-Allow-Origin'), $studio, '... which carries Allow-Origin');
$res = api(HEAD => '/api/types', %auth);
is($res->code, 200, 'HEAD /api/types');
$res = api(POST => '/api/types', %auth, body => {});
ok(is_json_error($res, 405, 'METHOD_NOT_ALLOWED'), 'POST /api/types: 405 JSON');
is($res->header('Allow'), 'GET, HEAD', '... Allow: GET, HEAD');
$res = api(GET => '/api/types');
ok(is_json_error($res, 401, 'UNAUTHORIZED'), 'the list is behind the location\'s authentication');
