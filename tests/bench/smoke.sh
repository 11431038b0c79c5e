#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench/smoke: xlb-bench --quick runs every section and prints valid JSON
# with the fields docs/benchmarks.md promises. Timing is never judged.
set -euo pipefail
bench=${1:?usage: smoke.sh PATH/TO/xlb-bench}
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
out=$(mktemp /tmp/xlbb-smoke.XXXXXX)
err=$(mktemp /tmp/xlbb-smoke-err.XXXXXX)
trap 'rm -f "$out" "$err"' EXIT

if ! "$bench" --quick --json >"$out" 2>"$err"; then
	echo "FAIL: xlb-bench --quick --json exited non-zero; its stderr:" >&2
	cat "$err" >&2
	exit 1
fi
/usr/bin/python3 - "$out" <<'PY'
import json, sys
with open(sys.argv[1]) as f:
    try:
        d = json.load(f)
    except ValueError as e:
        sys.exit("FAIL: output is not JSON: %s" % e)
def need(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)
need(isinstance(d.get("floor_ns"), (int, float)) and d["floor_ns"] > 0,
     "floor_ns missing or not > 0")
names = {p["name"]: p for p in d.get("paths", [])}
for n in ("v4-tcp-established", "v6-tcp-established", "v4-udp-established",
          "v4-tcp-syn-new", "v4-tcp-syn-new-full", "v4-tcp-ack-new-full",
          "v4-non-vip-pass"):
    need(n in names, "path %s missing" % n)
for p in names.values():
    need(set(p) >= {"name", "ns", "ratio"}, "path fields: %r" % p)
    need(p["ok"], "path %s took the wrong path: %s" % (p["name"], p["check"]))
    need(p["ns"] > 0, "path %s: ns %r" % (p["name"], p["ns"]))
lf = d.get("live_frames", {})
need(isinstance(lf.get("xlb_mpps"), (int, float)) and lf["xlb_mpps"] > 0,
     "live_frames.xlb_mpps: %r" % lf)
need(isinstance(lf.get("floor_mpps"), (int, float)) and lf["floor_mpps"] > 0,
     "live_frames.floor_mpps: %r" % lf)
need(lf.get("rounds", 0) >= 1 and len(lf.get("ratios", [])) == lf["rounds"],
     "live_frames.rounds / ratios: %r" % lf)
need(lf.get("ct_size") == 1000000, "live_frames.ct_size: %r" % lf)
need(lf.get("xlb_mpps_no_conntrack", 0) > 0 and
     len(lf.get("ratios_no_conntrack", [])) == lf["rounds"],
     "live_frames.xlb_mpps_no_conntrack / ratios_no_conntrack: %r" % lf)
need(0 < lf.get("bucket_mb", 0) <= lf["flows"] * 64 / 1e6,
     "live_frames.bucket_mb: %r" % lf)
ml = lf.get("mem_latency_ns", {})
need(len(ml) >= 3 and all(v > 0 for v in ml.values()),
     "live_frames.mem_latency_ns: %r" % ml)
sf = d.get("syn_flood", {})
for c in ("stable", "ring_change"):
    need(c in sf, "syn_flood.%s missing: %r" % (c, sf))
    need(sf[c]["established"] > 0, "syn_flood.%s: no established flows" % c)
    need(sf[c]["moved_with_entry"] == 0,
         "syn_flood.%s: a remembered flow changed backend" % c)
need(sf["stable"]["moved"] == 0,
     "syn_flood.stable: flows moved without a ring change")
cp = d.get("control_plane", {})
need(len(cp.get("maglev_build_ms", [])) >= 3, "control_plane.maglev_build_ms")
need(cp.get("maps_total_bytes", 0) > 0, "control_plane.maps_total_bytes")
need("reload" in cp, "control_plane.reload missing")
print("bench/smoke: ok (%d paths, reload: %s)" % (len(names), cp["reload"]))
PY
