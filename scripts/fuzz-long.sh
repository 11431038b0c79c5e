#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Long fuzzing runs, beyond what ctest does: the config loader under
# libFuzzer (ASan+UBSan) for a time, and the packet fuzzer over many seeds.
#
# Usage: scripts/fuzz-long.sh [config|packets|all] (default all)
# Environment:
#   XLB_BUILD_DIR      build directory (default build)
#   FUZZ_CONFIG_TIME   seconds for the config fuzzer (default 3600)
#   FUZZ_CONFIG_JOBS   parallel libFuzzer workers (default: CPUs)
#   FUZZ_PACKET_RUNS   packet fuzzer runs, one seed each (default 20)
#   FUZZ_PACKET_N      random inputs per packet run (default 5000000)
# Findings: config crashes land in $XLB_BUILD_DIR/tests/fuzz/long/artifacts,
# packet failures in tests/packet/fuzz_corpus (both replayed by ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
build=${XLB_BUILD_DIR:-build}
what=${1:-all}
rc=0

config() {
	local t=${FUZZ_CONFIG_TIME:-3600} j=${FUZZ_CONFIG_JOBS:-$(nproc)}
	cmake --build "$build" --target fuzz_config
	echo "fuzz-long: config loader for ${t}s on $j workers"
	bash "$src/tests/fuzz/run.sh" "$build/tests/fuzz/fuzz_config" \
		"$build/tests/fuzz/long" -max_total_time="$t" \
		-jobs="$j" -workers="$j" -print_final_stats=1 || rc=1
}

packets() {
	local runs=${FUZZ_PACKET_RUNS:-20} n=${FUZZ_PACKET_N:-5000000} i seed
	if [ "$(id -u)" -ne 0 ]; then
		echo "fuzz-long: the packet fuzzer loads BPF: run as root" >&2
		rc=1
		return
	fi
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	cmake --build "$build" --target packet_test_fuzz
	for ((i = 0; i < runs; i++)); do
		seed=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
		echo "fuzz-long: packets run $((i + 1))/$runs, seed $seed, $n inputs"
		XLB_FUZZ_SEED=$seed XLB_FUZZ_N=$n \
			"$build/tests/packet_test_fuzz" --jobs 1 || rc=1
	done
}

case "$what" in
config) config ;;
packets) packets ;;
all)
	config
	packets
	;;
*)
	echo "usage: $0 [config|packets|all]" >&2
	exit 2
	;;
esac
[ "$rc" -eq 0 ] && echo "fuzz-long: no failure" || echo "fuzz-long: FAILURES above"
exit "$rc"
