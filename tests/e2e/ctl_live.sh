#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# xlbctl with live traffic: load on a veth in a throw-away netns, ping a VIP
# from the peer netns (answered by XDP), send TCP to the VIP and see it
# leave IPIP-encapsulated toward a backend, check the counters, reload,
# then unload and check nothing is left. Needs root.
set -euo pipefail

B=${XLB_BUILD:?set XLB_BUILD to the build directory}
CTL=$B/ctl/xlbctl
ID=$$
LB=xct${ID}l GW=xct${ID}g IF=xct${ID}a PEER=xct${ID}b
CFG=$(mktemp /tmp/xct${ID}.XXXX.yaml)
PCAP=$(mktemp /tmp/xct${ID}.XXXX.pcap)
TD=""

ctl() { nsenter --net=/run/netns/$LB "$CTL" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
	[ -n "$TD" ] && kill "$TD" 2>/dev/null || true
	ctl unload -i $IF >/dev/null 2>&1 || true
	rm -rf /sys/fs/bpf/xlb/$IF 2>/dev/null || true
	rmdir /sys/fs/bpf/xlb 2>/dev/null || true
	ip netns del $LB 2>/dev/null || true
	ip netns del $GW 2>/dev/null || true
	rm -f "$CFG" "$PCAP"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

ip netns add $LB
ip netns add $GW
ip link add $IF netns $LB type veth peer name $PEER netns $GW
ip -n $LB link set $IF up
ip -n $GW link set $PEER up
ip -n $LB addr add 192.0.2.1/24 dev $IF
ip -n $GW addr add 192.0.2.2/24 dev $PEER
ip -n $LB route add default via 192.0.2.2
ip -n $GW route add 10.0.0.0/24 via 192.0.2.1
# The gateway resolves the balancer's MAC first (XDP passes ARP).
ip netns exec $GW ping -c1 -W2 192.0.2.1 >/dev/null || fail "no IP path between the netns"

cat >"$CFG" <<YAML
interface: $IF
mode: generic
maglev_table_size: 251
conntrack_size: 4096
vips:
  - name: web
    address: 10.0.0.10
    port: 80
    protocol: tcp
    backends:
      - address: 10.1.0.1
      - address: 10.1.0.2
YAML

out=$(ctl load -c "$CFG") || fail "load: $out"
echo "$out"
case $out in *"loaded on $IF (generic mode) in "*" ms: 1 VIP, 2 backends"*) ;;
*) fail "unexpected load output: $out" ;; esac

# ICMP echo to the VIP is answered from XDP.
before=$(ctl stats -i $IF --prometheus | awk '/^xlb_packets_total\{reason="tx_icmp_echo"\}/ {print $2}')
ip netns exec $GW ping -c3 -i0.2 -W2 10.0.0.10 >/dev/null || fail "VIP does not answer ping"
after=$(ctl stats -i $IF --prometheus | awk '/^xlb_packets_total\{reason="tx_icmp_echo"\}/ {print $2}')
[ $((after - before)) -eq 3 ] || fail "tx_icmp_echo grew by $((after - before)), want 3"

# TCP to the VIP comes back out of the veth IPIP-encapsulated (XDP_TX).
ip netns exec $GW timeout 10 tcpdump -ni $PEER -c 3 -w "$PCAP" 'ip proto 4' >/dev/null 2>&1 &
TD=$!
sleep 1
for p in 1 2 3; do
	ip netns exec $GW timeout 1 bash -c "echo > /dev/tcp/10.0.0.10/80" 2>/dev/null || true
done
wait $TD || true
TD=""
dsts=$(tcpdump -nr "$PCAP" 2>/dev/null | grep -oE '> 10\.1\.0\.[12]: IP' | sort -u | wc -l)
tcpdump -nr "$PCAP" 2>/dev/null | head -3
[ "$dsts" -ge 1 ] || fail "no IPIP packet to a backend seen (captured: $(tcpdump -nr "$PCAP" 2>/dev/null | head -3))"
pk=$(ctl stats -i $IF --json | sed -n 's/.*"web": {"packets": \([0-9]*\),.*/\1/p')
[ "${pk:-0}" -ge 3 ] || fail "VIP web counted ${pk:-0} packets, want >= 3"

# --watch: rates while pinging, until SIGINT (exit 0).
ip netns exec $GW ping -c12 -i0.2 -W1 10.0.0.10 >/dev/null 2>&1 &
PING=$!
w=$(timeout --preserve-status -s INT 2.5 nsenter --net=/run/netns/$LB "$CTL" stats -i $IF --watch 1) ||
	fail "stats --watch did not exit 0 on SIGINT"
wait $PING || true
echo "$w" | grep -q 'VIP web 10.0.0.10:80/tcp: .* pps, .* bit/s' || fail "--watch output: $w"
echo "$w" | grep -Eq 'tx_icmp_echo +[1-9]' || fail "--watch shows no echo rate: $w"

# Reload: drain one backend, add one; status shows it.
sed -i 's/      - address: 10.1.0.2/      - address: 10.1.0.2\n        state: drain\n      - address: 10.1.0.3/' "$CFG"
out=$(ctl reload -c "$CFG") || fail "reload: $out"
echo "$out"
case $out in *"1 backend added"*"1 backend changed"*"1 ring rebuilt"*) ;;
*) fail "unexpected reload output: $out" ;; esac
ctl status -i $IF | grep -Eq '10\.1\.0\.2 +drain' || fail "status does not show the drain"

out=$(ctl unload -i $IF) || fail "unload: $out"
[ ! -e /sys/fs/bpf/xlb/$IF ] || fail "pins left in /sys/fs/bpf/xlb/$IF"
! ip -n $LB link show $IF | grep -q 'prog/xdp' || fail "XDP program left on $IF"
echo "PASS"
