#!/bin/sh
# Record Exim 4.96's -bf/-bF output for every case: cases/NAME.filter is the filter,
# cases/NAME.args (optional) the extra options (-bF, -f, -bfl, -bfd, -bfp, -bfs) and the message
# file to read (a word ending in .eml; default message.eml). Output: cases/NAME.out (stdout and
# stderr, then "rc=N"). Run as root where Exim 4.96 is installed: sh record.sh [NAME...]
set -e
cd "$(dirname "$0")"
spool=$(mktemp -d)
trap 'rm -rf "$spool"' EXIT
sed "s|SPOOL|$spool|g" exim.conf > "$spool/exim.conf"
if [ $# -eq 0 ]; then set -- $(cd cases && ls *.filter | sed 's/\.filter$//'); fi
for name in "$@"; do
	args=""; msg=message.eml
	if [ -f "cases/$name.args" ]; then
		for w in $(cat "cases/$name.args"); do
			case "$w" in *.eml) msg=$w ;; *) args="$args $w" ;; esac
		done
	fi
	mode=-bf
	case " $args " in *" -bF "*) mode=-bF; args=$(echo "$args" | sed 's/ -bF / /; s/ -bF$//') ;; esac
	(cd cases && set +e; exim -C "$spool/exim.conf" $mode "$name.filter" $args \
		< "../$msg" > "$name.out" 2>&1; echo "rc=$?" >> "$name.out")
done
