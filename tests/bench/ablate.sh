#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Where xlb's time goes: build variants of xdp/xlb.bpf.c with one part
# switched off (counters, flow hash, encapsulation, ...) and time
# the main paths of each with xlb-bench --object. Profiling aid, not a
# test: the variants are wrong balancers. The sources are copied to a
# temporary directory; the tree is never modified.
#
# usage: tests/bench/ablate.sh BUILD_DIR [xlb-bench options...]
#   e.g. tests/bench/ablate.sh build --calls 300000 --runs 3
set -euo pipefail
build=${1:?usage: ablate.sh BUILD_DIR [xlb-bench options]}
shift
src=$(cd "$(dirname "$0")/../.." && pwd)
bench=$build/tests/bench/xlb-bench
[ -x "$bench" ] || { echo "ablate.sh: $bench not built (cmake --build $build --target xlb-bench)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/xlbb-ablate.XXXXXX)
# ABLATE_KEEP=1 keeps the variants and their JSON (the path is printed)
if [ -n "${ABLATE_KEEP:-}" ]; then
	echo "ablate.sh: variants in $tmp" >&2
else
	trap 'rm -rf "$tmp"' EXIT
fi
cp "$src"/xdp/*.h "$src"/xdp/xlb.bpf.c "$tmp"/

# Insert #ifdef hooks; a pattern that no longer matches stops the script
# (the datapath changed: update the pattern).
/usr/bin/python3 - "$tmp" <<'PY'
import sys
d = sys.argv[1]
def patch(f, old, new):
    p = d + "/" + f
    s = open(p).read()
    if old not in s:
        sys.exit("ablate.sh: pattern not found in %s:\n%s" % (f, old))
    open(p, "w").write(s.replace(old, new, 1))
patch("xlb.bpf.c", "\t__u64 *c = bpf_map_lookup_elem(&xlb_stats, &reason);\n\n\tif (c)\n\t\t*c += 1;",
      "#ifndef ABL_NO_STATS\n\t__u64 *c = bpf_map_lookup_elem(&xlb_stats, &reason);\n\n\tif (c)\n\t\t*c += 1;\n#endif")
patch("xlb.bpf.c", "\tvs = bpf_map_lookup_elem(&xlb_vip_stats, &vip_id);",
      "#ifdef ABL_NO_STATS\n\tstruct xlb_vip_stats abl_vs = {};\n\tvs = &abl_vs;\n#else\n\tvs = bpf_map_lookup_elem(&xlb_vip_stats, &vip_id);\n#endif")
patch("xlb.bpf.c", "\tbs = bpf_map_lookup_elem(&xlb_be_stats, &be_id);",
      "#ifdef ABL_NO_STATS\n\tbs = NULL;\n#else\n\tbs = bpf_map_lookup_elem(&xlb_be_stats, &be_id);\n#endif")
patch("xlb.bpf.c", "\tslot = xlb_flow_hash(f, vip->hash_mode) % ring_size;",
      "#ifdef ABL_NO_HASH\n\tslot = (f->src[0] ^ f->sport) % ring_size;\n#else\n\tslot = xlb_flow_hash(f, vip->hash_mode) % ring_size;\n#endif")
patch("xlb.bpf.c", "\t__u32 entropy = xlb_flow_entropy(f);",
      "#ifdef ABL_NO_HASH\n\t__u32 entropy = f->src[0];\n#else\n\t__u32 entropy = xlb_flow_entropy(f);\n#endif")
patch("encap.h", "\tif (bpf_xdp_adjust_head(ctx, -(int)olen))",
      "#ifdef ABL_NO_ENCAP\n\treturn 0;\n#endif\n\tif (bpf_xdp_adjust_head(ctx, -(int)olen))")
PY

variants=(
	"as-is:"
	"no-stats:-DABL_NO_STATS"
	"no-flow-hash:-DABL_NO_HASH"
	"no-encap:-DABL_NO_ENCAP"
	"bare:-DABL_NO_STATS -DABL_NO_HASH -DABL_NO_ENCAP"
)
# inserting paths are left out: their churn scatters the table and slows
# every later established path (see docs/benchmarks.md)
# (the connection table's share: compare v4-tcp-established with
# v4-tcp-no-conntrack, a VIP with the no-conntrack flag)
paths=v4-tcp-established,v4-tcp-established-1flow,v4-tcp-no-conntrack,v6-tcp-established,v6-tcp-established-1flow,v4-udp-established,v4-tcp-syn-new,v4-non-vip-pass
arch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
for v in "${variants[@]}"; do
	name=${v%%:*}
	flags=${v#*:}
	# shellcheck disable=SC2086
	clang -g -O2 -target bpf -mcpu=v3 -Wall -Wno-unused-parameter \
		-Wno-missing-field-initializers -Wno-unused-variable \
		-Wno-unused-but-set-variable -Wno-unused-function \
		-DXLB_RING_SIZE_BUILD=65537 -I"$tmp" -idirafter "/usr/include/$arch" \
		$flags -c "$tmp/xlb.bpf.c" -o "$tmp/$name.bpf.o"
done
# Variants take turns, round after round, and the median per variant is
# kept: load from other work on the machine drifts over minutes, and would
# otherwise land on whichever variant ran at the time.
rounds=${ABLATE_ROUNDS:-3}
for ((r = 0; r < rounds; r++)); do
	for v in "${variants[@]}"; do
		name=${v%%:*}
		"$bench" --only cost --filter "$paths" --object "$tmp/$name.bpf.o" \
			--no-check --json "$@" >"$tmp/$name.$r.json" ||
			echo "ablate.sh: variant $name failed in round $r" >&2
	done
done

/usr/bin/python3 - "$tmp" "$rounds" "${variants[@]}" <<'PY'
import json, statistics, sys
d, rounds = sys.argv[1], int(sys.argv[2])
variants = [v.split(":")[0] for v in sys.argv[3:]]
ns, floor = {}, {}
for v in variants:
    ns[v], fl = {}, []
    for r in range(rounds):
        try:
            j = json.load(open("%s/%s.%d.json" % (d, v, r)))
        except ValueError:
            continue
        fl.append(j.get("floor_ns", 0))
        for p in j["paths"]:
            if p["ok"]:
                ns[v].setdefault(p["name"], []).append(p["ns"])
    floor[v] = statistics.median(fl) if fl else 0
    ns[v] = {k: statistics.median(x) for k, x in ns[v].items()}
paths = list(ns["as-is"])
print("ns per packet (kernel-timed, median of %d rounds); in brackets: "
      "difference to as-is" % rounds)
print("%-16s %6s " % ("variant", "floor") + " ".join("%21s" % p[:21] for p in paths))
for v in variants:
    row = "%-16s %6.1f " % (v, floor[v])
    for p in paths:
        if p in ns[v]:
            row += " %10.1f (%+7.1f)" % (ns[v][p], ns[v][p] - ns["as-is"][p])
        else:
            row += " %21s" % "-"
    print(row)
PY
