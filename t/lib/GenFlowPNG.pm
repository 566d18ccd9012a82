# SPDX-License-Identifier: Apache-2.0
# PNG pictures for the tests and the mocks, with nothing but zlib: made
# pixel by pixel (png_make), and read back into what a mask says
# (png_stats: how many pixels are transparent, how many white), so a test
# can tell which convention a provider received. 8-bit, not interlaced:
# greyscale, grey+alpha, RGB and RGBA (what libpng's simplified writer
# makes); anything else reads as undef.
package GenFlowPNG;
use strict;
use warnings;
use Exporter 'import';
use Compress::Zlib ();

our @EXPORT_OK = qw(png_make png_stats png_pixel);

my %CHANNELS = (0 => 1, 2 => 3, 4 => 2, 6 => 4);

# png_make(W, H, COLOR_TYPE, sub { my ($x, $y) = @_; return channel values })
sub png_make {
    my ($w, $h, $ct, $px) = @_;
    my $raw = '';
    for my $y (0 .. $h - 1) {
        $raw .= "\0";
        $raw .= pack('C*', $px->($_, $y)) for 0 .. $w - 1;
    }
    my $chunk = sub {
        my ($t, $d) = @_;
        return pack('N', length $d) . $t . $d . pack('N', Compress::Zlib::crc32($t . $d));
    };
    return "\x89PNG\r\n\x1a\n" . $chunk->('IHDR', pack('NNC5', $w, $h, 8, $ct, 0, 0, 0))
         . $chunk->('IDAT', Compress::Zlib::compress($raw)) . $chunk->('IEND', '');
}

sub paeth {
    my ($a, $b, $c) = @_;
    my $p = $a + $b - $c;
    my ($pa, $pb, $pc) = (abs($p - $a), abs($p - $b), abs($p - $c));
    return $pa <= $pb && $pa <= $pc ? $a : $pb <= $pc ? $b : $c;
}

# The rows of the picture, unfiltered: a list of strings of W * N bytes.
sub rows_of {
    my ($data, $w, $h, $n) = @_;
    my ($at, @rows, $prev) = (0);
    my $len = $w * $n;
    $prev = "\0" x $len;
    for (1 .. $h) {
        return () if $at + 1 + $len > length $data;
        my $f = ord substr($data, $at, 1);
        my @cur = unpack('C*', substr($data, $at + 1, $len));
        my @up = unpack('C*', $prev);
        $at += 1 + $len;
        for my $i (0 .. $#cur) {
            my $left = $i >= $n ? $cur[$i - $n] : 0;
            my $ul = $i >= $n ? $up[$i - $n] : 0;
            my $add = $f == 0 ? 0 : $f == 1 ? $left : $f == 2 ? $up[$i]
                    : $f == 3 ? int(($left + $up[$i]) / 2) : $f == 4 ? paeth($left, $up[$i], $ul) : undef;
            return () unless defined $add;
            $cur[$i] = ($cur[$i] + $add) & 0xff;
        }
        $prev = pack('C*', @cur);
        push @rows, $prev;
    }
    return @rows;
}

# The header and the unfiltered rows of a PNG: (\%header, channels, rows),
# or () when it is not one png_stats and png_pixel read.
sub parse {
    my ($b) = @_;
    return () unless defined $b && substr($b, 0, 8) eq "\x89PNG\r\n\x1a\n";
    my ($at, $idat, %h) = (8, '');
    while ($at + 8 <= length $b) {
        my ($len, $type) = unpack('Na4', substr($b, $at, 8));
        my $d = substr($b, $at + 8, $len);
        @h{qw(width height depth ct interlace)} = unpack('NNCCxxC', $d) if $type eq 'IHDR';
        $idat .= $d if $type eq 'IDAT';
        $at += 12 + $len;
    }
    my $n = $CHANNELS{ $h{ct} // -1 };
    return () unless $n && ($h{depth} // 0) == 8 && !$h{interlace};
    my $data = Compress::Zlib::uncompress($idat);
    return () unless defined $data;
    my @rows = rows_of($data, $h{width}, $h{height}, $n);
    return () unless @rows == $h{height};
    return (\%h, $n, \@rows);
}

# {width, height, color_type, pixels, clear (alpha < 128), white (grey or
# RGB brightness >= 128, opaque or not)} of a PNG, or undef.
sub png_stats {
    my ($h, $n, $rows) = parse($_[0]) or return undef;
    my ($clear, $white) = (0, 0);
    for my $row (@$rows) {
        my @v = unpack('C*', $row);
        for (my $i = 0; $i < @v; $i += $n) {
            my $alpha = $n == 2 ? $v[$i + 1] : $n == 4 ? $v[$i + 3] : 255;
            my $luma = $n >= 3 ? (299 * $v[$i] + 587 * $v[$i + 1] + 114 * $v[$i + 2]) / 1000 : $v[$i];
            $clear++ if $alpha < 128;
            $white++ if $luma >= 128;
        }
    }
    return { width => $h->{width}, height => $h->{height}, color_type => $h->{ct},
             pixels => $h->{width} * $h->{height}, clear => $clear, white => $white };
}

# The channel values of pixel (x, y) of a PNG, or ().
sub png_pixel {
    my ($b, $x, $y) = @_;
    my ($h, $n, $rows) = parse($b) or return ();
    return () unless $x < $h->{width} && $y < $h->{height};
    return unpack('C*', substr($rows->[$y], $x * $n, $n));
}

1;
