#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# Include what you use, in the glue (mod_genflow/httpd/): a file's includes
# are its dependencies (docs/architecture.md, "The glue in layers").
#  1. A glue header includes another only for a name it uses (a type, a
#     macro, a function): no chains of headers that hide who needs what.
#  2. A glue file includes, itself, a header that declares each function or
#     variable of another glue file its object uses (read with nm, so a
#     call made through a header included by another is found), and every
#     glue header it includes declares something it uses.
# tests/check_includes.sh and tests/check_calls.sh keep the layers.
use strict; use warnings;
my $top = $ENV{top_srcdir} || '.';
my $build = $ENV{top_builddir} || '.';
my $dir = "$top/mod_genflow/httpd";
sub slurp { local $/; open my $f, '<', $_[0] or die "$_[0]: $!"; my $s = <$f>; close $f; $s }
sub strip { my $s = shift; $s =~ s{/\*.*?\*/}{ }gs; $s =~ s{//[^\n]*}{}g;
            $s =~ s{^(?!#include)([^\n]*)}{ (my $l = $1) =~ s/"(?:[^"\\\\\n]|\\\\.)*"/""/g; $l }mge; $s }
my (%provides, %incs, %body);
# The glue's files in httpd/ and its folders, by name (names are unique).
my %path = map { (m{([^/]+)$})[0] => $_ } glob("$dir/mod_genflow*.[ch] $dir/*/mod_genflow*.[ch]");
my @files = sort keys %path;
for my $f (@files) {
    my $s = strip(slurp($path{$f}));
    my @inc = $s =~ /^#include "httpd\/(?:[a-z]+\/)?([a-z_]+\.h)"/mg;
    $incs{$f} = \@inc;
    (my $b = $s) =~ s/^#include[^\n]*\n//mg;
    $body{$f} = $b;
    next unless $f =~ /\.h$/;
    my %p;
    $p{$_} = 1 for $b =~ /^#define\s+(\w+)/mg;
    $p{$_} = 1 for $b =~ /\}\s*(\w+)\s*;/g;                 # typedef struct {...} name;
    $p{$_} = 1 for $b =~ /typedef\s+[^;{]*?\b(\w+)\s*;/g;    # typedef struct x name;
    $p{$_} = 1 for $b =~ /typedef\s+[^;{(]*\(\s*\*?\s*(\w+)\s*\)/g;  # function types
    $p{$_} = 1 for $b =~ /\bstruct\s+(\w+)\s*\{/g;
    $p{$_} = 1 for $b =~ /\b(gf_\w+|genflow_\w+)\s*\(/g;     # functions declared or defined inline
    $p{$_} = 1 for $b =~ /\bextern\b[^;]*?\b(\w+)\s*(?:\[[^\]]*\])?\s*;/g;
    $p{$_} = 1 for $b =~ /\benum\s*\{([^}]*)\}/g ? map { /(\w+)/ ? $1 : () } split /,/, join(',', $b =~ /\benum\s*\{([^}]*)\}/g) : ();
    $p{$_} = 1 for map { /^\s*(\w+)/ ? $1 : () } map { split /,/ } ($b =~ /\benum\s+\w*\s*\{([^}]*)\}/g, $b =~ /typedef\s+enum\s*\{([^}]*)\}/g);
    # The private header is the glue's way to httpd's own: its log macros
    # and records count as what it provides.
    if ($f eq 'mod_genflow_private.h') {
        $p{$_} = 1 for qw(APLOG_MARK APLOG_EMERG APLOG_CRIT APLOG_ERR APLOG_WARNING APLOG_NOTICE
                          APLOG_INFO APLOG_DEBUG APLOG_TRACE1 APLOGdebug APLOGrdebug APLOGrtrace1
                          APLOG_IS_LEVEL APLOG_R_IS_LEVEL ap_log_error ap_log_rerror ap_log_perror
                          server_rec request_rec conn_rec cmd_parms module OK DECLINED DONE);
    }
    $provides{$f} = \%p;
}
my $bad = 0;
# 1. A glue header includes another only for what it uses.
for my $h (grep { /\.h$/ } @files) {
    for my $i (@{$incs{$h}}) {
        next unless $provides{$i};
        my $uses = grep { $body{$h} =~ /\b\Q$_\E\b/ } keys %{$provides{$i}};
        unless ($uses) { print "httpd/$h includes $i but uses nothing it declares\n"; $bad = 1; }
    }
}
# 2. A glue file includes, itself, the header of every glue function or
#    variable its object uses (nm), and every header it includes is used.
my %def;
for my $o (glob "$build/mod_genflow/httpd/.libs/la-mod_genflow*.o $build/mod_genflow/httpd/*/.libs/la-mod_genflow*.o") {
    (my $f = $o) =~ s{.*/la-}{}; $f =~ s/\.o$/.c/;
    for (`nm --defined-only -g $o`) { my @w = split; $def{$w[2]} = $f if @w == 3; }
}
my $n = 0;
for my $o (glob "$build/mod_genflow/httpd/.libs/la-mod_genflow*.o $build/mod_genflow/httpd/*/.libs/la-mod_genflow*.o") {
    (my $f = $o) =~ s{.*/la-}{}; $f =~ s/\.o$/.c/;
    next unless exists $path{$f};   # an object left from a file since renamed
    $n++;
    my %direct = map { $_ => 1 } @{$incs{$f} || []};
    for (`nm -u $o`) {
        my ($sym) = /(\S+)\s*$/;
        next unless $def{$sym} && $def{$sym} ne $f && $sym ne 'genflow_module';
        my @hs = grep { $provides{$_}{$sym} } keys %provides;
        next unless @hs;
        next if grep { $direct{$_} } @hs;
        print "httpd/$f uses $sym (httpd/$def{$sym}) without including ", join(' or ', sort @hs), "\n";
        $bad = 1;
    }
    for my $i (@{$incs{$f} || []}) {
        next unless $provides{$i};
        my $uses = grep { $body{$f} =~ /\b\Q$_\E\b/ } keys %{$provides{$i}};
        unless ($uses) { print "httpd/$f includes $i but uses nothing it declares\n"; $bad = 1; }
    }
}
die "no objects of mod_genflow/httpd/ under $build: build first\n" unless $n;
exit 1 if $bad;
print "the glue's $n files and their headers include what they use\n";
