# SPDX-License-Identifier: Apache-2.0
# Metrics: valid Prometheus text 0.0.4, counters and histograms that move
# with what the server did, and the same totals from every child.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp ();

plan tests => 46;

my %admin = (user => 'admin', password => 'admin');

# Every scrape is a new connection (GenFlowTest::api: keep_alive => 0), so
# successive scrapes may be answered by different children.
sub scrape {
    my $res = api(GET => '/api/metrics', %admin);
    die 'metrics answered ' . $res->code unless $res->code == 200;
    return ($res->decoded_content, $res);
}

# The exposition parsed strictly: families with their HELP and TYPE, every
# sample with its family; problems are collected, not fatal.
sub parse_text {
    my ($text) = @_;
    my (%fam, @samples, @problems, @order);
    my $current;
    for my $line (split /\n/, $text) {
        if ($line =~ /^# HELP (\S+) (.*)$/) {
            push @problems, "second HELP for $1" if $fam{$1}{help}++;
            push @problems, "family $1 comes back after another" if $fam{$1}{closed};
            $fam{$current}{closed} = 1 if defined $current && $current ne $1;
            $current = $1;
            push @order, $1;
        }
        elsif ($line =~ /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/) {
            push @problems, "second TYPE for $1" if defined $fam{$1}{type};
            push @problems, "TYPE of $1 outside its family" unless defined $current && $current eq $1;
            $fam{$1}{type} = $2;
        }
        elsif ($line =~ /^#/) {
            push @problems, "unexpected comment: $line";
        }
        elsif ($line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/) {
            my ($name, $labels, $value) = ($1, $2 // '', $3);
            my %l;
            while ($labels =~ /\G([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)",?/gc) {
                my ($k, $v) = ($1, $2);
                $v =~ s/\\(["\\])/$1/g;
                $v =~ s/\\n/\n/g;
                $l{$k} = $v;
            }
            push @problems, "bad labels: $line" if (pos($labels) // 0) != length $labels;
            push @problems, "bad value: $line" unless $value =~ /^(?:[0-9.eE+-]+|\+Inf|-Inf|NaN)$/;
            my $family = $name;
            if (defined $current && ($fam{$current}{type} // '') eq 'histogram') {
                $family = $current if $name =~ /^\Q$current\E_(?:bucket|sum|count)$/;
            }
            if (!defined $current || $family ne $current || !$fam{$current}{type}) {
                push @problems, "sample outside a family with HELP and TYPE: $line";
            }
            push @samples, { name => $name, family => $family, labels => \%l, value => $value + 0,
                             raw => $value };
        }
        elsif (length $line) {
            push @problems, "unparsable line: $line";
        }
    }
    for my $f (keys %fam) {
        push @problems, "$f has no TYPE" unless $fam{$f}{type};
        push @problems, "counter $f does not end in _total"
            if ($fam{$f}{type} // '') eq 'counter' && $f !~ /_total$/;
    }
    return { families => \%fam, samples => \@samples, problems => \@problems };
}

# The sum of the samples of name whose labels include %want.
sub val {
    my ($m, $name, %want) = @_;
    my $sum = 0;
    SAMPLE: for my $s (@{ $m->{samples} }) {
        next unless $s->{name} eq $name;
        for my $k (keys %want) {
            next SAMPLE unless defined $s->{labels}{$k} && $s->{labels}{$k} eq $want{$k};
        }
        $sum += $s->{value};
    }
    return $sum;
}

sub delta {
    my ($before, $after, $name, %want) = @_;
    return val($after, $name, %want) - val($before, $name, %want);
}

my ($text0) = scrape();
my $m0 = parse_text($text0);

# ---- traffic of several kinds ----------------------------------------------
my $u = new_user('metrics');
my ($reserved, $charged, $refunded) = (0, 0, 0);

my $res = api(POST => '/api/neo-glitch/create', user => $u, body => { prompt => 'a metric fox' });
is($res->code, 201, 'create 201');
$reserved += json_of($res)->{estimatedCost};
grant($u, 100);   # the create opened the account; the rest costs more than 10

my @completed;
for my $i (1 .. 3) {
    $res = api(POST => '/api/neo-glitch/generate', user => $u, body => { prompt => "fox $i" });
    push @completed, json_of($res) if $res->code == 200;
}
is(scalar(grep { $_->{status} eq 'completed' } @completed), 3, 'three generations completed on local');

$res = api(POST => '/api/fallback-glitch/generate', user => $u, body => { prompt => 'fallback' });
is(json_of($res)->{status}, 'completed', 'the fallback type completed (broke → local)');
push @completed, json_of($res);

$res = api(POST => '/api/transient-glitch/generate', user => $u, body => { prompt => 'retry' },
           headers => { Prefer => 'wait=30' });
is(json_of($res)->{status}, 'completed', 'the retry type completed (down, retried, → local)');
push @completed, json_of($res);
$reserved += $_->{estimatedCost} for @completed;
$charged += $_->{creditsCharged} for @completed;

$res = api(POST => '/api/allfail-glitch/generate', user => $u, body => { prompt => 'fails' });
my $failed = json_of($res);
is($failed->{status}, 'failed', 'a generation failed on every provider');
$reserved += $failed->{estimatedCost};
$refunded += $failed->{estimatedCost};

$res = api(POST => '/api/custom-prompt/create', user => $u, body => { prompt => 'to cancel' });
my $cid = json_of($res)->{generationId};
$reserved += json_of($res)->{estimatedCost};
$res = api(POST => "/api/custom-prompt/cancel/$cid", user => $u);
is(json_of($res)->{status}, 'cancelled', 'cancelled');
$refunded += json_of($res)->{estimatedCost};

ok(is_json_error(api(GET => '/api/neo-glitch/nosuch', user => $u), 404, 'NOT_FOUND'), 'a 404');
ok(is_json_error(api(GET => '/api/neo-glitch/status/00000000-0000-4000-8000-000000000000'), 401,
                 'UNAUTHORIZED'), "httpd's own 401 in a type location");
ok(is_json_error(api(GET => '/api/metrics', user => $u), 403, 'FORBIDDEN'),
   'metrics refused to a non-admin (403)');
is(api(GET => '/api/quota', user => $u)->code, 200, 'quota');

my ($text1, $res1) = scrape();
my $m1 = parse_text($text1);

# ---- format -----------------------------------------------------------------
like($res1->header('Content-Type'), qr{^text/plain; version=0\.0\.4}, 'Content-Type of format 0.0.4');
is_deeply($m1->{problems}, [], 'every sample belongs to a family with one HELP and one TYPE, '
          . 'families are contiguous, counters end in _total')
    or diag(join "\n", @{ $m1->{problems} });
my @families = qw(genflow_requests_total genflow_request_duration_seconds genflow_provider_calls_total
                  genflow_provider_call_duration_seconds genflow_retries_total genflow_fallbacks_total
                  genflow_credits_total genflow_generation_duration_seconds genflow_generations
                  genflow_jobs_due genflow_queue_oldest_seconds genflow_generations_near_deadline
                  genflow_provider_cost_total genflow_webhooks_pending genflow_webhooks_failed
                  genflow_database_up genflow_workers_running);
is_deeply([grep { !$m1->{families}{$_} || !$m1->{families}{$_}{type} } @families], [],
          'every documented family is there');
is($m1->{families}{genflow_request_duration_seconds}{type}, 'histogram', 'histograms are typed');

# Histograms: ascending le, cumulative counts, +Inf last, _count = +Inf.
my (@hist_problems, $series);
for my $h (grep { ($m1->{families}{$_}{type} // '') eq 'histogram' } keys %{ $m1->{families} }) {
    my %by;
    for my $s (grep { $_->{family} eq $h } @{ $m1->{samples} }) {
        my %l = %{ $s->{labels} };
        my $le = delete $l{le};
        my $key = join ',', map { "$_=$l{$_}" } sort keys %l;
        push @{ $by{$key}{buckets} }, [$le, $s->{value}] if $s->{name} eq "${h}_bucket";
        $by{$key}{sum} = $s->{value} if $s->{name} eq "${h}_sum";
        $by{$key}{count} = $s->{value} if $s->{name} eq "${h}_count";
    }
    for my $key (sort keys %by) {
        my $b = $by{$key}{buckets} || [];
        $series++;
        push @hist_problems, "$h\{$key\}: no buckets" unless @$b;
        next unless @$b;
        push @hist_problems, "$h\{$key\}: last bucket is not +Inf" unless $b->[-1][0] eq '+Inf';
        for my $i (1 .. $#$b) {
            push @hist_problems, "$h\{$key\}: le not ascending"
                unless $b->[$i][0] eq '+Inf' || $b->[$i][0] > $b->[ $i - 1 ][0];
            push @hist_problems, "$h\{$key\}: buckets not cumulative"
                if $b->[$i][1] < $b->[ $i - 1 ][1];
        }
        push @hist_problems, "$h\{$key\}: _count != +Inf bucket"
            unless defined $by{$key}{count} && $by{$key}{count} == $b->[-1][1];
        push @hist_problems, "$h\{$key\}: no _sum"
            unless defined $by{$key}{sum} && $by{$key}{sum} >= 0;
    }
}
ok($series >= 4, "histogram series present ($series)");
is_deeply(\@hist_problems, [], 'histogram buckets are cumulative, end with +Inf, and _count = +Inf')
    or diag(join "\n", @hist_problems);

# promtool, the Prometheus project's own checker.
my $promtool = (grep { -x "$_/promtool" } split /:/, "$ENV{PATH}:/usr/bin:/usr/local/bin")[0];
ok($promtool, 'promtool is installed (Debian package prometheus)');
{
    my $tmp = File::Temp->new(SUFFIX => '.prom');
    print $tmp $text1;
    close $tmp;
    my $out = $promtool ? `"$promtool/promtool" check metrics < "$tmp" 2>&1` : 'promtool missing';
    my $rc = $promtool ? $? >> 8 : -1;
    is($rc, 0, 'promtool check metrics exits 0');
    is($out, '', 'promtool check metrics finds no problem') or diag($out);
}

# ---- counters moved at least by what was done ---------------------------------
my $d = sub { delta($m0, $m1, @_) };
cmp_ok($d->('genflow_requests_total', type => 'neo-glitch', endpoint => 'create', status => '201'),
       '>=', 1, 'requests: create 201');
cmp_ok($d->('genflow_requests_total', type => 'neo-glitch', endpoint => 'generate', status => '200'),
       '>=', 6, 'requests: generate 200 (three types share neo-glitch)');
cmp_ok($d->('genflow_requests_total', type => 'neo-glitch', endpoint => 'not_found', status => '404'),
       '>=', 1, 'requests: not_found 404');
cmp_ok($d->('genflow_requests_total', type => 'neo-glitch', endpoint => 'status', status => '401'),
       '>=', 1, "requests: httpd's own 401 counted under the type's endpoint");
cmp_ok($d->('genflow_requests_total', type => '-', endpoint => 'metrics', status => '403'),
       '>=', 1, 'requests: metrics 403 (site-wide handler, refused by Require)');
cmp_ok($d->('genflow_requests_total', type => '-', endpoint => 'metrics', status => '200'),
       '>=', 1, 'requests: the previous scrape');
cmp_ok($d->('genflow_requests_total', type => 'custom-prompt', endpoint => 'cancel', status => '200'),
       '>=', 1, 'requests: cancel 200');
cmp_ok($d->('genflow_requests_total', type => '-', endpoint => 'quota', status => '200'),
       '>=', 1, 'requests: quota 200');
cmp_ok($d->('genflow_request_duration_seconds_count', endpoint => 'generate'), '>=', 6,
       'request duration observed for every generate');

cmp_ok($d->('genflow_provider_calls_total', provider => 'local', outcome => 'ok', code => 'none'),
       '>=', 5, 'provider calls: local ok');
cmp_ok($d->('genflow_provider_calls_total', provider => 'broke', outcome => 'permanent',
            code => 'PROVIDER_CREDITS'), '>=', 2, 'provider calls: broke permanent PROVIDER_CREDITS');
cmp_ok($d->('genflow_provider_calls_total', provider => 'down', outcome => 'transient',
            code => 'NETWORK_ERROR'), '>=', 2, 'provider calls: down transient NETWORK_ERROR (try + retry)');
cmp_ok($d->('genflow_provider_call_duration_seconds_count', provider => 'local'), '>=', 5,
       'provider call duration observed');
cmp_ok($d->('genflow_retries_total', type => 'neo-glitch'), '>=', 1, 'retries');
cmp_ok($d->('genflow_fallbacks_total', type => 'neo-glitch'), '>=', 3,
       'fallbacks (fallback, retry and all-fail types)');

cmp_ok($d->('genflow_credits_total', movement => 'reserved'), '>=', $reserved,
       "credits reserved (at least $reserved)");
cmp_ok($d->('genflow_credits_total', movement => 'charged'), '>=', $charged,
       "credits charged (at least $charged)");
cmp_ok($d->('genflow_credits_total', movement => 'refunded'), '>=', $refunded,
       "credits refunded (at least $refunded)");
cmp_ok($d->('genflow_generation_duration_seconds_count', type => 'neo-glitch', status => 'completed'),
       '>=', 5, 'generation duration: completed');
cmp_ok($d->('genflow_generation_duration_seconds_count', type => 'neo-glitch', status => 'failed'),
       '>=', 1, 'generation duration: failed');
cmp_ok($d->('genflow_generation_duration_seconds_count', type => 'custom-prompt', status => 'cancelled'),
       '>=', 1, 'generation duration: cancelled');

# Gauges.
cmp_ok(val($m1, 'genflow_generations', type => 'neo-glitch', status => 'completed'), '>=', 5,
       'generations gauge');
is(val($m1, 'genflow_database_up'), 1, 'database up');
cmp_ok(val($m1, 'genflow_workers_running'), '>=', 1, 'workers running');

# ---- one total for the whole server ------------------------------------------
# The 404s of the presets type move nothing but this counter. Each request
# and each scrape is a connection of its own, served by whichever child
# takes it: the counts must still add up exactly, and every scrape agree.
my @key = ('genflow_requests_total', type => 'presets', endpoint => 'not_found', status => '404');
my $start = val(parse_text((scrape())[0]), @key);
api(GET => "/api/presets/nothing-$_", user => $u) for 1 .. 8;
my (%pids, @seen);
for (1 .. 6) {
    my $m = parse_text((scrape())[0]);
    $pids{$_->{labels}{pid}}++ for grep { $_->{name} eq 'genflow_workers_running' } @{ $m->{samples} };
    push @seen, val($m, @key);
}
diag('scrapes answered by children ' . join(', ', sort keys %pids));
is($seen[0] - $start, 8, 'eight 404s on eight connections: the counter moved by exactly 8');
is_deeply([ grep { $_ != $seen[0] } @seen ], [], 'six scrapes on six connections agree: @seen');
ok(!grep({ $_->{name} =~ /^genflow_requests_total$/ && $_->{labels}{endpoint} !~
           /^(create|generate|status|cancel|retry|events|history|presets|not_found|quota|admin|health|metrics|webhook|uploads|types|other)$/ }
         @{ $m1->{samples} }), 'endpoint labels come from the fixed list');
