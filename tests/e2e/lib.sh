#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Helpers for the lab end-to-end tests (tests/e2e/lab_*.sh): set-up and
# teardown of scripts/lab.sh, config files, the traffic clients of
# backend_server.py, JSON checks and a pass/fail summary.
#
# Sourced by the lab tests. Run directly (ctest runs every e2e/*.sh) it
# tests the lab itself without xlb: topology up, every host reachable over
# IPv4 and IPv6, xdp/decap.bpf.o on each backend unwrapping IPIP, IP6IP6,
# 4in6, 6in4 and GUE packets built by raw sockets (the answer must come
# from the VIP, by DSR), then `down` twice leaves nothing behind.

T_SRC=${XLB_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export XLB_BUILD=${XLB_BUILD:-$T_SRC/build}
# shellcheck source=scripts/lab.sh
. "$T_SRC/scripts/lab.sh"

T_NAME=
T_FAILS=0
T_PASSES=0
T_TMP=
T_T0=
T_BGPIDS=()

t_log() { printf '%s: %s\n' "$T_NAME" "$*"; }
t_ok() {
	T_PASSES=$((T_PASSES + 1))
	printf '%s: ok   %s\n' "$T_NAME" "$*"
}
t_fail() {
	T_FAILS=$((T_FAILS + 1))
	printf '%s: FAIL %s\n' "$T_NAME" "$*" >&2
}
# t_check DESCRIPTION CMD...: ok if CMD succeeds, else FAIL.
t_check() {
	local what=$1
	shift
	if "$@"; then t_ok "$what"; else t_fail "$what"; fi
}
# t_quiet CMD...: CMD with its output discarded (for t_check).
t_quiet() { "$@" >/dev/null 2>&1; }
t_fatal() {
	t_fail "$*"
	exit 1
}

t_cleanup() {
	local rc=$? pid
	for pid in "${T_BGPIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "${T_KEEP:-}" ]; then
		t_log "T_KEEP set: lab left up for inspection (./scripts/lab.sh down)"
	else
		lab_down
	fi
	[ -n "$T_TMP" ] && rm -rf "$T_TMP"
	if [ "$rc" -ne 77 ]; then
		t_log "summary: $T_PASSES passed, $T_FAILS failed, $(($(date +%s) - T_T0)) s"
		[ "$rc" -eq 0 ] && [ "$T_FAILS" -gt 0 ] && rc=1
	fi
	exit "$rc"
}

# t_begin NAME: root check, one lab test at a time (they share the lab's
# names), teardown on every exit.
t_begin() {
	T_NAME=$1
	T_T0=$(date +%s)
	if [ "$(id -u)" -ne 0 ]; then
		echo "$T_NAME: SKIP: needs root (network namespaces, XDP)"
		exit 77
	fi
	for f in "$XLB_BUILD/xdp/decap.bpf.o" "$XLB_BUILD/xdp/pass.bpf.o"; do
		[ -f "$f" ] || {
			echo "$T_NAME: FAIL: $f missing: build first or set XLB_BUILD" >&2
			exit 1
		}
	done
	mkdir -p /run/xlb-lab
	exec 9>"/run/xlb-lab/$LAB_P.lock"
	if ! flock -w 600 9; then
		echo "$T_NAME: FAIL: another lab test held /run/xlb-lab/$LAB_P.lock for 10 minutes" >&2
		exit 1
	fi
	T_TMP=$(mktemp -d "/tmp/$LAB_P-$T_NAME.XXXXXX")
	trap t_cleanup EXIT
	trap 'exit 130' INT TERM
}

t_need_xlbctl() {
	lab_xlbctl_bin >/dev/null || t_fatal "xlbctl is not built"
}

# ---- configs ------------------------------------------------------------

# t_be4 N [WEIGHT [STATE]] / t_be6: a backend list item for backend N.
t_be4() { echo "      - { address: $(lab_v4 "be$1"), weight: ${2:-100}, state: ${3:-active} }"; }
t_be6() { echo "      - { address: $(lab_v6 "be$1"), weight: ${2:-100}, state: ${3:-active} }"; }

# t_vip NAME ADDR PORT PROTO ENCAP [key: value ...]: a VIP header; the
# backends follow (t_be4 / t_be6).
t_vip() {
	local name=$1 addr=$2 port=$3 proto=$4 encap=$5
	shift 5
	echo "  - name: $name"
	echo "    address: $addr"
	echo "    port: $port"
	echo "    protocol: $proto"
	echo "    encap: $encap"
	[ "$encap" = gue ] && echo "    gue_port: 6080"
	local kv
	for kv in "$@"; do echo "    $kv"; done
	echo "    backends:"
}

# t_config FILE [LB]: the global part for balancer LB (default 1), then
# the VIPs read from stdin.
t_config() {
	local file=$1 lb=${2:-1}
	{
		echo "interface: $(lab_if "lb$lb")"
		echo "mode: native"
		echo "gateway_mac: auto"
		echo "maglev_table_size: 65537"
		echo "conntrack_size: 65536"
		echo "mtu: $LAB_MTU"
		echo "icmp_too_big: true"
		echo "vips:"
		cat
	} >"$file"
}

# t_for_lb FILE LB: FILE's config for balancer LB (only the interface
# differs: every balancer behind the router runs the same services).
t_for_lb() {
	sed "s/^interface: .*/interface: $(lab_if "lb$2")/" "$1" >"${1%.yaml}.lb$2.yaml"
	echo "${1%.yaml}.lb$2.yaml"
}

# ---- xlbctl -------------------------------------------------------------

t_xlbctl() { lab_xlbctl "$@"; } # [--lb N] ARGS...
t_load() { # CFG [LB]
	local out
	if out=$(lab_xlbctl --lb "${2:-1}" load -c "$1" 2>&1); then
		t_log "$out"
	else
		t_fatal "xlbctl load -c $1 on lb${2:-1}: $out"
	fi
}
t_reload() { # CFG [LB]
	local out
	if out=$(lab_xlbctl --lb "${2:-1}" reload -c "$1" 2>&1); then
		t_log "reload: $(echo "$out" | tr '\n' ' ')"
	else
		t_fail "xlbctl reload -c $1 on lb${2:-1}: $out"
		return 1
	fi
}
# t_counter NAME [LB]: a global counter of balancer LB (stats --json).
t_counter() {
	lab_xlbctl --lb "${2:-1}" stats -i "$(lab_if "lb${2:-1}")" --json |
		"$LAB_PY" -c '
import json, sys
d = json.load(sys.stdin)
name = sys.argv[1]
def find(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == name and isinstance(v, int):
                return v
            r = find(v)
            if r is not None:
                return r
    return None
v = find(d.get("global", d))
if v is None:
    sys.exit("no counter %r in xlbctl stats --json" % name)
print(v)' "$1"
}

# t_vip_packets VIP [LB]: packets balancer LB sent to each backend of VIP
# (by name), as JSON {"be1": n, ...}.
t_vip_packets() {
	lab_xlbctl --lb "${2:-1}" stats -i "$(lab_if "lb${2:-1}")" --json |
		"$LAB_PY" -c '
import json, re, sys
d = json.load(sys.stdin)["vips"][sys.argv[1]]["backends"]
out = {}
for addr, c in d.items():
    m = re.fullmatch(r"10\.1\.(\d+)\.2|fd00:1:(\d+)::2", addr)
    if not m:
        sys.exit("backend %s is not a lab backend address" % addr)
    out["be" + (m.group(1) or m.group(2))] = c["packets"]
print(json.dumps(out))' "$1"
}

# ---- traffic --------------------------------------------------------------

# t_client NODE CMD ARGS...: a backend_server.py client in NODE; prints its
# JSON, returns its status.
t_client() {
	local node=$1
	shift
	lab_exec "$node" "$LAB_PY" "$LAB_SERVER" "$@"
}

# t_json JSON PYEXPR: evaluate PYEXPR with d = the parsed JSON; prints the
# result, fails if it is False.
t_json() {
	"$LAB_PY" -c '
import json, sys
d = json.loads(sys.argv[1])
r = eval(sys.argv[2])
print(r if not isinstance(r, bool) else "")
sys.exit(0 if r is not False else 1)' "$1" "$2"
}

# t_jtrue JSON PYEXPR: succeed if PYEXPR holds, print nothing.
t_jtrue() { t_json "$1" "$2" >/dev/null; }

# t_spread JSON "be1=100 be2=100 be3=200" TOL: every request answered, only
# by the listed backends, each backend's share within TOL (a fraction) of
# its weight's share.
t_spread() {
	"$LAB_PY" -c '
import json, sys
d = json.loads(sys.argv[1])
w = dict((k, int(v)) for k, v in (x.split("=") for x in sys.argv[2].split()))
tol = float(sys.argv[3])
got = d["backends"]
n = sum(got.values())
tw = sum(w.values())
bad = []
if d.get("failed"):
    bad.append("%d requests unanswered" % d["failed"])
for b in got:
    if b not in w or w[b] == 0:
        bad.append("%s answered %d requests but must get none" % (b, got[b]))
for b, wt in w.items():
    if wt == 0 or n == 0:
        continue
    share, want = got.get(b, 0) / n, wt / tw
    if abs(share - want) > tol:
        bad.append("%s got %.0f%%, weight says %.0f%% (+-%.0f%%)"
                   % (b, 100 * share, 100 * want, 100 * tol))
print("%d answers: %s" % (n, " ".join("%s=%d" % kv for kv in sorted(got.items()))))
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)' "$1" "$2" "$3"
}

# t_decap_counts NODE: the decap counters of backend NODE as JSON
# {"IPIP": n, ...}, read from the program attached to its interface.
t_decap_counts() {
	local id
	id=$(lab_exec "$1" ip -j link show dev "$(lab_if "$1")" |
		"$LAB_PY" -c 'import json,sys; l=json.load(sys.stdin)[0]; print(l["xdp"]["prog"]["id"])')
	"$LAB_PY" - "$id" <<'EOF'
import json, subprocess, sys
names = ["IPIP", "IP6IP6", "4IN6", "6IN4", "GUE4", "GUE6", "PASS_OTHER",
         "PASS_BAD_INNER", "PASS_NOT_LOCAL", "ADJUST_FAILED"]
prog = json.loads(subprocess.check_output(
    ["bpftool", "-j", "prog", "show", "id", sys.argv[1]]))
for mid in prog.get("map_ids", []):
    m = json.loads(subprocess.check_output(
        ["bpftool", "-j", "map", "show", "id", str(mid)]))
    if m.get("name") != "decap_stats":
        continue
    out = {}
    for e in json.loads(subprocess.check_output(
            ["bpftool", "-j", "map", "dump", "id", str(mid)])):
        k = e.get("formatted", e)["key"] if "formatted" in e else e["key"]
        if isinstance(k, list):
            k = int.from_bytes(bytes(int(x, 16) for x in k), "little")
        total = 0
        for v in e.get("formatted", e)["values"]:
            val = v["value"]
            if isinstance(val, list):
                val = int.from_bytes(bytes(int(x, 16) for x in val), "little")
            total += val
        if k < len(names):
            out[names[k]] = total
    print(json.dumps(out))
    sys.exit(0)
sys.exit("no decap_stats map on program %s" % sys.argv[1])
EOF
}

# t_decap_total KIND NODE...: sum of decap counter KIND over backends.
t_decap_total() {
	local kind=$1 node sum=0 n
	shift
	for node in "$@"; do
		n=$(t_json "$(t_decap_counts "$node")" "d[\"$kind\"]") || return 1
		sum=$((sum + n))
	done
	echo $sum
}

# t_bg LOGFILE CMD...: run CMD in the background (killed at exit).
t_bg() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	T_BGPIDS+=($!)
}

# t_wait_files SECONDS FILE...: wait until every FILE exists.
t_wait_files() {
	local deadline=$(($(date +%s) + $1)) f
	shift
	for f in "$@"; do
		while [ ! -s "$f" ]; do
			[ "$(date +%s)" -lt "$deadline" ] || return 1
			sleep 0.1
		done
	done
}

# ---- run directly: the lab's own test ------------------------------------

t_selftest() {
	local node args reply ns
	t_begin lab_selftest
	t_check "lab up (2 balancers, 4 backends)" t_quiet lab_up --balancers 2
	for node in c1 c2 lb1 lb2 be1 be2 be3 be4; do
		t_check "$node reachable from c1 (IPv4 and IPv6)" \
			t_quiet lab_exec c1 ping -c1 -W2 -q "$(lab_v4 "$node")"
		lab_exec c1 ping -c1 -W2 -q "$(lab_v6 "$node")" >/dev/null ||
			t_fail "$node not reachable over IPv6 from c1"
	done
	reply=$(lab_exec c2 curl -s --max-time 3 "http://[$(lab_v6 be3)]/")
	t_check "be3's HTTP server answers with its name ($reply)" [ "$reply" = be3 ]

	# Packets as xlb would send them, from raw sockets on c1: the backend's
	# decap must unwrap them and its server answer from the VIP.
	for args in "ipip 10.1.1.2 10.100.1.2 10.0.0.10 be1 IPIP" \
		"ip6ip6 fd00:1:2::2 fd00:100:1::2 fd00:a::10 be2 IP6IP6" \
		"4in6 fd00:1:3::2 10.100.1.2 10.0.0.11 be3 4IN6" \
		"6in4 10.1.4.2 fd00:100:1::2 fd00:a::12 be4 6IN4" \
		"gue 10.1.1.2 10.100.1.2 10.0.0.13 be1 GUE4" \
		"gue 10.1.2.2 fd00:100:1::2 fd00:a::13 be2 GUE4" \
		"gue fd00:1:3::2 10.100.1.2 10.0.0.14 be3 GUE6" \
		"gue fd00:1:4::2 fd00:100:1::2 fd00:a::14 be4 GUE6"; do
		set -- $args
		local before after
		before=$(t_decap_total "$6" "$5")
		if reply=$(lab_exec c1 "$LAB_PY" - "$1" "$2" "$3" "$4" <<'EOF'
import socket, struct, sys
mode, outer, src, vip = sys.argv[1:5]
def csum(b):
    b += b"\0" * (len(b) % 2)
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff
v6 = ":" in vip
fam = socket.AF_INET6 if v6 else socket.AF_INET
rx = socket.socket(fam, socket.SOCK_DGRAM)
rx.bind(("", 0))
rx.settimeout(2)
sport = rx.getsockname()[1]
data = b"decap-" + mode.encode()
l = 8 + len(data)
if v6:
    s6, d6 = (socket.inet_pton(fam, a) for a in (src, vip))
    ph = s6 + d6 + struct.pack("!I3xB", l, 17)
else:
    s6, d6 = socket.inet_aton(src), socket.inet_aton(vip)
    ph = s6 + d6 + struct.pack("!BBH", 0, 17, l)
c = csum(ph + struct.pack("!HHHH", sport, 9001, l, 0) + data) or 0xffff
udp = struct.pack("!HHHH", sport, 9001, l, c) + data
if v6:
    inner = struct.pack("!IHBB", 0x60000000, l, 17, 64) + s6 + d6 + udp
else:
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + l, 1, 0x4000, 64, 17, 0,
                    s6, d6)
    inner = h[:10] + struct.pack("!H", csum(h)) + h[12:] + udp
ofam = socket.AF_INET6 if ":" in outer else socket.AF_INET
if mode == "gue":
    tx = socket.socket(ofam, socket.SOCK_DGRAM)
    tx.sendto(inner, (outer, 6080))
else:
    tx = socket.socket(ofam, socket.SOCK_RAW, 41 if v6 else 4)
    tx.sendto(inner, (outer, 0))
msg, peer = rx.recvfrom(1000)
if peer[0] != vip:
    sys.exit("answer from %s, not from the VIP %s" % (peer[0], vip))
print(msg.decode())
EOF
		); then
			after=$(t_decap_total "$6" "$5")
			if [ "$reply" = "$5 decap-$1" ] && [ $((after - before)) -ge 1 ]; then
				t_ok "$1 to $5 ($2), inner to $4: '$reply', $6 counted"
			else
				t_fail "$1 to $5 ($2), inner to $4: '$reply' (want '$5 decap-$1'), $6 grew by $((after - before))"
			fi
		else
			t_fail "$1 to $5 ($2), inner to $4: no answer from the VIP"
		fi
	done

	t_check "status lists 9 namespaces" bash -c "'$T_SRC/scripts/lab.sh' status | grep -q 'be1 be2 be3 be4 c1 c2 lb1 lb2 rt'"
	local pids pid alive=
	pids=$(cat "$LAB_RUN"/*.pid)
	lab_down
	lab_down
	t_check "down twice: no namespace left" [ -z "$(lab_nodes)" ]
	sleep 0.2
	for pid in $pids; do
		# gone, or a zombie (not every init reaps orphans at once)
		lab_alive "$pid" && alive+=" $pid"
	done
	t_check "down: the servers ($(echo $pids)) are gone${alive:+, alive:$alive}" [ -z "$alive" ]
	t_check "down: no run directory left" [ ! -e "$LAB_RUN" ]
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -uo pipefail
	t_selftest
fi
