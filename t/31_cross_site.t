# SPDX-License-Identifier: Apache-2.0
# Cross-site writes: a page on another site can make the user's browser
# send a form or a simple fetch (urlencoded, multipart, text/plain, or no
# body) with the user's credentials and no preflight. Every state-changing
# endpoint refuses such a request with a JSON 403 or 415 before it does
# anything: nothing is created, cancelled, charged, uploaded, deleted or
# granted. The site's own pages, the origins GenFlowCORSOrigins lists, and
# clients that are not browsers (no Origin, no Sec-Fetch-Site) still work.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use Compress::Zlib ();

plan tests => 55;

my $EVIL = 'https://evil.example';
my $ALLOWED = 'http://studio.example';   # in /api's GenFlowCORSOrigins
my %admin = (user => 'admin', password => 'admin');

my $u = new_user('xsite');
api(GET => '/api/quota', user => $u);
grant($u, 50);

sub png {
    my $raw = join '', map { "\0" . ("\x80\x40\x20" x 4) } 1 .. 4;
    my $chunk = sub {
        my ($t, $d) = @_;
        return pack('N', length $d) . $t . $d . pack('N', Compress::Zlib::crc32($t . $d));
    };
    return "\x89PNG\r\n\x1a\n" . $chunk->('IHDR', pack('NNC5', 4, 4, 8, 2, 0, 0, 0))
         . $chunk->('IDAT', Compress::Zlib::compress($raw)) . $chunk->('IEND', '');
}

# Everything a refused request could have changed, in one string.
sub state_of {
    my ($user) = @_;
    return join ' ', map { psql($_) }
        "SELECT count(*) FROM neo_glitch_media WHERE user_id = '$user'",
        "SELECT count(*) FROM neo_glitch_media WHERE user_id = '$user' AND status = 'cancelled'",
        "SELECT count(*) FROM neo_glitch_media WHERE user_id = '$user' AND queued_at IS NOT NULL",
        "SELECT count(*) FROM genflow_ledger WHERE user_id = '$user'",
        "SELECT balance FROM genflow_accounts WHERE user_id = '$user'",
        "SELECT count(*) FROM genflow_uploads WHERE user_id = '$user'",
        "SELECT count(*) FROM genflow_idempotency WHERE user_id = '$user'";
}

# A created generation to start, a failed one to retry, a pending one to cancel.
my $created = json_of(api(POST => '/api/neo-glitch/create', user => $u, body => { prompt => 'x' }))
    ->{generationId};
my $to_cancel = json_of(api(POST => '/api/neo-glitch/create', user => $u, body => { prompt => 'y' }))
    ->{generationId};
my $failed = json_of(api(POST => '/api/allfail-glitch/generate', user => $u,
                         body => { prompt => 'z' }))->{generationId};
is(psql("SELECT status FROM neo_glitch_media WHERE id = '$failed'"), 'failed', 'a failed generation to retry');

# The forms a page on another site can send without a preflight.
my %forms = (
    'urlencoded form' => [ 'application/x-www-form-urlencoded', 'prompt=x&generationId=' . $created ],
    'text/plain form' => [ 'text/plain', '{"prompt":"x"}' ],
    'multipart form'  => [ 'multipart/form-data; boundary=b',
                           "--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nx\r\n--b--\r\n" ],
    'body-less POST'  => [ undef, undef ],
);
my @endpoints = (
    [ POST => '/api/neo-glitch/create' ],
    [ POST => '/api/neo-glitch/generate' ],
    [ POST => "/api/neo-glitch/cancel/$to_cancel" ],
    [ POST => "/api/allfail-glitch/retry/$failed" ],
    [ POST => '/api/uploads' ],
);

my $before = state_of($u);
for my $ep (@endpoints) {
    my ($method, $path) = @$ep;
    for my $form (sort keys %forms) {
        my ($ctype, $body) = @{ $forms{$form} };
        my $res = api($method => $path, user => $u, headers => { Origin => $EVIL },
                      (defined $body ? (body => $body, content_type => $ctype) : ()));
        # 403 before anything else (a 415 would say the check did not run first).
        ok(is_json_error($res, 403, 'FORBIDDEN'),
           "$form from another site to $method $path: 403 (" . $res->code . ')');
    }
    # A current browser says so in Sec-Fetch-Site as well.
    my $res = api($method => $path, user => $u, body => 'a', content_type => 'text/plain',
                  headers => { Origin => $EVIL, 'Sec-Fetch-Site' => 'cross-site' });
    ok(is_json_error($res, 403, 'FORBIDDEN'), "Sec-Fetch-Site: cross-site to $path: 403");
    like(json_of($res)->{error}{message} // '', qr/GenFlowCORSOrigins/, '... saying what an administrator can do');
}
# The foreign page's upload of a real image, under an Idempotency-Key.
my $res = api(POST => '/api/uploads', user => $u, body => png(), content_type => 'image/png',
              headers => { Origin => $EVIL, 'Idempotency-Key' => 'xsite-key' });
ok(is_json_error($res, 403, 'FORBIDDEN'), 'an image upload from another site: 403');
$res = api(POST => '/api/neo-glitch/create', user => $u, body => { prompt => 'json' },
           headers => { Origin => $EVIL, 'Idempotency-Key' => 'xsite-key' });
ok(is_json_error($res, 403, 'FORBIDDEN'),
   'even JSON from another site (it would need a preflight no listed origin answers): 403');
is(state_of($u), $before, 'nothing was created, started, cancelled, charged, uploaded or kept');
is(psql("SELECT status FROM neo_glitch_media WHERE id = '$to_cancel'"), 'pending',
   'the generation to cancel is still pending');

# Admin writes: an administrator's browser is the prize.
my $v = new_user('xsite2');
api(GET => '/api/quota', user => $v);
my $old = json_of(api(POST => '/api/neo-glitch/create', user => $v, body => { prompt => 'old' }))
    ->{generationId};
api(POST => "/api/neo-glitch/cancel/$old", user => $v);
my $admin_before = state_of($v);
$res = api(POST => '/api/admin/credits', %admin, body => "user=$v&amount=1000",
           content_type => 'application/x-www-form-urlencoded', headers => { Origin => $EVIL });
ok(is_json_error($res, 403, 'FORBIDDEN'), 'an admin grant posted by a form on another site: 403');
$res = api(POST => '/api/admin/credits', %admin, body => qq({"user":"$v","amount":1000}),
           content_type => 'text/plain', headers => { Origin => $EVIL, 'Sec-Fetch-Site' => 'cross-site' });
ok(is_json_error($res, 403, 'FORBIDDEN'), 'as text/plain from a current browser: 403');
$res = api(DELETE => '/api/admin/jobs?status=cancelled&olderThan=0', %admin, headers => { Origin => $EVIL });
ok(is_json_error($res, 403, 'FORBIDDEN'), 'a delete of generations from another site: 403');
is(state_of($v), $admin_before, 'nothing granted, nothing deleted');

# The site's own pages, listed origins and non-browser clients still work.
$res = api(POST => "/api/neo-glitch/cancel/$to_cancel", user => $u,
           headers => { Origin => $ALLOWED, 'Sec-Fetch-Site' => 'cross-site' });
is($res->code, 200, 'a cancel from an origin GenFlowCORSOrigins lists: 200');
is(json_of($res)->{status}, 'cancelled', '... cancelled');
$res = api(POST => '/api/neo-glitch/generate', user => $u, body => { generationId => $created },
           headers => { Origin => base_url(), 'Sec-Fetch-Site' => 'same-origin' });
is($res->code, 200, "the site's own page (Sec-Fetch-Site: same-origin) starts a generation");
$res = api(POST => "/api/allfail-glitch/retry/$failed", user => $u, headers => { Origin => base_url() });
is($res->code, 200, "a browser without Sec-Fetch-Site whose Origin is the site itself: retry works");
isnt(json_of($res)->{generationId}, $failed, '... as a new generation');
$res = api(POST => '/api/neo-glitch/create', user => $u, body => { prompt => 'curl' });
is($res->code, 201, 'a client that is not a browser (no Origin, no Sec-Fetch-Site) creates');
my $mine = json_of($res)->{generationId};
$res = api(POST => "/api/neo-glitch/cancel/$mine", user => $u);
is($res->code, 200, '... and cancels');
$res = api(POST => '/api/uploads', user => $u, body => png(), content_type => 'image/png',
           headers => { Origin => $ALLOWED });
is($res->code, 201, 'an upload from a listed origin: 201');
$res = api(POST => '/api/admin/credits', %admin, body => { user => $v, amount => 3 },
           headers => { 'Sec-Fetch-Site' => 'same-origin', Origin => base_url() });
is($res->code, 200, "an admin grant from the site's own page: 200");
$res = api(DELETE => '/api/admin/jobs?status=cancelled&olderThan=315360000', %admin);
ok($res->code == 200 && defined json_of($res)->{deleted},
   'a delete by a client that is not a browser is carried out (' . $res->code . ')');

# A POST from another site to a path of no endpoint: refused all the same.
$res = api(POST => '/api/neo-glitch/nope', user => $u, body => 'a', content_type => 'text/plain',
           headers => { Origin => $EVIL });
ok(is_json_error($res, 403, 'FORBIDDEN'), 'to a path of no endpoint: 403');

# A page of a subdomain is another origin; "same-site" is not "same-origin".
$res = api(POST => '/api/neo-glitch/create', user => $u, body => { prompt => 'sub' },
           headers => { Origin => 'http://sub.' . (split m{//}, base_url())[1], 'Sec-Fetch-Site' => 'same-site' });
ok(is_json_error($res, 403, 'FORBIDDEN'), 'Sec-Fetch-Site: same-site from another origin: 403');
# An opaque origin ("null": a sandboxed frame, a data: URL).
$res = api(POST => "/api/neo-glitch/cancel/$created", user => $u, headers => { Origin => 'null' });
ok(is_json_error($res, 403, 'FORBIDDEN'), 'Origin: null: 403');

# Reads are not writes: another site's page may send them (CORS keeps it
# from reading the answer), and provider webhooks are not browsers'.
$res = api(GET => "/api/neo-glitch/status/$created", user => $u, headers => { Origin => $EVIL });
is($res->code, 200, 'a read from another origin is answered');
ok(!$res->header('Access-Control-Allow-Origin'), '... without letting that page read it');
$res = api(POST => '/hooks/rephook', body => '{}', headers => { Origin => $EVIL });
isnt($res->code, 403, 'a provider webhook is not refused as cross-site (' . $res->code . ')');
