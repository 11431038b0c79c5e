#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Install every Debian package xlb's build, tests, lab and benchmarks need.
# Idempotent: installs only what is missing; nothing comes from elsewhere.
set -euo pipefail

PKGS=(
	build-essential cmake pkg-config git
	clang llvm clang-format
	libbpf-dev libxdp-dev xdp-tools bpftool libelf-dev zlib1g-dev
	linux-libc-dev libmnl-dev libyaml-dev libcriterion-dev
	iproute2 iputils-ping curl socat ethtool procps kmod
	valgrind libclang-rt-14-dev bird2
)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: needs root to install packages (run it with sudo)" >&2
	exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps.sh: all ${#PKGS[@]} packages present"
	exit 0
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# bird2's package may start a daemon where an init system runs; the lab
# starts its own BIRD instances, so stop the system one if it came up.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q bird 2>/dev/null; then
	systemctl stop bird || true
	systemctl disable bird >/dev/null 2>&1 || true
fi
