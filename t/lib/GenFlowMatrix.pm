# SPDX-License-Identifier: Apache-2.0
# GenFlowMatrix: the authorization matrix of the API, generated from
# docs/openapi.yaml. Every operation says in x-genflow-authz who may call
# it and what a successful call needs; run_matrix() calls every operation
# on every host of a site, with every credential and every spelling of its
# path, and compares each answer with what its access rule says it must be.
# A refused call must change nothing in the database: a snapshot of the
# users' money, the type tables, the webhook outbox, the uploads and the
# idempotency records is taken before and after each one and compared
# (and a successful POST must change it, or the snapshot is blind). What a
# success did is undone or waited for before the next request: a created
# generation is cancelled, a started one runs to its end, a redelivered
# delivery is failed again; a cancel gets a fresh pending generation and a
# retry a fresh cancelled one, every call.
#
# Used by t/49_authz_matrix.t (a server of its own with a main host, an
# events host and a second virtual host) and tests/authz/matrix.pl (the
# running demo).
#
#   my $m = GenFlowMatrix::run_matrix(
#       doc      => 'docs/openapi.yaml',
#       hosts    => [ { name => 'main', base => 'http://127.0.0.1:8080', kind => 'api',
#                       type => 'neo-glitch' },
#                     { name => 'events', base => 'http://127.0.0.1:8081', kind => 'events',
#                       type => 'neo-glitch', fixtures_from => 'http://127.0.0.1:8080' } ],
#       users    => { owner => ['demo', 'demo'], other => ['demo2', 'demo2'],
#                     admin => ['admin', 'admin'] },
#       events_key => 'the first line of GenFlowEventsSecretFile',
#       provider => 'rephook',                # a {provider} of /hooks/{provider}
#       psql     => 'postgresql://...',       # or a coderef: SQL -> its output
#       tables   => ['neo_glitch_media', ...],
#   );
#   $m->{results}: one hash per request: host, op, method, path, form, cred,
#       expected, status, code, db_changed, ok, why.
#   $m->{operations}: the operationIds of the document, in its order.
#   $m->{ran}: operationId -> how many requests it was called with.
#   $m->{requests}: every request sent (the matrix's, fixtures', clean-ups').
package GenFlowMatrix;
use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use YAML::XS ();
use LWP::UserAgent ();
use HTTP::Request ();
use JSON::PP ();
use IPC::Open3 ();
use Symbol ();
use Digest::SHA ();
use MIME::Base64 ();
use Time::HiRes ();

our @EXPORT_OK = qw(run_matrix operations forms credentials summary forge_token);

my $json = JSON::PP->new->canonical->allow_nonref;

# The path forms: how each concrete path is spelled. httpd normalises the
# doubled slash and the dot segments (they name the route of the canonical
# path); every other form must name no route at all, unless it happens to
# be another documented route's path (routes_of: /api/{type}/events/create
# is the stream of the id "create"), when it must answer as that route.
# "events" is the attack that opened the admin API: /api/admin/events/jobs
# under an events host's rule for ".../events/...".
my @FORMS = (
    [canonical => 1, sub { $_[0] }],
    [slash     => 0, sub { "$_[0]/" }],
    [extra     => 0, sub { "$_[0]/x" }],
    [events    => 0, sub { (my $p = $_[0]) =~ s{/([^/]+)$}{/events/$1}; $p }],
    [params    => 0, sub { "$_[0];x" }],
    [double    => 1, sub { (my $p = $_[0]) =~ s{^(/[^/]+)/}{$1//}; $p }],
    [dot       => 1, sub { (my $p = $_[0]) =~ s{^(/[^/]+)/}{$1/./}; $p }],
    [dotdot    => 1, sub { (my $p = $_[0]) =~ s{^(/[^/]+)/}{$1/x/../}; $p }],
    [encoded   => 0, sub { (my $p = $_[0]) =~ s{/([^/]+)$}{%2F$1}; $p }],
);
sub forms { return map { $_->[0] } @FORMS }

my @CREDS = qw(none owner other admin token_this token_other token_expired token_changed);
sub credentials { return @CREDS }

my %ACCESS = map { $_ => 1 } qw(public user owner admin signed);
my %IDS = map { $_ => 1 } qw(completed pending cancelled delivery);
my %KEYS = map { $_ => 1 } qw(access id body headers query upload token);

# A 2x2 RGB PNG (the image of createUpload).
our $PNG = MIME::Base64::decode_base64(
    'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==');

# ---- the document ---------------------------------------------------------

# The operations of the document, in its order: {id, method, path, authz,
# success (its documented 2xx statuses), json_body (takes JSON)}. Dies
# when one has no x-genflow-authz, or one that says something unknown.
sub operations {
    my ($file) = @_;
    my $doc = YAML::XS::LoadFile($file);
    open my $fh, '<', $file or die "$file: $!";
    my $text = do { local $/; <$fh> };
    close $fh;
    my $n = 0;
    my %order = map { $_ => $n++ } $text =~ /^\s+operationId:\s*(\S+)/mg;
    my (@ops, @bad);
    for my $path (keys %{ $doc->{paths} || {} }) {
        my $item = $doc->{paths}{$path};
        for my $method (grep { /^(get|put|post|delete|options|head|patch|trace)$/ } keys %$item) {
            my $op = $item->{$method};
            my $id = $op->{operationId} // "$method $path";
            my $a = $op->{'x-genflow-authz'};
            if (ref $a ne 'HASH') {
                push @bad, "$id ($method $path) has no x-genflow-authz";
                next;
            }
            my @unknown = grep { !$KEYS{$_} } sort keys %$a;
            push @bad, "$id: x-genflow-authz has unknown keys @unknown" if @unknown;
            push @bad, "$id: x-genflow-authz access '" . ($a->{access} // '') . "' is none of "
                       . join(', ', sort keys %ACCESS) unless $ACCESS{ $a->{access} // '' };
            push @bad, "$id: x-genflow-authz id '$a->{id}' is none of " . join(', ', sort keys %IDS)
                if defined $a->{id} && !$IDS{ $a->{id} };
            push @bad, "$id: its path has {id} but x-genflow-authz no id"
                if $path =~ /\{id\}/ && !defined $a->{id};
            my @success = sort grep { /^2\d\d$/ } keys %{ $op->{responses} || {} };
            push @bad, "$id documents no 2xx answer" unless @success;
            my $content = ($op->{requestBody} || {})->{content} || {};
            push @ops, { id => $id, method => uc $method, path => $path, authz => $a,
                         success => \@success, json_body => exists $content->{'application/json'},
                         order => $order{$id} // 1e9 };
        }
    }
    die "GenFlowMatrix: $file:\n  " . join("\n  ", @bad) . "\n" if @bad;
    return sort { $a->{order} <=> $b->{order} || $a->{path} cmp $b->{path} } @ops;
}

# ---- the database ---------------------------------------------------------

# One psql process for the whole run (a process per query would take
# longer than the requests): each query is followed by an \echo of a
# sentinel, and its output read up to it. Or a coderef given.
sub db_open {
    my ($psql, $bin) = @_;
    return { code => $psql } if ref $psql eq 'CODE';
    $bin //= $ENV{GENFLOW_TEST_PG_BINDIR} ? "$ENV{GENFLOW_TEST_PG_BINDIR}/psql" : 'psql';
    my ($in, $out) = (Symbol::gensym(), Symbol::gensym());
    my $pid = IPC::Open3::open3($in, $out, undef, $bin, '-X', '-q', '-At', '-F', '|',
                                '-v', 'ON_ERROR_STOP=0', $psql);
    my $old = select $in; $| = 1; select $old;
    my $db = { in => $in, out => $out, pid => $pid, n => 0 };
    db_query($db, 'SET client_min_messages = warning');
    return $db;
}

sub db_query {
    my ($db, $sql) = @_;
    return scalar $db->{code}->($sql) if $db->{code};
    my $tag = sprintf '__genflow_matrix_%d_%d__', $$, ++$db->{n};
    $sql =~ s/;?\s*\z//;
    print { $db->{in} } "$sql;\n\\echo $tag\n" or die "psql: $!";
    my @lines;
    my $fh = $db->{out};
    while (1) {
        my $line = <$fh>;
        die "psql ended while answering: $sql\n" unless defined $line;
        chomp $line;
        last if $line eq $tag;
        push @lines, $line;
    }
    my @err = grep { /^(ERROR|FATAL|psql):/ } @lines;
    die "psql: @err\n  in: $sql\n" if @err;
    return join "\n", @lines;
}

sub db_close {
    my ($db) = @_;
    return if $db->{code} || !$db->{pid};
    print { $db->{in} } "\\q\n";
    close $db->{in};
    close $db->{out};
    waitpid $db->{pid}, 0;
    $db->{pid} = 0;
}

sub sql_quote { my ($s) = @_; $s =~ s/'/''/g; return "'$s'" }

# The state a refused request must leave alone, as one line of text: the
# users' balances and ledger rows, every type table's rows by status, the
# users' webhook deliveries (state, attempts, retry period; the attempts of
# a waiting one are the delivery loop's, not a request's), uploads and
# idempotency records. Generations the matrix started and that are still
# running (their ids) are left out of the type tables and the ledger: the
# workers change them meanwhile (a completion leaves the balance as it
# is), and no refused request names them.
sub snapshot_sql {
    my ($users, $tables, $running) = @_;
    my $in = join ', ', map { sql_quote($_) } @$users;
    my $skip = @$running ? join(', ', map { sql_quote($_) . '::uuid' } @$running) : undef;
    my $rows = $skip ? " WHERE id NOT IN ($skip)" : '';
    my $ledger = $skip ? " AND (generation_id IS NULL OR generation_id NOT IN ($skip))" : '';
    my @parts = (
        "'accounts:' || coalesce((SELECT string_agg(user_id || '=' || balance, ',' ORDER BY user_id)"
        . " FROM genflow_accounts WHERE user_id IN ($in)), '')",
        "'ledger:' || coalesce((SELECT string_agg(user_id || '=' || n, ',' ORDER BY user_id)"
        . " FROM (SELECT user_id, count(*) AS n FROM genflow_ledger WHERE user_id IN ($in)$ledger"
        . " GROUP BY user_id) l), '')",
        (map {
            "'$_:' || coalesce((SELECT string_agg(status || '=' || n, ',' ORDER BY status)"
            . " FROM (SELECT status, count(*) AS n FROM \"$_\"$rows GROUP BY status) s), '')"
        } @$tables),
        "'outbox:' || coalesce((SELECT count(*) || ':' || string_agg(id || '/' || state || '/'"
        . " || CASE WHEN state = 'pending' THEN '-' ELSE attempts::text END || '/' || retry_from,"
        . " ',' ORDER BY id) FROM genflow_webhook_outbox WHERE user_id IN ($in)), '')",
        "'uploads:' || (SELECT count(*) FROM genflow_uploads WHERE user_id IN ($in))",
        "'idempotency:' || coalesce((SELECT count(*) || ':' || string_agg(user_id || '/' || state,"
        . " ',' ORDER BY user_id, key) FROM genflow_idempotency WHERE user_id IN ($in)), '')",
    );
    return 'SELECT concat_ws(\' ; \', ' . join(', ', @parts) . ')';
}

sub snapshot {
    my ($self) = @_;
    return db_query($self->{db}, snapshot_sql($self->{names}, $self->{tables},
                                              [sort keys %{ $self->{running} }]));
}

# The generations the matrix started end (they are left out of the
# snapshot meanwhile); a user keeps fewer than GenFlowMaxActive's default
# (10) running.
sub drain {
    my ($self, $user) = @_;
    my $r = $self->{running};
    for my $id (sort grep { !defined $user || $r->{$_}{user} eq $user } keys %$r) {
        $self->wait_terminal($r->{$id}{type}, $id);
        delete $r->{$id};
    }
    $self->{snap} = undef;
}

sub running {
    my ($self, $type, $id, $user) = @_;
    $self->{running}{$id} = { type => $type, user => $user };
    $self->{snap} = undef;
    $self->drain($user) if 8 <= grep { $_->{user} eq $user } values %{ $self->{running} };
}

# ---- tokens ---------------------------------------------------------------

# An events URL's token, as docs/api.md describes it.
sub forge_token {
    my ($key, $type, $id, $user, $exp) = @_;
    my $mac = Digest::SHA::hmac_sha256("genflow-events-v1\n$type\n$id\n$user\n$exp", $key);
    return "$exp." . MIME::Base64::encode_base64url($user) . '.'
           . MIME::Base64::encode_base64url($mac);
}

# The token with the first character of its MAC changed (the last one
# carries padding bits: changing it may not change the MAC).
sub change_token {
    my ($t) = @_;
    $t =~ s/\.([A-Za-z0-9_-])([A-Za-z0-9_-]*)$/'.' . ($1 eq 'A' ? 'B' : 'A') . $2/e
        or die "not a token: $t";
    return $t;
}

# ---- the run --------------------------------------------------------------

sub new_run {
    my (%a) = @_;
    for (qw(doc hosts users events_key provider psql tables)) {
        die "GenFlowMatrix: $_ is missing\n" unless defined $a{$_};
    }
    for (qw(owner other admin)) {
        die "GenFlowMatrix: users => { $_ => [name, password] } is missing\n"
            unless ref $a{users}{$_} eq 'ARRAY';
    }
    my $self = bless {
        %a,
        ua => LWP::UserAgent->new(timeout => $a{timeout} // 30, keep_alive => 8,
                                  agent => 'genflow-authz-matrix', max_redirect => 0),
        db => db_open($a{psql}, $a{psql_bin}),
        fixtures => {},
        requests => 0,
        snap => undef,
        log => $a{log} // sub { },
    }, __PACKAGE__;
    $self->{names} = [map { $a{users}{$_}[0] } qw(owner other admin)];
    $self->{running} = {};
    $self->{tables_of} = { map { split /\|/, $_, 2 }
                           split /\n/, db_query($self->{db}, 'SELECT type_name, table_name FROM genflow_types') };
    return $self;
}

# One HTTP exchange: (response, body, event seen). An event stream is read
# up to its first data: line, or its end.
sub send_request {
    my ($self, %a) = @_;
    my $req = HTTP::Request->new($a{method} => $a{url});
    $req->authorization_basic(@{ $a{login} }) if $a{login};
    if (defined $a{content}) {
        $req->content($a{content});
        $req->header('Content-Type' => $a{content_type});
    }
    my $h = $a{headers} || {};
    $req->header($_ => $h->{$_}) for sort keys %$h;
    my ($buf, $event) = ('', 0);
    $self->{requests}++;
    my $res = $self->{ua}->request($req, sub {
        my ($chunk, $r) = @_;
        $buf .= $chunk;
        if (($r->header('Content-Type') // '') =~ m{^text/event-stream}
            && $buf =~ /^data:/m) {
            $event = 1;
            die "first event read\n";
        }
    }, 4096);
    # LWP gives a callback the content of a success only.
    $buf = $res->content if $buf eq '' && length($res->content // '');
    my $died = $res->header('X-Died') // '';
    $died = '' if $died =~ /^first event read/;
    return ($res, $buf, $event, $died);
}

sub call_json {
    my ($self, $base, $method, $path, $login, %a) = @_;
    my ($res, $buf) = $self->send_request(
        method => $method, url => "$base$path", login => $login,
        (exists $a{body} ? (content => $json->encode($a{body}), content_type => 'application/json') : ()),
        headers => $a{headers});
    return ($res, (eval { $json->decode($buf) } // {}));
}

sub wait_terminal {
    my ($self, $type, $id) = @_;
    my $table = $self->{tables_of}{$type} or die "no table of type $type\n";
    my $until = Time::HiRes::time() + 60;
    while (Time::HiRes::time() < $until) {
        my $s = db_query($self->{db}, "SELECT status FROM \"$table\" WHERE id = " . sql_quote($id));
        return $s if $s =~ /^(completed|failed|cancelled)$/;
        Time::HiRes::sleep(0.02);
    }
    die "generation $id of $type did not end in 60 s\n";
}

# A generation of the user on an API host, started (generate, waiting
# up to WAIT seconds for its end).
sub generated_fixture {
    my ($self, $base, $type, $user, $wait) = @_;
    my ($res, $doc) = $self->call_json($base, POST => "/api/$type/generate", $user,
                                       body => { prompt => 'authorization matrix fixture' },
                                       headers => { Prefer => "wait=$wait" });
    die "fixture: generate on $base/api/$type as $user->[0]: " . $res->status_line . "\n"
        . $res->decoded_content unless $res->code =~ /^20[02]$/ && $doc->{generationId};
    return $doc->{generationId};
}

sub completed {
    my ($self, $type, $id) = @_;
    my $st = $self->wait_terminal($type, $id);
    die "fixture: generation $id ended $st\n" unless $st eq 'completed';
    return $id;
}

sub pending_fixture {
    my ($self, $base, $type) = @_;
    my ($res, $doc) = $self->call_json($base, POST => "/api/$type/create", $self->{users}{owner},
                                       body => { prompt => 'authorization matrix fixture' });
    die "fixture: create on $base/api/$type: " . $res->status_line . "\n" . $res->decoded_content
        unless $res->code == 201 && $doc->{generationId};
    $self->{snap} = undef;
    return $doc->{generationId};
}

sub cancel_as {
    my ($self, $base, $type, $id, $user) = @_;
    my ($res) = $self->call_json($base, POST => "/api/$type/cancel/$id", $user);
    $self->{snap} = undef;
    return $res->code;
}

sub cancelled_fixture {
    my ($self, $base, $type) = @_;
    my $id = $self->pending_fixture($base, $type);
    my $code = $self->cancel_as($base, $type, $id, $self->{users}{owner});
    die "fixture: cancel of $id answered $code\n" unless $code == 200;
    return $id;
}

sub token_of {
    my ($self, $base, $type, $id, $user) = @_;
    my ($res, $doc) = $self->call_json($base, GET => "/api/$type/status/$id", $user);
    die "fixture: status of $id: " . $res->status_line . "\n" unless $res->code == 200;
    my $url = $doc->{eventsUrl} // '';
    return ($1, $url) if $url =~ /[?&]token=([^&]+)/;
    # No events host for this type: a valid token made as the module makes
    # them, which the host must ignore all the same.
    return (forge_token($self->{events_key}, $type, $id, $user->[0], time + 3600), $url);
}

# The fixtures of (API host, type): the owner's completed generation and
# the tokens.
sub fixtures {
    my ($self, $base, $type) = @_;
    return $self->{fixtures}{"$base $type"} //= do {
        my $u = $self->{users};
        # The other user's runs while the owner's is waited for.
        my $theirs = $self->generated_fixture($base, $type, $u->{other}, 0);
        my $mine = $self->completed($type, $self->generated_fixture($base, $type, $u->{owner}, 30));
        $self->completed($type, $theirs);
        my ($this, $url) = $self->token_of($base, $type, $mine, $u->{owner});
        my ($other) = $self->token_of($base, $type, $theirs, $u->{other});
        $self->{log}->("fixtures of $base/api/$type: completed $mine, other's $theirs, eventsUrl $url");
        $self->{snap} = undef;
        { completed => $mine,
          token_this => $this,
          token_other => $other,
          token_expired => forge_token($self->{events_key}, $type, $mine, $u->{owner}[0], time - 60),
          token_changed => change_token($this) };
    };
}

# A delivery of the webhook outbox, the owner's (failed, to an address
# nothing listens on): the id redeliver names.
sub delivery_fixture {
    my ($self, $generation, $type) = @_;
    return $self->{delivery} //= do {
        my $owner = $self->{users}{owner}[0];
        my $id = db_query($self->{db},
            "INSERT INTO genflow_webhook_outbox (webhook_id, generation_id, gen_type, user_id, event,"
            . " url, payload, state, attempts, next_attempt_at, last_error)"
            . " VALUES ('msg_authzmatrix_' || md5(random()::text), " . sql_quote($generation)
            . ", " . sql_quote($type) . ", " . sql_quote($owner) . ", 'completed',"
            . " 'http://127.0.0.1:9/authz-matrix', '{}'::jsonb, 'failed', 1, now(),"
            . " 'authorization matrix fixture') RETURNING id");
        $self->{snap} = undef;
        $id;
    };
}

# Users have credits for every success the matrix expects (an admin grant
# where they have less than min_balance).
sub top_up {
    my ($self, $base) = @_;
    my $min = $self->{min_balance} // 500;
    for my $who (qw(owner other admin)) {
        my $u = $self->{users}{$who};
        my ($res, $q) = $self->call_json($base, GET => '/api/quota', $u);
        die "quota of $u->[0]: " . $res->status_line . "\n" unless $res->code == 200;
        my $have = $q->{currentBalance} // 0;
        next if $have >= $min;
        ($res) = $self->call_json($base, POST => '/api/admin/credits', $self->{users}{admin},
                                  body => { user => $u->[0], amount => $min - $have + 0,
                                            reason => 'authorization matrix: credits for its calls' });
        die "top-up of $u->[0]: " . $res->status_line . "\n" unless $res->code == 200;
    }
    $self->{snap} = undef;
}

# Until the users have no generation running (the accounts' count of
# them) and nothing changes for a moment: work the setup, or whatever ran
# before, started.
sub settle {
    my ($self) = @_;
    my $in = join ', ', map { sql_quote($_) } @{ $self->{names} };
    my $until = Time::HiRes::time() + 120;
    my $last = '';
    while (1) {
        my $active = db_query($self->{db}, "SELECT coalesce(sum(active), 0) FROM genflow_accounts"
                              . " WHERE user_id IN ($in)");
        my $now = $self->snapshot;
        last if ($active == 0 && $now eq $last) || Time::HiRes::time() > $until;
        $last = $now;
        Time::HiRes::sleep(0.3);
    }
    $self->{snap} = undef;
}

# ---- expectations -----------------------------------------------------------

my %CODES = (401 => ['UNAUTHORIZED'], 403 => ['FORBIDDEN'],
             404 => ['NOT_FOUND', 'GENERATION_NOT_FOUND']);

# What (operation, host, credential, form) must answer: {statuses => [..],
# codes => [..] (for a JSON error), strict => the body must be JSON with one
# of the codes, success => 1 (any documented 2xx), same4xx => 1, text}.
# The documented routes a path of the host names: the operations whose
# path template it instantiates (a form can be another route's path:
# "/events" before the last segment of /api/{type}/create is
# /api/{type}/events/{id} with the id "create").
sub routes_of {
    my ($ops, $host, $path) = @_;
    my @hits;
    for my $o (@$ops) {
        my $re = join '', map {
            $_ eq '{type}' ? quotemeta($host->{type}) : /^\{\w+\}$/ ? '[^/;%]+' : quotemeta($_)
        } split /(\{\w+\})/, $o->{path};
        push @hits, $o if $path =~ /^$re$/;
    }
    return @hits;
}

# What a form that is another route's path must answer: that route's
# answer for an id that names nothing (a login: 404 GENERATION_NOT_FOUND;
# on the events host no token is valid for it: 401), or, when the route
# has no such method, 405 METHOD_NOT_ALLOWED after the login (on the
# events host, which answers GET streams only, 404).
sub route_expectation {
    my ($op, $routes, $host, $cred) = @_;
    my $head = $op->{method} eq 'HEAD';
    my ($same) = grep { $_->{method} eq $op->{method} } @$routes;
    my $names = join ', ', map { $_->{id} } @$routes;
    my $who = $cred =~ /^token_/ ? 'none' : $cred;
    my $err = sub {
        my ($status, $code) = @_;
        return { statuses => [$status], codes => [$code], strict => !$head,
                 text => "$status $code (the path of $names)" };
    };
    if ($host->{kind} eq 'events') {
        # The stream's path with an id that is none: 401 as for a token of
        # another generation, or 404 as for no generation; any other
        # method there is no stream (404).
        return { statuses => [401, 404], text => "401|404 (the path of $names)" }
            if $same && $same->{authz}{token};
        return { statuses => [404], codes => $CODES{404}, strict => !$head,
                 text => "404 (the path of $names, which the events host serves to GET only)" };
    }
    return $err->(401, 'UNAUTHORIZED') if $who eq 'none';
    return $err->(405, 'METHOD_NOT_ALLOWED') unless $same;
    return $err->(404, 'GENERATION_NOT_FOUND') if $same->{authz}{access} eq 'owner';
    return $err->(403, 'FORBIDDEN') if $same->{authz}{access} eq 'admin' && $who ne 'admin';
    return { statuses => [404], codes => $CODES{404}, text => "404 (the path of $names)" };
}

sub expectation {
    my ($op, $host, $cred, $form_normalises) = @_;
    my $a = $op->{authz};
    my $head = $op->{method} eq 'HEAD';
    my $err = sub {
        my ($status, @codes) = @_;
        return { statuses => [$status], codes => [@codes ? @codes : @{ $CODES{$status} }],
                 strict => !$head, text => "$status " . join('|', @codes ? @codes : @{ $CODES{$status} }) };
    };
    my $success = { success => 1, statuses => $op->{success},
                    text => 'success (' . join('/', @{ $op->{success} }) . ')' };
    if ($host->{kind} eq 'events') {
        if ($a->{token} && $form_normalises) {
            return $cred eq 'token_this' ? $success : $err->(401);
        }
        return { %{ $err->(404) }, strict => !$head && $form_normalises };
    }
    unless ($form_normalises) {
        return $cred eq 'admin'
            ? { statuses => [404], codes => $CODES{404}, text => '404' }
            : { statuses => [401, 403, 404], text => '401|403|404 (no route)' };
    }
    my $who = $cred =~ /^token_/ ? 'none' : $cred;
    my $access = $a->{access};
    return $success if $access eq 'public';
    return { same4xx => 1, text => 'the same 4xx for every credential' } if $access eq 'signed';
    return $err->(401) if $who eq 'none';
    return $success if $access eq 'user';
    if ($access eq 'owner') {
        return $who eq 'owner' ? $success : $err->(404, 'GENERATION_NOT_FOUND');
    }
    return $who eq 'admin' ? $success : $err->(403);    # admin
}

# ---- one call ---------------------------------------------------------------

sub concrete_path {
    my ($self, $op, $host, $api_base) = @_;
    my $a = $op->{authz};
    my ($p, %fresh) = ($op->{path});
    my $fx = $self->fixtures($api_base, $host->{type});
    my $id;
    if (defined $a->{id}) {
        if ($a->{id} eq 'completed') { $id = $fx->{completed} }
        elsif ($a->{id} eq 'pending') { $id = $self->pending_fixture($api_base, $host->{type}); $fresh{pending} = $id }
        elsif ($a->{id} eq 'cancelled') { $id = $self->cancelled_fixture($api_base, $host->{type}) }
        else { $id = $self->delivery_fixture($fx->{completed}, $host->{type}) }
    }
    $p =~ s/\{type\}/$host->{type}/g;
    $p =~ s/\{provider\}/$self->{provider}/g;
    $p =~ s/\{id\}/$id/g if defined $id;
    die "$op->{id}: a parameter of $p has no value\n" if $p =~ /[{}]/;
    return ($p, $fx, \%fresh);
}

sub body_of {
    my ($self, $op) = @_;
    my $a = $op->{authz};
    return ($PNG, 'image/png') if $a->{upload};
    if (defined $a->{body}) {
        my $owner = $self->{users}{owner}[0];
        my $text = $json->encode($a->{body});
        $text =~ s/\{owner\}/$owner/g;
        return ($text, 'application/json');
    }
    return ('{}', 'application/json') if $op->{json_body};
    return;
}

sub json_error_code {
    my ($res, $buf) = @_;
    return undef unless ($res->header('Content-Type') // '') =~ m{^application/(problem\+)?json};
    my $doc = eval { $json->decode($buf) };
    return undef unless ref $doc eq 'HASH' && ref $doc->{error} eq 'HASH';
    return $doc->{error}{code} // '';
}

# Does the answer meet the expectation? (ok, why)
sub judge {
    my ($exp, $op, $res, $buf, $event, $code) = @_;
    my $st = $res->code;
    my %in = map { $_ => 1 } @{ $exp->{statuses} || [] };
    if ($exp->{same4xx}) {
        return (0, "not a 4xx") unless $st >= 400 && $st < 500;
        return (0, "not $exp->{first} as the first credential got")
            if defined $exp->{first} && $st != $exp->{first};
    }
    elsif (!$in{$st}) {
        return (0, 'a status it should not have');
    }
    if ($exp->{success}) {
        if ($op->{authz}{token} || ($res->header('Content-Type') // '') =~ m{^text/event-stream}) {
            return (0, 'no text/event-stream') if $st == 200
                && ($res->header('Content-Type') // '') !~ m{^text/event-stream};
            return (0, 'no event read from the stream') if $st == 200 && !$event;
        }
        return (1, '');
    }
    if ($st >= 400) {
        my @codes = $exp->{codes} ? @{ $exp->{codes} } : @{ $CODES{$st} || [] };
        if (defined $code) {
            return (0, "error code $code, not " . join('|', @codes))
                if @codes && !grep { $_ eq $code } @codes;
        }
        elsif ($exp->{strict}) {
            return (0, 'the error is not the JSON error shape');
        }
    }
    return (1, '');
}

# What a success changed is undone or waited for, so that the next
# request starts from a still database: a created generation is cancelled
# (its credits come back), a started one runs to its end, a redelivered
# delivery fails again (the loop would otherwise keep trying it).
sub after_success {
    my ($self, $op, $host, $cred, $buf) = @_;
    return if $op->{method} eq 'GET' || $op->{method} eq 'HEAD';
    $self->{snap} = undef;
    my $doc = eval { $json->decode($buf) };
    return unless ref $doc eq 'HASH';
    if (($op->{authz}{id} // '') eq 'delivery' && defined $doc->{id}) {
        db_query($self->{db}, "UPDATE genflow_webhook_outbox SET state = 'failed', lease_until = NULL,"
                 . " next_attempt_at = now() WHERE id = " . ($doc->{id} + 0));
        return;
    }
    my $gid = $doc->{generationId} or return;
    my $user = $self->{users}{$cred} or return;
    if ($op->{path} =~ m{/create$}) {
        $self->cancel_as($host->{base}, $host->{type}, $gid, $user);
        return;
    }
    $self->running($host->{type}, $gid, $user->[0]);
}

sub run_one {
    my ($self, $op, $host, $cred, $form, $fn, $normalises, $exp) = @_;
    my $t0 = Time::HiRes::time();
    my $api_base = $host->{fixtures_from} // $host->{base};
    my ($path, $fx, $fresh) = $self->concrete_path($op, $host, $api_base);
    my $url = $host->{base} . $fn->($path);
    my @q;
    push @q, $op->{authz}{query} if defined $op->{authz}{query};
    push @q, "token=$fx->{$cred}" if $cred =~ /^token_/;
    $url .= '?' . join('&', @q) if @q;
    my ($content, $ct) = $self->body_of($op);
    my $before = $self->{snap} // $self->snapshot;
    my ($res, $buf, $event, $died) = $self->send_request(
        method => $op->{method}, url => $url,
        login => ($cred =~ /^(owner|other|admin)$/ ? $self->{users}{$cred} : undef),
        content => $content, content_type => $ct, headers => $op->{authz}{headers});
    my $st = $res->code;
    my $code = $st >= 400 ? json_error_code($res, $buf) : undef;
    my ($changed, $ok, $why, $inert) = (0);
    if ($st < 300 && $op->{method} eq 'POST') {
        # The snapshot sees what a success does (else it would not see a
        # refusal do it either).
        $inert = $self->snapshot eq $before;
    }
    if ($st >= 400) {
        my $after = $self->snapshot;
        $changed = $after ne $before ? 1 : 0;
        $self->{snap} = $after;
        if ($changed) {
            my @b = split / ; /, $before;
            my @a = split / ; /, $after;
            $changed = join '; ', map { "$b[$_] -> $a[$_]" } grep { ($b[$_] // '') ne ($a[$_] // '') } 0 .. $#a;
        }
    }
    else {
        $self->{snap} = undef;
        $self->after_success($op, $host, $cred, $buf) if $st < 300;
    }
    # A fresh pending generation the call did not cancel is cancelled now.
    if ($fresh->{pending} && $st != 200) {
        $self->cancel_as($api_base, $host->{type}, $fresh->{pending}, $self->{users}{owner});
    }
    ($ok, $why) = judge($exp, $op, $res, $buf, $event, $code);
    if ($died) { ($ok, $why) = (0, "the client gave up: $died") }
    if ($inert) { ($ok, $why) = (0, 'a successful POST changed nothing the snapshot sees') }
    if ($changed && $st >= 400) { ($ok, $why) = (0, join '; ', grep { length } $why, "the database changed: $changed") }
    return { host => $host->{name}, op => $op->{id}, method => $op->{method},
             path => $fn->($path), form => $form, cred => $cred, expected => $exp->{text},
             status => $st, code => $code, db_changed => $changed ? 1 : 0,
             ok => $ok ? 1 : 0, why => $why,
             ms => int(1000 * (Time::HiRes::time() - $t0)) };    # its fixtures and clean-up included
}

# The operation's path with its parameters filled in (an id of the right
# shape), for routes_of().
sub probe_path {
    my ($op, $host, $provider) = @_;
    my $p = $op->{path};
    $p =~ s/\{type\}/$host->{type}/g;
    $p =~ s/\{provider\}/$provider/g;
    $p =~ s/\{id\}/00000000-0000-4000-8000-000000000000/g;
    return $p;
}

sub run_matrix {
    my (%a) = @_;
    my @ops = operations($a{doc});
    my $self = new_run(%a);
    my $api = (grep { $_->{kind} eq 'api' } @{ $a{hosts} })[0] or die "no api host\n";
    my $t0 = Time::HiRes::time();
    $self->top_up($api->{base});
    for my $h (@{ $a{hosts} }) {
        $self->fixtures($h->{fixtures_from} // $h->{base}, $h->{type});
    }
    $self->settle;
    my (@results, %ran);
    for my $op (@ops) {
        for my $host (@{ $a{hosts} }) {
            my %first;    # signed: the first credential's status per form
            for my $cred (@CREDS) {
                for my $f (@FORMS) {
                    my ($form, $normalises, $fn) = @$f;
                    my @routes = $normalises || $form eq 'encoded' ? ()
                               : routes_of(\@ops, $host, $fn->(probe_path($op, $host, $a{provider})));
                    my $exp = @routes ? route_expectation($op, \@routes, $host, $cred)
                                      : expectation($op, $host, $cred, $normalises);
                    if ($exp->{same4xx}) { $exp = { %$exp, first => $first{$form} } }
                    my $r = $self->run_one($op, $host, $cred, $form, $fn, $normalises, $exp);
                    $first{$form} //= $r->{status} if $exp->{same4xx};
                    $ran{ $op->{id} }++;
                    push @results, $r;
                }
            }
        }
    }
    $self->drain;
    db_close($self->{db});
    return { results => \@results, operations => [map { $_->{id} } @ops], ran => \%ran,
             requests => $self->{requests}, seconds => Time::HiRes::time() - $t0 };
}

# "N passed, M failed" and the failed requests, one line each.
sub summary {
    my ($m) = @_;
    my @bad = grep { !$_->{ok} } @{ $m->{results} };
    my @lines = map {
        sprintf '%s %s %s %s [%s] as %s: expected %s, got %s%s%s', $_->{host}, $_->{op},
            $_->{method}, $_->{path}, $_->{form}, $_->{cred}, $_->{expected}, $_->{status},
            defined $_->{code} ? " $_->{code}" : '', $_->{why} ? " ($_->{why})" : ''
    } @bad;
    return (scalar(@{ $m->{results} }) - @bad, scalar(@bad), @lines);
}

1;
