# 25 concurrent generations by one user who can afford 10 of them: every
# answer is completed or 402, and the balance is start - completed x cost.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);

plan tests => 8;

my $N = 25;
my $user = new_user('racer');
my $dir = tempdir(CLEANUP => 1);

# Fork all clients first, then release them together.
my $go = "$dir/go";
my @pids;
for my $i (1 .. $N) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        select(undef, undef, undef, 0.01) until -e $go;
        my $res = api(POST => '/api/neo-glitch/generate', user => $user,
                      body => { prompt => "race $i" });
        my $doc = json_of($res) || {};
        open my $fh, '>', "$dir/$i" or die;
        print $fh join(' ', $res->code, $doc->{status} // $doc->{error}{code} // 'none'), "\n";
        close $fh;
        exit 0;
    }
    push @pids, $pid;
}
open my $fh, '>', $go or die;
close $fh;
waitpid $_, 0 for @pids;

my %seen;
for my $i (1 .. $N) {
    open my $in, '<', "$dir/$i" or die "client $i wrote nothing";
    my $line = <$in>;
    chomp $line;
    $seen{$line}++;
}
my $completed = $seen{'200 completed'} // 0;
my $refused = $seen{'402 INSUFFICIENT_CREDITS'} // 0;
is($completed + $refused, $N, "every answer is completed or 402 (got: "
   . join(', ', map { "$_ x$seen{$_}" } sort keys %seen) . ')');
is($completed, 10, 'exactly the 10 affordable generations completed');
is(psql("SELECT balance FROM genflow_accounts WHERE user_id = '$user'"), 10 - $completed,
   'balance = start - completed x cost');
is(psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$user'"), $completed,
   'one row per accepted generation, none for the refused');
is(psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$user' AND kind = 'reserve'"),
   $completed, 'one reservation per generation');
is(psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$user' AND kind = 'charge'"),
   $completed, 'one charge per completed generation');
is(psql("SELECT sum(amount) FROM genflow_ledger WHERE user_id = '$user'"), 10 - $completed,
   'ledger sum = balance');
my $never_negative = psql("SELECT min(balance) >= 0 FROM genflow_accounts");
is($never_negative, 't', 'no balance anywhere is negative');
