#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Where xlb's time goes: build variants of xdp/xlb.bpf.c with one part
# switched off (stats, conntrack, flow hash, encapsulation, ...) and time
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
trap 'rm -rf "$tmp"' EXIT
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
patch("xlb.bpf.c", "\tint use_ct = !(vip->flags & XLB_VIP_F_NO_CONNTRACK);",
      "#ifdef ABL_NO_CT\n\tint use_ct = 0;\n#else\n\tint use_ct = !(vip->flags & XLB_VIP_F_NO_CONNTRACK);\n#endif")
patch("xlb.bpf.c", "\t__u32 hash = xlb_flow_hash(f, vip->hash_mode);",
      "#ifdef ABL_NO_HASH\n\t__u32 hash = f->src[0] ^ f->sport;\n#else\n\t__u32 hash = xlb_flow_hash(f, vip->hash_mode);\n#endif")
patch("xlb.bpf.c", "\tbytes = bpf_xdp_get_buff_len(ctx);",
      "#ifdef ABL_NO_GETLEN\n\tbytes = ctx->data_end - ctx->data;\n#else\n\tbytes = bpf_xdp_get_buff_len(ctx);\n#endif")
patch("encap.h", "\tif (bpf_xdp_adjust_head(ctx, -(int)olen))",
      "#ifdef ABL_NO_ENCAP\n\treturn 0;\n#endif\n\tif (bpf_xdp_adjust_head(ctx, -(int)olen))")
PY

variants=(
	"as-is:"
	"no-stats:-DABL_NO_STATS"
	"no-conntrack:-DABL_NO_CT"
	"no-flow-hash:-DABL_NO_HASH"
	"no-encap:-DABL_NO_ENCAP"
	"no-get-buff-len:-DABL_NO_GETLEN"
	"bare:-DABL_NO_STATS -DABL_NO_CT -DABL_NO_HASH -DABL_NO_ENCAP -DABL_NO_GETLEN"
)
paths=v4-tcp-established,v6-tcp-established,v4-udp-established,v4-tcp-syn-new,v4-tcp-ack-new,v4-non-vip-pass
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
	"$bench" --only cost --filter "$paths" --object "$tmp/$name.bpf.o" \
		--no-check --json "$@" >"$tmp/$name.json" || {
		# a variant that skips stats fails the path checks; keep
		# its timings all the same
		true
	}
done

/usr/bin/python3 - "$tmp" "${variants[@]}" <<'PY'
import json, sys
d, variants = sys.argv[1], [v.split(":")[0] for v in sys.argv[2:]]
res = {}
for v in variants:
    try:
        res[v] = json.load(open("%s/%s.json" % (d, v)))
    except ValueError:
        res[v] = {"paths": [], "floor_ns": 0}
paths = [p["name"] for p in res["as-is"]["paths"]]
print("ns per packet (kernel-timed); in brackets: saving vs as-is")
print("%-20s %7s " % ("variant", "floor") + " ".join("%22s" % p for p in paths))
base = {p["name"]: p["ns"] for p in res["as-is"]["paths"]}
for v in variants:
    ns = {p["name"]: p["ns"] for p in res[v]["paths"]}
    row = "%-20s %7.1f " % (v, res[v].get("floor_ns", 0))
    for p in paths:
        if p in ns:
            row += " %11.1f (%+7.1f)" % (ns[p], ns[p] - base[p])
        else:
            row += " %22s" % "-"
    print(row)
PY
