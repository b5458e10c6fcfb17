#!/bin/sh
# The SONAME is part of the ABI promise (doc/abi.md): libpcref.so.1 until a
# documented break. usage: check-soname.sh READELF LIBPCREF_SO EXPECTED
set -eu
got=$("$1" -d "$2" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ "$got" != "$3" ]; then
	echo "SONAME of $2 is '$got', expected '$3' (see doc/abi.md before changing it)"
	exit 1
fi
echo "SONAME $got"
