#!/bin/sh
# Re-record the appendfile goldens with Debian's Exim 4.96 (run as root):
#   tests/golden/appendfile/record.sh
# For each case: the message is queued (-odq), its -H and -D are kept as <case>-H / <case>-D,
# then Exim delivers it (-M) through the transport named t_<case> of exim.conf, and what it
# wrote is kept as <case>.out (for maildir cases: the one file in new/). test_appendfile.c
# delivers the same spool files through the same transport settings and compares bytes (the
# date on mbox "From " lines is the delivery time, so it is compared as "DATE").
set -e
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/af-record-XXXXXX)
chmod 755 "$work"
mkdir -p "$work/spool" "$work/mail"
chown rtuser "$work/mail"
sed "s|@WORK@|$work|g" "$here/exim.conf" > "$work/exim.conf"
for case in mbox bounce crlf maildir bsmtp; do
	sender=sender@x.example
	[ "$case" = bounce ] && sender=
	exim -C "$work/exim.conf" -odq -f "$sender" "$case@test.example" < "$here/message"
	id=$(ls "$work/spool/input" | sed -n 's/-H$//p' | head -1)
	cp "$work/spool/input/$id-H" "$here/$case-H"
	cp "$work/spool/input/$id-D" "$here/$case-D"
	exim -C "$work/exim.conf" -M "$id"
	if [ "$case" = maildir ]; then
		cp "$work/mail/Maildir/new/"* "$here/$case.out"
	else
		cp "$work/mail/$case" "$here/$case.out"
	fi
done
grep -v 'purging\|Suggested' "$work/mainlog" || true
rm -rf "$work"
