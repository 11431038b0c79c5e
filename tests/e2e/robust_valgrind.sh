#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# xlbctl under valgrind: `check` on every shipped config and on broken
# ones, then load, reload, stats, status and unload in a throw-away netns.
# Any memory error or definite leak fails the test (valgrind exit 99).
set -euo pipefail

B=${XLB_BUILD:?set XLB_BUILD to the build directory}
S=${XLB_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
CTL=$B/ctl/xlbctl
ID=$$
NS=xrb${ID}v IF=xrb${ID}a PEER=xrb${ID}b
TMP=$(mktemp -d /tmp/xrb${ID}.XXXX)
SUPP=$TMP/kernel-filled.supp
VG=(valgrind -q --error-exitcode=99 --leak-check=full
	--errors-for-leak-kinds=definite --suppressions="$SUPP")

fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
	nsenter --net=/run/netns/$NS "$CTL" unload -i $IF >/dev/null 2>&1 || true
	rm -rf /sys/fs/bpf/xlb/$IF 2>/dev/null || true
	ip netns del $NS 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

command -v valgrind >/dev/null || { echo "SKIP: valgrind not installed"; exit 77; }

# Valgrind 3.19 does not know what the kernel writes for several bpf(2)
# commands (BTF and object info: "unhandled eBPF command"), so libbpf and
# libxdp reading those buffers look like reads of uninitialised memory,
# and libbpf's feature probes (and bpf_map_get_next_key, which zeroes the
# attr only up to next_key) pass attrs valgrind checks field by field.
# Only errors whose top frame is inside libbpf/libxdp (or a string
# function they call) are suppressed; leaks and errors in our code count.
cat >"$SUPP" <<'SUPP'
{
   libbpf-cond
   Memcheck:Cond
   obj:*/libbpf.so*
}
{
   libbpf-cond
   Memcheck:Cond
   fun:*str*
   obj:*/libbpf.so*
}
{
   libbpf-cond
   Memcheck:Cond
   fun:btf__*
   obj:*/libbpf.so*
}
{
   libbpf-value8
   Memcheck:Value8
   obj:*/libbpf.so*
}
{
   libbpf-value8
   Memcheck:Value8
   fun:*str*
   obj:*/libbpf.so*
}
{
   libbpf-value8
   Memcheck:Value8
   fun:btf__*
   obj:*/libbpf.so*
}
{
   libxdp-cond
   Memcheck:Cond
   obj:*/libxdp.so*
}
{
   libxdp-cond
   Memcheck:Cond
   fun:*str*
   obj:*/libxdp.so*
}
{
   libxdp-cond
   Memcheck:Cond
   fun:btf__*
   obj:*/libxdp.so*
}
{
   libxdp-value8
   Memcheck:Value8
   obj:*/libxdp.so*
}
{
   libxdp-value8
   Memcheck:Value8
   fun:*str*
   obj:*/libxdp.so*
}
{
   libxdp-value8
   Memcheck:Value8
   fun:btf__*
   obj:*/libxdp.so*
}
{
   libbpf-probe-expected_attach_type
   Memcheck:Param
   bpf(attr->expected_attach_type)
   fun:syscall
   obj:*/libbpf.so*
}
{
   libbpf-probe-prog_ifindex
   Memcheck:Param
   bpf(attr->prog_ifindex)
   fun:syscall
   obj:*/libbpf.so*
}
{
   libbpf-get_next_key-flags
   Memcheck:Param
   bpf(attr->flags)
   fun:syscall
   fun:bpf_map_get_next_key
}
SUPP
[ -x "$CTL" ] || fail "$CTL not built"

# vg WANT_RC CMD...: run under valgrind, compare the exit status.
vg() {
	local want=$1 rc=0
	shift
	"${VG[@]}" "$@" >"$TMP/out" 2>&1 || rc=$?
	if [ "$rc" -eq 99 ]; then
		cat "$TMP/out" >&2
		fail "valgrind found errors or leaks in: $*"
	fi
	if [ "$rc" -ne "$want" ]; then
		cat "$TMP/out" >&2
		fail "exit $rc, want $want: $*"
	fi
}

# ---- check: good configs ------------------------------------------------
n=0
for f in "$S"/configs/*.yaml; do
	vg 0 "$CTL" check "$f"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no configs/*.yaml found under $S"
echo "check: $n shipped configs valid, no leak"

# ---- check: broken configs ----------------------------------------------
bad() { printf '%b' "$2" >"$TMP/$1.yaml"; }
bad syntax 'interface: eth0\nvips: [\n'
bad unknown_key 'interface: eth0\nvips:\n  - name: a\n    adress: 10.0.0.1\n    port: 80\n    protocol: tcp\n    backends: []\n'
bad bad_addr 'interface: eth0\nvips:\n  - name: a\n    address: 10.0.0.300\n    port: 80\n    protocol: tcp\n    backends:\n      - address: 10.1.0.1\n'
bad dup_vip 'interface: eth0\nvips:\n  - {name: a, address: 10.0.0.1, port: 80, protocol: tcp, backends: [{address: 10.1.0.1}]}\n  - {name: b, address: 10.0.0.1, port: 80, protocol: tcp, backends: [{address: 10.1.0.2}]}\n'
bad bad_types 'interface: [eth0]\nmtu: lots\nmaglev_table_size: 65536\nvips: {}\n'
bad alias 'interface: &i eth0\nvips:\n  - name: *i\n    address: 10.0.0.1\n    port: 80\n    protocol: tcp\n    backends: [{address: 10.1.0.1}]\n'
bad empty ''
bad binary '\x00\xff\xfe\x01interface: eth0\n'
for f in "$TMP"/*.yaml; do
	vg 1 "$CTL" check "$f"
	grep -q 'error' "$TMP/out" || fail "$f: rejected without an error message"
done
vg 1 "$CTL" check "$TMP"                      # a directory
vg 1 "$CTL" check "$TMP/does-not-exist.yaml"  # missing
truncate -s 17M "$TMP/huge.yaml"
vg 1 "$CTL" check "$TMP/huge.yaml"            # over the size limit
rm -f "$TMP/huge.yaml"
echo "check: broken configs refused, no leak"

# ---- load / reload / stats / status / unload in a netns -----------------
[ "$(id -u)" = 0 ] || { echo "SKIP: the netns part needs root"; exit 0; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
ip netns add $NS
ip link add $IF netns $NS type veth peer name $PEER netns $NS
ip -n $NS link set $IF up
ip -n $NS link set $PEER up

cfg() {
	cat >"$TMP/cfg.yaml" <<YAML
interface: $IF
mode: generic
gateway_mac: 02:00:00:00:00:01
maglev_table_size: 251
conntrack_size: 4096
vips:
  - name: web
    address: 10.0.0.10
    port: 80
    protocol: tcp
    backends:
$1
  - name: dns
    address: 2001:db8::10
    port: 53
    protocol: udp
    encap: gue
    backends:
      - address: 2001:db8:1::1
YAML
}
ctl() { nsenter --net=/run/netns/$NS "${VG[@]}" "$CTL" "$@"; }
ctlrc() {
	local want=$1 rc=0
	shift
	ctl "$@" >"$TMP/out" 2>&1 || rc=$?
	[ "$rc" -ne 99 ] || { cat "$TMP/out" >&2; fail "valgrind: xlbctl $*"; }
	[ "$rc" -eq "$want" ] || { cat "$TMP/out" >&2; fail "xlbctl $*: exit $rc, want $want"; }
}

cfg "      - address: 10.1.0.1
      - address: 10.1.0.2"
ctlrc 0 load -c "$TMP/cfg.yaml"
cfg "      - address: 10.1.0.1
      - address: 10.1.0.2
        state: drain
      - address: 10.1.0.3"
ctlrc 0 reload -c "$TMP/cfg.yaml"
cfg "      - address: 10.1.0.3
        weight: 50"
ctlrc 0 reload -c "$TMP/cfg.yaml"
printf 'interface: %s\nvips: [\n' $IF >"$TMP/broken.yaml"
ctlrc 1 reload -c "$TMP/broken.yaml"
ctlrc 0 stats -i $IF --json
ctlrc 0 stats -i $IF --prometheus
ctlrc 0 status -i $IF
ctlrc 0 unload -i $IF
[ ! -e /sys/fs/bpf/xlb/$IF ] || fail "pins left in /sys/fs/bpf/xlb/$IF"
echo "load/reload/stats/status/unload: no memory error, no leak"
echo PASS
