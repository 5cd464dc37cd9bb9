#!/bin/sh
# Record Exim 4.96's -bP output for every configuration here, as the reference that
# tests/scenario/test_conf_bP_golden.py compares Postern against.
#
#   <name>.conf  ->  expected/<name>.all     exim -C <name>.conf -bP
#                    expected/<name>.config  exim -C <name>.conf -bP config
#                    expected/<name>.lists   exim -C <name>.conf -bP router_list transport_list authenticator_list
#                    expected/<name>.drivers exim -C <name>.conf -bP routers transports authenticators
#
# Run from anywhere; needs Debian's exim4 (4.96) installed. Configuration names are passed
# relative to this directory, as the test does, because -bP config prints them.
set -eu
cd "$(dirname "$0")"
command -v exim >/dev/null || { echo "record.sh: exim is not installed" >&2; exit 1; }
exim -bV | head -1 | grep -q 'version 4\.96' || echo "record.sh: warning: not Exim 4.96" >&2
mkdir -p expected
for conf in *.conf; do
	name=${conf%.conf}
	exim -C "$conf" -bP >"expected/$name.all"
	exim -C "$conf" -bP config >"expected/$name.config"
	exim -C "$conf" -bP router_list transport_list authenticator_list >"expected/$name.lists"
	exim -C "$conf" -bP routers transports authenticators >"expected/$name.drivers"
done
echo "recorded: $(ls expected | wc -l) files"
