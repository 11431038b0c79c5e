#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Every encapsulation end to end in the lab: TCP (HTTP) and UDP (echo) to
# IPv4 and IPv6 VIPs over IPIP, IP6IP6, 4in6, 6in4 and GUE (both outer
# families, both inner families). Each VIP has its own backend subset, so
# an answer from a backend outside it is caught; each request must be
# answered; the backends' decap counters must show the encapsulation the
# VIP asked for; for UDP, the backends that answered must be exactly the
# ones xlb sent to (its per-backend counters); and one VIP with weights
# 1:1:2 must spread accordingly.
set -uo pipefail
. "${XLB_SRC:-$(dirname "$0")/../..}/tests/e2e/lib.sh"
t_begin lab_encaps
t_need_xlbctl

N=${LAB_N:-60}           # requests per VIP and protocol
NSPREAD=${LAB_NSPREAD:-400}

lab_up >/dev/null || t_fatal "lab up failed"

# name   vip          encap  backend family  backends  decap counter
CASES=(
	"ipip   10.0.0.10  ipip 4 1,2,3 IPIP"
	"ip6ip6 fd00:a::10 ipip 6 2,3,4 IP6IP6"
	"4in6   10.0.0.11  ipip 6 1,3,4 4IN6"
	"6in4   fd00:a::11 ipip 4 1,2,4 6IN4"
	"gue44  10.0.0.12  gue  4 1,2,3 GUE4"
	"gue66  fd00:a::12 gue  6 2,3,4 GUE6"
	"gue46  10.0.0.13  gue  6 1,2,4 GUE6"
	"gue64  fd00:a::13 gue  4 1,3,4 GUE4"
)

CFG=$T_TMP/encaps.yaml
{
	for c in "${CASES[@]}"; do
		set -- $c
		for proto in tcp udp; do
			if [ $proto = tcp ]; then port=$LAB_HTTP_PORT; else port=$LAB_UDP_PORT; fi
			t_vip "$1-$proto" "$2" $port $proto "$3"
			for b in ${5//,/ }; do
				if [ "$4" = 4 ]; then t_be4 "$b"; else t_be6 "$b"; fi
			done
		done
	done
	# the spread check: weights 1:1:2
	t_vip spread 10.0.0.14 $LAB_HTTP_PORT tcp ipip
	t_be4 1 100
	t_be4 2 100
	t_be4 3 200
} | t_config "$CFG"
t_load "$CFG"

for c in "${CASES[@]}"; do
	set -- $c
	want=""
	for b in ${5//,/ }; do want+="be$b=100 "; done
	before=$(t_decap_total "$6" be1 be2 be3 be4)
	for proto in tcp udp; do
		if [ $proto = tcp ]; then
			out=$(t_client c1 http "$2" $LAB_HTTP_PORT -n "$N")
		else
			out=$(t_client c2 udp "$2" $LAB_UDP_PORT -n "$N")
		fi
		# 60 requests over 3 equal backends: one standard deviation
		# of a share is 6%, so +-28% is loose enough never to flake
		# and still catches a backend left out or a skewed table
		if msg=$(t_spread "$out" "$want" 0.28); then
			t_ok "$1 $proto to $2: $msg"
		else
			t_fail "$1 $proto to $2: $msg"
		fi
		if [ $proto = udp ]; then
			# One datagram per request: what the balancer sent each
			# backend must be exactly what each backend answered.
			sent=$(t_vip_packets "$1-udp")
			if t_jtrue "$out" "d['retried'] == 0 and d['backends'] == {k: v for k, v in $sent.items() if v}"; then
				t_ok "$1 udp: each answer came from the backend xlb chose ($sent)"
			elif t_jtrue "$out" "d['retried'] > 0"; then
				t_log "$1 udp: retries happened, per-backend comparison skipped"
			else
				t_fail "$1 udp: xlb sent $sent, answers came from $(t_json "$out" 'd["backends"]')"
			fi
		fi
	done
	after=$(t_decap_total "$6" be1 be2 be3 be4)
	# at least one packet per UDP request and three per TCP connection
	if [ $((after - before)) -ge $((4 * N)) ]; then
		t_ok "$1: backends decapsulated $((after - before)) packets as $6"
	else
		t_fail "$1: backends decapsulated only $((after - before)) packets as $6 (want >= $((4 * N)))"
	fi
done

out=$(t_client c2 http 10.0.0.14 $LAB_HTTP_PORT -n "$NSPREAD")
# 400 requests: one standard deviation of a 50% share is 2.5%
if msg=$(t_spread "$out" "be1=100 be2=100 be3=200" 0.10); then
	t_ok "weights 100/100/200: $msg"
else
	t_fail "weights 100/100/200: $msg"
fi

drops=$(t_counter drop_no_backend)
t_check "no packet dropped for want of a backend ($drops)" [ "$drops" = 0 ]
