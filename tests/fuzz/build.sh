#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Builds the libFuzzer config target with clang, the config sources
# compiled with the same sanitizers (the project's C compiler is gcc).
# Usage: build.sh OUTPUT [CLANG]
set -euo pipefail
out=${1:?usage: build.sh OUTPUT [CLANG]}
cc=${2:-clang}
src=$(cd "$(dirname "$0")/../.." && pwd)
pcflags=$(pkg-config --cflags yaml-0.1 2>/dev/null || true)
pclibs=$(pkg-config --libs yaml-0.1 2>/dev/null || echo -lyaml)
# vipindex.c: the config check places VIPs in the datapath's index
pclibs="$pclibs $(pkg-config --libs libbpf 2>/dev/null || echo -lbpf)"
# shellcheck disable=SC2086
exec "$cc" -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers \
	-I"$src/lib" -I"$src/xdp" $pcflags \
	"$src/tests/fuzz/fuzz_config.c" "$src/lib/config.c" \
	"$src/lib/config_addr.c" "$src/lib/vipindex.c" \
	$pclibs -o "$out"
