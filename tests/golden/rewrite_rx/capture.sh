#!/bin/sh
# Queue each msg-* with Exim 4.96 under rewrite.conf and keep its -H file, masked (mask.sed).
here=$(cd "$(dirname "$0")" && pwd)
S=/tmp/rewrite-rx-capture
for m in "$here"/msg-*; do
	rm -rf $S; mkdir -p $S; chmod 777 $S
	exim -C "$here/rewrite.conf" -odq -f fp42@hitch.example r1@a.hitch.example r2@n.example < "$m" 2>/dev/null
	sed -E -f "$here/mask.sed" $S/input/*-H > "$m.H"
done
rm -rf $S
