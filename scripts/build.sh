#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Configure and build xlb into ./build (or $XLB_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${XLB_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
