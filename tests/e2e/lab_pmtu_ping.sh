#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# ICMP in the lab. Ping: echo requests to IPv4 and IPv6 VIPs are answered
# by xlb itself (its echo counter grows), also full-size ones; a VIP with
# icmp_echo: false is not answered. Path MTU: clients on 1500-byte links
# POST 1 MiB to VIPs whose encapsulation (IPIP, IP6IP6, GUE over IPv4 and
# IPv6) would push full-size packets over the 1500-byte mtu: xlb answers
# "fragmentation needed" / "packet too big", the client's kernel lowers its
# path MTU to 1500 minus the overhead, and every transfer completes intact.
set -uo pipefail
. "${XLB_SRC:-$(dirname "$0")/../..}/tests/e2e/lib.sh"
t_begin lab_pmtu_ping
t_need_xlbctl

lab_up >/dev/null || t_fatal "lab up failed"

CFG=$T_TMP/pmtu.yaml
{
	t_vip web4 10.0.0.10 $LAB_HTTP_PORT tcp ipip
	t_be4 1; t_be4 2
	t_vip web6 fd00:a::10 $LAB_HTTP_PORT tcp ipip
	t_be6 1; t_be6 2
	t_vip gue46 10.0.0.12 $LAB_HTTP_PORT tcp gue
	t_be6 3; t_be6 4
	t_vip gue64 fd00:a::12 $LAB_HTTP_PORT tcp gue
	t_be4 3; t_be4 4
	t_vip noping 10.0.0.15 $LAB_HTTP_PORT tcp ipip "icmp_echo: false"
	t_be4 1
} | t_config "$CFG"
t_load "$CFG"

# ---- ping -------------------------------------------------------------------
e0=$(t_counter tx_icmp_echo)
for vip in 10.0.0.10 fd00:a::10; do
	t_check "ping $vip answered" t_quiet lab_exec c1 ping -c 3 -i 0.2 -W 2 -q $vip
done
t_check "ping -s 1452 -M do 10.0.0.12 (a 1480-byte echo) answered" \
	t_quiet lab_exec c2 ping -c 2 -i 0.2 -W 2 -q -s 1452 -M "do" 10.0.0.12
e1=$(t_counter tx_icmp_echo)
t_check "xlb sent the replies itself (tx_icmp_echo $e0 -> $e1, want +8)" [ $((e1 - e0)) -ge 8 ]
if lab_exec c1 ping -c 2 -i 0.2 -W 1 -q 10.0.0.15 >/dev/null; then
	t_fail "ping 10.0.0.15 (icmp_echo: false) was answered"
else
	t_ok "ping 10.0.0.15 (icmp_echo: false) not answered"
fi

# ---- path MTU ---------------------------------------------------------------
# VIP client overhead -> the path MTU the client must learn
tb0=$(t_counter tx_icmp_too_big)
for spec in "10.0.0.10 c1 20" "fd00:a::10 c1 40" "10.0.0.12 c2 48" "fd00:a::12 c2 28"; do
	set -- $spec
	want=$((LAB_MTU - $3))
	if out=$(t_client "$2" post "$1" $LAB_HTTP_PORT --bytes $((1 << 20)) --timeout 20); then
		t_ok "POST 1 MiB from $2 to $1: $out"
	else
		t_fail "POST 1 MiB from $2 to $1: $out"
	fi
	if [[ $1 == *:* ]]; then fam=-6; else fam=-4; fi
	route=$(lab_exec "$2" ip $fam route get "$1" | tr -s ' \n' ' ')
	if [[ $route == *"mtu $want"* ]]; then
		t_ok "$2 learned path MTU $want to $1 (1500 - $3 bytes of encapsulation)"
	else
		t_fail "$2's route to $1 has no 'mtu $want': $route"
	fi
done
tb1=$(t_counter tx_icmp_too_big)
t_check "xlb answered oversize packets (tx_icmp_too_big $tb0 -> $tb1)" [ $((tb1 - tb0)) -ge 4 ]
dtb=$(t_counter drop_too_big)
t_check "no oversize packet dropped silently (drop_too_big $dtb)" [ "$dtb" = 0 ]
