#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# No function in mod_genflow/ runs over MAX lines (docs/architecture.md,
# "Side by side"): a long function is split into steps with names. Counted
# from the line of its name to its closing brace, comments and strings
# blanked first so that braces in them do not count.
use strict; use warnings;
use File::Find;
my $MAX = 85;
my $top = $ENV{top_srcdir} || '.';
my ($bad, $n, $longest, $where) = (0, 0, 0, '');
find(sub {
    return unless /\.c$/;
    my $f = $File::Find::name;
    open my $fh, '<', $_ or die "$f: $!";
    local $/; my $s = <$fh>; close $fh;
    $s =~ s{/\*.*?\*/}{ my $c = $&; $c =~ tr/\n//cd; $c }gse;
    $s =~ s{'(?:\\.|[^'\\])'}{' '}g;
    $s =~ s{"(?:\\.|[^"\\\n])*"}{""}g;
    my @l = split /\n/, $s, -1;
    for (my $i = 0; $i < @l; $i++) {
        next unless $l[$i] =~ /^\{/;
        my $j = $i - 1;
        $j-- while $j >= 0 && $l[$j] =~ /^[ \t]/;
        next unless $j >= 0 && $l[$j] =~ /(\w+)\s*\(/;
        my $name = $1;
        my ($k, $depth) = ($i, 0);
        for (; $k < @l; $k++) {
            $depth += () = $l[$k] =~ /\{/g;
            $depth -= () = $l[$k] =~ /\}/g;
            last if $depth == 0;
        }
        my $len = $k - $j + 1;
        $n++;
        if ($len > $longest) { $longest = $len; ($where = $f) =~ s{^\Q$top\E/}{}; $where .= ": $name"; }
        if ($len > $MAX) {
            (my $rel = $f) =~ s{^\Q$top\E/}{};
            print "$rel:", $j + 1, ": $name runs $len lines (at most $MAX): split it into named steps\n";
            $bad = 1;
        }
        $i = $k;
    }
}, "$top/mod_genflow");
die "no functions found under $top/mod_genflow\n" unless $n > 500;
exit 1 if $bad;
print "$n functions in mod_genflow/, none over $MAX lines (the longest: $longest, $where)\n";
