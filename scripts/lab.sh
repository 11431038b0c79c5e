#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The xlb lab: clients, a router, one or two balancers and backends in
# network namespaces, wired with veths (docs/operations.md has the map).
#
#   lab.sh up [--balancers 1|2] [--backends N]   build it (tears down first)
#   lab.sh down                                  remove everything (idempotent)
#   lab.sh status                                what is up
#   lab.sh exec NODE CMD...                      run CMD in NODE's netns
#   lab.sh xlbctl [--lb N] ARGS...               xlbctl inside balancer N
#   lab.sh vip-route all|N                       router sends VIPs to all/N
#
# Sourcing the file (". scripts/lab.sh") defines the same as lab_* functions
# and the addressing helpers, for the e2e tests. Every namespace, interface
# and pin starts with $XLB_LAB_PREFIX (default xlbl).

LAB_P=${XLB_LAB_PREFIX:-xlbl}
LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB_BUILD=${XLB_BUILD:-$LAB_SRC/build}
LAB_RUN=/run/xlb-lab/$LAB_P
# Debian's interpreter starts in 30 ms; a pyenv shim first on PATH takes 0.4 s.
LAB_PY=$([ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
LAB_SERVER=$LAB_SRC/tests/e2e/backend_server.py

# VIP prefixes the router sends to the balancers, and the VIPs every
# backend has on lo (configs pick from these).
LAB_VIP4_NET=10.0.0.0/24
LAB_VIP6_NET=fd00:a::/64
LAB_VIPS4="10.0.0.10 10.0.0.11 10.0.0.12 10.0.0.13 10.0.0.14 10.0.0.15"
LAB_VIPS6="fd00:a::10 fd00:a::11 fd00:a::12 fd00:a::13 fd00:a::14 fd00:a::15"
# Backend service ports (tests/e2e/backend_server.py).
LAB_HTTP_PORT=80
LAB_STREAM_PORT=9000
LAB_UDP_PORT=9001
# Every link; the VIP path (client -> router -> balancer -> router ->
# backend) must carry a full 1500-byte client packet to the balancer, and
# the balancer's mtu setting (1500) makes it answer "too big" for packets
# that would not fit once encapsulated.
LAB_MTU=1500
LAB_CLIENTS=2

# ---- addressing -------------------------------------------------------------
# Each host has a point-to-point /24 (and /64) to the router: host .2 (::2),
# router .1 (::1). Link numbers: client N = N, balancer N = 10+N,
# backend N = 20+N; they also make the MACs (02:00:00:00:LL:01 router side,
# :02 host side).

lab_ns() { echo "$LAB_P-$1"; }                # netns of node c1, rt, lb1, be2
lab_if() { echo "$LAB_P-$1"; }                # node's interface to the router
lab_rif() { echo "$LAB_P-r-$1"; }             # router's interface to node
lab_v4() {                                    # lab_v4 NODE [router]
	local net
	case $1 in
	c*) net=10.100.${1#c} ;;
	lb*) net=10.200.${1#lb} ;;
	be*) net=10.1.${1#be} ;;
	*) return 1 ;;
	esac
	if [ "${2:-}" = router ]; then echo "$net.1"; else echo "$net.2"; fi
}
lab_v6() {
	local net
	case $1 in
	c*) net=fd00:100:${1#c}: ;;
	lb*) net=fd00:200:${1#lb}: ;;
	be*) net=fd00:1:${1#be}: ;;
	*) return 1 ;;
	esac
	if [ "${2:-}" = router ]; then echo "$net:1"; else echo "$net:2"; fi
}
lab_link_no() {
	case $1 in
	c*) echo $((${1#c})) ;;
	lb*) echo $((10 + ${1#lb})) ;;
	be*) echo $((20 + ${1#be})) ;;
	esac
}
lab_mac() { printf '02:00:00:00:%02x:%s' "$(lab_link_no "$1")" "$2"; }

# Run a command in a node's netns. nsenter keeps the caller's mounts (bpffs
# pins stay visible); `ip netns exec` would remount /sys and hide them.
lab_exec() {
	local node=$1
	shift
	nsenter --net="/run/netns/$(lab_ns "$node")" "$@"
}

lab_xlbctl_bin() {
	local b
	for b in "${XLBCTL:-}" "$LAB_BUILD/ctl/xlbctl" "$LAB_BUILD/xlbctl"; do
		if [ -n "$b" ] && [ -x "$b" ]; then
			echo "$b"
			return 0
		fi
	done
	echo "lab: xlbctl not found in $LAB_BUILD (set XLB_BUILD to the build directory, or run ./scripts/build.sh)" >&2
	return 1
}

# lab_xlbctl [--lb N] ARGS...: xlbctl inside balancer N (default 1).
lab_xlbctl() {
	local lb=1 bin
	if [ "${1:-}" = --lb ]; then
		lb=$2
		shift 2
	fi
	bin=$(lab_xlbctl_bin) || return 1
	lab_exec "lb$lb" "$bin" "$@"
}

lab_nodes() { # the nodes that exist, router first
	ip netns list 2>/dev/null | awk '{print $1}' |
		sed -n "s/^$LAB_P-//p" | sort
}

lab_sysctl() { # lab_sysctl NODE key=value...
	local node=$1 kv
	shift
	for kv in "$@"; do
		lab_exec "$node" sysctl -qw "$kv" >/dev/null
	done
}

# lab_alive PID: the process runs (exists and is not a zombie).
lab_alive() {
	[ -e "/proc/$1" ] && ! grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

lab_die() {
	echo "lab: $*" >&2
	return 1
}

# ---- up ---------------------------------------------------------------------

lab_add_node() {
	local node=$1
	ip netns add "$(lab_ns "$node")"
	lab_exec "$node" ip link set lo up
	# IPv6 addresses usable at once (no DAD wait), no autoconfiguration.
	lab_sysctl "$node" net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
}

# Link a node to the router: addresses, MACs, static neighbours both ways,
# default routes via the router.
lab_add_link() {
	local node=$1 ifn rif
	ifn=$(lab_if "$node")
	rif=$(lab_rif "$node")
	ip link add "$ifn" netns "$(lab_ns "$node")" address "$(lab_mac "$node" 02)" mtu $LAB_MTU type veth \
		peer name "$rif" netns "$(lab_ns rt)" address "$(lab_mac "$node" 01)" mtu $LAB_MTU
	lab_exec "$node" ip addr add "$(lab_v4 "$node")/24" dev "$ifn"
	lab_exec "$node" ip -6 addr add "$(lab_v6 "$node")/64" dev "$ifn" nodad
	lab_exec rt ip addr add "$(lab_v4 "$node" router)/24" dev "$rif"
	lab_exec rt ip -6 addr add "$(lab_v6 "$node" router)/64" dev "$rif" nodad
	lab_exec "$node" ip link set "$ifn" up
	lab_exec rt ip link set "$rif" up
	lab_exec "$node" ip neigh replace "$(lab_v4 "$node" router)" lladdr "$(lab_mac "$node" 01)" dev "$ifn" nud permanent
	lab_exec "$node" ip -6 neigh replace "$(lab_v6 "$node" router)" lladdr "$(lab_mac "$node" 01)" dev "$ifn" nud permanent
	lab_exec rt ip neigh replace "$(lab_v4 "$node")" lladdr "$(lab_mac "$node" 02)" dev "$rif" nud permanent
	lab_exec rt ip -6 neigh replace "$(lab_v6 "$node")" lladdr "$(lab_mac "$node" 02)" dev "$rif" nud permanent
	lab_exec "$node" ip route add default via "$(lab_v4 "$node" router)" dev "$ifn"
	lab_exec "$node" ip -6 route add default via "$(lab_v6 "$node" router)" dev "$ifn"
}

# lab_vip_route all|N: the router's routes for the VIP prefixes: ECMP over
# every balancer, or only balancer N.
lab_vip_route() {
	local which=${1:-all} lbs=() lb a4=() a6=()
	if [ "$which" = all ]; then
		mapfile -t lbs < <(lab_nodes | grep '^lb')
	else
		lbs=("lb$which")
	fi
	[ ${#lbs[@]} -gt 0 ] || lab_die "vip-route: no balancer ${which}" || return 1
	for lb in "${lbs[@]}"; do
		[ -e "/run/netns/$(lab_ns "$lb")" ] || lab_die "vip-route: balancer $lb is not up" || return 1
		a4+=(nexthop via "$(lab_v4 "$lb")" dev "$(lab_rif "$lb")")
		a6+=(nexthop via "$(lab_v6 "$lb")" dev "$(lab_rif "$lb")")
	done
	if [ ${#lbs[@]} -eq 1 ]; then
		lab_exec rt ip route replace $LAB_VIP4_NET via "$(lab_v4 "${lbs[0]}")" dev "$(lab_rif "${lbs[0]}")" &&
			lab_exec rt ip -6 route replace $LAB_VIP6_NET via "$(lab_v6 "${lbs[0]}")" dev "$(lab_rif "${lbs[0]}")" ||
			lab_die "vip-route: cannot route the VIPs via ${lbs[0]}" || return 1
	else
		# IPv6 multipath: delete first, `replace` would append a path
		lab_exec rt ip -6 route del $LAB_VIP6_NET 2>/dev/null || true
		lab_exec rt ip route replace $LAB_VIP4_NET "${a4[@]}" &&
			lab_exec rt ip -6 route add $LAB_VIP6_NET "${a6[@]}" ||
			lab_die "vip-route: cannot set the ECMP routes via ${lbs[*]}" || return 1
	fi
	# the router caches nothing per flow: the next packet of every flow
	# takes the new route
}

lab_start_server() {
	local node=$1 ready=$LAB_RUN/$1.ready
	rm -f "$ready"
	# nsenter and setsid exec (no fork): $! is the server's own pid; fd 9
	# (the e2e tests' lock) stays behind
	nsenter --net="/run/netns/$(lab_ns "$node")" setsid "$LAB_PY" "$LAB_SERVER" serve --name "$node" \
		--http $LAB_HTTP_PORT --stream $LAB_STREAM_PORT --udp $LAB_UDP_PORT \
		--ready "$ready" >"$LAB_RUN/$node.log" 2>&1 </dev/null 9>&- &
	echo $! >"$LAB_RUN/$node.pid"
}

lab_wait_servers() {
	local node i
	for node in "$@"; do
		for ((i = 0; i < 100; i++)); do
			[ -s "$LAB_RUN/$node.ready" ] && break
			sleep 0.05
		done
		[ -s "$LAB_RUN/$node.ready" ] ||
			lab_die "the server on $node did not start within 5 s: $(tail -3 "$LAB_RUN/$node.log")" || return 1
	done
}

# lab_up ARGS: build the lab. Runs as its own process so that `set -e`
# holds even when the caller tests the result (`lab_up || ...` would
# silently switch errexit off inside a function); on a failure the partial
# lab is removed again.
lab_up() {
	"$BASH" "$LAB_SRC/scripts/lab.sh" up "$@"
}

lab__up() {
	local nlb=1 nbe=4 i node lbs=() bes=() vip
	while [ $# -gt 0 ]; do
		case $1 in
		--balancers) nlb=$2; shift 2 ;;
		--backends) nbe=$2; shift 2 ;;
		*) lab_die "up: unknown option '$1' (use --balancers N, --backends N)"; return 1 ;;
		esac
	done
	[[ $nlb =~ ^[12]$ ]] || lab_die "up: --balancers must be 1 or 2, not '$nlb'" || return 1
	[[ $nbe =~ ^[1-9]$ ]] || lab_die "up: --backends must be 1..9, not '$nbe'" || return 1
	[ "$(id -u)" -eq 0 ] || lab_die "up: needs root (network namespaces)" || return 1
	local o
	for o in "$LAB_BUILD/xdp/decap.bpf.o" "$LAB_BUILD/xdp/pass.bpf.o"; do
		[ -f "$o" ] || lab_die "up: $o is missing: build first (./scripts/build.sh) or set XLB_BUILD" || return 1
	done
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

	lab_down
	mkdir -p "$LAB_RUN"
	for ((i = 1; i <= nlb; i++)); do lbs+=("lb$i"); done
	for ((i = 1; i <= nbe; i++)); do bes+=("be$i"); done

	lab_add_node rt
	lab_sysctl rt net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.fib_multipath_hash_policy=1 \
		net.ipv6.fib_multipath_hash_policy=1
	for ((i = 1; i <= LAB_CLIENTS; i++)); do
		lab_add_node "c$i"
		lab_add_link "c$i"
		# A local sender on a veth leaves TCP/UDP checksums to "the
		# hardware" (CHECKSUM_PARTIAL); once XDP has rewritten the
		# frame nothing fills them in and the backend drops the
		# packet. A NIC never hands XDP such a packet: sum in software.
		lab_exec "c$i" ethtool -K "$(lab_if "c$i")" tx off >/dev/null
	done
	for node in "${lbs[@]}"; do
		lab_add_node "$node"
		lab_add_link "$node"
		# the router end must run XDP for the balancer's XDP_TX frames
		# to be received (a veth peer without NAPI drops them)
		lab_exec rt ip link set dev "$(lab_rif "$node")" xdpdrv \
			obj "$LAB_BUILD/xdp/pass.bpf.o" sec xdp
	done
	for node in "${bes[@]}"; do
		lab_add_node "$node"
		# DSR: the VIP is local (lo) but never announced; the source of
		# a decapsulated packet is a client, not our link's subnet
		lab_sysctl "$node" net.ipv4.conf.all.arp_ignore=1 \
			net.ipv4.conf.default.arp_ignore=1 \
			net.ipv4.conf.all.arp_announce=2 \
			net.ipv4.conf.default.arp_announce=2 \
			net.ipv4.conf.all.rp_filter=0 \
			net.ipv4.conf.default.rp_filter=0
		lab_add_link "$node"
		for vip in $LAB_VIPS4; do
			lab_exec "$node" ip addr add "$vip/32" dev lo
		done
		for vip in $LAB_VIPS6; do
			lab_exec "$node" ip -6 addr add "$vip/128" dev lo nodad
		done
		lab_exec "$node" ip link set dev "$(lab_if "$node")" xdpdrv \
			obj "$LAB_BUILD/xdp/decap.bpf.o" sec xdp
		lab_start_server "$node"
	done
	lab_vip_route all
	lab_wait_servers "${bes[@]}"
	echo "lab: up: ${LAB_CLIENTS} clients, router, ${#lbs[@]} balancer(s) (${lbs[*]}), ${#bes[@]} backends; VIPs $LAB_VIP4_NET $LAB_VIP6_NET via ${lbs[*]}"
}

# ---- down -------------------------------------------------------------------

lab_down() {
	local node pid ns bin
	# 1. the balancers' pins (xlbctl's, else remove them ourselves)
	bin=$(lab_xlbctl_bin 2>/dev/null) || bin=
	for node in $(lab_nodes | grep '^lb' || true); do
		if [ -n "$bin" ] && [ -d "/sys/fs/bpf/xlb/$(lab_if "$node")" ]; then
			timeout 10 nsenter --net="/run/netns/$(lab_ns "$node")" \
				"$bin" unload -i "$(lab_if "$node")" >/dev/null 2>&1 || true
		fi
	done
	# 2. our servers, by the pids we recorded
	if [ -d "$LAB_RUN" ]; then
		for pid in $(cat "$LAB_RUN"/*.pid 2>/dev/null); do
			kill "$pid" 2>/dev/null || true
		done
	fi
	# 3. whatever else runs in our namespaces (clients a test left), then
	#    the namespaces; their veths go with them
	for node in $(lab_nodes); do
		ns=$(lab_ns "$node")
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf /sys/fs/bpf/xlb/"$LAB_P"-* 2>/dev/null || true
	# `ip link set ... obj` leaves iproute2's bpffs directories (tc/globals
	# and its ip/xdp links): remove them while nothing is pinned in them
	if [ -d /sys/fs/bpf/tc ] &&
		[ -z "$(find /sys/fs/bpf/tc -mindepth 1 -not -type d 2>/dev/null)" ]; then
		find /sys/fs/bpf/tc -depth -type d -empty -delete 2>/dev/null || true
		for d in /sys/fs/bpf/ip /sys/fs/bpf/xdp; do
			[ -L "$d" ] && rm -f "$d"
		done
	fi
	rmdir /sys/fs/bpf/xdp/globals /sys/fs/bpf/xdp 2>/dev/null || true
	rm -rf "$LAB_RUN"
	return 0
}

# ---- status -----------------------------------------------------------------

# lab_xdp_desc NODE IFACE: "XDP native xlb_main (id 12)" or nothing.
lab_xdp_desc() {
	lab_exec "$1" ip -j link show dev "$2" 2>/dev/null | "$LAB_PY" -c '
import json, sys
x = json.load(sys.stdin)[0].get("xdp")
if x:
    mode = {1: "native", 2: "generic", 3: "offload"}.get(x.get("mode"), "mode %s" % x.get("mode"))
    p = x.get("prog", {})
    print("XDP %s %s (id %s)" % (mode, p.get("name", "?"), p.get("id", "?")))'
}

lab_status() {
	local nodes node bin pid
	mapfile -t nodes < <(lab_nodes)
	if [ ${#nodes[@]} -eq 0 ]; then
		echo "lab ($LAB_P): down"
		return 0
	fi
	echo "lab ($LAB_P): ${nodes[*]}"
	for node in "${nodes[@]}"; do
		[ "$node" = rt ] && continue
		printf '  %-4s %-16s %-15s %-16s %s\n' "$node" "$(lab_if "$node")" \
			"$(lab_v4 "$node")" "$(lab_v6 "$node")" "$(lab_xdp_desc "$node" "$(lab_if "$node")")"
	done
	for node in "${nodes[@]}"; do
		[[ $node == lb* ]] || continue
		echo "  router end $(lab_rif "$node"): $(lab_xdp_desc rt "$(lab_rif "$node")")"
	done
	echo "  router routes for the VIPs:"
	lab_exec rt ip route show $LAB_VIP4_NET | sed 's/^/    /'
	lab_exec rt ip -6 route show $LAB_VIP6_NET | sed 's/^/    /'
	echo "  backend servers:"
	for node in "${nodes[@]}"; do
		[[ $node == be* ]] || continue
		pid=$(cat "$LAB_RUN/$node.pid" 2>/dev/null || true)
		if [ -n "$pid" ] && lab_alive "$pid"; then
			echo "    $node: running (pid $pid)"
		else
			echo "    $node: NOT running"
		fi
	done
	bin=$(lab_xlbctl_bin 2>/dev/null) || bin=
	for node in "${nodes[@]}"; do
		[[ $node == lb* ]] || continue
		if [ -n "$bin" ] && [ -d "/sys/fs/bpf/xlb/$(lab_if "$node")" ]; then
			echo "  xlbctl status on $node:"
			lab_exec "$node" "$bin" status -i "$(lab_if "$node")" 2>&1 | sed 's/^/    /'
		else
			echo "  $node: xlb not loaded"
		fi
	done
}

# ---- command line -----------------------------------------------------------

lab_main() {
	set -euo pipefail
	local cmd=${1:-}
	[ $# -gt 0 ] && shift
	case $cmd in
	up)
		trap 'rc=$?; [ $rc -eq 0 ] || { echo "lab: up failed (exit $rc); removing the partial lab" >&2; lab_down; }' EXIT
		lab__up "$@"
		;;
	down) lab_down ;;
	status) lab_status ;;
	exec)
		[ $# -ge 2 ] || lab_die "usage: lab.sh exec NODE CMD..."
		lab_exec "$@"
		;;
	xlbctl) lab_xlbctl "$@" ;;
	vip-route) lab_vip_route "$@" ;;
	*)
		sed -n '3,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		[ -z "$cmd" ] || [ "$cmd" = help ] || [ "$cmd" = -h ] || return 2
		;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	lab_main "$@"
fi
