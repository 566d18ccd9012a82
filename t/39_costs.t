# SPDX-License-Identifier: Apache-2.0
# Cost tracking: what provider calls cost, from the usage the provider
# reports (AIML's meta.usage.credits_used, Replicate's
# metrics.predict_time, both from the mock providers as the real APIs
# send them) at GenFlowProvider's cost_per_unit=, plus cost= per picture
# delivered. Recorded per attempt (genflow_provider_costs), summed per
# generation by the admin API (providerCost), counted in
# genflow_provider_cost_total{provider}. A call that failed without a
# usage costs nothing; a provider without a price records nothing.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);

plan tests => 16;

my $mock = $ENV{GENFLOW_MOCK_URL};
psql("SELECT genflow_create_type_table('cost-art', 'cost_art_media')");
my $u = new_user('costs');
api(GET => '/api/quota', user => $u);
grant($u, 50);

my ($dir, $base) = start_own_server(<<"BODY");
GenFlowDailyLimit 0
GenFlowProvider paid-aiml aiml base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on cost=0.01 cost_per_unit=0.0000001 breaker=off
GenFlowProvider paid-rep replicate base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on wait=5 cost_per_unit=0.001 breaker=off
GenFlowProvider free-aiml aiml base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on breaker=off
<Location /api/cost-aiml>
    GenFlowType cost-art
    GenFlowProviders paid-aiml
    GenFlowWait 30
</Location>
<Location /api/cost-rep>
    GenFlowType cost-art
    GenFlowProviders paid-rep
    GenFlowWait 30
</Location>
<Location /api/cost-free>
    GenFlowType cost-art
    GenFlowProviders free-aiml
    GenFlowWait 30
</Location>
<Location /api/cost-fail>
    GenFlowType cost-art
    GenFlowProviders paid-aiml local
    GenFlowWait 30
</Location>
<Location /api/admin>
    SetHandler genflow-admin
    Require user admin
</Location>
<Location /api/metrics>
    SetHandler genflow-metrics
    Require user admin
</Location>
BODY

sub generate {
    my ($path, $prompt) = @_;
    return json_of(own_api($base, POST => "/api/$path/generate", user => $u,
                           body => { prompt => $prompt })) // {};
}
sub costs {
    my ($id) = @_;
    return join ' | ', map { join ' ', @$_ }
        psql_rows("SELECT attempt, provider, coalesce(usage::text, '-'), coalesce(usage_unit, '-'), "
                  . "round(cost, 7)::text FROM genflow_provider_costs WHERE generation_id = '$id' "
                  . "ORDER BY attempt, provider");
}
my %admin = (user => 'admin');
sub admin_item {
    my ($id) = @_;
    my $items = (json_of(own_api($base, GET => "/api/admin/jobs?user=$u&limit=100", %admin)) // {})->{items} // [];
    my ($it) = grep { $_->{generationId} eq $id } @$items;
    return $it // {};
}

# 1. AIML: 120000 credits at 0.0000001 each, plus 0.01 per picture.
my $a = generate('cost-aiml', 'a priced picture');
is($a->{status}, 'completed', 'an AIML generation completes');
is(costs($a->{generationId} // 'none'), '1 paid-aiml 120000.000000 credits 0.0220000',
   'its attempt: the credits AIML reported, and their cost plus the price per picture');

# 2. Replicate: 2.5 s of prediction at 0.001 a second.
my $r = generate('cost-rep', 'a prediction');
is($r->{status}, 'completed', 'a Replicate generation completes');
is(costs($r->{generationId} // 'none'), '1 paid-rep 2.500000 seconds 0.0025000',
   'its attempt: the predict_time Replicate reported, at the price per second');

# 3. No price: the usage is still recorded, at cost 0.
my $f = generate('cost-free', 'an unpriced picture');
is($f->{status}, 'completed', 'a generation of a provider without a price completes');
is(costs($f->{generationId} // 'none'), '1 free-aiml 120000.000000 credits 0.0000000',
   'the usage is recorded, at no cost');

# 4. A call that failed without a usage costs nothing; the fallback's
#    local provider has no price.
my $x = generate('cost-fail', 'a failure [fault:500]');
is($x->{status}, 'completed', 'a generation whose AIML call failed completes on the fallback');
is(costs($x->{generationId} // 'none'), '', 'nothing recorded: the failed call reported no usage');

# 5. The admin API sums each generation's attempts.
is(admin_item($a->{generationId} // 'none')->{providerCost}, 0.022, 'the admin API: providerCost 0.022');
is(admin_item($r->{generationId} // 'none')->{providerCost}, 0.0025, 'and 0.0025');
ok(exists admin_item($x->{generationId} // 'none')->{providerCost}
   && !defined admin_item($x->{generationId} // 'none')->{providerCost},
   'and null where nothing was recorded');

# 6. The metrics count the money by provider.
my $metrics = own_api($base, GET => '/api/metrics', %admin)->decoded_content;
like($metrics, qr/^# TYPE genflow_provider_cost_total counter$/m, 'genflow_provider_cost_total is a counter');
like($metrics, qr/^genflow_provider_cost_total\{provider="paid-aiml"\} 0\.022000$/m, 'paid-aiml: 0.022');
like($metrics, qr/^genflow_provider_cost_total\{provider="paid-rep"\} 0\.002500$/m, 'paid-rep: 0.0025');
like($metrics, qr/^genflow_provider_cost_total\{provider="free-aiml"\} 0\.000000$/m, 'free-aiml: 0');

# 7. A price that is not a number stops the startup.
stop_own_server($dir);
my $bad = tempdir(CLEANUP => 1);
own_httpd_conf($bad, free_port(), "GenFlowProvider p aiml base_url=$mock key_env=GENFLOW_MOCK_KEY cost=cheap\n");
like(`/usr/sbin/apache2 -t -f '$bad/httpd.conf' 2>&1`, qr/cost=cheap: a number from 0 to 1000000/,
     'cost=cheap is refused with a reason');
