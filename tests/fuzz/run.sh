#!/bin/sh
# Run every fuzz target for SECONDS each, on a corpus seeded from tests/fuzz/seeds/<target>/.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS
set -eu
build=$1
secs=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
status=0
for exe in "$build"/tests/fuzz/fuzz_*; do
	[ -f "$exe" ] && [ -x "$exe" ] || continue
	name=$(basename "$exe")
	corpus="$here/corpus-$name"
	mkdir -p "$corpus"
	seeds="$here/seeds/$name"
	[ -d "$seeds" ] || seeds=""
	echo "fuzz: $name for ${secs}s"
	if ! "$exe" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$here/crash-$name-" "$corpus" $seeds >"$build/$name.log" 2>&1; then
		echo "fuzz: $name FAILED; see $build/$name.log"
		tail -40 "$build/$name.log"
		status=1
	else
		grep -E '^(#[0-9]+|Done)' "$build/$name.log" | tail -1
	fi
done
exit $status
