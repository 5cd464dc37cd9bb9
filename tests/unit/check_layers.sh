#!/bin/sh
# Enforce the layering of docs/architecture.md: a directory may include only from layers below it.
# Layers, lowest first. drivers implement interfaces declared below them and may include any lower
# layer; prog may include everything.
set -eu
cd "$(dirname "$0")/../.."
rank() {
	case "$1" in
	lib) echo 1 ;; mail) echo 2 ;; conf) echo 3 ;; search) echo 4 ;; expand) echo 5 ;;
	core) echo 6 ;; smtp) echo 7 ;; tls) echo 8 ;; drivers) echo 9 ;; modules) echo 10 ;; prog) echo 11 ;;
	*) echo 0 ;;
	esac
}
bad=0
for f in $(find src -name '*.[ch]'); do
	from=$(echo "$f" | cut -d/ -f2)
	rf=$(rank "$from")
	for inc in $(grep -o '^#include "[a-z_]*/' "$f" | sed 's/#include "//; s#/##' | sort -u); do
		ri=$(rank "$inc")
		[ "$ri" = 0 ] && continue
		# drivers and modules sit beside core; each may include anything below itself.
		if [ "$ri" -gt "$rf" ]; then
			echo "layering: $f ($from) includes $inc/"
			bad=1
		fi
	done
done
[ $bad = 0 ] && echo "layers: ok"
exit $bad
