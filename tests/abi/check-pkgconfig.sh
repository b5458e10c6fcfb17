#!/bin/sh
# pkg-config finds libpcref through the build's uninstalled .pc file, and a
# program built with its flags links and runs against the fresh library.
# usage: check-pkgconfig.sh BUILD_ROOT SOURCE_ROOT CC
set -eu
build=$1 src=$2 cc=$3
export PKG_CONFIG_PATH="$build/meson-uninstalled"
flags=$(pkg-config --cflags --libs libpcref)
echo "pkg-config --cflags --libs libpcref: $flags"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/t.c" <<'C'
#include <pcref/pcref.h>
#include <string.h>
int main(void) { return strcmp(pcref_version_string(), PCREF_VERSION_STRING) != 0; }
C
# shellcheck disable=SC2086
$cc "$tmp/t.c" -o "$tmp/t" $flags
LD_LIBRARY_PATH="$build/lib" "$tmp/t"
echo "linked and ran against the uninstalled libpcref"
