# The legacy unified media_assets table moved into the dedicated tables:
# classified by meta type, preset or URL; counts per type; unclassifiable
# rows left in place and listed; a second run moves nothing.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;

plan tests => 16;

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
is(($out =~ /^unclassified total (\d+)$/m)[0], 5, '5 unclassifiable');
is(scalar(() = $out =~ /^unclassified L\d+ /mg), 5, 'each listed');
like($out, qr/^unclassified L80 .*: no user_id$/m, 'with its reason');
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

$out = `'$script' '$ENV{GENFLOW_TEST_PG_URI}' 2>&1`;
like($out, qr/^moved total 0$/m, 'a second run moves nothing');
is(psql('SELECT count(*) FROM media_assets'), 5, 'and leaves the same 5 rows');
is(psql('SELECT count(*) FROM genflow_legacy_moves'), 75, 'every move is remembered');
