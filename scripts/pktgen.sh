#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Drive the kernel's packet generator (/proc/net/pktgen) on a traffic
# machine toward an xlb box: UDP to a VIP from many flows, then print the
# rate each thread reached.
set -euo pipefail

PROG=pktgen.sh
PGDIR=/proc/net/pktgen
# Source ports used per source address: 1024..65535.
PORTS_PER_ADDR=64512

usage() {
	cat <<EOF
usage: $PROG -d DEV -m DST_MAC -a VIP [options]

Sends UDP packets with the kernel's pktgen from DEV to VIP (IPv4 or IPv6)
via the next hop DST_MAC (the xlb box's interface, or the router in front
of it). Kernel pktgen generates UDP only: give xlb a UDP VIP (or a
wildcard-port UDP VIP) to measure with it.

required:
  -d, --dev DEV          interface to send from
  -m, --dst-mac MAC      destination MAC, e.g. 02:00:00:00:00:02
  -a, --vip ADDR         VIP address (IPv4 or IPv6)
options:
  -p, --port PORT        VIP UDP port (default 80)
  -s, --src ADDR         first source address, same family as the VIP
                         (default 198.18.0.1 or fc00:198:18::1)
  -f, --flows N          distinct flows: source ports 1024.. and, past
                         $PORTS_PER_ADDR, more source addresses (IPv4 only);
                         picked at random per packet (default 1024; 1 = one flow)
  -l, --size BYTES       frame size on the wire, FCS included (default and
                         least: IPv4 64, IPv6 82; at most 9018)
  -t, --threads N        pktgen threads, one per CPU and TX queue (default 1)
  -b, --burst N          packets per xmit call (default 32; needs driver
                         support for xmit_more, 1 otherwise)
  -D, --duration SECS    run time in seconds (default 10)
  -c, --count N          packets per thread; the run ends at whichever of
                         count and duration comes first (default 0 = no limit)
  -n, --dry-run          print the pktgen commands, touch nothing
  -h, --help             this text

Needs root and the pktgen module (modprobe pktgen; CONFIG_NET_PKTGEN).
Exit status: 0 done, 1 failure (no pktgen, no such interface), 2 usage error.

example:
  $PROG -d eth1 -m 3c:fd:fe:00:00:01 -a 10.0.0.10 -p 53 -f 100000 -t 4 -D 30
EOF
}

die_usage() {
	echo "$PROG: $*" >&2
	echo "Try '$PROG --help'." >&2
	exit 2
}

die() {
	echo "$PROG: $*" >&2
	exit 1
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]] && [ ${#1} -le 12 ]; }

is_ipv4() {
	local IFS=. o
	[[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
	for o in $1; do
		[ "$o" -le 255 ] || return 1
	done
}

is_ipv6() {
	[[ $1 == *:*:* ]] && [[ $1 =~ ^[0-9a-fA-F:]+$ ]] &&
		[[ $1 != *:::* ]] && [ ${#1} -le 39 ]
}

is_mac() { [[ $1 =~ ^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$ ]]; }

# Option value or a usage error naming the option.
need_arg() {
	[ $# -ge 2 ] && [ -n "$2" ] || die_usage "option $1 needs a value"
}

dev='' dmac='' vip='' port=80 src='' flows=1024 size='' threads=1
burst=32 duration=10 count=0 dry=0

while [ $# -gt 0 ]; do
	case $1 in
	-d | --dev) need_arg "$@"; dev=$2; shift 2 ;;
	-m | --dst-mac) need_arg "$@"; dmac=$2; shift 2 ;;
	-a | --vip) need_arg "$@"; vip=$2; shift 2 ;;
	-p | --port) need_arg "$@"; port=$2; shift 2 ;;
	-s | --src) need_arg "$@"; src=$2; shift 2 ;;
	-f | --flows) need_arg "$@"; flows=$2; shift 2 ;;
	-l | --size) need_arg "$@"; size=$2; shift 2 ;;
	-t | --threads) need_arg "$@"; threads=$2; shift 2 ;;
	-b | --burst) need_arg "$@"; burst=$2; shift 2 ;;
	-D | --duration) need_arg "$@"; duration=$2; shift 2 ;;
	-c | --count) need_arg "$@"; count=$2; shift 2 ;;
	-n | --dry-run) dry=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) die_usage "unknown option '$1'" ;;
	*) die_usage "unexpected argument '$1'" ;;
	esac
done
[ $# -eq 0 ] || die_usage "unexpected argument '$1'"

# ---- validation: every problem is a usage error (exit 2) ----
[ -n "$dev" ] || die_usage "-d DEV is required (the interface to send from)"
[[ $dev =~ ^[A-Za-z0-9_.:-]{1,15}$ ]] ||
	die_usage "invalid interface name '$dev' (1..15 of A-Z a-z 0-9 _ . : -)"
[ -n "$dmac" ] || die_usage "-m DST_MAC is required (the next hop's MAC address)"
is_mac "$dmac" || die_usage "invalid MAC address '$dmac'; write six hex pairs, e.g. 02:00:00:00:00:02"
[ -n "$vip" ] || die_usage "-a VIP is required (the service address)"
if is_ipv4 "$vip"; then
	fam=4
elif is_ipv6 "$vip"; then
	fam=6
else
	die_usage "invalid VIP address '$vip'; give an IPv4 or IPv6 address"
fi
if [ -z "$src" ]; then
	[ $fam = 4 ] && src=198.18.0.1 || src=fc00:198:18::1
elif [ $fam = 4 ]; then
	is_ipv4 "$src" || die_usage "invalid source '$src': the VIP is IPv4, so give an IPv4 address"
else
	is_ipv6 "$src" || die_usage "invalid source '$src': the VIP is IPv6, so give an IPv6 address"
fi
is_uint "$port" && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
	die_usage "invalid port '$port' (1..65535)"
is_uint "$flows" && [ "$flows" -ge 1 ] ||
	die_usage "invalid flow count '$flows' (a number >= 1)"
if [ $fam = 6 ] && [ "$flows" -gt $PORTS_PER_ADDR ]; then
	die_usage "at most $PORTS_PER_ADDR flows with IPv6: pktgen varies only the source port of IPv6 packets"
fi
minsize=64
[ $fam = 6 ] && minsize=82
size=${size:-$minsize}
is_uint "$size" && [ "$size" -ge $minsize ] && [ "$size" -le 9018 ] ||
	die_usage "invalid frame size '$size' ($minsize..9018 bytes, FCS included, for IPv$fam)"
is_uint "$threads" && [ "$threads" -ge 1 ] && [ "$threads" -le 1024 ] ||
	die_usage "invalid thread count '$threads' (1..1024)"
is_uint "$burst" && [ "$burst" -ge 1 ] && [ "$burst" -le 1024 ] ||
	die_usage "invalid burst '$burst' (1..1024)"
is_uint "$duration" && [ "$duration" -ge 1 ] ||
	die_usage "invalid duration '$duration' (whole seconds >= 1)"
is_uint "$count" || die_usage "invalid count '$count' (a number, 0 = no limit)"

# ---- the flow space ----
nports=$flows
naddrs=1
if [ "$flows" -gt $PORTS_PER_ADDR ]; then
	nports=$PORTS_PER_ADDR
	naddrs=$(((flows + PORTS_PER_ADDR - 1) / PORTS_PER_ADDR))
fi
sport_min=1024
sport_max=$((1024 + nports - 1))
if [ $fam = 4 ]; then
	IFS=. read -r a b c d <<<"$src"
	first=$(((a << 24) | (b << 16) | (c << 8) | d))
	last=$((first + naddrs - 1))
	[ $last -le 4294967295 ] || die_usage "source range from $src for $naddrs addresses passes 255.255.255.255"
	src_max=$(printf '%d.%d.%d.%d' $((last >> 24 & 255)) $((last >> 16 & 255)) \
		$((last >> 8 & 255)) $((last & 255)))
fi

# ---- the commands ----
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
if [ $dry = 0 ] && [ "$threads" -gt "$ncpu" ]; then
	die_usage "$threads threads but $ncpu CPUs online: at most one pktgen thread per CPU"
fi

cmds=()
# pgset FILE VALUE: one write to a pktgen control file
pgset() { cmds+=("$1|$2"); }

for ((t = 0; t < threads; t++)); do
	pgset "kpktgend_$t" "rem_device_all"
	pgset "kpktgend_$t" "add_device $dev@$t"
	f="$dev@$t"
	pgset "$f" "count $count"
	pgset "$f" "clone_skb 0"
	pgset "$f" "pkt_size $((size - 4))"
	pgset "$f" "burst $burst"
	pgset "$f" "delay 0"
	pgset "$f" "queue_map_min $t"
	pgset "$f" "queue_map_max $t"
	pgset "$f" "dst_mac $dmac"
	if [ $fam = 4 ]; then
		pgset "$f" "dst $vip"
		pgset "$f" "src_min $src"
		pgset "$f" "src_max $src_max"
		[ "$naddrs" -gt 1 ] && pgset "$f" "flag IPSRC_RND"
	else
		pgset "$f" "dst6 $vip"
		pgset "$f" "src6 $src"
	fi
	pgset "$f" "udp_dst_min $port"
	pgset "$f" "udp_dst_max $port"
	pgset "$f" "udp_src_min $sport_min"
	pgset "$f" "udp_src_max $sport_max"
	[ "$nports" -gt 1 ] && pgset "$f" "flag UDPSRC_RND"
	pgset "$f" "flag NO_TIMESTAMP"
done

if [ $dry = 1 ]; then
	echo "# pktgen: $threads thread(s), $flows flow(s) ($nports source ports x $naddrs address(es)), ${size}-byte frames, ${duration} s"
	for c in "${cmds[@]}"; do
		echo "echo '${c#*|}' > $PGDIR/${c%%|*}"
	done
	echo "echo start > $PGDIR/pgctrl &   # runs until stopped or count reached"
	echo "sleep $duration"
	echo "echo stop > $PGDIR/pgctrl"
	for ((t = 0; t < threads; t++)); do
		echo "cat $PGDIR/$dev@$t   # Result: ... pps ... Mb/sec"
	done
	exit 0
fi

# ---- real run ----
[ "$(id -u)" = 0 ] || die "needs root to write $PGDIR: run it with sudo"
if [ ! -d $PGDIR ]; then
	if modprobe pktgen 2>/dev/null && [ -d $PGDIR ]; then
		:
	else
		die "kernel pktgen is not available ($PGDIR missing, and 'modprobe pktgen' failed: this kernel has no pktgen module). Load it with 'modprobe pktgen' on a kernel built with CONFIG_NET_PKTGEN=m (Debian: the linux-image package has it), or use another traffic machine."
	fi
fi
ip link show dev "$dev" >/dev/null 2>&1 ||
	die "no interface '$dev' here ('ip link' lists them)"

write() {
	local file=$PGDIR/$1 val=$2
	echo "$val" >"$file" || die "writing '$val' to $file failed"
	# pktgen reports a refused command in the file itself
	if [ "$1" != pgctrl ] && grep -q '^Result: [^O]' "$file" 2>/dev/null; then
		die "pktgen refused '$val' in $file: $(grep '^Result:' "$file")"
	fi
}

cleanup() {
	echo stop >$PGDIR/pgctrl 2>/dev/null || true
	for ((t = 0; t < threads; t++)); do
		echo rem_device_all >"$PGDIR/kpktgend_$t" 2>/dev/null || true
	done
}
trap cleanup EXIT

for c in "${cmds[@]}"; do
	write "${c%%|*}" "${c#*|}"
done
echo "$PROG: sending from $dev to $vip:$port, $flows flow(s), ${size}-byte frames, $threads thread(s), ${duration} s" >&2
echo start >$PGDIR/pgctrl &
pg=$!
# count may end the run early: stop after duration or when pktgen returns
for ((i = 0; i < duration * 10; i++)); do
	kill -0 $pg 2>/dev/null || break
	sleep 0.1
done
echo stop >$PGDIR/pgctrl 2>/dev/null || true
wait $pg 2>/dev/null || true

total_pps=0 total_mbps=0
for ((t = 0; t < threads; t++)); do
	r=$(grep -A1 '^Result:' "$PGDIR/$dev@$t" | tr '\n' ' ')
	pps=$(sed -n 's/.* \([0-9]\+\)pps.*/\1/p' <<<"$r")
	mbps=$(sed -n 's/.* \([0-9]\+\)Mb\/sec.*/\1/p' <<<"$r")
	if [ -z "$pps" ]; then
		echo "thread $t: no result ($r)"
		continue
	fi
	echo "thread $t: $pps pps, $mbps Mb/s"
	total_pps=$((total_pps + pps))
	total_mbps=$((total_mbps + mbps))
done
echo "total: $total_pps pps, $total_mbps Mb/s"
