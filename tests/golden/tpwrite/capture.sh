#!/bin/sh
# Record Exim 4.96's transport output for the goldens (run as root on a machine with Debian's
# exim4; the config needs /etc/exim4/trusted_configs or runs with privileges dropped, which is
# fine for these deliveries as Debian-exim). For each case "<name> <transport> <message>":
# <name>-H and <name>-D are the spool files Exim wrote, <name>.out what its transport wrote.
set -e
here=$(cd "$(dirname "$0")" && pwd)
S=/tmp/tpwrite-capture
rm -rf $S; mkdir -p $S/spool $S/out; chmod 777 $S $S/spool $S/out
while read -r name tp msg; do
	case "$name" in ''|'#'*) continue ;; esac
	rm -rf $S/spool/input $S/spool/msglog $S/out/mbox
	printf '%s' "$tp" > $S/tp
	exim -C "$here/exim.conf" -odq -f sender@s.example u1@test.example < "$here/$msg" 2>/dev/null
	id=$(ls $S/spool/input | sed -n 's/-H$//p' | head -1)
	cp $S/spool/input/$id-H "$here/$name-H"
	cp $S/spool/input/$id-D "$here/$name-D"
	exim -C "$here/exim.conf" -M $id 2>/dev/null
	cp $S/out/mbox "$here/$name.out"
done < "$here/cases"
rm -rf $S
