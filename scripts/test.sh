#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Install dependencies, build, and run every test (unit, packet, e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
cd "${XLB_BUILD_DIR:-build}"
ctest --output-on-failure "$@"
