#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Reloads under load: eight long-lived TCP connections (IPv4 and IPv6, two
# clients) stream data through the balancer while xlbctl reload adds a
# backend, drains the backend of one of the connections, and removes the
# added backend. Every connection must end with the server's byte count and
# SHA-256 equal to what the client sent (no reset, no byte lost). Between
# reloads, new connections must reach the new backend, never the drained
# one, and never the removed one, not even from a source port that an
# earlier connection to the drained backend used (clients reuse ports: the
# connection table still holds the closed connection's entry). Last, a
# backend set to `down` (unlike `drain`) must lose its established
# connection too.
set -uo pipefail
. "${XLB_SRC:-$(dirname "$0")/../..}/tests/e2e/lib.sh"
t_begin lab_reload
t_need_xlbctl

N=${LAB_N:-60}
lab_up >/dev/null || t_fatal "lab up failed"

# config BACKENDS: the stream and HTTP VIPs (IPv4 + IPv6) over BACKENDS,
# "1 2 3 4:drain" style (a backend number, optionally :state).
config() {
	local file=$1 spec vip port proto
	shift
	{
		for vip in 10.0.0.10 fd00:a::10; do
			for port in $LAB_STREAM_PORT $LAB_HTTP_PORT; do
				t_vip "p$port-${vip//[:.]/_}" $vip $port tcp ipip
				for spec in "$@"; do
					local b=${spec%%:*} st=active
					[[ $spec == *:* ]] && st=${spec#*:}
					if [[ $vip == *:* ]]; then
						t_be6 "$b" 100 "$st"
					else
						t_be4 "$b" 100 "$st"
					fi
				done
			done
		done
	} | t_config "$file"
}

# requests WHAT ALLOWED...: N new connections to each VIP; every one must
# be answered, only by the ALLOWED backends; prints the counts.
requests() {
	local what=$1 vip out allowed=""
	shift
	for b in "$@"; do allowed+="$b=1 "; done
	for vip in 10.0.0.10 fd00:a::10; do
		out=$(t_client c1 http $vip $LAB_HTTP_PORT -n "$N")
		# tolerance 1: only who answers matters here, not the shares
		if msg=$(t_spread "$out" "$allowed" 1); then
			t_ok "$what, HTTP to $vip: $msg"
		else
			t_fail "$what, HTTP to $vip: $msg"
		fi
		LAST=$out
	done
}

config "$T_TMP/c0.yaml" 1 2 3
t_load "$T_TMP/c0.yaml"

STOP=$T_TMP/stop
started=()
i=0
for node in c1 c2; do
	for vip in 10.0.0.10 fd00:a::10 10.0.0.10 fd00:a::10; do
		i=$((i + 1))
		t_bg "$T_TMP/s$i.json" t_client "$node" stream "$vip" $LAB_STREAM_PORT \
			--stop "$STOP" --started "$T_TMP/s$i.started" --timeout 10
		started+=("$T_TMP/s$i.started")
	done
done
NSTREAMS=$i
t_wait_files 10 "${started[@]}" || t_fatal "the streams did not all connect within 10 s: $(cat "$T_TMP"/s*.json)"
D=$(cat "$T_TMP/s1.started")
t_log "streams on: $(for f in "${started[@]}"; do cat "$f"; done | sort | uniq -c | tr -s ' \n' ' ')"
sleep 1

config "$T_TMP/c1.yaml" 1 2 3 4
t_reload "$T_TMP/c1.yaml"
requests "be4 added" be1 be2 be3 be4
t_check "the added backend be4 takes new connections" \
	t_jtrue "$LAST" 'd["backends"].get("be4", 0) > 0'
# Connections from known source ports (below the ephemeral range), closed
# at once; the same ports come back after the drain.
SPORT=24000
declare -A OLD
for vip in 10.0.0.10 fd00:a::10; do
	OLD[$vip]=$(t_client c1 tcpflows $vip $LAB_HTTP_PORT --sport-base $SPORT -n "$N")
	t_check "$N connections from ports $SPORT.. to $vip answered" \
		t_jtrue "${OLD[$vip]}" 'd["failed"] == 0'
done

drain=()
for b in 1 2 3 4; do
	if [ "be$b" = "$D" ]; then drain+=("$b:drain"); else drain+=("$b"); fi
done
config "$T_TMP/c2.yaml" "${drain[@]}"
t_reload "$T_TMP/c2.yaml"
keep=()
for b in be1 be2 be3 be4; do [ "$b" = "$D" ] || keep+=("$b"); done
requests "$D (stream 1's backend) draining" "${keep[@]}"
for vip in 10.0.0.10 fd00:a::10; do
	out=$(t_client c1 tcpflows $vip $LAB_HTTP_PORT --sport-base $SPORT -n "$N")
	was=$(t_json "${OLD[$vip]}" 'sum(1 for b in d["flows"].values() if b == "'"$D"'")')
	if [ "${was:-0}" -gt 0 ] &&
		t_jtrue "$out" 'd["failed"] == 0 and "'"$D"'" not in d["backends"]'; then
		t_ok "ports $SPORT.. reused to $vip ($was of them were on $D): no new connection on $D: $(t_json "$out" 'd["backends"]')"
	else
		t_fail "ports $SPORT.. reused to $vip ($was of them were on $D, none may go back): $(t_json "$out" '"%d failed; back on '"$D"': %s" % (d["failed"], sorted(p for p, b in d["flows"].items() if b == "'"$D"'"))')"
	fi
done

drain=()
keep=()
for b in 1 2 3; do
	if [ "be$b" = "$D" ]; then drain+=("$b:drain"); else drain+=("$b"); keep+=("be$b"); fi
done
config "$T_TMP/c3.yaml" "${drain[@]}"
t_reload "$T_TMP/c3.yaml"
requests "be4 removed, $D draining" "${keep[@]}"

sleep 1
touch "$STOP"
deadline=$(($(date +%s) + 20))
for pid in "${T_BGPIDS[@]}"; do
	while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
		sleep 0.1
	done
done
for ((i = 1; i <= NSTREAMS; i++)); do
	out=$(cat "$T_TMP/s$i.json")
	if t_jtrue "$out" 'd["ok"] and d["bytes"] > 100000'; then
		t_ok "stream $i on $(cat "$T_TMP/s$i.started") survived 3 reloads: $(t_json "$out" '"%d bytes, hash matches" % d["bytes"]')"
	else
		t_fail "stream $i: $out"
	fi
done

# `state: down` is not `drain`: the backend's established connections are
# cut as well (re-hashed to another backend, which answers with a reset),
# and it gets no new ones.
t_bg "$T_TMP/d.json" t_client c1 stream 10.0.0.10 $LAB_STREAM_PORT \
	--stop "$T_TMP/stop-d" --started "$T_TMP/d.started" --timeout 10
DPID=${T_BGPIDS[-1]}
t_wait_files 10 "$T_TMP/d.started" || t_fatal "the stream for the down check did not connect"
B=$(cat "$T_TMP/d.started")
sleep 0.5
spec=()
keep=()
for b in 1 2 3; do
	if [ "be$b" = "$D" ]; then
		spec+=("$b:drain")
	elif [ "be$b" = "$B" ]; then
		spec+=("$b:down")
	else
		spec+=("$b")
		keep+=("be$b")
	fi
done
config "$T_TMP/c4.yaml" "${spec[@]}"
t_reload "$T_TMP/c4.yaml"
deadline=$(($(date +%s) + 10))
while kill -0 "$DPID" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
touch "$T_TMP/stop-d"
out=$(cat "$T_TMP/d.json")
if t_jtrue "$out" 'not d["ok"] and any(w in (d["error"] or "").lower() for w in ("reset", "broken pipe"))'; then
	t_ok "the connection on $B (now down) was reset: $(t_json "$out" 'd["error"]')"
else
	t_fail "the connection on $B should have been reset when $B went down: $out"
fi
requests "$B down, $D draining" "${keep[@]}"
