#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Faults and refusals, in a throw-away netns: loading over another XDP
# program (generic and native) or over a running xlb is refused with a
# message and leaves that program attached; unload of nothing is harmless
# and never detaches a program that is not ours; pins are 0600 in 0700
# directories; a non-root user gets a clear refusal (check still works);
# the loader refuses a directory, a FIFO (without hanging), a device and
# an over-size file, by check, load and reload alike, changing nothing.
set -euo pipefail

B=${XLB_BUILD:?set XLB_BUILD to the build directory}
S=${XLB_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
CTL=$B/ctl/xlbctl
ID=$$
NS=xrb${ID}f IF=xrb${ID}a PEER=xrb${ID}b IF2=xrb${ID}c PEER2=xrb${ID}d
TMP=$(mktemp -d /tmp/xrb${ID}.XXXX)
chmod 755 "$TMP"

fail() { echo "FAIL: $*" >&2; exit 1; }
# `ip link set ... obj` creates iproute2's bpffs directories (tc/globals,
# and the ip and xdp links to it): remove the ones this test made.
IPROUTE_DIRS=()
for d in /sys/fs/bpf/tc /sys/fs/bpf/ip /sys/fs/bpf/xdp; do
	[ -e "$d" ] || [ -L "$d" ] || IPROUTE_DIRS+=("$d")
done
cleanup() {
	for d in "${IPROUTE_DIRS[@]}"; do
		if [ -L "$d" ]; then
			rm -f "$d"
		elif [ -d "$d" ]; then
			find "$d" -depth -type d -empty -delete 2>/dev/null || true
		fi
	done
	for i in $IF $IF2; do
		nsenter --net=/run/netns/$NS "$CTL" unload -i $i >/dev/null 2>&1 || true
		rm -rf /sys/fs/bpf/xlb/$i 2>/dev/null || true
	done
	ip netns del $NS 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -x "$CTL" ] || fail "$CTL not built"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

ctl() { nsenter --net=/run/netns/$NS "$CTL" "$@"; }
CTLN=(nsenter --net=/run/netns/$NS "$CTL")
NOBODY=(nsenter --net=/run/netns/$NS setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL")
# expect RC PATTERN CMD...: exit status RC and output matching PATTERN
expect() {
	local want=$1 pat=$2 rc=0 out
	shift 2
	out=$(timeout 20 "$@" 2>&1) || rc=$?
	[ "$rc" -eq "$want" ] || fail "$*: exit $rc, want $want; output: $out"
	grep -Eiq -- "$pat" <<<"$out" || fail "$*: output '$out' does not match /$pat/"
	echo "  ok: $* -> $rc: $(head -1 <<<"$out")"
}
xdp_id() { ip -n $NS -d link show "$1" | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p' | head -1; }

ip netns add $NS
ip link add $IF netns $NS type veth peer name $PEER netns $NS
ip link add $IF2 netns $NS type veth peer name $PEER2 netns $NS
for i in $IF $PEER $IF2 $PEER2; do ip -n $NS link set $i up; done

cfg() { # cfg FILE IFACE
	cat >"$1" <<YAML
interface: $2
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
      - address: 10.1.0.1
YAML
}
cfg "$TMP/a.yaml" $IF
cfg "$TMP/c.yaml" $IF2
chmod 644 "$TMP"/*.yaml

# ---- another XDP program on the interface ------------------------------
cat >"$TMP/pass.c" <<'C'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int xrb_pass(struct xdp_md *c) { return XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
C
clang -O2 -g -target bpf -idirafter /usr/include/"$(gcc -print-multiarch)" \
	-c "$TMP/pass.c" -o "$TMP/pass.o" || fail "cannot build the foreign XDP program"
echo "foreign XDP program attached:"
for m in xdpgeneric xdpdrv; do
	ip -n $NS link set dev $IF $m obj "$TMP/pass.o" sec xdp
	id=$(xdp_id $IF)
	[ -n "$id" ] || fail "$m: the foreign program did not attach"
	expect 1 "already has XDP program id $id|another XDP|xdp program" "${CTLN[@]}" load -c "$TMP/a.yaml"
	[ "$(xdp_id $IF)" = "$id" ] || fail "$m: load replaced the foreign program"
	[ ! -e /sys/fs/bpf/xlb/$IF ] || fail "$m: a refused load left pins"
	expect 0 "nothing loaded" "${CTLN[@]}" unload -i $IF
	[ "$(xdp_id $IF)" = "$id" ] || fail "$m: unload detached a program that is not xlb's"
	ip -n $NS link set dev $IF $m off
done

# ---- xlb already running ------------------------------------------------
echo "xlb already running:"
expect 0 "loaded on $IF" "${CTLN[@]}" load -c "$TMP/a.yaml"
id=$(xdp_id $IF)
expect 1 "already loaded" "${CTLN[@]}" load -c "$TMP/a.yaml"
[ "$(xdp_id $IF)" = "$id" ] || fail "a second load replaced the running program"
# an xlb program whose pins were lost is still a program on the interface
rm -rf /sys/fs/bpf/xlb/$IF
expect 1 "already has XDP program id $id|XDP program" "${CTLN[@]}" load -c "$TMP/a.yaml"
[ "$(xdp_id $IF)" = "$id" ] || fail "load over an unpinned xlb replaced it"
ip -n $NS link set dev $IF xdpgeneric off

# ---- unload of nothing ----------------------------------------------------
echo "unload of nothing:"
expect 0 "nothing loaded" "${CTLN[@]}" unload -i $IF
expect 0 "nothing loaded" "${CTLN[@]}" unload -i $IF
expect 0 "nothing loaded|no such|not found|does not exist" "${CTLN[@]}" unload -i xrb${ID}none
[ ! -e /sys/fs/bpf/xlb/xrb${ID}none ] || fail "unload of an unknown interface created pins"

# ---- pin permissions ------------------------------------------------------
echo "pin permissions:"
expect 0 "loaded on $IF" "${CTLN[@]}" load -c "$TMP/a.yaml"
expect 0 "loaded on $IF2" "${CTLN[@]}" load -c "$TMP/c.yaml"
[ "$(stat -c %a /sys/fs/bpf/xlb)" = 700 ] || fail "/sys/fs/bpf/xlb is $(stat -c %a /sys/fs/bpf/xlb), want 700"
for d in /sys/fs/bpf/xlb/$IF /sys/fs/bpf/xlb/$IF2; do
	[ "$(stat -c %a "$d")" = 700 ] || fail "$d is $(stat -c %a "$d"), want 700"
	n=0
	for f in "$d"/*; do
		[ "$(stat -c %a "$f")" = 600 ] || fail "$f is $(stat -c %a "$f"), want 600"
		[ "$(stat -c %u "$f")" = 0 ] || fail "$f is not owned by root"
		n=$((n + 1))
	done
	[ "$n" -ge 10 ] || fail "$d holds $n pins, want the program and its maps"
done
echo "  ok: /sys/fs/bpf/xlb and instance dirs 0700, $n pins each 0600"

# ---- non-root -------------------------------------------------------------
echo "non-root user:"
for c in "load -c $TMP/a.yaml" "reload -c $TMP/a.yaml" "unload -i $IF" \
	"stats -i $IF" "status -i $IF"; do
	# shellcheck disable=SC2086
	expect 1 "root|permission|CAP_" "${NOBODY[@]}" $c
done
expect 0 "ok" "${NOBODY[@]}" check "$TMP/a.yaml"
[ -n "$(xdp_id $IF)" ] || fail "a non-root command detached the program"
expect 0 "unloaded" "${CTLN[@]}" unload -i $IF2

# ---- files the loader refuses ---------------------------------------------
echo "files the loader refuses:"
mkfifo "$TMP/fifo.yaml"
truncate -s 17M "$TMP/big.yaml"
mkdir "$TMP/dir.yaml"
ln -s "$TMP/a.yaml" "$TMP/link.yaml"
before=$(ctl status -i $IF)
for f in fifo.yaml:pipe big.yaml:limit dir.yaml:directory /dev/zero:device; do
	p=${f%%:*} what=${f#*:}
	[ "${p:0:1}" = / ] || p=$TMP/$p
	expect 1 "$what" "$CTL" check "$p"
	expect 1 "$what" "${CTLN[@]}" reload -c "$p"
	expect 1 "$what" "${CTLN[@]}" load -c "$p"
done
[ "$(ctl status -i $IF)" = "$before" ] || fail "a refused reload changed the instance"
expect 0 "ok" "$CTL" check "$TMP/link.yaml"
expect 0 "unloaded" "${CTLN[@]}" unload -i $IF
echo PASS
