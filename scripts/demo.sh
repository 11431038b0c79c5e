#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The xlb demo: install dependencies, build, bring up the lab (clients,
# router, balancer, backends in network namespaces), load xlb on the
# balancer, send TCP and UDP requests to IPv4 and IPv6 VIPs, show where
# they went and the balancer's counters, then tear the lab down.
#
#   sudo ./scripts/demo.sh [-n REQUESTS]     (default 30 per client and VIP)
set -euo pipefail
cd "$(dirname "$0")/.."

N=30
while [ $# -gt 0 ]; do
	case $1 in
	-n) N=$2; shift 2 ;;
	-h | --help) sed -n '3,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "demo.sh: -n wants a positive number, not '$N'" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: needs root (network namespaces, XDP): run it with sudo" >&2
	exit 1
fi

BUILD=${XLB_BUILD_DIR:-build}
case $BUILD in /*) export XLB_BUILD=$BUILD ;; *) export XLB_BUILD=$PWD/$BUILD ;; esac
# shellcheck source=scripts/lab.sh
. ./scripts/lab.sh
LB_IF=$(lab_if lb1)

step() { printf '\n\033[1m[%s] %s\033[0m\n' "$1" "$2"; }

step 1/6 "dependencies (./scripts/install-deps.sh)"
./scripts/install-deps.sh

step 2/6 "build (./scripts/build.sh -> $BUILD/)"
./scripts/build.sh >"/tmp/xlb-demo-build.log" 2>&1 || {
	tail -30 /tmp/xlb-demo-build.log
	echo "demo.sh: the build failed (full log: /tmp/xlb-demo-build.log)" >&2
	exit 1
}
echo "built: $BUILD/ctl/xlbctl, $BUILD/xdp/xlb.bpf.o, $BUILD/xdp/decap.bpf.o"

T0=$(date +%s)
step 3/6 "lab up (scripts/lab.sh; map in docs/operations.md)"
trap 'echo; echo "[cleanup] lab down"; lab_down' EXIT
lab_up
cat <<EOF
  clients   c1 $(lab_v4 c1) $(lab_v6 c1)   c2 $(lab_v4 c2) $(lab_v6 c2)
  router    routes the VIPs $LAB_VIP4_NET and $LAB_VIP6_NET to the balancer
  balancer  lb1 $(lab_v4 lb1) (interface $LB_IF)
  backends  be1..be3 10.1.N.2 / fd00:1:N::2, VIPs on lo, decap XDP on their link,
            answering clients directly (DSR)
EOF

step 4/6 "xlbctl load -c configs/lab.yaml (native XDP on $LB_IF)"
lab_xlbctl load -c configs/lab.yaml

# tally NAME...: "be1 10  be2 11  be3 9"
tally() { sort | uniq -c | awk '{printf "%s %d  ", $2, $1}'; }

FAILED=0
# curl_round VIP: N requests from each client, each a new connection (and
# so a new source port), printing which backend answered.
curl_round() {
	local vip=$1 url c i out names=() fails=0
	if [[ $vip == *:* ]]; then url="http://[$vip]/"; else url="http://$vip/"; fi
	for c in c1 c2; do
		for ((i = 0; i < N; i++)); do
			if out=$(lab_exec "$c" curl -s --max-time 2 --retry 2 \
				--retry-connrefused "$url"); then
				names+=("$out")
			else
				fails=$((fails + 1))
			fi
		done
	done
	printf '  TCP %-22s %3d requests from c1+c2: %s' "$url" $((2 * N)) \
		"$(printf '%s\n' "${names[@]}" | tally)"
	if [ $fails -eq 0 ]; then echo "(all answered)"; else echo "($fails FAILED)"; fi
	FAILED=$((FAILED + fails))
}

udp_round() {
	local vip=$1 c out
	for c in c1 c2; do
		out=$(lab_exec "$c" "$LAB_PY" "$LAB_SERVER" udp "$vip" $LAB_UDP_PORT -n "$N") ||
			FAILED=$((FAILED + 1))
		printf '  UDP %-22s %3d requests from %s:    %s\n' "[$vip]:$LAB_UDP_PORT" "$N" "$c" \
			"$(echo "$out" | "$LAB_PY" -c 'import json,sys; d=json.load(sys.stdin); print("  ".join(f"{k} {v}" for k,v in sorted(d["backends"].items())), "(all answered)" if not d["failed"] else "(%d FAILED)" % d["failed"])')"
	done
}

step 5/6 "traffic: clients -> router -> xlb -> backend -> client"
curl_round 10.0.0.10
curl_round fd00:a::10
udp_round 10.0.0.10
udp_round fd00:a::10
for vip in 10.0.0.10 fd00:a::10; do
	if lab_exec c1 ping -c 2 -i 0.2 -W 1 "$vip" >/dev/null; then
		echo "  ping $vip: answered by xlb itself (XDP echo reply)"
	else
		echo "  ping $vip: NOT answered"
		FAILED=$((FAILED + 1))
	fi
done

step 6/6 "xlbctl stats -i $LB_IF"
lab_xlbctl stats -i "$LB_IF"

echo
if [ $FAILED -eq 0 ]; then
	echo "demo: every request was answered by a backend, directly to the client;"
	echo "      the counts above show how Maglev spread them (equal weights)."
	echo "      Took $(($(date +%s) - T0)) s after the build."
else
	echo "demo: $FAILED request(s) were NOT answered: see the output above;"
	echo "      ./scripts/lab.sh status shows the lab, docs/operations.md explains it"
	exit 1
fi
