#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A full connection table, in a throw-away netns: 512 established flows,
# then a SYN flood of 4x the table (SYNs are never remembered: the table
# and the established flows' entries stay), then a flood of 4x the table
# of one-packet "established" flows (spoofed ACKs): they fill the free
# ways and evict each other, never a flow seen again since it was
# remembered, so every established flow stays remembered and on its
# backend, as the counters (ct_hits, ct_misses, new_flows) that
# `xlbctl stats --json` reports show. Traffic runs through the pinned program
# with BPF_PROG_TEST_RUN from a helper built here.
set -euo pipefail

B=${XLB_BUILD:?set XLB_BUILD to the build directory}
S=${XLB_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
CTL=$B/ctl/xlbctl
ID=$$
NS=xrb${ID}c IF=xrb${ID}a PEER=xrb${ID}b
TMP=$(mktemp -d /tmp/xrb${ID}.XXXX)
CT=4096 EST=512 FLOOD=$((4 * 4096))

fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
	nsenter --net=/run/netns/$NS "$CTL" unload -i $IF >/dev/null 2>&1 || true
	rm -rf /sys/fs/bpf/xlb/$IF 2>/dev/null || true
	ip netns del $NS 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -x "$CTL" ] || fail "$CTL not built"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

cat >"$TMP/xrb_ct.c" <<'HELPER'
/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Connection-table pressure driver for tests/e2e/robust_ctfull.sh: runs
 * established flows, a SYN flood and a flood of new established flows
 * through the pinned xlb program, checking backends and counters. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "conntrack.h"
#include "xlb_abi.h"

static char pin[256];
static int prog, ncpu, errors;

#define ERR(...) (errors++ < 20 ? fprintf(stderr, "ERROR: " __VA_ARGS__) : 0)

static int pinned(const char *name)
{
	char p[300];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", pin, name);
	fd = bpf_obj_get(p);
	if (fd < 0) {
		fprintf(stderr, "ERROR: cannot open %s: %s\n", p, strerror(errno));
		exit(1);
	}
	return fd;
}

/* A TCP packet of flow @id (distinct source per id) with @flags; returns
 * the backend's last address byte, or -1 if not XDP_TX IPIP. */
static int send_flow(uint32_t id, uint8_t flags)
{
	uint8_t p[54] = { 0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 3, 0x08, 0 };
	uint8_t out[256];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p, .data_size_in = 54,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	p[14] = 0x45;
	p[17] = 40;
	p[20] = 0x40;
	p[22] = 64;
	p[23] = 6;
	/* source 100.64.0.0/10 + id, port 1024 + id % 60000 */
	p[26] = 100;
	p[27] = (uint8_t)(64 | ((id >> 16) & 63));
	p[28] = (uint8_t)(id >> 8);
	p[29] = (uint8_t)id;
	p[30] = 10, p[31] = 0, p[32] = 0, p[33] = 10;
	p[34] = (uint8_t)((1024 + id % 60000) >> 8);
	p[35] = (uint8_t)(1024 + id % 60000);
	p[37] = 80;
	p[46] = 0x50;
	p[47] = flags;
	if (bpf_prog_test_run_opts(prog, &o)) {
		fprintf(stderr, "ERROR: test run: %s\n", strerror(errno));
		exit(1);
	}
	if (o.retval != XDP_TX || out[23] != 4)
		return -1;
	return out[33];
}

static void vip_stats(struct xlb_vip_stats *s)
{
	struct xlb_vip_stats v[512];
	uint32_t k = 0;
	int fd = pinned("xlb_vip_stats"), c;

	memset(s, 0, sizeof(*s));
	if (bpf_map_lookup_elem(fd, &k, v)) {
		fprintf(stderr, "ERROR: xlb_vip_stats: %s\n", strerror(errno));
		exit(1);
	}
	for (c = 0; c < ncpu; c++) {
		s->new_flows += v[c].new_flows;
		s->ct_hits += v[c].ct_hits;
		s->ct_misses += v[c].ct_misses;
	}
	close(fd);
}

/* IPv4 flows remembered. */
static unsigned int ct_count(void)
{
	struct xlb_ct_table t;
	int fd = pinned("xlb_conntrack4"), err;
	unsigned int n;

	err = xlb_ct_open(&t, fd, XLB_FAMILY_V4);
	if (err) {
		fprintf(stderr, "ERROR: mapping xlb_conntrack4: %s\n",
			strerror(-err));
		exit(1);
	}
	n = (unsigned int)xlb_ct_count(&t, 0);
	xlb_ct_close(&t);
	close(fd);
	return n;
}

int main(int argc, char **argv)
{
	uint32_t est, flood, i;
	struct xlb_vip_stats s0, s1, s2, s3;
	int *be;
	unsigned int n0, n1, n2;

	if (argc != 4) {
		fprintf(stderr, "usage: %s IFACE ESTABLISHED FLOOD\n", argv[0]);
		return 2;
	}
	snprintf(pin, sizeof(pin), "/sys/fs/bpf/xlb/%s", argv[1]);
	est = (uint32_t)atoi(argv[2]);
	flood = (uint32_t)atoi(argv[3]);
	ncpu = libbpf_num_possible_cpus();
	prog = pinned("prog");
	be = calloc(est, sizeof(*be));

	/* established flows: handshake ACK, remembered */
	for (i = 0; i < est; i++)
		if ((be[i] = send_flow(i, 0x10)) < 0)
			ERR("established flow %u not forwarded\n", i);
	n0 = ct_count();
	vip_stats(&s0);
	printf("established: %u flows, %u in the connection table\n", est, n0);
	if (n0 < est)
		ERR("only %u of %u established flows remembered\n", n0, est);

	/* SYN flood from new sources: forwarded, never remembered */
	for (i = 0; i < flood; i++)
		if (send_flow(1000000 + i, 0x02) < 0)
			ERR("SYN %u not forwarded\n", i);
	n1 = ct_count();
	for (i = 0; i < est; i++)
		if (send_flow(i, 0x10) != be[i])
			ERR("flow %u moved during the SYN flood\n", i);
	vip_stats(&s1);
	printf("SYN flood: %u SYNs, table %u -> %u entries, established "
	       "flows: %llu hits, %llu misses\n",
	       flood, n0, n1, (unsigned long long)(s1.ct_hits - s0.ct_hits),
	       (unsigned long long)(s1.ct_misses - s0.ct_misses));
	if (n1 != n0)
		ERR("the SYN flood changed the table: %u -> %u entries\n", n0, n1);
	if (s1.ct_hits - s0.ct_hits != est)
		ERR("established flows after the SYN flood: %llu hits, want %u "
		    "(evicted by SYNs?)\n",
		    (unsigned long long)(s1.ct_hits - s0.ct_hits), est);

	/* flood of one-packet "established" flows (spoofed ACKs): they
	 * take the empty ways and each other's, never a way whose flow has
	 * been seen again */
	for (i = 0; i < flood; i++)
		if (send_flow(2000000 + i, 0x10) < 0)
			ERR("flood flow %u not forwarded\n", i);
	n2 = ct_count();
	vip_stats(&s2);
	for (i = 0; i < est; i++)
		if (send_flow(i, 0x10) != be[i])
			ERR("flow %u moved after eviction though the ring is "
			    "unchanged\n", i);
	vip_stats(&s3);
	printf("ACK flood: %u new flows, table %u entries, new_flows +%llu; "
	       "established flows: %llu hits, %llu misses, all on their "
	       "backend\n",
	       flood, n2, (unsigned long long)(s2.new_flows - s1.new_flows),
	       (unsigned long long)(s3.ct_hits - s2.ct_hits),
	       (unsigned long long)(s3.ct_misses - s2.ct_misses));
	if (s2.new_flows - s1.new_flows != flood)
		ERR("new_flows grew by %llu, want %u\n",
		    (unsigned long long)(s2.new_flows - s1.new_flows), flood);
	if (s3.ct_hits - s2.ct_hits != est)
		ERR("established flows after the ACK flood: %llu hits, want %u "
		    "(evicted by one-packet flows)\n",
		    (unsigned long long)(s3.ct_hits - s2.ct_hits), est);
	if (n2 <= n1 + est)
		ERR("the ACK flood left the table at %u entries (was %u): it "
		    "did not fill the free ways\n", n2, n1);
	printf("%d errors\n", errors);
	return errors ? 1 : 0;
}
HELPER
${CC:-cc} -O2 -g -Wall -Wextra -Werror -I"$S/xdp" -I"$S/lib" \
	-o "$TMP/xrb_ct" "$TMP/xrb_ct.c" "$S/lib/conntrack.c" -lbpf ||
	fail "cannot build the helper"

ip netns add $NS
ip link add $IF netns $NS type veth peer name $PEER netns $NS
ip -n $NS link set $IF up
ip -n $NS link set $PEER up
cat >"$TMP/xlb.yaml" <<YAML
interface: $IF
mode: generic
gateway_mac: 02:00:00:00:00:01
maglev_table_size: 251
conntrack_size: $CT
vips:
  - name: web
    address: 10.0.0.10
    port: 80
    protocol: tcp
    backends:
      - address: 10.1.0.1
      - address: 10.1.0.2
      - address: 10.1.0.3
      - address: 10.1.0.4
YAML
ctl() { nsenter --net=/run/netns/$NS "$CTL" "$@"; }
ctl load -c "$TMP/xlb.yaml" || fail "load"
nsenter --net=/run/netns/$NS "$TMP/xrb_ct" $IF $EST $FLOOD || fail "see the errors above"

# The operator sees it: new flows and connection-table misses.
ctl stats -i $IF --json >"$TMP/stats.json" || fail "stats --json"
/usr/bin/python3 - "$TMP/stats.json" $EST $FLOOD <<'PY' || fail "stats --json does not show the flows as counted above"
import json, sys
s = json.load(open(sys.argv[1]))
est, flood = int(sys.argv[2]), int(sys.argv[3])
w = s["vips"]["web"]
print(f"stats --json: new_flows {w['new_flows']}, ct_hits {w['ct_hits']}, "
      f"ct_misses {w['ct_misses']}")
# new flows: the established ones and the ACK flood, nothing evicted
assert w["new_flows"] == est + flood, w
# misses: every SYN, every flood flow, each established flow's first packet
assert w["ct_misses"] == 2 * flood + est, w
assert w["ct_hits"] == 2 * est, w
assert s["global"]["drop_no_backend"] == 0, s["global"]
PY
ctl unload -i $IF >/dev/null || fail "unload"
echo PASS
