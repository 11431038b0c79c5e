#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# xlbctl run: the metrics endpoint scraped with curl and parsed (datapath
# counters as `xlbctl stats --prometheus`, health, reloads), config
# reloads by rename-replace, a bad edit (logged, nothing changes), SIGHUP,
# and on_exit: unload removing the datapath. Needs root.
set -euo pipefail

SRC=${XLB_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
export XLB_BUILD=${XLB_BUILD:?set XLB_BUILD to the build directory}
export XLB_LAB_PREFIX=xsvm
CTL=${XLBCTL:-$XLB_BUILD/ctl/xlbctl}
export XLBCTL=$CTL
# shellcheck source=../../scripts/lab.sh
. "$SRC/scripts/lab.sh"

WORK=$(mktemp -d /tmp/xsvm.XXXXXX)
CFG=$WORK/xlb.yaml
LOG=$WORK/run.log
RUN_PID=""
IF=$(lab_if lb1)
URL=http://127.0.0.1:9100

fail() {
	echo "FAIL: $*" >&2
	echo "---- xlbctl run log" >&2
	cat "$LOG" >&2 2>/dev/null || true
	exit 1
}
cleanup() {
	if [ -n "$RUN_PID" ]; then
		kill "$RUN_PID" 2>/dev/null || true
		wait "$RUN_PID" 2>/dev/null || true
	fi
	lab_down >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
"$CTL" run --help >/dev/null 2>&1 ||
	fail "$CTL has no 'run' command (ctl/xlbctl.c must dispatch it to xlbctl_cmd_run)"

lab_up --balancers 1 --backends 2 >/dev/null

# config N_BACKENDS [EXTRA_LINE]: the file, written aside then renamed
# over the watched one, as editors and config managers do.
config() {
	{
		echo "interface: $IF"
		echo "service:"
		echo "  metrics_listen: 127.0.0.1:9100"
		echo "  log_format: kv"
		echo "  on_exit: unload"
		echo "vips:"
		echo "  - name: web"
		echo "    address: 10.0.0.10"
		echo "    port: 80"
		echo "    protocol: tcp"
		echo "    health_check: {type: tcp, interval_ms: 300, timeout_ms: 200}"
		echo "    backends:"
		for ((i = 1; i <= $1; i++)); do echo "      - address: $(lab_v4 be$i)"; done
		[ -z "${2:-}" ] || echo "$2"
	} >"$CFG.new"
	mv "$CFG.new" "$CFG"
}
wait_log() { # wait_log PATTERN SECONDS [COUNT]
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		[ "$(grep -cE "$1" "$LOG")" -ge "${3:-1}" ] && return 0
		kill -0 "$RUN_PID" 2>/dev/null || fail "xlbctl run exited"
		sleep 0.05
	done
	return 1
}
scrape() { lab_exec lb1 curl -sf --max-time 3 "$URL/metrics"; }
# metric TEXT 'NAME{LABELS}': the value of one sample (fails if absent).
metric() {
	local v
	v=$(echo "$1" | awk -v k="$2" '$1 == k { print $2; found = 1 } END { exit !found }') ||
		fail "metric $2 missing from the scrape"
	echo "$v"
}

config 1
: >"$LOG"
nsenter --net="/run/netns/$(lab_ns lb1)" "$CTL" run -c "$CFG" >"$LOG" 2>&1 &
RUN_PID=$!
wait_log 'event=start result=ok' 10 || fail "xlbctl run did not start"
wait_log 'event=metrics_listen address=127.0.0.1:9100' 2 || fail "no metrics endpoint"

# A second service for the same interface refuses to start.
if out=$(nsenter --net="/run/netns/$(lab_ns lb1)" timeout 10 "$CTL" run -c "$CFG" 2>&1); then
	fail "a second xlbctl run for $IF started: $out"
fi
echo "$out" | grep -q "another xlbctl run (pid $RUN_PID) manages $IF" ||
	fail "the second xlbctl run did not name the first: $out"

# ---- the page: well-formed, counters move with traffic -----------------------
m0=$(scrape) || fail "GET /metrics failed"
hdr=$(lab_exec lb1 curl -sfI --max-time 3 "$URL/metrics") || fail "HEAD /metrics failed"
echo "$hdr" | grep -qi '^Content-Type: text/plain; version=0.0.4' || fail "content type: $hdr"
# Every line is a comment or NAME{LABELS} VALUE with a number.
bad=$(echo "$m0" | grep -vE '^(# (HELP|TYPE) .*|[a-z_]+(\{[^}]*\})? -?[0-9.e+]+)$' || true)
[ -z "$bad" ] || fail "malformed exposition lines: $bad"
rx0=$(metric "$m0" 'xlb_rx_packets_total')
out=$(lab_exec c1 "$LAB_PY" "$LAB_SERVER" http 10.0.0.10 80 -n 20 --timeout 1) ||
	fail "traffic failed: $out"
m1=$(scrape)
rx1=$(metric "$m1" 'xlb_rx_packets_total')
vp=$(metric "$m1" 'xlb_vip_packets_total{vip="web"}')
bp=$(metric "$m1" "xlb_backend_packets_total{vip=\"web\",backend=\"$(lab_v4 be1)\"}")
echo "rx $rx0 -> $rx1, vip web packets $vp, be1 packets $bp"
# 20 connections of at least 3 client packets each (SYN, ACK+GET, ACK/FIN).
[ $((rx1 - rx0)) -ge 60 ] || fail "rx grew by $((rx1 - rx0)), want >= 60"
[ "$vp" -ge 60 ] || fail "VIP web counted $vp packets, want >= 60"
[ "$bp" -ge 60 ] || fail "backend be1 counted $bp packets, want >= 60"
# Same names and values as xlbctl stats --prometheus. The VIP is idle now
# (rx is not: health-check answers reach the balancer's own address).
ctl_vp=$(lab_xlbctl stats -i "$IF" --prometheus | awk '$1 == "xlb_vip_packets_total{vip=\"web\"}" {print $2}')
[ "$ctl_vp" = "$vp" ] || fail "xlbctl stats says web packets=$ctl_vp, the endpoint $vp"
[ "$(metric "$m1" "xlb_backend_healthy{vip=\"web\",backend=\"$(lab_v4 be1)\"}")" = 1 ] ||
	fail "be1 not healthy"
[ "$(metric "$m1" 'xlb_reloads_total{result="ok"}')" = 0 ] || fail "reloads ok != 0"
ts=$(metric "$m1" xlb_last_reload_timestamp_seconds)
now=$(date +%s)
awk -v t="$ts" -v n="$now" 'BEGIN { exit !(t > n - 60 && t <= n + 1) }' ||
	fail "last reload timestamp $ts is not within the last minute of $now"
[ "$(metric "$m1" xlb_datapath_attached)" = 1 ] || fail "datapath not attached"
code=$(lab_exec lb1 curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$URL/other")
[ "$code" = 404 ] || fail "GET /other answered $code, want 404"

# ---- reload by rename-replace -----------------------------------------------------
config 2
wait_log 'event=reload result=ok trigger="file changed"' 5 || fail "no reload after the rename"
m2=$(scrape)
[ "$(metric "$m2" 'xlb_reloads_total{result="ok"}')" = 1 ] || fail "reloads ok != 1"
metric "$m2" "xlb_backend_healthy{vip=\"web\",backend=\"$(lab_v4 be2)\"}" >/dev/null
lab_xlbctl status -i "$IF" | grep -q "$(lab_v4 be2)" || fail "be2 not in the datapath"

# ---- a bad edit: logged with its position, nothing changes --------------------------
config 1 "      - address: 10.1.300.2"
wait_log 'event=reload result=error' 5 || fail "bad edit not reported"
grep -E "event=config_error msg=\"$CFG:[0-9]+:[0-9]+: error: " "$LOG" ||
	fail "the error lacks file:line:col"
m3=$(scrape)
[ "$(metric "$m3" 'xlb_reloads_total{result="error"}')" = 1 ] || fail "reloads error != 1"
[ "$(metric "$m3" 'xlb_reloads_total{result="ok"}')" = 1 ] || fail "reloads ok changed"
lab_xlbctl status -i "$IF" | grep -q "$(lab_v4 be2)" || fail "the bad edit changed the datapath"

# ---- SIGHUP re-reads (the file is still bad: a second error) ---------------------
kill -HUP "$RUN_PID"
wait_log 'event=reload result=error trigger=SIGHUP' 5 || fail "SIGHUP did not reload"
config 2
wait_log 'event=reload result=ok' 5 2 || fail "fixed file not reloaded"

# ---- SIGTERM with on_exit: unload --------------------------------------------------
kill -TERM "$RUN_PID"
wait "$RUN_PID" || fail "xlbctl run exited with $? on SIGTERM"
RUN_PID=""
grep -q 'event=unload interface=xsvm-lb1 result=ok' "$LOG" || fail "no unload"
[ ! -e "/sys/fs/bpf/xlb/$IF" ] || fail "pins left after on_exit: unload"
! lab_exec lb1 ip link show "$IF" | grep -q 'prog/xdp' || fail "XDP program left on $IF"
echo "PASS"
