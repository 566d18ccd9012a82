# SPDX-License-Identifier: Apache-2.0
# GenFlowFormatter: the test harness's formatter for the suite
# (HARNESS_OPTIONS=fGenFlowFormatter, set by tests/suite.sh).
#
# It prints what TAP::Formatter::Console prints (and the failed assertions
# with their diagnostics, below), and then writes one line
# per test file that ran to the file named by GENFLOW_TEST_RESULTS, from
# the harness's own parse of the file's TAP (not from its console output):
#
#   FILE <tab> ok|FAIL <tab> SECONDS <tab> WHY
#
# A file is ok only when it ran its whole plan, every assertion passed,
# none was skipped or marked TODO, it did not skip itself, exited 0 and
# the TAP parsed cleanly. Apache::Test can exit 0 when a file did not run
# (as root, say), so scripts/test compares these lines with the files it
# asked for rather than trusting the exit status.
package GenFlowFormatter;
use strict;
use warnings;
use parent 'TAP::Formatter::Console';

# Apache::Test sends Test::More's diagnostics to STDOUT, into the TAP,
# where a quiet harness drops them: a failure would show as a number only.
# Failed assertions and comments are printed whatever the verbosity.
sub _initialize {
    my ($self, @args) = @_;
    $self->SUPER::_initialize(@args);
    $self->failures(1);
    $self->comments(1);
    return $self;
}

# Apache::Test prints "# Using Apache/Test.pm version N" into every file's
# TAP: not a diagnostic worth a line per file.
sub open_test {
    my ($self, @args) = @_;
    my $session = $self->SUPER::open_test(@args);
    return ref($session) eq 'TAP::Formatter::Console::Session'
         ? bless($session, 'GenFlowFormatter::Session') : $session;
}

sub summary {
    my ($self, $aggregate, $interrupted) = @_;
    $self->SUPER::summary($aggregate, $interrupted);
    my $file = $ENV{GENFLOW_TEST_RESULTS} or return;
    open my $fh, '>', $file or die "GENFLOW_TEST_RESULTS $file: $!\n";
    for my $desc ($aggregate->descriptions) {
        my ($p) = $aggregate->parsers($desc);
        my @why;
        push @why, 'skipped itself: ' . $p->skip_all if $p->skip_all;
        push @why, scalar($p->failed) . ' failed (' . join(',', $p->failed) . ')' if $p->failed;
        push @why, scalar($p->skipped) . ' skipped' if $p->skipped;
        push @why, scalar($p->todo) . ' TODO' if $p->todo;
        my $planned = $p->tests_planned;
        push @why, 'planned ' . ($planned // 'none') . ', ran ' . $p->tests_run
            if !defined $planned || $planned != $p->tests_run;
        push @why, 'exit status ' . $p->exit if $p->exit;
        push @why, 'wait status ' . $p->wait if $p->wait;
        push @why, 'TAP parse errors: ' . join('; ', $p->parse_errors) if $p->parse_errors;
        push @why, 'the run was interrupted' if $interrupted;
        my $secs = defined $p->start_time && defined $p->end_time
                 ? $p->end_time - $p->start_time : 0;
        (my $reason = join('; ', @why)) =~ s/[\t\n]/ /g;
        printf $fh "%s\t%s\t%.1f\t%s\n", $desc, (@why ? 'FAIL' : 'ok'), $secs, $reason;
    }
    close $fh or die "GENFLOW_TEST_RESULTS $file: $!\n";
}

package GenFlowFormatter::Session;
use parent -norequire, 'TAP::Formatter::Console::Session';

sub result {
    my ($self, $result) = @_;
    return if $result->is_comment && $result->as_string =~ m{^# Using Apache/Test\.pm version};
    return $self->SUPER::result($result);
}

1;
