#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The monitoring kit holds together: promtool accepts the rules and their
# unit tests pass; every series the rules read is one the module exports;
# every panel of the Grafana dashboard plots a recording rule of those
# rules (so every expression it shows is one promtool checked), and every
# recording rule is plotted.
top="${top_srcdir:-.}"
rules="$top/monitoring/prometheus/genflow-rules.yml"
tests="$top/monitoring/prometheus/genflow-rules.test.yml"
dash="$top/monitoring/grafana/genflow-dashboard.json"
command -v promtool >/dev/null 2>&1 \
    || { echo "check_monitoring: promtool is missing (Debian package prometheus)"; exit 1; }
promtool check rules "$rules" || exit 1
( cd "$(dirname "$tests")" && promtool test rules "$(basename "$tests")" ) || exit 1
perl -MJSON::PP -e '
    my ($rules, $dash, @src) = @ARGV;
    open my $fh, "<", $rules or die "$rules: $!";
    my $text = do { local $/; <$fh> };
    my %recorded = map { $_ => 0 } $text =~ /^\s*- record: (\S+)$/mg;
    # The module'"'"'s families: each name it renders (histograms add _bucket).
    my %exported;
    for my $f (@src) {
        open my $s, "<", $f or die "$f: $!";
        my $c = do { local $/; <$s> };
        $exported{$_} = 1 for $c =~ /"(genflow_[a-z_]+)/g;
    }
    my $bad = 0;
    my %used_src;
    (my $exprs = $text) =~ s/^\s*(- record|- alert|labels|annotations|summary|description).*$//mg;
    for my $m ($exprs =~ /\b(genflow_[a-z_]+)\b/g) {
        (my $fam = $m) =~ s/_bucket$//;
        next if $used_src{$m}++;
        unless ($exported{$fam}) { print "the rules read $m, which the module does not export\n"; $bad++ }
    }
    open my $dh, "<", $dash or die "$dash: $!";
    my $d = JSON::PP->new->decode(do { local $/; <$dh> });
    my $n = 0;
    for my $p (@{ $d->{panels} }) {
        for my $t (@{ $p->{targets} || [] }) {
            $n++;
            my ($name) = ($t->{expr} // "") =~ /^([a-z0-9_:]+)(?:\{[^{}]*\})?$/;
            if (!defined $name || !exists $recorded{$name}) {
                print "panel \"$p->{title}\" plots \"$t->{expr}\", not a recording rule\n";
                $bad++;
                next;
            }
            $recorded{$name}++;
        }
    }
    for (sort grep { !$recorded{$_} } keys %recorded) { print "recording rule $_ is in no panel\n"; $bad++ }
    printf "monitoring kit: %d recording rules, %d panel expressions, %d module series read\n",
           scalar(keys %recorded), $n, scalar(keys %used_src);
    exit($bad ? 1 : 0);
' "$rules" "$dash" "$top"/mod_genflow/core/gf_metrics_render.c "$top"/mod_genflow/httpd/*.c "$top"/mod_genflow/httpd/*/*.c
