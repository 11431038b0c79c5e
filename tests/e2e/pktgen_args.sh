#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# scripts/pktgen.sh argument handling: bad arguments are usage errors
# (exit 2, a message naming the problem), --dry-run prints the pktgen
# commands without touching /proc, and a real run without pktgen or
# without the interface fails (exit 1) before writing anything.
set -uo pipefail
src=${XLB_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
pg="$src/scripts/pktgen.sh"
fails=0
out=$(mktemp /tmp/xlbb-pgargs.XXXXXX)
trap 'rm -f "$out"' EXIT

# expect STATUS PATTERN ARGS...: exit status and a line of output
# (stdout+stderr) matching PATTERN (grep -E)
expect() {
	local want=$1 pat=$2 rc
	shift 2
	bash "$pg" "$@" >"$out" 2>&1
	rc=$?
	if [ $rc -ne "$want" ] || ! grep -Eq -- "$pat" "$out"; then
		echo "FAIL: pktgen.sh $* -> exit $rc (want $want), output:"
		sed 's/^/    /' "$out"
		echo "    (wanted a line matching: $pat)"
		fails=$((fails + 1))
	else
		echo "ok: pktgen.sh $* -> $want"
	fi
}

ok=(-d xlbbdev0 -m 02:00:00:00:00:02 -a 10.0.0.10)

# help
expect 0 '^usage: pktgen.sh -d DEV' --help
expect 0 'modprobe pktgen' -h

# usage errors: each names what is wrong
expect 2 '-d DEV is required' -m 02:00:00:00:00:02 -a 10.0.0.10
expect 2 '-m DST_MAC is required' -d xlbbdev0 -a 10.0.0.10
expect 2 '-a VIP is required' -d xlbbdev0 -m 02:00:00:00:00:02
expect 2 "invalid MAC address '02:00:00:00:02'" -d xlbbdev0 -m 02:00:00:00:02 -a 10.0.0.10
expect 2 "invalid VIP address '10.0.0.256'" -d xlbbdev0 -m 02:00:00:00:00:02 -a 10.0.0.256
expect 2 "invalid VIP address 'web'" -d xlbbdev0 -m 02:00:00:00:00:02 -a web
expect 2 "invalid port '0'" "${ok[@]}" -p 0
expect 2 "invalid port '65536'" "${ok[@]}" -p 65536
expect 2 "invalid port 'http'" "${ok[@]}" --port http
expect 2 "invalid flow count '0'" "${ok[@]}" -f 0
expect 2 "invalid flow count '-5'" "${ok[@]}" --flows -5
expect 2 "invalid frame size '63'" "${ok[@]}" -l 63
expect 2 "invalid frame size '80'.*IPv6" -d xlbbdev0 -m 02:00:00:00:00:02 -a fc00::1 -l 80
expect 2 "invalid frame size '9019'" "${ok[@]}" --size 9019
expect 2 "invalid thread count '0'" "${ok[@]}" -t 0
expect 2 "invalid burst '2000'" "${ok[@]}" -b 2000
expect 2 "invalid duration '1.5'" "${ok[@]}" -D 1.5
expect 2 "invalid count 'many'" "${ok[@]}" -c many
expect 2 "invalid source 'fc00::2': the VIP is IPv4" "${ok[@]}" -s fc00::2
expect 2 "invalid source '10.0.0.1': the VIP is IPv6" -d xlbbdev0 -m 02:00:00:00:00:02 -a fc00::1 -s 10.0.0.1
expect 2 "at most 64512 flows with IPv6" -d xlbbdev0 -m 02:00:00:00:00:02 -a fc00::1 -f 70000
expect 2 "passes 255.255.255.255" "${ok[@]}" -s 255.255.255.250 -f 1000000
expect 2 "unknown option '--rate'" "${ok[@]}" --rate 10
expect 2 "unexpected argument 'extra'" "${ok[@]}" extra
expect 2 'option -p needs a value' "${ok[@]}" -p
expect 2 "invalid interface name" -d 'eth0;reboot' -m 02:00:00:00:00:02 -a 10.0.0.10

# --dry-run: the commands, nothing written (it needs neither root nor
# pktgen nor the interface)
expect 0 "^echo 'add_device xlbbdev0@0' > /proc/net/pktgen/kpktgend_0$" "${ok[@]}" -n
expect 0 "^echo 'dst 10.0.0.10' > /proc/net/pktgen/xlbbdev0@0$" "${ok[@]}" --dry-run
expect 0 "^echo 'pkt_size 60' > /proc/net/pktgen/xlbbdev0@0$" "${ok[@]}" -n
expect 0 "^echo 'pkt_size 124' > " "${ok[@]}" -n -l 128
expect 0 "^echo 'udp_dst_min 53' > " "${ok[@]}" -n -p 53
expect 0 "^echo 'dst_mac 02:00:00:00:00:02' > " "${ok[@]}" -n
expect 0 "^echo 'burst 8' > " "${ok[@]}" -n -b 8
expect 0 "^echo 'count 5000' > " "${ok[@]}" -n -c 5000
expect 0 "^echo start > /proc/net/pktgen/pgctrl" "${ok[@]}" -n
expect 0 "^sleep 7$" "${ok[@]}" -n -D 7
# one flow: fixed source port and address, no random flags
expect 0 "^echo 'udp_src_max 1024' > " "${ok[@]}" -n -f 1
bash "$pg" "${ok[@]}" -n -f 1 >"$out" 2>&1
if grep -q RND "$out"; then
	echo "FAIL: one flow but a random flag:"; sed 's/^/    /' "$out"
	fails=$((fails + 1))
fi
# 100000 flows: 64512 ports x 2 addresses, both randomised
expect 0 "^echo 'src_max 198.18.0.2' > " "${ok[@]}" -n -f 100000
expect 0 "^echo 'flag IPSRC_RND' > " "${ok[@]}" -n -f 100000
expect 0 "^echo 'udp_src_max 65535' > " "${ok[@]}" -n -f 100000
expect 0 "^echo 'flag UDPSRC_RND' > " "${ok[@]}" -n -f 100000
# threads: one device per thread, on its own TX queue
expect 0 "^echo 'add_device xlbbdev0@2' > /proc/net/pktgen/kpktgend_2$" "${ok[@]}" -n -t 3
expect 0 "^echo 'queue_map_min 2' > /proc/net/pktgen/xlbbdev0@2$" "${ok[@]}" -n -t 3
# IPv6
expect 0 "^echo 'dst6 fc00::1' > " -d xlbbdev0 -m 02:00:00:00:00:02 -a fc00::1 -n
expect 0 "^echo 'pkt_size 78' > " -d xlbbdev0 -m 02:00:00:00:00:02 -a fc00::1 -n
# a dry run must not touch /proc: no pktgen writes happen (on a kernel
# with pktgen, the device would otherwise show up in kpktgend_0)
if [ -d /proc/net/pktgen ] && grep -q xlbbdev0 /proc/net/pktgen/kpktgend_0 2>/dev/null; then
	echo "FAIL: --dry-run added a device to /proc/net/pktgen/kpktgend_0"
	fails=$((fails + 1))
fi

# a real run fails before sending anything: no pktgen here, or (where
# there is pktgen) no such interface
if [ "$(id -u)" = 0 ]; then
	if [ -d /proc/net/pktgen ] || modprobe -n pktgen 2>/dev/null; then
		expect 1 "no interface 'xlbbnodev0'" -d xlbbnodev0 -m 02:00:00:00:00:02 -a 10.0.0.10 -D 1
	else
		expect 1 "modprobe pktgen" -d xlbbnodev0 -m 02:00:00:00:00:02 -a 10.0.0.10 -D 1
	fi
else
	echo "skip: the real-run checks need root"
fi

if [ $fails -gt 0 ]; then
	echo "pktgen_args: $fails failure(s)"
	exit 1
fi
echo "pktgen_args: all passed"
