# SPDX-License-Identifier: Apache-2.0
# One W3C trace through every hop of a generation: a request with a
# traceparent, on a location that trusts it (GenFlowTraceTrustInbound on),
# makes a generation whose status and admin row show that trace id, whose
# error_log lines name it, whose access log line (%{GENFLOW_TRACE_ID}e)
# has it, and whose every exchange carries a traceparent of it with a span
# id of its own: the mock fal's submit, status, result and picture
# download, the S3 server's PUT of the picture and GET of a source upload,
# the webhook receiver's delivery, and a user's cancel at the provider.
# Where the client is not trusted its traceparent is ignored (a new
# trace); mod_otel's OTEL_TRACEID/OTEL_SPANID (set here by SetEnv, as
# mod_otel sets them) win over both. One httpd, one S3 server, one
# receiver for the file.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use GenFlowS3;
use GenFlowReceiver;
$GenFlowTest::wait_step = 0.25;
use File::Temp qw(tempdir);
use LWP::UserAgent;
use JSON::PP;
use Compress::Zlib ();
use Time::HiRes qw(sleep time);

plan tests => 29;

my $json = JSON::PP->new;
my $mock = $ENV{GENFLOW_MOCK_URL};

# The S3 server, the webhook receiver.
my $S3 = start_s3();
ok($S3->{ready}, 'the S3 server listens');
my $secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
my $tmp = tempdir(CLEANUP => 1);
chmod 0777, $tmp;
open my $sf, '>', "$tmp/whsec" or die $!;
print $sf "$secret\n";
close $sf;
my $R = start_receiver($secret);
ok($R->{ready}, 'the receiver listens');
my $recv = $R->{url};

psql("SELECT genflow_create_type_table('tr-type', 'tr_type_media')");
my $u = new_user('tracer');
api(GET => '/api/quota', user => $u);
grant($u, 100);

my $otel_trace = '0af7651916cd43dd8448eb211c80319c';
my $otel_span = 'b7ad6b7169203331';
my $falt = "fal base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=3000 breaker=off";
my ($dir, $base) = start_own_server(<<"BODY", 'env');
GenFlowDailyLimit 0
GenFlowMaxActive 100
GenFlowS3 $S3->{conf} prefix=traced/ timeout=3000 secret_file=$S3->{secret_file}
GenFlowWebhookSecretFile $tmp/whsec
LogFormat "%m %U %{GENFLOW_TRACE_ID}e" traced
CustomLog "$tmp/access_log" traced
GenFlowProvider falt $falt
<Location /api/uploads>
    SetHandler genflow-uploads
</Location>
<Location /api/admin>
    SetHandler genflow-admin
    Require user admin
</Location>
<Location /api/tr-in>
    GenFlowType tr-type
    GenFlowProviders falt
    GenFlowWait 30
    GenFlowTraceTrustInbound on
    GenFlowWebhookOrigins $recv
</Location>
<Location /api/tr-out>
    GenFlowType tr-type
    GenFlowProviders falt
    GenFlowWait 30
</Location>
<Location /api/tr-otel>
    GenFlowType tr-type
    GenFlowProviders falt
    GenFlowWait 30
    GenFlowTraceTrustInbound on
    SetEnv OTEL_TRACEID $otel_trace
    SetEnv OTEL_SPANID $otel_span
</Location>
BODY

sub mock_log {
    my $res = LWP::UserAgent->new(timeout => 10)->get("$mock/_log");
    return map { $json->decode($_) } grep { length } split /\n/, $res->decoded_content;
}
sub generate {
    my ($path, $body, %h) = @_;
    return json_of(own_api($base, POST => "/api/$path/generate", user => $u, body => $body,
                           headers => \%h)) // {};
}
sub a_trace { join '', map { sprintf '%02x', int rand 256 } 1 .. 16 }
sub a_span { join '', map { sprintf '%02x', int rand 256 } 1 .. 8 }
# The mock provider's log outlives a run of the suite (the suite runs twice,
# the second time against the sanitizer build): prompts of this run only.
my $run = a_span();
# Every traceparent given is of the trace $t, with a span id of its own
# (not the caller's $span), all different.
sub all_children {
    my ($t, $span, @tp) = @_;
    my %spans;
    for (@tp) {
        return 0 unless defined $_ && /^00-\Q$t\E-([0-9a-f]{16})-01$/ && $1 ne $span;
        $spans{$1}++;
    }
    return @tp && keys(%spans) == @tp;
}

# 1. Trusted, end to end: a fal generation with a webhook, its picture to S3.
my ($T, $S) = (a_trace(), a_span());
my $g = generate('tr-in', { prompt => "a traced fox $run", webhook => "$recv/ok" },
                 traceparent => "00-$T-$S-01", Prefer => 'wait=30');
is($g->{status}, 'completed', 'a traced generation completes');
is($g->{traceId}, $T, "its status shows the client's trace id");
my $id = $g->{generationId} // 'none';
my $rid = psql("SELECT provider_job_id FROM tr_type_media WHERE id = '$id'");
my @calls = grep { index($_->{path}, $rid) >= 0 || ($_->{fields}{prompt} // '') =~ /a traced fox \Q$run\E/ } mock_log();
my %kinds = map { ($_->{method} eq 'POST' ? 'submit' : $_->{path} =~ /status$/ ? 'status'
                   : $_->{path} =~ m{^/files/} ? 'download' : 'result') => 1 } @calls;
is(join(',', sort keys %kinds), 'download,result,status,submit',
   'the provider saw the submit, a status poll, the result and the download');
ok(all_children($T, $S, map { $_->{headers}{traceparent} } @calls),
   'each with a traceparent of the trace, a span of its own')
    or diag(join "\n", map { "$_->{method} $_->{path} " . ($_->{headers}{traceparent} // 'none') } @calls);
my @puts = grep { $_->{method} eq 'PUT' && $_->{key} =~ /\Q$id\E/ } @{ s3_control($S3, GET => '/_stats')->{traces} // [] };
is(scalar @puts, 1, 'the picture was stored in S3');
ok(all_children($T, $S, map { $_->{traceparent} } @puts), 'the PUT carried the trace');
ok(wait_for(sub { grep { ($_->{generationId} // '') eq $id } receiver_log($R) }, 20), 'the webhook was delivered');
my @hooks = grep { ($_->{generationId} // '') eq $id } receiver_log($R);
ok(all_children($T, $S, map { $_->{traceparent} } @hooks), 'the delivery carried the trace');
ok($hooks[0]{verified}, 'and still verified');
my @lines = do { open my $fh, '<', "$dir/error_log" or die; grep { /\Q$id\E/ } <$fh> };
ok(scalar(grep { /GF1401: complete .*trace=\Q$T\E/ } @lines), 'its completion line names the trace');
is(scalar(grep { !/trace=\Q$T\E/ } grep { /GF1[34]0\d/ } @lines), 0,
   'every GF line of the generation names it') or diag(join '', @lines);
my @access = do { open my $fh, '<', "$tmp/access_log" or die; <$fh> };
ok(scalar(grep { m{^POST /api/tr-in/generate \Q$T\E$} } @access), '%{GENFLOW_TRACE_ID}e in the access log');
my $admin = json_of(own_api($base, GET => '/api/admin/jobs?type=tr-type&limit=50', user => 'admin')) // {};
my ($row) = grep { ($_->{generationId} // '') eq $id } @{ $admin->{items} // [] };
is($row->{traceId}, $T, 'the admin list shows the trace id');

# 2. A source image from an upload in S3: the worker's read of it carries
#    the trace of the generation.
{
    my $png = LWP::UserAgent->new->get($g->{imageUrl} // "$mock/none")->content;
    my $up = json_of(own_api($base, POST => '/api/uploads', user => $u, body => $png,
                             headers => { 'Content-Type' => 'image/png' })) // {};
    ok($up->{sourceImage}, 'an upload to S3');
    my ($T2, $S2) = (a_trace(), a_span());
    my $g2 = generate('tr-in', { prompt => "a traced cat $run", sourceImage => $up->{sourceImage} },
                      traceparent => "00-$T2-$S2-01", Prefer => 'wait=30');
    is($g2->{status}, 'completed', 'a generation from the upload completes');
    (my $key = $up->{sourceImage} // 'none') =~ s/^upload://;
    my @gets = grep { $_->{method} eq 'GET' && $_->{key} =~ /\Q$key\E/ }
               @{ s3_control($S3, GET => '/_stats')->{traces} // [] };
    ok(@gets && all_children($T2, $S2, map { $_->{traceparent} } @gets),
       'the read of the upload carried the trace') or diag($json->encode(\@gets));
}

# 3. A user's cancel reaches the provider in the generation's trace (not
#    the cancel request's).
{
    my ($T3, $S3span) = (a_trace(), a_span());
    my $n = generate('tr-in', { prompt => "a never traced [fault:never] $run" },
                     traceparent => "00-$T3-$S3span-01", Prefer => 'wait=0');
    my $nid = $n->{generationId} // 'none';
    ok(wait_for(sub { psql("SELECT provider_job_id FROM tr_type_media WHERE id = '$nid'") }, 10),
       'the provider took the job');
    my $job = psql("SELECT provider_job_id FROM tr_type_media WHERE id = '$nid'");
    my $res = own_api($base, POST => "/api/tr-in/cancel/$nid", user => $u,
                      headers => { traceparent => '00-' . a_trace() . '-' . a_span() . '-01' });
    is(json_of($res)->{status}, 'cancelled', 'cancelled');
    my @c = grep { $_->{method} eq 'PUT' && $_->{path} =~ m{/\Q$job\E/cancel$} } mock_log();
    ok(@c && all_children($T3, $S3span, map { $_->{headers}{traceparent} } @c),
       "the provider's cancel carried the generation's trace") or diag($json->encode(\@c));
}

# 4. Not trusted: the client's traceparent is ignored, a new trace.
{
    my $T4 = a_trace();
    my $g4 = generate('tr-out', { prompt => "an untrusted owl $run" },
                      traceparent => "00-$T4-" . a_span() . '-01', Prefer => 'wait=30');
    is($g4->{status}, 'completed', 'completes');
    like($g4->{traceId} // '', qr/^[0-9a-f]{32}$/, 'with a trace id');
    isnt($g4->{traceId}, $T4, "not the untrusted client's");
    my $calls = grep { ($_->{fields}{prompt} // '') =~ /an untrusted owl \Q$run\E/
                       && ($_->{headers}{traceparent} // '') =~ /^00-\Q$g4->{traceId}\E-/ } mock_log();
    ok($calls, 'its provider call carries the new trace');
}

# 5. mod_otel's ids win over the client's.
{
    my $g5 = generate('tr-otel', { prompt => "an otel heron $run" },
                      traceparent => '00-' . a_trace() . '-' . a_span() . '-01', Prefer => 'wait=30');
    is($g5->{traceId}, $otel_trace, "OTEL_TRACEID is the generation's trace");
    my @c = grep { ($_->{fields}{prompt} // '') =~ /an otel heron \Q$run\E/ } mock_log();
    ok(all_children($otel_trace, $otel_span, map { $_->{headers}{traceparent} } @c),
       "its calls are children of mod_otel's span");
}

# 6. A malformed traceparent on a trusted location: a new trace, no harm.
{
    my $g6 = generate('tr-in', { prompt => "a malformed jay $run" }, traceparent => '00-xyz-01',
                      Prefer => 'wait=30');
    is($g6->{status}, 'completed', 'a malformed traceparent: the generation completes');
    like($g6->{traceId} // '', qr/^[0-9a-f]{32}$/, 'in a trace of its own');
}
stop_own_server($dir);
