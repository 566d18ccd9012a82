#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# A mock ComfyUI server for the tests and the GPU fleet bench: one GPU
# that runs one prompt at a time, in the order they were queued, each for
# SECONDS (default 1), written from ComfyUI's local-server OpenAPI
# document and the shapes its clients rely on:
#   POST /api/prompt {prompt, client_id, prompt_id}
#        → 200 {prompt_id, number, node_errors: {}}; 400 {error, node_errors}
#          for a graph that is not in the API format, a LoadImage (or
#          LoadImageMask) whose
#          file was never uploaded, or [fault:nodeerror] (a checkpoint not
#          in the list)
#   GET  /api/history/{id} → {} until the prompt ends, then {id: {prompt,
#        outputs: {9: {images: [{filename, subfolder, type: output}]}},
#        status: {status_str, completed, messages}}}
#   GET  /api/queue → {queue_running: [[n, id, {}, {client_id}, [9]]], queue_pending: […]}
#   POST /api/queue {delete: [ids]} removes pending prompts only (a running
#        one goes on), 200 with an empty body
#   POST /api/interrupt [{prompt_id}] stops the running prompt when it is
#        that one (without a body: whatever runs), 200 empty
#   POST /api/upload/image (multipart image, type, subfolder, overwrite)
#        → {name, subfolder, type}
#   GET  /api/view?filename&subfolder&type → the output PNG
# Markers in the prompt text (any string input of the graph):
#   [run:SECS]         this prompt runs SECS seconds
#   [fault:nodeerror]  400 with node_errors naming node 4's ckpt_name
#   [fault:execerror]  the run ends in execution_error at node 3 (KSampler)
#   [fault:noout]      success without an output picture
#   [fault:500]        POST /api/prompt answers 500
#   [fault:429]        … 429 with Retry-After: 1 (a proxy's limit)
#   [fault:slow]       … after 5 s
#   [fault:badjson]    … 200 with malformed JSON
#   [fault:truncated]  … a 200 whose body ends early
#   [fault:bigview]    the output picture is 3 MiB
# Test hooks: GET /_log (every request, one JSON a line, with its time),
# POST /_restart (the server forgets its queue and history, as a restarted
# ComfyUI does), GET /_busy (seconds this GPU has been running prompts, and
# prompts run).
#
# usage: comfyui.pl PORT STATE_DIR [SECONDS]   (prints "ready" when listening)
use strict;
use warnings;
use HTTP::Daemon;
use HTTP::Response;
use JSON::PP;
use MIME::Base64;
use Fcntl qw(:flock);
use POSIX ':sys_wait_h';
use Digest::SHA qw(sha1_hex);
use Time::HiRes ();
use FindBin;
use lib "$FindBin::Bin/../lib";
use GenFlowPNG qw(png_stats);

my ($port, $state, $secs) = @ARGV;
die "usage: comfyui.pl PORT STATE_DIR [SECONDS]\n" unless $port && $state;
$secs //= 1;
mkdir $state;
mkdir "$state/input";
my $json = JSON::PP->new->canonical->allow_nonref;
my $PNG = decode_base64('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC');

my $d = HTTP::Daemon->new(LocalAddr => '127.0.0.1', LocalPort => $port, ReuseAddr => 1, Listen => 64)
    or die "cannot listen on $port: $!";
$SIG{CHLD} = sub { 1 while waitpid(-1, WNOHANG) > 0 };
$SIG{TERM} = sub { exit 0 };
print "ready\n";
$| = 1;

while (1) {
    my $c = $d->accept or next;
    my $pid = fork;
    if (!defined $pid) { $c->close; next }
    if ($pid) { $c->close; next }
    if (my $r = $c->get_request) { handle($c, $r) }
    $c->close;
    exit 0;
}

sub now { Time::HiRes::time() }

# The queue: every prompt ever queued since the last restart, in order.
# Each call runs under the lock and may change it.
sub with_queue {
    my ($fn) = @_;
    open my $lock, '>>', "$state/queue.lock" or die;
    flock $lock, LOCK_EX;
    my $q = [];
    if (open my $in, '<', "$state/queue.json") { local $/; $q = eval { $json->decode(<$in>) } || [] }
    my @ret = $fn->($q);
    open my $out, '>', "$state/queue.json.tmp" or die;
    print $out $json->encode($q);
    close $out;
    rename "$state/queue.json.tmp", "$state/queue.json";
    close $lock;
    return wantarray ? @ret : $ret[0];
}

# Each entry's start and end on the one GPU, and its state now.
sub timeline {
    my ($q, $t) = @_;
    my $free = 0;
    for my $e (@$q) {
        if ($e->{deleted}) { $e->{state} = 'deleted'; next }
        my $start = $e->{queued} > $free ? $e->{queued} : $free;
        my $end = $start + $e->{secs};
        if (defined $e->{interrupted} && $e->{interrupted} < $end) { $end = $e->{interrupted} }
        @$e{qw(start end)} = ($start, $end);
        $e->{state} = $t < $start ? 'pending' : $t < $end ? 'running' : 'done';
        $free = $end;
    }
}

sub record {
    my ($r, $fields) = @_;
    my %h;
    $r->headers->scan(sub { $h{lc $_[0]} = $_[1] });
    my $entry = { method => $r->method, path => $r->uri->path, query => $r->uri->query // '',
                  headers => \%h, fields => $fields, at => now() };
    open my $fh, '>>', "$state/requests.log" or die;
    flock $fh, LOCK_EX;
    print $fh $json->encode($entry), "\n";
    close $fh;
}

sub send_json {
    my ($c, $code, $doc) = @_;
    my $res = HTTP::Response->new($code);
    $res->header('Content-Type' => 'application/json; charset=utf-8');
    $res->content($json->encode($doc));
    $c->send_response($res);
}
sub send_empty { my $res = HTTP::Response->new(200); $res->content(''); $_[0]->send_response($res) }

# All the text of a graph's string inputs (where the prompt went).
sub graph_text {
    my ($g) = @_;
    return join ' ', map { my $in = $_->{inputs} || {}; grep { defined && !ref } values %$in }
                     grep { ref eq 'HASH' } values %$g;
}

sub node_error {
    my ($c, $id, $class, $input, $msg, $details) = @_;
    send_json($c, 400, { error => { type => 'prompt_outputs_failed_validation', message => 'Prompt outputs failed validation',
                                    details => '', extra_info => {} },
                         node_errors => { $id => { errors => [{ type => 'value_not_in_list', message => $msg, details => $details,
                                                                 extra_info => { input_name => $input } }],
                                                   dependent_outputs => ['9'], class_type => $class } } });
}

sub history_entry {
    my ($e) = @_;
    my $t = $e->{text};
    my @msgs = (['execution_start', { prompt_id => $e->{id}, timestamp => int($e->{start} * 1000) }]);
    if (defined $e->{interrupted} && $e->{interrupted} <= $e->{end}) {
        push @msgs, ['execution_interrupted', { prompt_id => $e->{id}, node_id => '3', node_type => 'KSampler', executed => [] }];
        return { prompt => [$e->{number}, $e->{id}, {}, {}, ['9']], outputs => {},
                 status => { status_str => 'error', completed => JSON::PP::false, messages => \@msgs }, meta => {} };
    }
    if ($t =~ /\[fault:execerror\]/) {
        push @msgs, ['execution_error', { prompt_id => $e->{id}, node_id => '3', node_type => 'KSampler',
                                          executed => [], exception_message => 'CUDA out of memory. Tried to allocate 2.00 GiB',
                                          exception_type => 'torch.OutOfMemoryError', traceback => [], current_inputs => {},
                                          current_outputs => {} }];
        return { prompt => [$e->{number}, $e->{id}, {}, {}, ['9']], outputs => {},
                 status => { status_str => 'error', completed => JSON::PP::false, messages => \@msgs }, meta => {} };
    }
    push @msgs, ['execution_success', { prompt_id => $e->{id}, timestamp => int($e->{end} * 1000) }];
    my $outputs = $t =~ /\[fault:noout\]/ ? {}
                : { '9' => { images => [map { { filename => sprintf('genflow_%05d_%s%s.png', $e->{number},
                                                                   $t =~ /\[fault:bigview\]/ ? 'big' : '', $_ > 1 ? "_$_" : ''),
                                                subfolder => '', type => 'output' } } 1 .. ($e->{batch} || 1)] },
                    '12' => { images => [{ filename => 'preview.png', subfolder => '', type => 'temp' }] } };
    return { prompt => [$e->{number}, $e->{id}, {}, {}, ['9']], outputs => $outputs,
             status => { status_str => 'success', completed => JSON::PP::true, messages => \@msgs }, meta => {} };
}

sub handle {
    my ($c, $r) = @_;
    my $path = $r->uri->path;
    my $t = now();

    if ($path eq '/_log') {
        # Under the writers' lock, so that a line being written is never
        # read half (a long one goes out in several writes); nothing
        # logged yet: no file (open's own result decides).
        my $fh;
        my $res = HTTP::Response->new(200);
        $res->content(open($fh, '<', "$state/requests.log") && flock($fh, LOCK_SH)
                      ? do { local $/; <$fh> } : '');
        return $c->send_response($res);
    }
    if ($path eq '/_restart') {
        with_queue(sub { @{ $_[0] } = () });
        return send_json($c, 200, { ok => JSON::PP::true });
    }
    if ($path eq '/_busy') {
        my ($busy, $n) = with_queue(sub {
            my ($q) = @_;
            timeline($q, $t);
            my ($b, $k) = (0, 0);
            for my $e (grep { $_->{state} ne 'deleted' && $_->{state} ne 'pending' } @$q) {
                $b += ($e->{end} < $t ? $e->{end} : $t) - $e->{start};
                $k++ if $e->{state} eq 'done';
            }
            return ($b, $k);
        });
        return send_json($c, 200, { busy => $busy, done => $n });
    }
    if ($path eq '/api/prompt' && $r->method eq 'POST') {
        my $in = eval { $json->decode($r->content) } || {};
        my $g = $in->{prompt};
        my $text = ref $g eq 'HASH' ? graph_text($g) : '';
        record($r, { %$in, _text => $text });
        return send_json($c, 400, { error => { type => 'no_prompt', message => 'No prompt provided', details => '', extra_info => {} },
                                    node_errors => {} }) unless ref $g eq 'HASH' && %$g;
        for my $id (sort keys %$g) {
            my $n = $g->{$id};
            return send_json($c, 400, { error => { type => 'invalid_prompt', message => "Cannot execute because node $id has no class_type",
                                                   details => '', extra_info => {} }, node_errors => {} })
                unless ref $n eq 'HASH' && $n->{class_type} && ref $n->{inputs} eq 'HASH';
        }
        # As ComfyUI: only the output nodes and what they depend on are
        # validated (and run); a node nothing uses is left alone.
        my %need;
        my @todo = grep { $g->{$_}{class_type} =~ /^(SaveImage|PreviewImage)$/ } keys %$g;
        while (defined(my $id = shift @todo)) {
            next if $need{$id}++ || !$g->{$id};
            push @todo, map { $_->[0] } grep { ref eq 'ARRAY' && @$_ == 2 } values %{ $g->{$id}{inputs} };
        }
        for my $id (sort grep { $g->{$_} } keys %need) {
            my $n = $g->{$id};
            if ($n->{class_type} =~ /^LoadImage(Mask)?$/) {
                my $img = $n->{inputs}{image} // '';
                return node_error($c, $id, $n->{class_type}, 'image', 'Invalid image file', "image: $img")
                    unless $img =~ m{^[\w./-]+$} && $img !~ /\.\./ && -e "$state/input/$img";
            }
        }
        return node_error($c, '4', 'CheckpointLoaderSimple', 'ckpt_name', 'Value not in list',
                          "ckpt_name: 'missing.safetensors' not in ['flux1-dev.safetensors']")
            if $text =~ /\[fault:nodeerror\]/;
        return send_json($c, 500, { error => 'internal' }) if $text =~ /\[fault:500\]/;
        if ($text =~ /\[fault:429\]/) {      # a proxy's limit in front of the server
            my $res = HTTP::Response->new(429);
            $res->header('Content-Type' => 'application/json', 'Retry-After' => 1);
            $res->content('{"error":"Too Many Requests"}');
            return $c->send_response($res);
        }
        sleep 5 if $text =~ /\[fault:slow\]/;
        if ($text =~ /\[fault:badjson\]/) {
            my $res = HTTP::Response->new(200);
            $res->header('Content-Type' => 'application/json');
            $res->content('{"prompt_id": ');
            return $c->send_response($res);
        }
        if ($text =~ /\[fault:truncated\]/) {
            print $c "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n{\"prompt_id\":";
            $c->close;
            exit 0;
        }
        my $id = $in->{prompt_id};
        return send_json($c, 400, { error => { type => 'invalid_prompt_id', message => 'prompt_id must be a UUID' }, node_errors => {} })
            if defined $id && $id !~ /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
        $id //= join '-', map { join '', map { sprintf '%x', int rand 16 } 1 .. $_ } 8, 4, 4, 4, 12;
        my $run = $text =~ /\[run:([\d.]+)\]/ ? $1 : $secs;
        my $number = with_queue(sub {
            my ($q) = @_;
            # An empty latent's batch_size: as many output pictures.
            my ($batch) = map { $_->{inputs}{batch_size} } grep { ($_->{class_type} // '') eq 'EmptyLatentImage' } values %$g;
            push @$q, { id => $id, number => scalar(@$q), queued => $t, secs => $run, text => $text,
                        client_id => $in->{client_id} // '', batch => ($batch // 1) =~ /^\d+$/ ? $batch // 1 : 1 };
            return scalar(@$q) - 1;
        });
        return send_json($c, 200, { prompt_id => $id, number => $number, node_errors => {} });
    }
    if ($path =~ m{^/api/history/([\w-]+)$}) {
        my $id = $1;
        record($r, {});
        my $h = with_queue(sub {
            my ($q) = @_;
            timeline($q, $t);
            my ($e) = grep { $_->{id} eq $id && $_->{state} eq 'done' } @$q;
            return $e ? { $id => history_entry($e) } : {};
        });
        return send_json($c, 200, $h);
    }
    if ($path eq '/api/queue' && $r->method eq 'GET') {
        record($r, {});
        my $doc = with_queue(sub {
            my ($q) = @_;
            timeline($q, $t);
            my $item = sub { [$_[0]{number}, $_[0]{id}, {}, { client_id => $_[0]{client_id} }, ['9']] };
            return { queue_running => [map { $item->($_) } grep { $_->{state} eq 'running' } @$q],
                     queue_pending => [map { $item->($_) } grep { $_->{state} eq 'pending' } @$q] };
        });
        return send_json($c, 200, $doc);
    }
    if ($path eq '/api/queue' && $r->method eq 'POST') {
        my $in = eval { $json->decode($r->content) } || {};
        record($r, $in);
        my %del = map { $_ => 1 } @{ ref $in->{delete} eq 'ARRAY' ? $in->{delete} : [] };
        with_queue(sub {
            my ($q) = @_;
            timeline($q, $t);
            for my $e (@$q) {   # the local server deletes from the pending heap only
                $e->{deleted} = 1 if $del{$e->{id}} && $e->{state} eq 'pending';
                $e->{deleted} = 1 if $in->{clear} && $e->{state} eq 'pending';
            }
        });
        return send_empty($c);
    }
    if ($path eq '/api/interrupt' && $r->method eq 'POST') {
        my $in = length($r->content) ? (eval { $json->decode($r->content) } || {}) : {};
        record($r, { %$in, _body => length($r->content) ? 1 : 0 });
        with_queue(sub {
            my ($q) = @_;
            timeline($q, $t);
            for my $e (grep { $_->{state} eq 'running' } @$q) {
                $e->{interrupted} = $t if !defined $in->{prompt_id} || $in->{prompt_id} eq $e->{id};
            }
        });
        return send_empty($c);
    }
    if ($path eq '/api/upload/image' && $r->method eq 'POST') {
        my (%f, $bytes, $fname, $ctype);
        for my $part ($r->parts) {
            my $cd = $part->header('Content-Disposition') // '';
            my ($name) = $cd =~ /name="([^"]+)"/;
            next unless defined $name;
            if ($name eq 'image') {
                ($fname) = $cd =~ /filename="([^"]*)"/;
                $bytes = $part->content;
                $ctype = $part->header('Content-Type');
                next;
            }
            $f{$name} = $part->content;
        }
        my $png = defined $bytes ? png_stats($bytes) : undef;
        record($r, { %f, _image => defined $bytes ? { filename => $fname, content_type => $ctype, bytes => length $bytes,
                                                       sha1 => sha1_hex($bytes),
                                                       $png ? (png => { map { $_ => $png->{$_} } qw(clear white pixels) }) : () }
                                                  : undef });
        return send_json($c, 400, { error => 'No file provided' }) unless defined $bytes && length $fname;
        my $sub = $f{subfolder} // '';
        return send_json($c, 400, { error => 'bad subfolder' }) if $sub =~ /\.\./ || $sub =~ m{^/};
        mkdir "$state/input/$sub" if length $sub;
        open my $fh, '>', "$state/input/" . (length $sub ? "$sub/" : '') . $fname or die;
        binmode $fh;
        print $fh $bytes;
        close $fh;
        return send_json($c, 200, { name => $fname, subfolder => $sub, type => $f{type} // 'input' });
    }
    if ($path eq '/api/view') {
        record($r, {});
        my %q = $r->uri->query_form;
        return send_json($c, 400, { error => 'bad filename' }) if ($q{filename} // '') =~ m{^/|\.\.};
        my $ok = ($q{type} // 'output') eq 'output' && ($q{filename} // '') =~ /^genflow_\d{5}_(big)?(_\d+)?\.png$/;
        return send_json($c, 404, { error => 'not found' }) unless $ok;
        my $res = HTTP::Response->new(200);
        $res->header('Content-Type' => 'image/png');
        $res->content($1 ? $PNG . ("\0" x (3 * 1024 * 1024)) : $PNG);
        return $c->send_response($res);
    }
    record($r, {});
    send_json($c, 404, { error => 'Not Found' });
}
