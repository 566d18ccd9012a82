# SPDX-License-Identifier: Apache-2.0
# GenFlowSanitizeHttpd: loaded into every perl of the sanitizer stage
# (tests/sanitize/run sets PERL5OPT=-MGenFlowSanitizeHttpd), it sends the
# test files' own httpd servers to the ASan wrapper too.
#
# t/08, t/11, t/14, t/19 and t/20 start servers of their own with
# system("/usr/sbin/apache2 ...") and `/usr/sbin/apache2 -t ...`. Those
# servers load the instrumented mod_genflow.so, which needs the ASan
# runtime preloaded into httpd, and perl itself must not get it. So
# system, exec and readpipe (backticks) are overridden here, before the
# test files are compiled, to replace the path /usr/sbin/apache2 with the
# wrapper named by GENFLOW_SANITIZE_HTTPD. Anything else passes unchanged.
package GenFlowSanitizeHttpd;
use strict;
use warnings;

my $real = '/usr/sbin/apache2';
my $wrap = $ENV{GENFLOW_SANITIZE_HTTPD};

sub _fix {
    my @a = @_;
    return @a unless $wrap && @a;
    if (@a == 1) {
        # One string: a shell command line ("timeout 20 /usr/sbin/apache2 -t ...").
        $a[0] =~ s{(?<![\w/.-])\Q$real\E(?![\w/.-])}{$wrap}g;
    }
    elsif ($a[0] eq $real) {
        $a[0] = $wrap;
    }
    return @a;
}

BEGIN {
    no warnings 'once';
    *CORE::GLOBAL::system   = sub { CORE::system(_fix(@_)) };
    *CORE::GLOBAL::exec     = sub { CORE::exec(_fix(@_)) };
    *CORE::GLOBAL::readpipe = sub { CORE::readpipe((_fix(@_ ? $_[0] : $_))[0]) };
}

1;
