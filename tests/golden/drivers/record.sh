#!/bin/sh
# Record Exim 4.96's `-bP router|transport|authenticator NAME` output for every driver instance
# in the configs beside this script. The files under expected/ are the reference that
# tests/scenario/test_driver_bP.py compares Postern against.
#   usage: tests/golden/drivers/record.sh [path-to-exim]
# Needs Debian's Exim 4.96 (GnuTLS build): drivers/options it lacks (queuefile, gsasl,
# heimdal_gssapi, experimental options) have no reference here.
set -eu
EXIM=${1:-exim}
here=$(cd "$(dirname "$0")" && pwd)
"$EXIM" -bV | head -1 | grep -q '^Exim version 4\.96 ' || { echo "record.sh: need Exim 4.96" >&2; exit 1; }
rm -rf "$here/expected"
for conf in "$here"/*.conf; do
	stem=$(basename "$conf" .conf)
	mkdir -p "$here/expected/$stem"
	# Instance names: "name:" lines, tagged with the section they appear in.
	awk '/^begin routers/{k="router"} /^begin transports/{k="transport"}
	     /^begin authenticators/{k="authenticator"}
	     k != "" && /^[a-z_0-9]+:$/ { sub(":", ""); print k, $0 }' "$conf" |
	while read -r kind name; do
		out="$here/expected/$stem/$kind.$name"
		if ! "$EXIM" -C "$conf" -bP "$kind" "$name" >"$out" 2>"$out.err"; then
			echo "record.sh: exim failed on $stem $kind $name:" >&2
			cat "$out.err" >&2
			exit 1
		fi
		rm -f "$out.err"
	done
done
"$EXIM" -bV | head -1 >"$here/expected/VERSION"
echo "recorded $(ls "$here"/expected/*/* | wc -l) outputs"
