# SPDX-License-Identifier: Apache-2.0
# The legacy unified media_assets table moved into the dedicated tables:
# classified by meta type, preset or URL; counts per type; unclassifiable
# rows left in place and listed; a second run moves nothing. Then row by
# row (sql/008): a legacy table of text columns with good rows and every
# kind of bad row; the good ones move, each bad one stays and is listed with
# its reason, duplicates are neither deleted nor overwritten, a second run
# lists the same, and the ledger invariants hold.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;

plan tests => 71;

my $script = Apache::Test::vars('serverroot') . '/../scripts/genflow-migrate-legacy';
my @types = qw(neo-glitch emotion-mask presets ghibli-reaction custom-prompt);
my %preset_of = ('neo-glitch' => 'glitch-vhs', 'emotion-mask' => 'mask-joy', presets => 'film-noir',
                 'ghibli-reaction' => 'ghibli-rain', 'custom-prompt' => 'custom-sketch');
my $owner = "legacy_$$";

# A generated fixture: 80 rows, 12 per type by meta type, 2 per type by
# preset only, 1 per type by URL only, 5 that cannot be classified.
my @rows;
my $n = 0;
for my $t (@types) {
    push @rows, map { [ "L" . ++$n, $owner, "https://cdn.example.com/old/$n.png", "legacy $t $_", undef,
                        qq({"type": "$t", "v": $_}) ] } 1 .. 12;
    push @rows, map { [ "L" . ++$n, $owner, "https://cdn.example.com/old/$n.png", "by preset", $preset_of{$t}, '{}' ] } 1 .. 2;
    push @rows, [ "L" . ++$n, "${owner}_b", "https://cdn.example.com/$t/$n.png", 'by url', undef, '{}' ];
}
push @rows, [ "L" . ++$n, $owner, "https://cdn.example.com/misc/$n.png", 'no idea', undef, '{"type":"video"}' ] for 1 .. 3;
push @rows, [ "L" . ++$n, $owner, undef, 'no url', undef, '{"type":"neo-glitch"}' ];
push @rows, [ "L" . ++$n, undef, "https://cdn.example.com/neo-glitch/x.png", 'no user', undef, '{}' ];
is(scalar @rows, 80, 'a fixture of 80 rows');

sub sqlq { defined $_[0] ? "'" . ($_[0] =~ s/'/''/gr) . "'" : 'NULL' }
psql("DROP TABLE IF EXISTS media_assets");
psql("CREATE TABLE media_assets (id text PRIMARY KEY, user_id text, url text, prompt text, "
     . "preset_key text, meta jsonb, created_at timestamptz DEFAULT now())");
psql("INSERT INTO media_assets (id, user_id, url, prompt, preset_key, meta, created_at) VALUES "
     . join(',', map { my $r = $_; '(' . join(',', map({ sqlq($_) } @$r[0 .. 4]), sqlq($r->[5]) . '::jsonb',
                                               "now() - interval '" . (100 - substr($r->[0], 1)) . " minutes'") . ')' } @rows));
is(psql('SELECT count(*) FROM media_assets'), 80, 'loaded');

my $out = `'$script' '$ENV{GENFLOW_TEST_PG_URI}' 2>&1`;
is($?, 0, 'genflow-migrate-legacy ran') or diag $out;
my %moved = $out =~ /^moved (\S+) (\d+)$/mg;
is_deeply({ map { $_ => $moved{$_} } @types }, { map { $_ => 15 } @types }, 'counts per type: 15 each');
is($moved{total}, 75, '75 moved');
is(($out =~ /^unclassified total (\d+)$/m)[0], 3, '3 unclassifiable');
is(($out =~ /^invalid total (\d+)$/m)[0], 2, '2 invalid (no url, no user)');
is(scalar(() = $out =~ /^(?:unclassified|invalid) L\d+ /mg), 5, 'each listed');
like($out, qr/^invalid L80 -: no user_id$/m, 'with its reason');
like($out, qr/^unclassified L76 \Q$owner\E: no type in meta, preset_key or url \(meta names "video", not a known type\)$/m,
     'an unknown type named in meta');
is(psql('SELECT count(*) FROM media_assets'), 5, 'only the unclassifiable rows are left in place');

my $g = psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$owner' AND provider = 'legacy' AND status = 'completed'");
is($g, 14, 'neo-glitch got its 12 + 2 rows of the first owner');
my $res = api(GET => '/api/neo-glitch/history?limit=100', user => do {
    # The legacy owner becomes a user of the API.
    open my $fh, '>>', Apache::Test::vars('t_conf') . '/htpasswd' or die;
    require Digest::SHA; require MIME::Base64;
    print $fh "$owner:{SHA}" . MIME::Base64::encode_base64(Digest::SHA::sha1($owner), '') . "\n";
    close $fh;
    $owner });
my @items = @{ json_of($res)->{items} };
is(scalar @items, 14, 'the moved rows are the owner\'s history');
like($items[0]{imageUrl}, qr{^https://cdn\.example\.com/}, 'with their original URLs');
is(psql("SELECT count(*) FROM genflow_accounts a WHERE a.user_id LIKE 'legacy_%' AND a.balance <> "
        . "(SELECT COALESCE(sum(amount), 0) FROM genflow_ledger l WHERE l.user_id = a.user_id)"), 0,
   'the ledger invariant holds for moved rows (0-credit reservation and charge)');

sub leftovers { join "\n", grep { !/^moved / } split /\n/, $_[0] }
my $first = leftovers($out);
$out = `'$script' '$ENV{GENFLOW_TEST_PG_URI}' 2>&1`;
like($out, qr/^moved total 0$/m, 'a second run moves nothing');
is(leftovers($out), $first, 'and lists the same rows');
is(psql('SELECT count(*) FROM media_assets'), 5, 'and leaves the same 5 rows');
is(psql('SELECT count(*) FROM genflow_legacy_moves'), 75, 'every move is remembered');

# ---- Row by row (sql/008) ------------------------------------------------
# A legacy table as an older application may have left it: every column
# text, no primary key.
my $u2 = new_user('legacy2');
my $gen = json_of(api(POST => '/api/neo-glitch/generate', user => $u2, body => { prompt => 'kept as it is' },
                      headers => { Prefer => 'wait=30' }));
my $taken = $gen->{generationId};
is($gen->{status}, 'completed', 'a generation whose id a legacy row will claim');
my $row_of = sub { psql("SELECT to_jsonb(g)::text FROM neo_glitch_media g WHERE id = '$_[0]'") };
my $taken_before = $row_of->($taken);
my $ledger_of = sub { psql("SELECT string_agg(kind || ':' || amount, ',' ORDER BY id) FROM genflow_ledger "
                           . "WHERE generation_id = '$_[0]'") };
my $taken_ledger = $ledger_of->($taken);
my $balance_before = psql("SELECT balance FROM genflow_accounts WHERE user_id = '$u2'");
my $l1_gen = psql("SELECT generation_id FROM genflow_legacy_moves WHERE legacy_id = 'L1'");
my $l1_before = $row_of->($l1_gen);
my $fresh = psql('SELECT gen_random_uuid()');
require Digest::MD5;
my $huge_id = join '', map { Digest::MD5::md5_hex("id $$ $_") } 1 .. 100;   # > 2704 bytes, incompressible

my $cdn = 'https://cdn.example.com';
# [id, user_id, url, prompt, preset_key, meta, created_at]
my @good = (
    [ 'N1', $u2, "$cdn/n/1.png", 'text columns', undef, '{"type":"neo-glitch"}', '2024-03-01 12:00:00+00' ],
    [ 'N2', $u2, '/media/legacy/n2.png', undef, 'mask-joy', undef, '2024-03-01T12:00:01Z' ],
    [ 'N3', $u2, "$cdn/presets/n3.png", "two\nlines", undef, 'null', undef ],
    [ 'N4', $u2, "$cdn/n/4.png", 'epoch ms', 'ghibli-rain', '{}', '1709294400123' ],
    [ $fresh, $u2, "$cdn/n/5.png", 'uuid id', undef, '{"kind":"custom-prompt"}', '2024-03-01 13:00' ],
    [ 'N6', $u2, "$cdn/neo-glitch/6.png", 'two type keys', undef,
      '{"type":"neo-glitch","generationType":"presets"}', '1709294400' ],
);
# [row, kind, reason pattern, test name]
my @bad = (
    [ [ 'B1', $u2, "$cdn/b/1.png", 'x', undef, '{"type": "neo-glitch",', '2024-03-01' ],
      invalid => qr/meta is not valid JSON \(invalid input syntax for type json/, 'invalid JSON in meta' ],
    [ [ 'B2', $u2, "$cdn/b/2.png", 'x', undef, '{"type":"neo-glitch"}', '2024-02-30 10:00' ],
      invalid => qr/created_at "2024-02-30 10:00" is not a timestamp/, 'an unparseable created_at' ],
    [ [ $taken, $u2, "$cdn/b/3.png", 'x', undef, '{"type":"neo-glitch"}', '2024-03-01' ],
      duplicate => qr/^id already in neo_glitch_media$/, 'an id the target table already holds' ],
    [ [ 'L1', $owner, "$cdn/old/1.png", 'again', undef, '{"type":"neo-glitch"}', '2024-03-01' ],
      duplicate => qr/^already moved to neo_glitch_media as generation \Q$l1_gen\E on \d{4}-\d\d-\d\d$/,
      'an id moved before' ],
    [ [ 'D1', $u2, "$cdn/neo-glitch/d1a.png", 'x', undef, '{}', '2024-03-01' ],
      duplicate => qr/^id occurs 2 times in media_assets$/, 'an id twice in media_assets (first)' ],
    [ [ 'D1', $u2, "$cdn/neo-glitch/d1b.png", 'y', undef, '{}', '2024-03-02' ],
      duplicate => qr/^id occurs 2 times in media_assets$/, 'an id twice in media_assets (second)' ],
    [ [ 'B6', $u2, "$cdn/b/6.png", 'x', undef, '{"type":"neo-glitch","a":"\\u0000"}', '2024-03-01' ],
      invalid => qr/meta is not valid JSON \(unsupported Unicode escape sequence/, 'a \\u0000 in meta' ],
    [ [ 'B7', $u2, "$cdn/neo-glitch/7.png", 'x', undef, '[1, 2]', '2024-03-01' ],
      invalid => qr/^meta is a JSON array, not an object$/, 'meta not an object' ],
    [ [ 'B8', $u2, "$cdn/neo-glitch/8.png", 'x', undef, '{"type": 5}', '2024-03-01' ],
      invalid => qr/^meta\.type is a number, not a string$/, 'a wrong type in meta' ],
    [ [ 'B9', $u2, "$cdn/neo-glitch/9.png", 'x', undef, '{}', 'infinity' ],
      invalid => qr/^created_at "infinity" is not a timestamp$/, 'an infinite created_at' ],
    [ [ 'B10', $u2, "$cdn/neo-glitch/10.png", 'x', undef, '{}', '9999-12-31' ],
      invalid => qr/^created_at "9999-12-31" is out of range/, 'a created_at out of range' ],
    [ [ 'B11', $u2, "$cdn/neo-glitch/11.png", 'p' x 2001, undef, '{}', undef ],
      invalid => qr/^prompt is longer than 2000 characters \(2001\)$/, 'an over-long prompt' ],
    [ [ 'B12', '', "$cdn/neo-glitch/12.png", 'x', undef, '{}', undef ],
      invalid => qr/^user_id is empty$/, 'an empty user_id' ],
    [ [ 'B13', 'u' x 256, "$cdn/neo-glitch/13.png", 'x', undef, '{}', undef ],
      invalid => qr/^user_id is longer than 255 characters \(256\)$/, 'an over-long user_id' ],
    [ [ 'B14', undef, "$cdn/neo-glitch/14.png", 'x', undef, '{}', undef ],
      invalid => qr/^no user_id$/, 'no user_id' ],
    [ [ 'B15', $u2, 'javascript:alert(1)//neo-glitch/', 'x', undef, '{}', undef ],
      invalid => qr/^url "javascript:alert\(1\)\/\/neo-glitch\/" is not an http\(s\) URL or an absolute path$/,
      'a url that is no URL' ],
    [ [ 'B16', $u2, "$cdn/neo-glitch/16.png", 'x', 'Bad Key!', '{}', undef ],
      invalid => qr/^preset_key "Bad Key!" is not a preset key/, 'a preset_key that is no key' ],
    [ [ 'B17', $u2, "$cdn/misc/17.png", 'x', undef, '{"type":"video"}', undef ],
      unclassified => qr/^no type in meta, preset_key or url \(meta names "video", not a known type\)$/,
      'an unknown type' ],
    [ [ "C\tx", "evil\nuser\e[31m", "$cdn/neo-glitch/c.png", 'x', undef, '{bad', undef ],
      invalid => qr/^meta is not valid JSON/, 'control characters in id and user' ],
    [ [ $huge_id, $u2, "$cdn/neo-glitch/huge.png", 'x', undef, '{}', undef ],
      invalid => qr/^could not be moved: index row size \d+ exceeds .* \(SQLSTATE 54000\)$/,
      'a row the move itself refuses' ],
    [ [ undef, $u2, "$cdn/neo-glitch/null.png", 'x', undef, '{}', undef ],
      invalid => qr/^no id$/, 'no id' ],
);

psql('DROP TABLE media_assets');
psql('CREATE TABLE media_assets (id text, user_id text, url text, prompt text, preset_key text, '
     . 'meta text, created_at text)');
psql('INSERT INTO media_assets VALUES '
     . join(',', map { '(' . join(',', map { sqlq($_) } @$_) . ')' } @good, map { $_->[0] } @bad));
is(psql('SELECT count(*) FROM media_assets'), @good + @bad, 'a second legacy table, all text');

sub word {   # how the report prints an id or a user
    my ($v) = @_;
    return '-' unless defined $v;
    return '""' if $v eq '';
    return $v =~ s/\\/\\\\/gr =~ s/\t/\\t/gr =~ s/\n/\\n/gr =~ s/\e/\\x1b/gr =~ s/ /\\x20/gr;
}

$out = `'$script' '$ENV{GENFLOW_TEST_PG_URI}' 2>&1`;
is($?, 0, 'genflow-migrate-legacy ran over bad rows') or diag $out;
%moved = $out =~ /^moved (\S+) (\d+)$/mg;
# Types other test files created get a "moved TYPE 0" line too.
%moved = map { $_ => $moved{$_} } grep { $moved{$_} } keys %moved;
is_deeply(\%moved, { 'neo-glitch' => 2, 'emotion-mask' => 1, presets => 1, 'ghibli-reaction' => 1,
                     'custom-prompt' => 1, total => 6 }, 'the 6 good rows moved, by type');
my %reported;
for my $line (split /\n/, $out) {
    my ($kind, $id, $user, $reason) = $line =~ /^(unclassified|invalid|duplicate) (\S+) (\S+): (.*)$/ or next;
    push @{ $reported{$id} }, [ $kind, $user, $reason ];
}
for my $b (@bad) {
    my ($row, $kind, $pattern, $name) = @$b;
    my $id = word($row->[0]);
    my @hits = grep { $_->[0] eq $kind && $_->[1] eq word($row->[1]) && $_->[2] =~ $pattern }
               @{ $reported{$id} || [] };
    ok(@hits >= 1, "$name: listed as $kind") or diag "$id: " . join("\n", map { "@$_" } @{ $reported{$id} || [] });
}
is(($out =~ /^unclassified total (\d+)$/m)[0], 1, 'unclassified total');
is(($out =~ /^duplicate total (\d+)$/m)[0], 4, 'duplicate total');
is(($out =~ /^invalid total (\d+)$/m)[0], @bad - 5, 'invalid total');
is(($out =~ /^left total (\d+)$/m)[0], scalar @bad, 'left total');
unlike($out, qr/[\x00-\x09\x0b-\x1f\x7f]/, 'no control character from the rows reaches the output');
like($out, qr/^invalid C\\tx evil\\nuser\\x1b\[31m: meta is not valid JSON/m, 'they are escaped');

is(psql('SELECT count(*) FROM media_assets'), scalar @bad, 'every bad row is still in media_assets');
is(psql("SELECT count(*) FROM media_assets WHERE id IN ('N1','N2','N3','N4','N6','$fresh')"), 0,
   'and only those');
is($row_of->($taken), $taken_before, 'the generation that holds a duplicated id is unchanged');
is($ledger_of->($taken), $taken_ledger, 'and so is its ledger');
is(psql("SELECT count(*) FROM media_assets WHERE id = '$taken'"), 1, 'the duplicate row is not deleted');
is($row_of->($l1_gen), $l1_before, 'the generation of an id moved before is unchanged');
is(psql("SELECT count(*) FROM media_assets WHERE id = 'D1'"), 2, 'both rows of an id twice are kept');
is(psql("SELECT count(*) FROM custom_prompt_media WHERE id = '$fresh' AND provider = 'legacy'"), 1,
   'a UUID legacy id becomes the generation id');
is(psql("SELECT created_at FROM ghibli_reaction_media g JOIN genflow_legacy_moves m ON m.generation_id = g.id "
        . "WHERE m.legacy_id = 'N4'"), '2024-03-01 12:00:00.123+00', 'epoch milliseconds are read');
is(psql("SELECT m.type_name FROM genflow_legacy_moves m WHERE m.legacy_id = 'N6'"), 'neo-glitch',
   'meta "type" comes before "generationType"');
is(psql("SELECT balance FROM genflow_accounts WHERE user_id = '$u2'"), $balance_before,
   'moving costs no credits');
is(psql('SELECT count(*) FROM genflow_unclassified_media_assets()'), scalar @bad,
   'genflow_unclassified_media_assets() lists every row left');

my $hist = json_of(api(GET => '/api/emotion-mask/history?limit=100', user => $u2));
my ($n2) = grep { $_->{imageUrl} eq '/media/legacy/n2.png' } @{ $hist->{items} };
is($n2 && $n2->{createdAt}, '2024-03-01T12:00:01.000Z', 'a moved row in the owner\'s history');

$first = leftovers($out);
$out = `'$script' '$ENV{GENFLOW_TEST_PG_URI}' 2>&1`;
is($?, 0, 'a second run');
like($out, qr/^moved total 0$/m, 'moves nothing');
is(leftovers($out), $first, 'and lists the same rows');
is(psql('SELECT count(*) FROM media_assets'), scalar @bad, 'which are still in place');
is(psql('SELECT count(*) FROM genflow_check_invariants(1000000, 1000000)'), 0,
   'genflow_check_invariants: every balance matches its ledger, every generation its reservation and charge');

psql('ALTER TABLE media_assets RENAME COLUMN url TO link');
$out = `'$script' '$ENV{GENFLOW_TEST_PG_URI}' 2>&1`;
isnt($?, 0, 'a migration that fails as a whole exits non-zero') or diag $out;
like($out, qr/media_assets has no column url/, 'and says why');
psql('ALTER TABLE media_assets RENAME COLUMN link TO url');
$out = `'$script' 'postgresql://nobody\@127.0.0.1:1/none' 2>&1`;
isnt($?, 0, 'so does one that cannot reach the database');
