#!/bin/sh
# Re-record expected.txt from Exim 4.96 (run as root in this directory): one line per case,
# "<name>\t<message file>\t<the verdict line of exim -bf>". The message file is message.eml for
# sem_* cases and message-plain.eml for the others. Cases where Exim crashes are not recorded.
set -e
cd "$(dirname "$0")"
spool=$(mktemp -d)
sed "s|SPOOL|$spool|" exim.conf > "$spool/exim.conf"
: > expected.txt
for f in *.sieve; do
	name=${f%.sieve}
	case $name in sem_*) msg=message.eml ;; *) msg=message-plain.eml ;; esac
	out=$(exim -C "$spool/exim.conf" -bf "$f" -f sender@example.net -bfl root -bfd vm < "$msg" 2>&1 | tail -1)
	case "$out" in *SIGSEGV*|*\)) continue ;; esac
	printf '%s\t%s\t%s\n' "$name" "$msg" "$out" >> expected.txt
done
rm -rf "$spool"
