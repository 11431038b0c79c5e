#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A bad configuration on reload changes nothing while traffic flows: with
# long-lived TCP streams and a stream of new HTTP connections running,
# xlbctl reload is given broken files (YAML syntax, unknown key, bad
# address, weight out of range, table size not prime, duplicate VIP, empty
# file, another interface). Each must be refused (exit 1, with a message),
# `xlbctl status --json` must be unchanged, every HTTP request answered and
# every stream intact. A good reload afterwards must still work.
set -uo pipefail
. "${XLB_SRC:-$(dirname "$0")/../..}/tests/e2e/lib.sh"
t_begin lab_badconfig
t_need_xlbctl

lab_up >/dev/null || t_fatal "lab up failed"
IF=$(lab_if lb1)

CFG=$T_TMP/good.yaml
{
	for vip in 10.0.0.10 fd00:a::10; do
		for port in $LAB_HTTP_PORT $LAB_STREAM_PORT; do
			t_vip "v${vip//[:.]/_}-$port" $vip $port tcp ipip
			for b in 1 2 3; do
				if [[ $vip == *:* ]]; then t_be6 $b; else t_be4 $b; fi
			done
		done
	done
} | t_config "$CFG"
t_load "$CFG"

STOP=$T_TMP/stop
started=()
for i in 1 2; do
	if [ $i -eq 2 ]; then vip=fd00:a::10; else vip=10.0.0.10; fi
	t_bg "$T_TMP/s$i.json" t_client c1 stream $vip $LAB_STREAM_PORT \
		--stop "$STOP" --started "$T_TMP/s$i.started" --timeout 10
	started+=("$T_TMP/s$i.started")
done
# one try per request: a refused reload must not cost a single SYN
t_bg "$T_TMP/http.json" t_client c2 http 10.0.0.10 $LAB_HTTP_PORT -n 100000 \
	--tries 1 --timeout 2 --stop "$T_TMP/stop-http"
HTTP_PID=${T_BGPIDS[-1]}
t_wait_files 10 "${started[@]}" || t_fatal "the streams did not connect within 10 s"

status() { lab_xlbctl status -i "$IF" --json; }
before=$(status) || t_fatal "xlbctl status --json failed: $before"

bad() { # NAME: a broken copy of the good file, via the sed script on stdin
	sed -f - "$CFG" >"$T_TMP/bad-$1.yaml"
	echo "$T_TMP/bad-$1.yaml"
}
BADS=(
	"$(bad syntax <<<'s/^vips:/vips: [/')"
	"$(bad unknown-key <<<'0,/weight:/s/weight:/wieght:/')"
	"$(bad address <<<'0,/10\.1\.1\.2/s/10\.1\.1\.2/10.1.1.300/')"
	"$(bad weight <<<'0,/weight: 100/s/weight: 100/weight: 70000/')"
	"$(bad not-prime <<<'s/^maglev_table_size: .*/maglev_table_size: 65536/')"
	"$(bad duplicate-vip <<<'0,/port: 9000/s/port: 9000/port: 80/')"
	"$(bad other-interface <<<'s/^interface: .*/interface: xlbl-nosuch/')"
)
: >"$T_TMP/bad-empty.yaml"
BADS+=("$T_TMP/bad-empty.yaml")

for f in "${BADS[@]}"; do
	name=$(basename "$f" .yaml)
	out=$(lab_xlbctl reload -c "$f" 2>&1)
	rc=$?
	now=$(status)
	if [ $rc -eq 1 ] && [ -n "$out" ] && [ "$now" = "$before" ]; then
		t_ok "reload $name refused (exit 1), nothing changed: $(echo "$out" | head -1)"
	else
		t_fail "reload $name: exit $rc (want 1), status $([ "$now" = "$before" ] && echo unchanged || echo CHANGED), output: $out"
	fi
	sleep 0.2
done

# The HTTP client stops here: removing a backend below legitimately
# resets the connections it has at that moment.
touch "$T_TMP/stop-http"
deadline=$(($(date +%s) + 10))
while kill -0 "$HTTP_PID" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
out=$(tail -1 "$T_TMP/http.json")
if t_jtrue "$out" 'd["answered"] > 20 and d["failed"] == 0'; then
	t_ok "HTTP during the refused reloads: $(t_json "$out" '"%d answered, none failed" % d["answered"]')"
else
	t_fail "HTTP during the refused reloads: $out ($(head -3 "$T_TMP/http.json"))"
fi

# a good reload still goes through: drop be3 from the HTTP VIPs only (the
# streams' VIPs stay as they are)
awk '/port: 80$/{h=1} /port: 9000$/{h=0} !(h && /10\.1\.3\.2|fd00:1:3::2/)' "$CFG" >"$T_TMP/good2.yaml"
t_check "a good reload afterwards is applied" t_reload "$T_TMP/good2.yaml"
after=$(status)
t_check "status changed after the good reload" [ "$after" != "$before" ]
sleep 0.5

touch "$STOP"
deadline=$(($(date +%s) + 20))
for pid in "${T_BGPIDS[@]}"; do
	while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
done
for i in 1 2; do
	out=$(cat "$T_TMP/s$i.json")
	if t_jtrue "$out" 'd["ok"]'; then
		t_ok "stream $i intact through ${#BADS[@]} refused reloads and a good one ($(t_json "$out" 'd["bytes"]') bytes)"
	else
		t_fail "stream $i: $out"
	fi
done
