#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# BGP scale-out: two balancers, each running `xlbctl run` and BIRD, peer
# with BIRD on the router, which installs an ECMP route for the VIP.
# Client flows reach the backends through both balancers; stopping one
# balancer's service withdraws its route and the flows it carried go on
# through the other to the same backends (established TCP survives:
# Maglev gives the same backend on every balancer). Needs root and bird.
set -euo pipefail

SRC=${XLB_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
export XLB_BUILD=${XLB_BUILD:?set XLB_BUILD to the build directory}
export XLB_LAB_PREFIX=xsvb
CTL=${XLBCTL:-$XLB_BUILD/ctl/xlbctl}
export XLBCTL=$CTL
# shellcheck source=../../scripts/lab.sh
. "$SRC/scripts/lab.sh"

WORK=$(mktemp -d /tmp/xsvb.XXXXXX)
VIP=10.0.0.10
VIP6=fd00:a::10
NSTREAMS=8
declare -A RUN_PID=()

fail() {
	local n
	echo "FAIL: $*" >&2
	for n in lb1 lb2; do
		echo "---- xlbctl run log of $n" >&2
		cat "$WORK/$n/run.log" >&2 2>/dev/null || true
	done
	echo "---- router: BIRD protocols, VIP route" >&2
	birdc -s "$WORK/rt/bird.ctl" show protocols >&2 2>/dev/null || true
	lab_exec rt ip route show $VIP >&2 2>/dev/null || true
	lab_exec rt ip -6 route show $VIP6 >&2 2>/dev/null || true
	birdc -s "$WORK/rt/bird.ctl" show route all >&2 2>/dev/null || true
	exit 1
}
cleanup() {
	local n
	for n in "${!RUN_PID[@]}"; do
		kill "${RUN_PID[$n]}" 2>/dev/null || true
		wait "${RUN_PID[$n]}" 2>/dev/null || true
	done
	for n in rt lb1 lb2; do
		if [ -s "$WORK/$n/bird.pid" ]; then kill "$(cat "$WORK/$n/bird.pid")" 2>/dev/null || true; fi
	done
	lab_down >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v bird >/dev/null || { echo "SKIP: bird (BIRD 2) is not installed"; exit 77; }
"$CTL" run --help >/dev/null 2>&1 ||
	fail "$CTL has no 'run' command (ctl/xlbctl.c must dispatch it to xlbctl_cmd_run)"

lab_up --balancers 2 --backends 2 >/dev/null
# Routes to the VIPs come from BGP only.
lab_exec rt ip route del $LAB_VIP4_NET
lab_exec rt ip -6 route del $LAB_VIP6_NET

mkdir -p "$WORK"/{rt,lb1,lb2}
bgp_timers="hold time 6; keepalive time 2; connect delay time 1;
	connect retry time 2; error wait time 1, 4; graceful restart off;"
cat >"$WORK/rt/bird.conf" <<EOF
router id $(lab_v4 lb1 router);
protocol device { scan time 2; }
# Several equal BGP paths for a VIP become one multipath kernel route.
protocol kernel {
	ipv4 { import none; export where source = RTS_BGP; };
	merge paths on;
}
protocol kernel {
	ipv6 { import none; export where source = RTS_BGP; };
	merge paths on;
}
template bgp balancer {
	local as 65000;
	$bgp_timers
	ipv4 { import all; export none; };
}
template bgp balancer6 {
	local as 65000;
	$bgp_timers
	ipv6 { import all; export none; };
}
protocol bgp lb1 from balancer { neighbor $(lab_v4 lb1) as 65001; source address $(lab_v4 lb1 router); }
protocol bgp lb2 from balancer { neighbor $(lab_v4 lb2) as 65001; source address $(lab_v4 lb2 router); }
protocol bgp lb1_6 from balancer6 { neighbor $(lab_v6 lb1) as 65001; source address $(lab_v6 lb1 router); }
protocol bgp lb2_6 from balancer6 { neighbor $(lab_v6 lb2) as 65001; source address $(lab_v6 lb2 router); }
EOF
for n in lb1 lb2; do
	: >"$WORK/$n/bird-vips.conf"
	cat >"$WORK/$n/bird.conf" <<EOF
router id $(lab_v4 $n);
protocol device { scan time 2; }
include "$WORK/$n/bird-vips.conf";
protocol bgp uplink {
	local $(lab_v4 $n) as 65001;
	neighbor $(lab_v4 $n router) as 65000;
	$bgp_timers
	ipv4 { import none; export where proto = "xlb_vips4"; };
}
protocol bgp uplink6 {
	local $(lab_v6 $n) as 65001;
	neighbor $(lab_v6 $n router) as 65000;
	$bgp_timers
	ipv6 { import none; export where proto = "xlb_vips6"; };
}
EOF
	cat >"$WORK/$n/xlb.yaml" <<EOF
interface: $(lab_if $n)
vips:
  - name: web
    address: $VIP
    port: 80
    protocol: tcp
    health_check: {type: tcp, interval_ms: 500, timeout_ms: 300}
    backends:
      - address: $(lab_v4 be1)
      - address: $(lab_v4 be2)
  - name: stream
    address: $VIP
    port: $LAB_STREAM_PORT
    protocol: tcp
    health_check: {type: tcp, interval_ms: 500, timeout_ms: 300}
    backends:
      - address: $(lab_v4 be1)
      - address: $(lab_v4 be2)
  - name: web6
    address: $VIP6
    port: 80
    protocol: tcp
    health_check: {type: tcp, interval_ms: 500, timeout_ms: 300}
    backends:
      - address: $(lab_v6 be1)
      - address: $(lab_v6 be2)
service:
  metrics_listen: 127.0.0.1:9100
  on_exit: keep
  bgp:
    enabled: true
    bird_socket: $WORK/$n/bird.ctl
    include_file: $WORK/$n/bird-vips.conf
EOF
done
for n in rt lb1 lb2; do
	# ip netns exec is fine for BIRD (it needs no bpffs pins).
	ip netns exec "$(lab_ns $n)" bird -c "$WORK/$n/bird.conf" -s "$WORK/$n/bird.ctl" \
		-P "$WORK/$n/bird.pid" || fail "bird did not start in $n"
done

start_run() { # start_run lbN
	: >"$WORK/$1/run.log"
	nsenter --net="/run/netns/$(lab_ns "$1")" "$CTL" run -c "$WORK/$1/xlb.yaml" \
		>"$WORK/$1/run.log" 2>&1 &
	RUN_PID[$1]=$!
}
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds
	local i t=$1
	shift
	for ((i = 0; i < t * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
route_of() { # route_of ADDR: the router's route for it
	case $1 in
	*:*) lab_exec rt ip -6 route show "$1" ;;
	*) lab_exec rt ip route show "$1" ;;
	esac
}
nexthops() { # nexthops [ADDR]: paths of the router's route (0: none)
	local a=${1:-$VIP}
	route_of "$a" | grep -c "nexthop via\\|^$a via" || true
}
has_nexthops() { # has_nexthops N PATTERN [ADDR]: N paths, the route matches PATTERN
	[ "$(nexthops "${3:-$VIP}")" -eq "$1" ] &&
		{ [ "$1" -eq 0 ] || route_of "${3:-$VIP}" | grep -q "$2"; }
}
vip_packets() { # vip_packets lbN VIPNAME: from xlbctl stats (service or not)
	lab_xlbctl --lb "${1#lb}" stats -i "$(lab_if "$1")" --prometheus |
		awk -v k="xlb_vip_packets_total{vip=\"$2\"}" '$1 == k {print $2}'
}

start_run lb1
start_run lb2
for n in lb1 lb2; do
	wait_for 10 grep -q 'event=start result=ok' "$WORK/$n/run.log" || fail "xlbctl run did not start on $n"
	wait_for 5 grep -q "event=bgp_announce prefix=$VIP/32" "$WORK/$n/run.log" || fail "$n did not announce $VIP"
done
grep -q "route $VIP/32 blackhole;" "$WORK/lb1/bird-vips.conf" || fail "include file lacks the route"

# ---- the router learns an ECMP route ---------------------------------------------
wait_for 30 has_nexthops 2 "$(lab_v4 lb2)" || fail "no ECMP route for $VIP on the router"
echo "router: $(lab_exec rt ip route show $VIP | tr '\n' ' ')"
wait_for 30 has_nexthops 2 "$(lab_v6 lb2)" $VIP6 || fail "no ECMP route for $VIP6 on the router"
echo "router: $(route_of $VIP6 | tr '\n' ' ')"
out=$(lab_exec c1 "$LAB_PY" "$LAB_SERVER" tcpflows $VIP6 80 --sport-base 23000 -n 30 --timeout 1) ||
	fail "IPv6 flows through the balancers failed: $out"
p1=$(vip_packets lb1 web6) p2=$(vip_packets lb2 web6)
echo "30 IPv6 flows: lb1 saw $p1 packets, lb2 $p2"
[ "${p1:-0}" -gt 0 ] || fail "IPv6 flows did not use lb1"
[ "${p2:-0}" -gt 0 ] || fail "IPv6 flows did not use lb2"

out=$(lab_exec c1 "$LAB_PY" "$LAB_SERVER" tcpflows $VIP 80 --sport-base 21000 -n 60 --timeout 1) ||
	fail "flows through the balancers failed: $out"
flows_before=$(echo "$out" | "$LAB_PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["flows"], sort_keys=True))')
p1=$(vip_packets lb1 web) p2=$(vip_packets lb2 web)
echo "60 flows: lb1 saw $p1 packets, lb2 $p2"
[ "${p1:-0}" -gt 0 ] || fail "no flow went through lb1 (lb1 $p1, lb2 $p2)"
[ "${p2:-0}" -gt 0 ] || fail "no flow went through lb2 (lb1 $p1, lb2 $p2)"

# ---- long-lived TCP streams, then lb1 stops --------------------------------------------
STOP=$WORK/stop
for ((i = 0; i < NSTREAMS; i++)); do
	lab_exec c1 "$LAB_PY" "$LAB_SERVER" stream $VIP "$LAB_STREAM_PORT" --stop "$STOP" \
		--started "$WORK/s$i.started" --timeout 5 --interval 0.02 >"$WORK/s$i.json" 2>&1 &
done
for ((i = 0; i < NSTREAMS; i++)); do
	wait_for 10 test -s "$WORK/s$i.started" || fail "stream $i did not start: $(cat "$WORK/s$i.json")"
done
s1a=$(vip_packets lb1 stream)
sleep 1
s1b=$(vip_packets lb1 stream)
echo "streams: lb1 carried $((s1b - s1a)) stream packets in 1 s"
[ $((s1b - s1a)) -gt 0 ] || fail "no stream went through lb1 (${NSTREAMS} streams): cannot test the failover"

kill -TERM "${RUN_PID[lb1]}"
wait "${RUN_PID[lb1]}" || fail "xlbctl run on lb1 exited with $? on SIGTERM"
unset 'RUN_PID[lb1]'
grep -q "event=bgp_withdraw prefix=$VIP/32" "$WORK/lb1/run.log" || fail "lb1 did not withdraw $VIP"
! grep -q "route $VIP/32" "$WORK/lb1/bird-vips.conf" || fail "lb1's include file still has the route"
wait_for 10 has_nexthops 1 "via $(lab_v4 lb2)" || fail "the router still routes $VIP to lb1"
wait_for 10 has_nexthops 1 "via $(lab_v6 lb2)" $VIP6 || fail "the router still routes $VIP6 to lb1"
echo "router after lb1 stopped: $(lab_exec rt ip route show $VIP | tr '\n' ' ')"

sleep 1
s1c=$(vip_packets lb1 stream)
sleep 1
s1d=$(vip_packets lb1 stream)
[ "$s1c" = "$s1d" ] || fail "lb1 still receives stream packets ($s1c -> $s1d)"
touch "$STOP"
wait_for 15 bash -c "for i in \$(seq 0 $((NSTREAMS - 1))); do grep -q '\"ok\"' $WORK/s\$i.json || exit 1; done" ||
	fail "streams did not finish"
for ((i = 0; i < NSTREAMS; i++)); do
	grep -q '"ok": true' "$WORK/s$i.json" || fail "stream $i broke: $(cat "$WORK/s$i.json")"
done
echo "all $NSTREAMS streams kept their connection (byte count and hash match)"

# The same flows (source ports) reach the same backends through lb2 alone.
out=$(lab_exec c1 "$LAB_PY" "$LAB_SERVER" tcpflows $VIP 80 --sport-base 21000 -n 60 --timeout 1) ||
	fail "flows after lb1 stopped failed: $out"
flows_after=$(echo "$out" | "$LAB_PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["flows"], sort_keys=True))')
[ "$flows_before" = "$flows_after" ] || fail "flows changed backend: before $flows_before after $flows_after"

# lb1 comes back: announced again, ECMP again.
start_run lb1
wait_for 30 has_nexthops 2 "$(lab_v4 lb1)" || fail "lb1's route did not come back"

# No healthy backend left: both balancers withdraw the VIP.
for b in be1 be2; do kill "$(cat "$LAB_RUN/$b.ready")"; done
for n in lb1 lb2; do
	wait_for 10 grep -q "event=bgp_withdraw prefix=$VIP/32" "$WORK/$n/run.log" ||
		fail "$n did not withdraw $VIP with every backend down"
done
wait_for 10 has_nexthops 0 . || fail "the router still has a route for $VIP"
# A backend back: announced again.
lab_start_server be2
lab_wait_servers be2
wait_for 30 has_nexthops 2 "$(lab_v4 lb2)" || fail "$VIP not announced again after be2 came back"
echo "PASS"
