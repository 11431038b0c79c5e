#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# xlbctl run with health checks in the lab (1 balancer, 2 backends):
# stop one backend's server -> it is marked down within fall x interval
# and gets no new connection; restart it -> it gets flows again. The
# datapath stays loaded after SIGTERM (on_exit: keep). Needs root.
set -euo pipefail

SRC=${XLB_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
export XLB_BUILD=${XLB_BUILD:?set XLB_BUILD to the build directory}
export XLB_LAB_PREFIX=xsvh
CTL=${XLBCTL:-$XLB_BUILD/ctl/xlbctl}
export XLBCTL=$CTL
# shellcheck source=../../scripts/lab.sh
. "$SRC/scripts/lab.sh"

WORK=$(mktemp -d /tmp/xsvh.XXXXXX)
CFG=$WORK/xlb.yaml
LOG=$WORK/run.log
RUN_PID=""
IF=$(lab_if lb1)
# Check timing: down after FALL failures INTERVAL ms apart.
INTERVAL=200 TIMEOUT=150 RISE=2 FALL=3

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

cat >"$CFG" <<YAML
interface: $IF
vips:
  - name: web
    address: 10.0.0.10
    port: 80
    protocol: tcp
    health_check:
      type: http
      path: /
      interval_ms: $INTERVAL
      timeout_ms: $TIMEOUT
      rise: $RISE
      fall: $FALL
    backends:
      - address: $(lab_v4 be1)
      - address: $(lab_v4 be2)
  - name: echo
    address: 10.0.0.11
    port: $LAB_UDP_PORT
    protocol: udp
    health_check: {type: udp, send: "hc-probe", expect: "hc-probe", interval_ms: $INTERVAL, timeout_ms: $TIMEOUT}
    backends:
      - address: $(lab_v4 be1)
      - address: $(lab_v4 be2)
service:
  metrics_listen: 127.0.0.1:9100
  on_exit: keep
YAML

# wait_log PATTERN SECONDS: until the service logged a line matching it.
wait_log() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		grep -qE "$1" "$LOG" && return 0
		kill -0 "$RUN_PID" 2>/dev/null || fail "xlbctl run exited"
		sleep 0.05
	done
	return 1
}
# backends N: JSON tally of N new connections from client c1.
http_tally() {
	lab_exec c1 "$LAB_PY" "$LAB_SERVER" http 10.0.0.10 80 -n "$1" --timeout 1
}
count_of() { # count_of JSON NAME
	echo "$1" | "$LAB_PY" -c "import json,sys; print(json.load(sys.stdin)['backends'].get('$2', 0))"
}
field() { # field JSON KEY
	echo "$1" | "$LAB_PY" -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}

# nsenter directly, not the lab_exec function: `func &` would fork a
# subshell and $! would not be xlbctl's pid.
: >"$LOG"
nsenter --net="/run/netns/$(lab_ns lb1)" "$CTL" run -c "$CFG" >"$LOG" 2>&1 &
RUN_PID=$!
wait_log 'event=start result=ok' 10 || fail "xlbctl run did not start"

out=$(http_tally 40) || fail "traffic through the VIP failed: $out"
for b in be1 be2; do
	[ "$(count_of "$out" $b)" -gt 0 ] || fail "$b should answer while healthy: $out"
done

# ---- be1 fails -----------------------------------------------------------
# The server's own pid: be1.pid may be a python launcher (pyenv shim).
kill "$(cat "$LAB_RUN/be1.ready")"
t0=$(date +%s%N)
wait_log "event=backend_down vip=web backend=$(lab_v4 be1) " 5 ||
	fail "be1 was not marked down within 5 s"
dt=$((($(date +%s%N) - t0) / 1000000))
# FALL failures: the first check may start up to one interval later, each
# failure is a refused connect (fast) or a timeout.
limit=$(((FALL + 1) * INTERVAL + TIMEOUT + 500))
echo "be1 marked down after $dt ms (limit $limit ms)"
[ "$dt" -le "$limit" ] || fail "be1 down after $dt ms, over fall x interval ($limit ms)"
grep -E "event=backend_down .*backend=$(lab_v4 be1) " "$LOG"
wait_log 'event=health_apply result=ok' 2 || fail "the health change was not applied"
# The UDP check of the same server fails too (ICMP port unreachable).
wait_log "event=backend_down vip=echo backend=$(lab_v4 be1) check=udp .*reason=\"recv: Connection refused\"" 5 ||
	fail "the UDP check did not take be1 out of VIP echo"
out=$(lab_exec c1 "$LAB_PY" "$LAB_SERVER" udp 10.0.0.11 $LAB_UDP_PORT -n 20 --timeout 1) ||
	fail "UDP through the VIP failed with be1 down: $out"
[ "$(count_of "$out" be1)" -eq 0 ] || fail "be1 got UDP flows while down: $out"

out=$(http_tally 40) || fail "traffic failed with be1 down: $out"
[ "$(count_of "$out" be1)" -eq 0 ] || fail "be1 got new connections while down: $out"
[ "$(field "$out" answered)" -eq 40 ] || fail "not every connection answered: $out"
echo "with be1 down: $out"

m=$(lab_exec lb1 curl -sf http://127.0.0.1:9100/metrics) || fail "metrics endpoint"
echo "$m" | grep -qx "xlb_backend_healthy{vip=\"web\",backend=\"$(lab_v4 be1)\"} 0" ||
	fail "metrics do not show be1 unhealthy"
echo "$m" | grep -qx "xlb_backend_healthy{vip=\"web\",backend=\"$(lab_v4 be2)\"} 1" ||
	fail "metrics do not show be2 healthy"
echo "$m" | grep -qx 'xlb_health_transitions_total 2' || fail "transitions != 2 (web and echo)"
lab_xlbctl status -i "$IF" | grep -E "$(lab_v4 be1) +down" ||
	fail "xlbctl status does not show be1 down"

# ---- be1 recovers ----------------------------------------------------------
lab_start_server be1
lab_wait_servers be1
wait_log "event=backend_up vip=web backend=$(lab_v4 be1) " 5 ||
	fail "be1 was not marked up within 5 s of restarting"
wait_log "event=backend_up vip=echo backend=$(lab_v4 be1) " 5 ||
	fail "be1 was not marked up for VIP echo"
sleep 0.3
out=$(http_tally 40) || fail "traffic failed after recovery: $out"
[ "$(count_of "$out" be1)" -gt 0 ] || fail "be1 gets no flows after recovery: $out"
echo "after recovery: $out"

# ---- stop: the datapath stays ----------------------------------------------
kill -TERM "$RUN_PID"
wait "$RUN_PID" || fail "xlbctl run exited with $? on SIGTERM"
RUN_PID=""
grep -q 'event=stop signal=TERM datapath=kept' "$LOG" || fail "no stop line"
[ -d "/sys/fs/bpf/xlb/$IF" ] || fail "on_exit: keep removed the datapath"
out=$(http_tally 10) || fail "traffic after the service stopped: $out"

# ---- start again: the running datapath is adopted, not reloaded from zero ----
: >"$LOG"
nsenter --net="/run/netns/$(lab_ns lb1)" "$CTL" run -c "$CFG" >"$LOG" 2>&1 &
RUN_PID=$!
wait_log "event=adopt interface=$IF" 10 || fail "the kept datapath was not adopted"
wait_log 'event=start result=ok .*changes="no changes"' 5 ||
	fail "adopting an identical datapath changed something"
# Someone unloads it by hand: noticed, and the metrics page still serves
# the service's own metrics.
lab_xlbctl unload -i "$IF" >/dev/null || fail "xlbctl unload"
wait_log "event=datapath_detached interface=$IF" 3 || fail "the unload was not noticed"
m=$(lab_exec lb1 curl -sf http://127.0.0.1:9100/metrics) || fail "metrics failed without a datapath"
echo "$m" | grep -qx 'xlb_datapath_attached 0' || fail "metrics do not show the datapath gone"
echo "$m" | grep -q '^xlb_backend_healthy{' || fail "service metrics missing without a datapath"
kill -TERM "$RUN_PID"
wait "$RUN_PID" || fail "xlbctl run exited with $? on SIGTERM"
RUN_PID=""
echo "PASS"
