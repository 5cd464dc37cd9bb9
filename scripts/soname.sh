#!/bin/sh
# soname.sh NAME LIBDIR CC...: the soname of the shared library "libNAME.so" that the compiler
# would link, for a library Postern loads at run time (src/lib/dynlib.h). LIBDIR (pkg-config's
# libdir, may be empty) is looked in first, then the compiler's own search path.
name=$1 dir=$2
shift 2
f=
if [ -n "$dir" ] && [ -e "$dir/lib$name.so" ]; then
	f=$dir/lib$name.so
else
	f=$("$@" -print-file-name="lib$name.so")
fi
so=$(readelf -d "$f" 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [ -z "$so" ]; then
	echo "no soname found for lib$name.so ($f)" >&2
	exit 1
fi
printf '%s\n' "$so"
