#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Scale-out: two balancers with the same configuration behind the router's
# ECMP route. The same flows (fixed client source ports, TCP and UDP, IPv4
# and IPv6) are sent through balancer 1 only, then balancer 2 only, then
# both (ECMP): every flow must reach the same backend each time. Then live
# TCP connections opened through balancer 1 are moved to balancer 2 (which
# has never seen them: no connection-table entry) and back to ECMP: they
# must carry on intact.
set -uo pipefail
. "${XLB_SRC:-$(dirname "$0")/../..}/tests/e2e/lib.sh"
t_begin lab_ecmp
t_need_xlbctl

N=${LAB_N:-60}
lab_up --balancers 2 >/dev/null || t_fatal "lab up --balancers 2 failed"

CFG=$T_TMP/ecmp.yaml
{
	for vip in 10.0.0.10 fd00:a::10; do
		for pp in "$LAB_HTTP_PORT tcp" "$LAB_STREAM_PORT tcp" "$LAB_UDP_PORT udp"; do
			set -- $pp
			t_vip "v${vip//[:.]/_}-$1" $vip "$1" "$2" ipip
			for b in 1 2 3 4; do
				if [[ $vip == *:* ]]; then t_be6 $b; else t_be4 $b; fi
			done
		done
	done
} | t_config "$CFG"
t_load "$(t_for_lb "$CFG" 1)" 1
t_load "$(t_for_lb "$CFG" 2)" 2

# flows LABEL: the same flow set each time; writes $T_TMP/LABEL.*.json
flows() {
	local label=$1
	t_client c1 tcpflows 10.0.0.10 $LAB_HTTP_PORT -n "$N" --sport-base 20000 >"$T_TMP/$label.tcp4.json"
	t_client c2 tcpflows fd00:a::10 $LAB_HTTP_PORT -n "$N" --sport-base 21000 >"$T_TMP/$label.tcp6.json"
	t_client c1 udp 10.0.0.10 $LAB_UDP_PORT -n "$N" --sport-base 22000 >"$T_TMP/$label.udp4.json"
	t_client c2 udp fd00:a::10 $LAB_UDP_PORT -n "$N" --sport-base 23000 >"$T_TMP/$label.udp6.json"
}

# same A B KIND: the flow -> backend maps of rounds A and B are equal
same() {
	"$LAB_PY" - "$T_TMP/$1.$3.json" "$T_TMP/$2.$3.json" <<'EOF'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
fa, fb = a["flows"], b["flows"]
diff = [p for p in fa if fb.get(p) != fa[p]]
if a.get("failed") or b.get("failed") or len(fa) != len(fb) or diff:
    print("%d/%d flows answered, %d moved: %s" % (
        len(fb), len(fa), len(diff),
        ", ".join("port %s %s->%s" % (p, fa[p], fb.get(p)) for p in diff[:5])))
    sys.exit(1)
print("%d flows, same backends (%s)" % (len(fa), " ".join(
    "%s=%d" % kv for kv in sorted(a["backends"].items()))))
EOF
}

rx() { t_counter rx "$1"; }

for round in 1 2 all; do
	lab_vip_route $round
	r1=$(rx 1)
	r2=$(rx 2)
	flows "via$round"
	d1=$(($(rx 1) - r1))
	d2=$(($(rx 2) - r2))
	case $round in
	1) t_check "route via lb1: lb1 saw the flows ($d1 packets), lb2 none ($d2)" [ $d1 -gt 0 -a $d2 -eq 0 ] ;;
	2) t_check "route via lb2: lb2 saw the flows ($d2 packets), lb1 none ($d1)" [ $d2 -gt 0 -a $d1 -eq 0 ] ;;
	all) t_check "ECMP: both balancers saw flows (lb1 $d1, lb2 $d2 packets)" [ $d1 -gt 0 -a $d2 -gt 0 ] ;;
	esac
done
for kind in tcp4 tcp6 udp4 udp6; do
	for round in 2 all; do
		if msg=$(same via1 "via$round" $kind); then
			t_ok "$kind via lb1 vs via $round: $msg"
		else
			t_fail "$kind via lb1 vs via $round: $msg"
		fi
	done
done

# Live connections change balancer mid-stream.
lab_vip_route 1
STOP=$T_TMP/stop
started=()
for i in 1 2 3 4; do
	if [ $((i % 2)) -eq 0 ]; then vip=fd00:a::10; else vip=10.0.0.10; fi
	t_bg "$T_TMP/s$i.json" t_client "c$(((i + 1) / 2))" stream "$vip" $LAB_STREAM_PORT \
		--stop "$STOP" --started "$T_TMP/s$i.started" --timeout 10
	started+=("$T_TMP/s$i.started")
done
t_wait_files 10 "${started[@]}" || t_fatal "the streams did not all connect within 10 s"
sleep 1
c2before=$(rx 2)
lab_vip_route 2
sleep 1.5
c2after=$(rx 2)
t_check "streams moved to lb2 ($((c2after - c2before)) packets there)" [ $((c2after - c2before)) -gt 50 ]
lab_vip_route all
sleep 1
touch "$STOP"
deadline=$(($(date +%s) + 20))
for pid in "${T_BGPIDS[@]}"; do
	while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
done
for i in 1 2 3 4; do
	out=$(cat "$T_TMP/s$i.json")
	if t_jtrue "$out" 'd["ok"] and d["bytes"] > 100000'; then
		t_ok "stream $i ($(cat "$T_TMP/s$i.started")) moved lb1 -> lb2 -> ECMP intact: $(t_json "$out" '"%d bytes" % d["bytes"]')"
	else
		t_fail "stream $i moved lb1 -> lb2 -> ECMP: $out"
	fi
done
