#!/bin/sh
# Generates configure and Makefile.in. automake ships the TAP test driver but
# does not install it on its own, so it is copied from automake's data dir.
set -e
cd "$(dirname "$0")"
mkdir -p build-aux m4
cp -f "$(automake --print-libdir)/tap-driver.sh" build-aux/tap-driver.sh
autoreconf -fi
