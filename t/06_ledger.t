# SPDX-License-Identifier: Apache-2.0
# The database itself forbids double reservations, double finalizations,
# and rewriting the ledger; the docs/operations.md invariant holds for every user.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;

plan tests => 9;

my $user = new_user('ledger');
my $g = json_of(api(POST => '/api/neo-glitch/generate', user => $user, body => { prompt => 'l' }));
my $id = $g->{generationId};
is($g->{status}, 'completed', 'a completed generation to play with');

sub refused {
    my ($sql) = @_;
    my (undef, $ok) = do { local *STDERR; open STDERR, '>', '/dev/null'; psql($sql) };
    return !$ok;
}

ok(refused("INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id) "
           . "VALUES ('$user', 'reserve', -1, 'neo-glitch', '$id')"),
   'a second reservation is impossible');
ok(refused("INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id) "
           . "VALUES ('$user', 'refund', 1, 'neo-glitch', '$id')"),
   'a refund after the charge is impossible');
ok(refused("INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id) "
           . "VALUES ('$user', 'charge', 0, 'neo-glitch', '$id')"),
   'a second charge is impossible');
ok(refused("INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id) "
           . "VALUES ('$user', 'refund', 1, 'neo-glitch', gen_random_uuid())"),
   'a refund without a reservation is impossible');
ok(refused("UPDATE genflow_ledger SET amount = 0 WHERE generation_id = '$id'"),
   'ledger rows cannot be updated');
ok(refused("DELETE FROM genflow_ledger WHERE generation_id = '$id'"),
   'ledger rows cannot be deleted');
ok(refused("UPDATE genflow_accounts SET balance = -1 WHERE user_id = '$user'"),
   'a balance cannot go negative');

# docs/operations.md: per user, balance = grants - reservations + refunds; per
# generation, one reservation, and one charge or refund iff terminal.
my $bad_users = psql(<<'SQL');
SELECT count(*) FROM genflow_accounts a
 WHERE a.balance <> COALESCE((SELECT sum(amount) FROM genflow_ledger l WHERE l.user_id = a.user_id), 0)
SQL
my $bad_gens = psql(<<'SQL');
SELECT count(*) FROM (
  SELECT id, status FROM neo_glitch_media UNION ALL SELECT id, status FROM emotion_mask_media
  UNION ALL SELECT id, status FROM presets_media UNION ALL SELECT id, status FROM ghibli_reaction_media
  UNION ALL SELECT id, status FROM custom_prompt_media) g
 WHERE (SELECT count(*) FROM genflow_ledger l WHERE l.generation_id = g.id AND l.kind = 'reserve') <> 1
    OR (SELECT count(*) FROM genflow_ledger l WHERE l.generation_id = g.id AND l.kind IN ('charge','refund'))
       <> CASE WHEN g.status IN ('completed','failed','cancelled') THEN 1 ELSE 0 END
SQL
is("$bad_users/$bad_gens", '0/0', 'the ledger invariant holds for every user and generation');
