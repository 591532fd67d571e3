#!/bin/sh
# tools/check-install.sh BUILD_DIR - installs eta from BUILD_DIR into a
# temporary prefix and builds examples/quickstart.c against it twice, through
# pkg-config (the README's command, as is) and through CMake's find_package,
# then runs both programs as a user would, without LD_LIBRARY_PATH; and runs
# examples/digits.c (built by find_package too) on the digits data when data/
# has it. Also checks that an install into a system directory (/usr, staged
# with DESTDIR) gets an eta.pc without -rpath.
set -eu
build=${1:-build/release}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp/prefix"/lib* | head -n 1)
PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --exists eta
cc -std=c11 "$root/examples/quickstart.c" $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs eta) \
    -o "$tmp/quickstart_pc"
out=$(env -u LD_LIBRARY_PATH "$tmp/quickstart_pc") # finds libeta.so.0 by the rpath eta.pc gives
echo "pkg-config build: $out"
echo "$out" | grep -q "w = 0.000 1.000 2.000 3.000"
DESTDIR="$tmp/stage" cmake --install "$build" --prefix /usr >/dev/null
pc=$(find "$tmp/stage/usr" -name eta.pc)
if [ -z "$pc" ] || grep -q rpath "$pc"; then
    echo "check-install: an install under /usr should give an eta.pc without -rpath: ${pc:-no eta.pc}" >&2
    exit 1
fi
cmake -S "$root/examples" -B "$tmp/ex" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/ex" >/dev/null
out=$("$tmp/ex/quickstart")
echo "CMake package build: $out"
echo "$out" | grep -q "w = 0.000 1.000 2.000 3.000"
digits="$root/data/sklearn/digits.csv.gz"
if [ -s "$digits" ]; then
    out=$("$tmp/ex/digits" "$digits") # exits 1 below 90% test accuracy
    echo "CMake package build, digits: $(echo "$out" | tail -n 1)"
fi
echo "install check passed"
