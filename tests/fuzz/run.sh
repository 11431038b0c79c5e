#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Runs the config fuzzer from the seed corpus (configs/*.yaml, up to
# 16 KiB each) in a scratch corpus directory; extra arguments go to
# libFuzzer (the ctest run passes -runs=20000; scripts/fuzz-long.sh a time).
# Usage: run.sh FUZZER WORKDIR [libFuzzer args...]
set -euo pipefail
fuzzer=${1:?usage: run.sh FUZZER WORKDIR [args]}
work=${2:?usage: run.sh FUZZER WORKDIR [args]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)

if [ ! -x "$fuzzer" ]; then
	echo "run.sh: $fuzzer not built; build the fuzz_config target" >&2
	exit 1
fi
mkdir -p "$work/corpus" "$work/artifacts"
work=$(cd "$work" && pwd)
fuzzer=$(realpath "$fuzzer")
for f in "$src"/configs/*.yaml; do
	[ "$(stat -c %s "$f")" -le 16384 ] && cp -f "$f" "$work/corpus/"
done
# Leaks are errors; UBSan stops at the first report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
rc=0
# libFuzzer's -jobs mode writes fuzz-N.log into the current directory
cd "$work"
"$fuzzer" -max_len=8192 -dict="$here/config.dict" \
	-artifact_prefix="$work/artifacts/" "$@" "$work/corpus" || rc=$?
if [ "$rc" -ne 0 ]; then
	echo "run.sh: the fuzzer failed (exit $rc); the input is in" \
		"$work/artifacts/ - replay it with: $fuzzer FILE" >&2
fi
exit "$rc"
