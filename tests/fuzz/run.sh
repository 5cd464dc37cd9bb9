#!/bin/sh
# Run every fuzz target for SECONDS each, on a corpus seeded from tests/fuzz/seeds/<target>/.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
# Per target: tests/fuzz/<target>.dict is passed as -dict; tests/fuzz/<target>.options holds
# extra libFuzzer flags (e.g. -max_len=65536 for whole configuration files).
set -eu
build=$1
secs=${2:-30}
shift 2 || shift $#
here=$(cd "$(dirname "$0")" && pwd)
status=0
for exe in "$build"/tests/fuzz/fuzz_*; do
	[ -f "$exe" ] && [ -x "$exe" ] || continue
	name=$(basename "$exe")
	if [ $# -gt 0 ]; then
		case " $* " in *" $name "*) ;; *) continue ;; esac
	fi
	corpus="$here/corpus-$name"
	mkdir -p "$corpus"
	seeds="$here/seeds/$name"
	[ -d "$seeds" ] || seeds=""
	extra="-max_len=4096"
	[ -f "$here/$name.options" ] && extra=$(cat "$here/$name.options")
	[ -f "$here/$name.dict" ] && extra="$extra -dict=$here/$name.dict"
	echo "fuzz: $name for ${secs}s"
	# shellcheck disable=SC2086 # $extra and $seeds are word lists
	if ! "$exe" -max_total_time="$secs" $extra -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$here/crash-$name-" "$corpus" $seeds >"$build/$name.log" 2>&1; then
		echo "fuzz: $name FAILED; see $build/$name.log"
		tail -40 "$build/$name.log"
		status=1
	else
		# The last status line (cov:, ft:, corp:, exec/s) and the total.
		grep -E '^#[0-9]+' "$build/$name.log" | tail -1
		grep -E '^Done' "$build/$name.log" | tail -1
	fi
done
exit $status
