/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Control-plane figures: Maglev build time, map memory at the default
 * sizes (memlock from /proc/self/fdinfo), and xlbctl load/reload time for
 * 512 VIPs x 100 backends on a throw-away veth in a netns of our own. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "maglev.h"
#include "xlb.skel.h"

#define RELOAD_VIPS 512
#define RELOAD_BES 100

static uint64_t memlock(int fd)
{
	char path[64], line[256];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int maglev_times(struct bench_ctl *c)
{
	static const uint32_t ns[] = { 10, 100, 1000 };
	static const uint32_t ms[] = { XLB_RING_SIZE_DEFAULT,
				       XLB_RING_SIZE_MAX };
	int runs = bopt.quick ? 1 : 5;

	for (size_t j = 0; j < 2; j++) {
		uint32_t *t = malloc(sizeof(uint32_t) * ms[j]);

		if (!t)
			return -ENOMEM;
		for (size_t i = 0; i < 3; i++) {
			struct xlb_maglev_backend *be =
				calloc(ns[i], sizeof(*be));
			double v[8];
			int err = 0;

			if (!be) {
				free(t);
				return -ENOMEM;
			}
			for (uint32_t k = 0; k < ns[i]; k++) {
				be[k].addr.family = XLB_FAMILY_V4;
				be[k].addr.a[0] = htobe32(0x0a640000U + k);
				be[k].id = k;
				be[k].weight = 100;
			}
			for (int r = 0; r < runs && !err; r++) {
				uint64_t t0 = now_ns();

				err = xlb_maglev_build(be, ns[i], t, ms[j]);
				v[r] = (double)(now_ns() - t0) / 1e6;
			}
			free(be);
			if (err) {
				free(t);
				return err;
			}
			c->mg[c->nmg].n = ns[i];
			c->mg[c->nmg].m = ms[j];
			c->mg[c->nmg].ms = median(v, runs);
			say("  maglev N=%u M=%u: %.2f ms\n", ns[i], ms[j],
			    c->mg[c->nmg].ms);
			c->nmg++;
		}
		free(t);
	}
	return 0;
}

/* Memory of an mmapable ARRAY of @n values of @vsize bytes, as ctl makes
 * the inner maps (VIP rings, the VIP index); 0 if it cannot be made. */
static uint64_t array_memlock(uint32_t vsize, uint32_t n)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_MMAPABLE);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xlb_inner", sizeof(__u32),
				vsize, n, &mo);
	uint64_t v;

	if (fd < 0)
		return 0;
	v = memlock(fd);
	close(fd);
	return v;
}

static int map_memory(struct bench_ctl *c)
{
	struct bpf_map *m;
	struct bxlb x;
	int err = bxlb_open(&x, 0, 0);

	if (err)
		return err;
	bpf_object__for_each_map(m, x.obj)
	{
		if (c->nmem >= (int)(sizeof(c->mem) / sizeof(c->mem[0])))
			break;
		snprintf(c->mem[c->nmem].name, sizeof(c->mem[0].name), "%s",
			 bpf_map__name(m));
		c->mem[c->nmem].bytes = memlock(bpf_map__fd(m));
		c->mem_total += c->mem[c->nmem].bytes;
		c->nmem++;
	}
	/* the connection tables' chunks, which the loader creates */
	for (int v6 = 0; v6 < 2; v6++) {
		const char *name = v6 ? "xlb_conntrack6" : "xlb_conntrack4";
		int outer = bpf_object__find_map_fd_by_name(x.obj, name), fd;
		struct bpf_map_info info = {};
		__u32 len = sizeof(info), zero = 0, id;

		if (c->nmem >= (int)(sizeof(c->mem) / sizeof(c->mem[0])))
			break;
		if (bpf_obj_get_info_by_fd(outer, &info, &len) ||
		    bpf_map_lookup_elem(outer, &zero, &id))
			continue;
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			continue;
		snprintf(c->mem[c->nmem].name, sizeof(c->mem[0].name),
			 "%s (%u chunks)", name, info.max_entries);
		c->mem[c->nmem].bytes = memlock(fd) * info.max_entries;
		c->mem_total += c->mem[c->nmem].bytes;
		c->nmem++;
		close(fd);
	}
	bxlb_close(&x);
	/* the VIP index's inner map, which ctl creates at each change */
	if (c->nmem < (int)(sizeof(c->mem) / sizeof(c->mem[0]))) {
		snprintf(c->mem[c->nmem].name, sizeof(c->mem[0].name),
			 "xlb_vip_index (inner)");
		c->mem[c->nmem].bytes = array_memlock(
			sizeof(struct xlb_vip_slot), XLB_VIP_INDEX_SLOTS);
		c->mem_total += c->mem[c->nmem].bytes;
		c->nmem++;
	}
	c->ring_bytes = array_memlock(sizeof(struct xlb_ring_pair),
				      XLB_RING_ELEMS(XLB_RING_SIZE_DEFAULT));
	c->ring_bytes_max = array_memlock(sizeof(struct xlb_ring_pair),
					  XLB_RING_ELEMS(XLB_RING_SIZE_MAX));
	return 0;
}

/* ---- xlbctl load / reload --------------------------------------------- */

static char cns[32], cif[IF_NAMESIZE], cpeer[IF_NAMESIZE], cdir[64];
static bool ctl_created;

static void ctl_teardown(void)
{
	if (!ctl_created)
		return;
	ctl_created = false;
	sh("nsenter --net=/run/netns/%s %s unload -i %s", cns, bopt.xlbctl,
	   cif);
	sh("ip netns del %s", cns);
	/* pins live in the host's bpffs, whatever the netns */
	sh("rm -rf /sys/fs/bpf/xlb/%s", cif);
	if (cdir[0])
		sh("rm -rf %s", cdir);
}

static void ctl_signal(int sig)
{
	ctl_teardown();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* 512 VIPs x 100 backends; @variant 1 replaces one backend of VIP 0,
 * @variant 2 is one VIP with one backend (the state a full reload starts
 * from). */
static int write_config(const char *path, int variant)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "interface: %s\ngateway_mac: 02:00:00:00:00:fe\nvips:\n",
		cif);
	for (int v = 0; v < (variant == 2 ? 1 : RELOAD_VIPS); v++) {
		fprintf(f,
			"  - name: b%d\n    address: 10.1.%d.%d\n    port: 80\n"
			"    protocol: tcp\n    backends:\n",
			v, v / 200, v % 200 + 1);
		for (int j = 0; j < (variant == 2 ? 1 : RELOAD_BES); j++) {
			uint32_t a = 0x0a800000U +
				     (uint32_t)(v * RELOAD_BES + j) + 1;

			if (variant == 1 && v == 0 && j == RELOAD_BES - 1)
				a = 0x0a810001U; /* the one change */
			fprintf(f, "      - address: %u.%u.%u.%u\n", a >> 24,
				(a >> 16) & 255, (a >> 8) & 255, a & 255);
		}
	}
	return fclose(f) ? -errno : 0;
}

/* Run one xlbctl command in the netns: @ms gets the time xlbctl reports
 * ("... in N ms"), @wall the wall time of the whole process. */
static int xlbctl(const char *cmd, const char *cfg, double *ms, double *wall)
{
	char line[512], run[512];
	uint64_t t0 = now_ns();
	bool got = false;
	FILE *p;
	int rc;

	snprintf(run, sizeof(run),
		 "nsenter --net=/run/netns/%s %s %s -c %s 2>&1", cns,
		 bopt.xlbctl, cmd, cfg);
	p = popen(run, "r");
	if (!p)
		return -errno;
	while (fgets(line, sizeof(line), p)) {
		char *in = strstr(line, " in ");

		if (bopt.verbose)
			fputs(line, stderr);
		if (in && sscanf(in, " in %lf ms", ms) == 1)
			got = true;
	}
	rc = pclose(p);
	*wall = (double)(now_ns() - t0) / 1e6;
	if (rc || !got) {
		fprintf(stderr,
			"xlb-bench: 'xlbctl %s -c %s' failed (status %d%s); "
			"-v shows its output\n",
			cmd, cfg, rc, got ? "" : ", no time reported");
		return -EIO;
	}
	say("  xlbctl %s %s: %.1f ms (process %.1f ms)\n", cmd, cfg, *ms,
	    *wall);
	return 0;
}

static int reload_times(struct bench_ctl *c)
{
	char full[96], one[96], small[96];
	double w;
	struct stat st;
	int err;

	if (stat(bopt.xlbctl, &st) || !(st.st_mode & S_IXUSR) ||
	    sh("%s --help | grep -q reload", bopt.xlbctl)) {
		snprintf(c->reload_status, sizeof(c->reload_status),
			 "n/a: xlbctl not built (%s)", bopt.xlbctl);
		return 0;
	}
	if (sh("command -v nsenter")) {
		snprintf(c->reload_status, sizeof(c->reload_status),
			 "n/a: nsenter not found (util-linux)");
		return 0;
	}
	snprintf(cns, sizeof(cns), "xlbb-c-%d", getpid());
	snprintf(cif, sizeof(cif), "xlbbc%d", getpid());
	snprintf(cpeer, sizeof(cpeer), "xlbbd%d", getpid());
	snprintf(cdir, sizeof(cdir), "/tmp/xlbb-ctl-%d", getpid());
	atexit(ctl_teardown);
	signal(SIGINT, ctl_signal);
	signal(SIGTERM, ctl_signal);
	ctl_created = true;
	snprintf(full, sizeof(full), "%s/full.yaml", cdir);
	snprintf(one, sizeof(one), "%s/one.yaml", cdir);
	snprintf(small, sizeof(small), "%s/small.yaml", cdir);
	err = sh("mkdir -p %s", cdir) ? -EIO : 0;
	if (!err)
		err = write_config(full, 0);
	if (!err)
		err = write_config(one, 1);
	if (!err)
		err = write_config(small, 2);
	if (!err && (sh("ip netns add %s", cns) ||
		     sh("ip -n %s link add %s type veth peer name %s", cns, cif,
			cpeer) ||
		     sh("ip -n %s link set %s up", cns, cif) ||
		     sh("ip -n %s link set %s up", cns, cpeer)))
		err = -EIO;
	/* full: from one VIP to all of them; then one backend changed; then
	 * the same file again (nothing to write); then a fresh full load */
	if (!err)
		err = xlbctl("load", small, &w, &w);
	if (!err)
		err = xlbctl("reload", full, &c->reload_full_ms,
			     &c->reload_full_wall);
	if (!err)
		err = xlbctl("reload", one, &c->reload_one_ms,
			     &c->reload_one_wall);
	if (!err)
		err = xlbctl("reload", one, &c->reload_noop_ms,
			     &c->reload_noop_wall);
	if (!err && sh("nsenter --net=/run/netns/%s %s unload -i %s", cns,
		       bopt.xlbctl, cif))
		err = -EIO;
	/* a concurrent unload elsewhere may remove the empty pin root while
	 * xlbctl creates our directory in it: try again, a few times */
	for (int i = 0; !err && i < 3; i++) {
		err = xlbctl("load", full, &c->load_ms, &c->load_wall);
		if (!err)
			break;
		sh("nsenter --net=/run/netns/%s %s unload -i %s", cns,
		   bopt.xlbctl, cif);
		err = i < 2 ? 0 : err;
		sleep(1);
	}
	ctl_teardown();
	if (err) {
		snprintf(c->reload_status, sizeof(c->reload_status),
			 "failed: %s", strerror(-err));
		return err;
	}
	snprintf(c->reload_status, sizeof(c->reload_status), "ok");
	return 0;
}

int bench_ctl(struct bench_results *r)
{
	struct bench_ctl *c = &r->ctl;
	int err;

	say("control plane\n");
	err = maglev_times(c);
	if (!err)
		err = map_memory(c);
	if (err) {
		snprintf(c->err, sizeof(c->err), "%s", strerror(-err));
		return err;
	}
	err = reload_times(c);
	c->done = true;
	return err;
}
