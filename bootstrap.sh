#!/bin/sh
# bootstrap.sh — make a Debian 12 machine ready to build and test remprof,
# then build it. Both commands at the top of README.md start with this, so
# the demo and the test suite can never disagree about the set-up.
#
# usage: ./bootstrap.sh            (as root; builds into ./build)
# Environment: BUILD=DIR to build elsewhere; CI=true adds -Dwerror=true.
set -eu

# Everything the build, the tests (g++ for examples/cxx, strace for a tracer
# that is not remprof, binutils' c++filt, rsvg-convert for compare's plot) and
# the demo need: json-c for bench results, libtracefs/libtraceevent for the
# mmap_lock tracepoints.
PACKAGES="build-essential g++ meson ninja-build pkg-config libunwind-dev libdw-dev libelf-dev
libiberty-dev zlib1g-dev libjson-c-dev libtracefs-dev libtraceevent-dev python3 binutils
elfutils strace librsvg2-bin"

cd "$(dirname "$0")"
BUILD=${BUILD:-build}

missing=
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "bootstrap: installing$missing" >&2
	apt-get update
	# shellcheck disable=SC2086  # one word per package
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi

if [ ! -f "$BUILD/build.ninja" ]; then
	if [ "${CI:-}" = true ]; then
		meson setup "$BUILD" -Dwerror=true
	else
		meson setup "$BUILD"
	fi
fi
ninja -C "$BUILD"
