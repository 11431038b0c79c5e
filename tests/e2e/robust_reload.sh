#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Reloads under traffic, and reloads killed with SIGKILL, in a throw-away
# netns. A helper (C, built here) runs 512 established TCP flows through
# the pinned program with BPF_PROG_TEST_RUN in a loop on one thread while
# its main thread reloads:
#  - 1000 reloads that each add, drain and remove 2-4 backends
#    (XRB_RELOADS);
#  - 100 reloads SIGKILLed at a random point, each followed by a plain
#    reload of the same file (XRB_KILLS).
# Checked for every packet: XDP_TX, IPIP to a backend present in the
# version in force before or after the reload running (no half-written
# table); a flow changes backend only if its backend was removed; global
# counters and the VIP's never go backwards. After every completed reload
# the maps hold exactly the file (backends in use, their states, every
# ring slot an active backend): the next reload converges even after a
# SIGKILL.
set -euo pipefail

B=${XLB_BUILD:?set XLB_BUILD to the build directory}
S=${XLB_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
CTL=$B/ctl/xlbctl
ID=$$
NS=xrb${ID}r IF=xrb${ID}a PEER=xrb${ID}b
TMP=$(mktemp -d /tmp/xrb${ID}.XXXX)
RELOADS=${XRB_RELOADS:-1000}
KILLS=${XRB_KILLS:-100}
SEED=${XRB_SEED:-$ID}

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

cat >"$TMP/xrb_traffic.c" <<'HELPER'
/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Reload robustness driver for tests/e2e/robust_reload.sh: runs TCP flows
 * through the pinned xlb program (BPF_PROG_TEST_RUN) from one thread while
 * the main thread reloads (or SIGKILLs reloads of) xlbctl, and checks every
 * transmitted packet against the configs in force around it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "xlb_abi.h"

/* Backend pool: 10.1.0.1 .. 10.1.0.NPOOL. */
#define NPOOL 16
/* Flows the traffic thread keeps sending, each an established TCP flow. */
#define NFLOWS 512
#define MAXV 4096
#define MIN_ACTIVE 2

enum { ABSENT = 0, ACTIVE, DRAIN };

static const char *ctl, *ifname, *dir;
static char pin[256];
static uint8_t V[MAXV + 1][NPOOL]; /* state of each pool backend per version */
static _Atomic uint64_t state; /* 2k-1: reload k running; 2k: version k in force */
static _Atomic int stop;
static _Atomic uint64_t errors, packets, moves;
static uint64_t seed_state;

static uint64_t rnd(void)
{
	uint64_t z = (seed_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#define ERR(...)                                                             \
	do {                                                                 \
		if (atomic_fetch_add(&errors, 1) < 20)                       \
			fprintf(stderr, "ERROR: " __VA_ARGS__);              \
	} while (0)

static void write_cfg(int k, const char *path)
{
	char tmp[512];
	FILE *f;
	int i;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		perror(tmp);
		exit(2);
	}
	fprintf(f,
		"interface: %s\nmode: generic\ngateway_mac: 02:00:00:00:00:01\n"
		"maglev_table_size: 251\nconntrack_size: 65536\nvips:\n"
		"  - name: web\n    address: 10.0.0.10\n    port: 80\n"
		"    protocol: tcp\n    backends:\n",
		ifname);
	for (i = 0; i < NPOOL; i++) {
		if (V[k][i] == ABSENT)
			continue;
		fprintf(f, "      - address: 10.1.0.%d\n", i + 1);
		if (V[k][i] == DRAIN)
			fprintf(f, "        state: drain\n");
	}
	fclose(f);
	if (rename(tmp, path)) {
		perror("rename");
		exit(2);
	}
}

static int n_active(int k)
{
	int i, n = 0;

	for (i = 0; i < NPOOL; i++)
		n += V[k][i] == ACTIVE;
	return n;
}

/* Version k from k-1: two to four of add, drain, remove, removals and
 * additions twice as likely as drains (a removal under traffic is where a
 * half-written table would show). */
static void next_version(int k)
{
	int ops = 2 + (int)(rnd() % 3), tries = 0;

	memcpy(V[k], V[k - 1], NPOOL);
	while (ops && tries++ < 100) {
		int b = (int)(rnd() % NPOOL), r = (int)(rnd() % 5);
		int op = r < 2 ? 0 : r == 2 ? 1 : 2;

		if (op == 0 && V[k][b] == ABSENT)
			V[k][b] = ACTIVE;
		else if (op == 1 && V[k][b] == ACTIVE && n_active(k) > MIN_ACTIVE)
			V[k][b] = DRAIN;
		else if (op == 2 && V[k][b] != ABSENT &&
			 (V[k][b] == DRAIN || n_active(k) > MIN_ACTIVE))
			V[k][b] = ABSENT;
		else
			continue;
		ops--;
	}
}

/* Run xlbctl with @args; returns its pid (not waited) or exits. */
static pid_t spawn(const char *cmd, const char *cfg)
{
	pid_t p;

	fflush(NULL); /* or the child's exit would print our buffer again */
	p = fork();
	if (p < 0) {
		perror("fork");
		exit(2);
	}
	if (!p) {
		char log[512];
		int fd;

		snprintf(log, sizeof(log), "%s/ctl.log", dir);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(ctl, ctl, cmd, "-c", cfg, (char *)NULL);
		_exit(127);
	}
	return p;
}

static int run_ctl(const char *cmd, const char *cfg)
{
	int st;
	pid_t p = spawn(cmd, cfg);

	if (waitpid(p, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int allowed(int b, uint64_t s0, uint64_t s1)
{
	uint64_t j;

	for (j = s0 / 2; j <= (s1 + 1) / 2 && j <= MAXV; j++)
		if (V[j][b] != ABSENT)
			return 1;
	return 0;
}

/* Was @b absent from some version in force in [s0, s1]? */
static int removed_between(int b, uint64_t s0, uint64_t s1)
{
	uint64_t j;

	for (j = s0 / 2; j <= (s1 + 1) / 2 && j <= MAXV; j++)
		if (V[j][b] == ABSENT)
			return 1;
	return 0;
}

static int map_fd(const char *name)
{
	char p[300];

	snprintf(p, sizeof(p), "%s/%s", pin, name);
	return bpf_obj_get(p);
}

static uint64_t last_cnt[XLB_CNT_MAX], last_vip[5];

/* Counters never go backwards (the pinned map re-opened each time: a
 * reload that replaced it would show as a reset). */
static void check_counters(int ncpu)
{
	uint64_t v[5 * 256];
	uint32_t k;
	int fd = map_fd("xlb_stats"), c;

	if (fd < 0) {
		ERR("cannot open pinned xlb_stats: %s\n", strerror(errno));
		return;
	}
	for (k = 0; k < XLB_CNT_MAX; k++) {
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(fd, &k, v)) {
			ERR("reading xlb_stats[%u]: %s\n", k, strerror(errno));
			break;
		}
		for (c = 0; c < ncpu; c++)
			sum += v[c];
		if (sum < last_cnt[k])
			ERR("counter %u went backwards: %llu -> %llu\n", k,
			    (unsigned long long)last_cnt[k],
			    (unsigned long long)sum);
		last_cnt[k] = sum;
	}
	close(fd);
	/* the VIP is never removed: its counters only grow too */
	fd = map_fd("xlb_vip_stats");
	if (fd < 0) {
		ERR("cannot open pinned xlb_vip_stats: %s\n", strerror(errno));
		return;
	}
	k = 0;
	if (bpf_map_lookup_elem(fd, &k, v)) {
		ERR("reading xlb_vip_stats[0]: %s\n", strerror(errno));
	} else {
		for (int f = 0; f < 5; f++) {
			uint64_t sum = 0;

			for (c = 0; c < ncpu; c++)
				sum += v[c * 5 + f];
			if (sum < last_vip[f])
				ERR("VIP counter %d went backwards: %llu -> "
				    "%llu\n", f, (unsigned long long)last_vip[f],
				    (unsigned long long)sum);
			last_vip[f] = sum;
		}
	}
	close(fd);
}

static void *traffic(void *arg)
{
	static uint8_t pk[NFLOWS][54], out[256];
	static int last_be[NFLOWS];
	static uint64_t last_s[NFLOWS];
	int ncpu = (int)(intptr_t)arg, prog, i;
	uint64_t n = 0;

	prog = map_fd("prog");
	if (prog < 0) {
		ERR("cannot open the pinned program %s/prog: %s\n", pin,
		    strerror(errno));
		return NULL;
	}
	for (i = 0; i < NFLOWS; i++) {
		uint8_t *p = pk[i];

		memset(p, 0, 54);
		memcpy(p, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x03", 12);
		p[12] = 0x08;
		p[14] = 0x45;
		p[16] = 0;
		p[17] = 40;
		p[20] = 0x40; /* DF */
		p[22] = 64;
		p[23] = 6;
		p[26] = 198, p[27] = 51, p[28] = (uint8_t)(100 + i / 250),
		p[29] = (uint8_t)(i % 250 + 1);
		p[30] = 10, p[31] = 0, p[32] = 0, p[33] = 10;
		p[34] = (uint8_t)((20000 + i) >> 8);
		p[35] = (uint8_t)(20000 + i);
		p[37] = 80;
		p[46] = 0x50;
		p[47] = 0x10; /* ACK: an established flow, remembered */
		last_be[i] = -1;
	}
	while (!atomic_load(&stop)) {
		for (i = 0; i < NFLOWS; i++) {
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pk[i],
				    .data_size_in = 54, .data_out = out,
				    .data_size_out = sizeof(out), .repeat = 1);
			uint64_t s0 = atomic_load(&state), s1;
			int b;

			if (bpf_prog_test_run_opts(prog, &o)) {
				ERR("test run: %s\n", strerror(errno));
				atomic_store(&stop, 1);
				break;
			}
			s1 = atomic_load(&state);
			n++;
			if (o.retval != XDP_TX || o.data_size_out != 54 + 20 ||
			    out[14] != 0x45 || out[23] != 4 || out[30] != 10 ||
			    out[31] != 1 || out[32] != 0 || out[33] < 1 ||
			    out[33] > NPOOL) {
				ERR("flow %d (state %llu..%llu): verdict %u, %u "
				    "bytes, not IPIP to a pool backend: outer "
				    "%02x proto %u %u.%u.%u.%u -> %u.%u.%u.%u\n",
				    i, (unsigned long long)s0,
				    (unsigned long long)s1, o.retval,
				    o.data_size_out, out[14], out[23], out[26],
				    out[27], out[28], out[29], out[30], out[31],
				    out[32], out[33]);
				continue;
			}
			b = out[33] - 1;
			if (!allowed(b, s0, s1))
				ERR("flow %d sent to 10.1.0.%d, in no config in "
				    "force (state %llu..%llu)\n",
				    i, b + 1, (unsigned long long)s0,
				    (unsigned long long)s1);
			if (last_be[i] >= 0 && last_be[i] != b) {
				if (removed_between(last_be[i], last_s[i], s1))
					atomic_fetch_add(&moves, 1);
				else
					ERR("flow %d moved 10.1.0.%d -> 10.1.0.%d "
					    "though 10.1.0.%d stayed "
					    "(state %llu..%llu)\n",
					    i, last_be[i] + 1, b + 1,
					    last_be[i] + 1,
					    (unsigned long long)last_s[i],
					    (unsigned long long)s1);
			}
			last_be[i] = b;
			last_s[i] = s0;
		}
		check_counters(ncpu);
		atomic_store(&packets, n);
	}
	close(prog);
	return NULL;
}

/* The maps hold exactly version k: every pool backend of k in use with
 * its state, nothing else in use; every ring slot an active one of k. */
static int check_converged(int k)
{
	struct xlb_backend be;
	uint32_t id, inner_id, zero = 0, slot, v;
	int fd = map_fd("xlb_backends"), rfd, seen[NPOOL] = { 0 }, bad = 0;

	if (fd < 0)
		{ ERR("open xlb_backends: %s\n", strerror(errno)); return 1; }
	{
		/* one batch read of the whole slot array */
		static struct xlb_backend all[XLB_MAX_BACKENDS];
		static uint32_t keys[XLB_MAX_BACKENDS];
		uint32_t out_batch, count = XLB_MAX_BACKENDS;
		int err = bpf_map_lookup_batch(fd, NULL, &out_batch, keys, all,
					       &count, NULL);

		if (err && errno != ENOENT) {
			ERR("batch read of xlb_backends: %s\n", strerror(errno));
			close(fd);
			return 1;
		}
		for (uint32_t i = 0; i < count; i++) {
			int b;

			id = keys[i];
			be = all[i];
			if (!(be.flags & XLB_BE_F_IN_USE))
				continue;
			b = (int)(ntohl(be.addr[0]) & 0xff) - 1;
			if ((ntohl(be.addr[0]) & 0xffffff00) != 0x0a010000 ||
			    b < 0 || b >= NPOOL || V[k][b] == ABSENT) {
				ERR("version %d: slot %u in use for %08x, not "
				    "in the file\n", k, id, ntohl(be.addr[0]));
				bad++;
				continue;
			}
			seen[b]++;
			if ((V[k][b] == DRAIN) !=
			    (be.state == XLB_BE_STATE_DRAIN)) {
				ERR("version %d: 10.1.0.%d state %u, file says "
				    "%s\n", k, b + 1, be.state,
				    V[k][b] == DRAIN ? "drain" : "active");
				bad++;
			}
		}
	}
	close(fd);
	for (int b = 0; b < NPOOL; b++)
		if ((V[k][b] != ABSENT) != (seen[b] == 1)) {
			ERR("version %d: 10.1.0.%d in %d slots, file has it %s\n",
			    k, b + 1, seen[b],
			    V[k][b] == ABSENT ? "absent" : "present");
			bad++;
		}
	fd = map_fd("xlb_rings");
	if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &inner_id))
		{ ERR("reading xlb_rings[0]: %s\n", strerror(errno)); return 1; }
	close(fd);
	rfd = bpf_map_get_fd_by_id(inner_id);
	if (rfd < 0)
		{ ERR("ring map id %u: %s\n", inner_id, strerror(errno)); return 1; }
	fd = map_fd("xlb_backends");
	for (slot = 0; slot < 251; slot++) {
		struct xlb_ring_pair pair;
		uint32_t elem = slot / 2;

		if (bpf_map_lookup_elem(rfd, &elem, &pair) ||
		    (v = pair.slot[slot & 1] & XLB_RING_ID_MASK, 0) ||
		    bpf_map_lookup_elem(fd, &v, &be)) {
			ERR("ring slot %u unreadable or backend %u\n", slot, v);
			bad++;
			break;
		}
		int b = (int)(ntohl(be.addr[0]) & 0xff) - 1;

		if (b < 0 || b >= NPOOL || V[k][b] != ACTIVE) {
			ERR("version %d: ring slot %u -> %08x, not an active "
			    "backend of the file\n", k, slot, ntohl(be.addr[0]));
			bad++;
			break;
		}
	}
	close(fd);
	close(rfd);
	return bad;
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	int nrel, k, kill_mode, ncpu, rc, kills = 0, early = 0;
	char cfg[512];
	pthread_t th;
	double t0, rel_ms = 0;

	if (argc != 7) {
		fprintf(stderr,
			"usage: %s reloads|kill XLBCTL IFACE DIR N SEED\n",
			argv[0]);
		return 2;
	}
	kill_mode = !strcmp(argv[1], "kill");
	ctl = argv[2];
	ifname = argv[3];
	dir = argv[4];
	nrel = atoi(argv[5]);
	seed_state = strtoull(argv[6], NULL, 0);
	if (nrel > MAXV)
		nrel = MAXV;
	snprintf(pin, sizeof(pin), "/sys/fs/bpf/xlb/%s", ifname);
	snprintf(cfg, sizeof(cfg), "%s/xlb.yaml", dir);
	ncpu = libbpf_num_possible_cpus();

	for (k = 0; k < 4; k++)
		V[0][k] = ACTIVE;
	write_cfg(0, cfg);
	if ((rc = run_ctl("load", cfg))) {
		fprintf(stderr, "ERROR: xlbctl load exited %d (see %s/ctl.log)\n",
			rc, dir);
		return 1;
	}
	if (check_converged(0))
		return 1;
	atomic_store(&state, 0);
	pthread_create(&th, NULL, traffic, (void *)(intptr_t)ncpu);
	while (!atomic_load(&packets) && !atomic_load(&errors))
		usleep(1000);

	t0 = now_ms();
	for (k = 1; k <= nrel && !atomic_load(&errors); k++) {
		double r0;

		next_version(k);
		write_cfg(k, cfg);
		atomic_store(&state, 2 * (uint64_t)k - 1);
		if (kill_mode) {
			/* kill somewhere in a reload: 0 .. 1.5x its length */
			pid_t p = spawn("reload", cfg);
			int st;
			useconds_t d = (useconds_t)(rnd() % (uint64_t)(1500 * (rel_ms > 0 ? rel_ms : 50)));

			usleep(d);
			if (kill(p, SIGKILL) == 0)
				kills++;
			waitpid(p, &st, 0);
			if (WIFEXITED(st))
				early++;
			usleep(2000); /* traffic sees the half-done state */
		}
		r0 = now_ms();
		if ((rc = run_ctl("reload", cfg))) {
			ERR("reload %d exited %d (see %s/ctl.log)\n", k, rc, dir);
			break;
		}
		rel_ms = rel_ms ? 0.9 * rel_ms + 0.1 * (now_ms() - r0) :
				  now_ms() - r0;
		atomic_store(&state, 2 * (uint64_t)k);
		if (check_converged(k))
			break;
		if (k % 100 == 0)
			printf("  %d reloads, %llu packets, %llu flow moves\n",
			       k, (unsigned long long)atomic_load(&packets),
			       (unsigned long long)atomic_load(&moves));
	}
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	printf("%s: %d reloads in %.1f s (%.1f ms each)%s, %llu packets, "
	       "%llu flow moves (all from removed backends), %llu errors\n",
	       kill_mode ? "kill" : "reloads", k - 1, (now_ms() - t0) / 1e3,
	       rel_ms, "", (unsigned long long)atomic_load(&packets),
	       (unsigned long long)atomic_load(&moves),
	       (unsigned long long)atomic_load(&errors));
	if (kill_mode)
		printf("kill: %d reloads SIGKILLed, %d finished before the "
		       "signal\n", kills, early);
	return atomic_load(&errors) || k <= nrel ? 1 : 0;
}
HELPER
${CC:-cc} -O2 -g -Wall -Wextra -Werror -I"$S/xdp" -o "$TMP/xrb_traffic" \
	"$TMP/xrb_traffic.c" -lbpf -lpthread || fail "cannot build the helper"

ip netns add $NS
ip link add $IF netns $NS type veth peer name $PEER netns $NS
ip -n $NS link set $IF up
ip -n $NS link set $PEER up

run() {
	local mode=$1 n=$2 d=$TMP/$1
	mkdir -p "$d"
	echo "$mode: $n reloads, seed $SEED (repeat with XRB_SEED=$SEED)"
	if ! nsenter --net=/run/netns/$NS "$TMP/xrb_traffic" "$mode" "$CTL" \
		$IF "$d" "$n" "$SEED"; then
		tail -20 "$d/ctl.log" >&2 || true
		fail "$mode: see the errors above"
	fi
	nsenter --net=/run/netns/$NS "$CTL" unload -i $IF >/dev/null
	[ ! -e /sys/fs/bpf/xlb/$IF ] || fail "pins left after unload"
}
run reloads "$RELOADS"
run kill "$KILLS"
echo PASS
