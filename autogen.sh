#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Regenerate the autotools build (configure, Makefile.in) from configure.ac and Makefile.am.
set -e
cd "$(dirname "$0")"
mkdir -p m4 build-aux
autoreconf -fi
