#!/bin/sh
# Record Exim 4.96's -brw output for each line of "addresses" under rewrite.conf into
# expected.txt (stdout and stderr together; log timestamps are masked, as the test masks ours).
here=$(cd "$(dirname "$0")" && pwd)
while IFS= read -r a; do
	echo "=== $a"
	mkdir -p /tmp/brw-golden; exim -C "$here/rewrite.conf" -brw "$a" 2>&1
	echo "rc=$?"
done < "$here/addresses" | sed -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} /TIMESTAMP /' > "$here/expected.txt"
