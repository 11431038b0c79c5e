/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The service loop: config file watch and reload, signals, health-check
 * timers, the metrics endpoint and BGP announcements, on one epoll. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <yaml.h>

#include "bgp.h"
#include "diff.h"
#include "log.h"
#include "maps.h"
#include "metrics_http.h"
#include "service.h"
#include "stats.h"

/* Housekeeping period (ms): attachment check, retries, idle clients. */
#define HOUSEKEEPING_MS 1000
/* Largest config file read (bytes), as the config parser's own limit. */
#define SVC_MAX_FILE (16U << 20)

/* ---- Structured log ------------------------------------------------------ */

static bool slog_json;

void xlb_slog_set_json(bool json)
{
	slog_json = json;
}

/* logfmt: quote when the value has a space, quote, '=' or is empty. */
static void put_kv_val(FILE *f, const char *s)
{
	if (*s && !strpbrk(s, " \t\"=\\\n"))
		fputs(s, f);
	else
		xlb_put_quoted(f, s);
}

void xlb_slog(const char *event, ...)
{
	char ts[64];
	struct timespec now;
	struct tm tm;
	va_list ap;
	const char *k;
	FILE *f = stdout;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + strlen(ts), sizeof(ts) - strlen(ts), ".%03ldZ",
		 now.tv_nsec / 1000000);
	flockfile(f);
	if (slog_json)
		fprintf(f, "{\"ts\":\"%s\",\"event\":", ts);
	else
		fprintf(f, "ts=%s event=", ts);
	slog_json ? xlb_put_json_str(f, event) : put_kv_val(f, event);
	va_start(ap, event);
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);

		if (!v)
			v = "";
		if (slog_json) {
			fputc(',', f);
			xlb_put_json_str(f, k);
			fputc(':', f);
			xlb_put_json_str(f, v);
		} else {
			fprintf(f, " %s=", k);
			put_kv_val(f, v);
		}
	}
	va_end(ap);
	fputs(slog_json ? "}\n" : "\n", f);
	fflush(f);
	funlockfile(f);
}

/* ---- Config: the service: section ---------------------------------------- */

void xlb_svc_cfg_free(struct xlb_svc_cfg *svc)
{
	xlb_hc_set_free(&svc->hc);
}

static int y_bool(struct xlb_diag *diag, const char *name, yaml_node_t *n,
		  const char *key, bool *out)
{
	static const char *const t[] = { "true", "yes", "on", NULL };
	static const char *const f[] = { "false", "no", "off", NULL };
	char w[8];

	if (xlb_y_str(NULL, name, n, key, w, sizeof(w)) == 0) {
		for (int i = 0; t[i]; i++) {
			if (!strcmp(w, t[i])) {
				*out = true;
				return 0;
			}
			if (!strcmp(w, f[i])) {
				*out = false;
				return 0;
			}
		}
	}
	xlb_y_err(diag, name, n, "%s must be true or false", key);
	return -EINVAL;
}

/* Check every key of @map is in @keys. */
static int y_known(yaml_document_t *d, const char *name, yaml_node_t *map,
		   const char *what, const char *const *keys,
		   struct xlb_diag *diag)
{
	char list[256] = "";
	int errs = 0;

	for (int i = 0; keys[i]; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", i ? ", " : "", keys[i]);
	if (map->type != YAML_MAPPING_NODE) {
		xlb_y_err(diag, name, map, "%s must be a mapping (keys: %s)",
			  what, list);
		return 1;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		bool ok = false;

		for (int i = 0; keys[i] && k->type == YAML_SCALAR_NODE; i++)
			ok |= k->data.scalar.length == strlen(keys[i]) &&
			      !memcmp(k->data.scalar.value, keys[i],
				      k->data.scalar.length);
		if (!ok) {
			char kw[40] = "?";

			xlb_y_str(NULL, name, k, "key", kw, sizeof(kw));
			xlb_y_err(diag, name, k,
				  "unknown key '%s' in %s; allowed: %s", kw,
				  what, list);
			errs++;
		}
	}
	return errs;
}

static int svc_section(yaml_document_t *d, const char *name, yaml_node_t *sv,
		       struct xlb_svc_cfg *svc, struct xlb_diag *diag)
{
	static const char *const keys[] = { "metrics_listen", "log_format",
					    "bgp", "on_exit", NULL };
	static const char *const bkeys[] = { "enabled", "bird_socket",
					     "include_file", NULL };
	yaml_node_t *n, *bgp;
	char w[16];
	int errs;

	errs = y_known(d, name, sv, "service", keys, diag);
	if (errs && sv->type != YAML_MAPPING_NODE)
		return errs;
	if ((n = xlb_y_get(d, sv, "metrics_listen", NULL))) {
		struct sockaddr_storage ss;
		socklen_t sl;

		if (xlb_y_str(diag, name, n, "metrics_listen",
			      svc->metrics_listen,
			      sizeof(svc->metrics_listen))) {
			errs++;
		} else if (!strcmp(svc->metrics_listen, "off")) {
			svc->metrics_listen[0] = '\0';
		} else if (xlb_metrics_parse_listen(svc->metrics_listen, &ss,
						    &sl)) {
			xlb_y_err(
				diag, name, n,
				"metrics_listen '%s' is not ADDRESS:PORT (127.0.0.1:9100, [::1]:9100, :9100) or off",
				svc->metrics_listen);
			errs++;
		}
	}
	if ((n = xlb_y_get(d, sv, "log_format", NULL))) {
		if (xlb_y_str(NULL, name, n, "log_format", w, sizeof(w)) ||
		    (strcmp(w, "kv") && strcmp(w, "json"))) {
			xlb_y_err(diag, name, n,
				  "log_format must be kv or json");
			errs++;
		} else {
			svc->log_json = !strcmp(w, "json");
		}
	}
	if ((n = xlb_y_get(d, sv, "on_exit", NULL))) {
		if (xlb_y_str(NULL, name, n, "on_exit", w, sizeof(w)) ||
		    (strcmp(w, "keep") && strcmp(w, "unload"))) {
			xlb_y_err(
				diag, name, n,
				"on_exit must be keep (the datapath stays and keeps forwarding) or unload");
			errs++;
		} else {
			svc->on_exit_unload = !strcmp(w, "unload");
		}
	}
	bgp = xlb_y_get(d, sv, "bgp", NULL);
	if (!bgp)
		return errs;
	errs += y_known(d, name, bgp, "service: bgp", bkeys, diag);
	if (bgp->type != YAML_MAPPING_NODE)
		return errs;
	svc->bgp = true; /* a bgp: block means enabled unless it says not */
	if ((n = xlb_y_get(d, bgp, "enabled", NULL)) &&
	    y_bool(diag, name, n, "enabled", &svc->bgp))
		errs++;
	if ((n = xlb_y_get(d, bgp, "bird_socket", NULL)) &&
	    xlb_y_str(diag, name, n, "bird_socket", svc->bird_socket,
		      sizeof(svc->bird_socket)))
		errs++;
	if ((n = xlb_y_get(d, bgp, "include_file", NULL))) {
		if (xlb_y_str(diag, name, n, "include_file", svc->include_file,
			      sizeof(svc->include_file))) {
			errs++;
		} else if (svc->include_file[0] != '/') {
			xlb_y_err(
				diag, name, n,
				"include_file must be an absolute path (BIRD's include resolves it too)");
			errs++;
		}
	}
	return errs;
}

/**
 * read_file - the config file's bytes
 * Returns 0, -ENOMEM, or 1 when the file cannot be opened or read or is
 * not a regular file of acceptable size: the datapath loader then says
 * what is wrong in its own words (the same as `xlbctl check`).
 */
static int read_file(const char *path, char **buf, size_t *len)
{
	/* O_NONBLOCK: opening a FIFO must not hang the service loop. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	size_t off = 0;
	ssize_t r;

	if (fd < 0)
		return 1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > SVC_MAX_FILE) {
		close(fd);
		return 1;
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		close(fd);
		return -ENOMEM;
	}
	while (off < (size_t)st.st_size) {
		r = read(fd, *buf + off, (size_t)st.st_size - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(*buf);
			close(fd);
			return 1;
		}
		if (r == 0)
			break; /* truncated meanwhile: the next event re-reads */
		off += (size_t)r;
	}
	close(fd);
	(*buf)[off] = '\0';
	*len = off;
	return 0;
}

/* The YAML in @buf is within the config loader's limits of nesting and
 * nodes (and parses). Checked on the event stream, which stops at the
 * first excess, before libyaml's loader builds the whole document:
 * that takes time quadratic in the nesting and gigabytes for a big
 * file, which the config loader then refuses anyway, with the position. */
static bool within_limits(const char *buf, size_t len)
{
	size_t depth = 0, nodes = 0;
	bool ok = false, done = false;
	yaml_parser_t p;
	yaml_event_t ev;

	if (!yaml_parser_initialize(&p))
		return false;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done && yaml_parser_parse(&p, &ev)) {
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			ok = done = true;
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			done = ++depth > XLB_CFG_MAX_DEPTH;
			/* fall through */
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
			done = done || ++nodes > XLB_CFG_MAX_NODES;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return ok;
}

/* Where message @m ("PATH:LINE:COL: ...") points in @path, as one
 * number that orders by line, then column; past every position if it
 * names none (a summary line). */
static uint64_t msg_pos(const char *m, const char *path)
{
	size_t n = strlen(path);
	unsigned int line, col;

	if (strncmp(m, path, n) || m[n] != ':' ||
	    sscanf(m + n + 1, "%u:%u:", &line, &col) != 2)
		return UINT64_MAX;
	return (uint64_t)line << 32 | col;
}

/* Add @from's messages to @to's, all in file order as the docs promise:
 * @to holds the datapath loader's (sorted), @from the service's. */
static void diag_merge(struct xlb_diag *to, struct xlb_diag *from,
		       const char *path)
{
	size_t n = to->n + from->n, a = 0, b = 0, k = 0;
	char **m;

	/* the service's come per section: sort them (stable) */
	for (size_t i = 1; i < from->n; i++) {
		char *x = from->msgs[i];
		uint64_t p = msg_pos(x, path);
		size_t j = i;

		for (; j > 0 && msg_pos(from->msgs[j - 1], path) > p; j--)
			from->msgs[j] = from->msgs[j - 1];
		from->msgs[j] = x;
	}
	m = n ? malloc(n * sizeof(*m)) : NULL;
	if (!m) {
		for (size_t i = 0; i < from->n; i++)
			free(from->msgs[i]);
		goto out;
	}
	while (a < to->n || b < from->n)
		if (b == from->n ||
		    (a < to->n && msg_pos(to->msgs[a], path) <=
					  msg_pos(from->msgs[b], path)))
			m[k++] = to->msgs[a++];
		else
			m[k++] = from->msgs[b++];
	free(to->msgs);
	to->msgs = m;
	to->n = n;
out:
	free(from->msgs);
	from->msgs = NULL;
	from->n = 0;
}

int xlb_svc_load(const char *path, struct xlb_config *cfg,
		 struct xlb_svc_cfg *svc, struct xlb_diag *diag)
{
	struct xlb_diag mine = { 0 };
	yaml_parser_t parser;
	yaml_document_t doc;
	bool have_doc = false, loaded = false;
	char *buf = NULL;
	size_t len = 0;
	int err, errs = 0;

	memset(svc, 0, sizeof(*svc));
	snprintf(svc->metrics_listen, sizeof(svc->metrics_listen), "%s",
		 XLB_SVC_METRICS_DEFAULT);
	snprintf(svc->bird_socket, sizeof(svc->bird_socket), "%s",
		 "/run/bird/bird.ctl");
	snprintf(svc->include_file, sizeof(svc->include_file), "%s",
		 "/run/xlb/bird-vips.conf");
	memset(cfg, 0, sizeof(*cfg));
	err = read_file(path, &buf, &len);
	if (err < 0)
		return err;
	if (err) {
		err = xlb_config_load(path, cfg, diag);
		if (!err) {
			/* Readable now: it changed under us. */
			xlb_config_free(cfg);
			xlb_y_err(
				diag, path, NULL,
				"the file changed while it was read; save it again");
			err = -EAGAIN;
		}
		return err;
	}
	if (!yaml_parser_initialize(&parser)) {
		free(buf);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	/* A syntax error or a file past the limits: the datapath parser
	 * reports it with its position. */
	loaded = within_limits(buf, len) && yaml_parser_load(&parser, &doc);
	have_doc = loaded && yaml_document_get_root_node(&doc);
	if (have_doc) {
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		yaml_node_t *sv = xlb_y_get(&doc, root, "service", NULL);

		if (sv)
			errs += svc_section(&doc, path, sv, svc, &mine);
	}
	/* the datapath loader knows the service and health_check keys
	 * and leaves them to us */
	err = xlb_config_parse(path, buf, len, cfg, diag);
	if (!err && have_doc) {
		int r = xlb_hc_parse(&doc, path, cfg, &svc->hc, &mine);

		if (r < 0)
			err = r;
		else
			errs += r;
	}
	diag_merge(diag, &mine, path);
	if (loaded) /* an empty document too: it has allocated */
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	free(buf);
	if (!err && errs)
		err = -EINVAL;
	if (err) {
		xlb_config_free(cfg); /* safe twice: it clears @cfg */
		xlb_svc_cfg_free(svc);
	}
	return err;
}

/* ---- The loop ------------------------------------------------------------ */

static double unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every check in flight holds a socket: use the whole hard limit. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int ev_add(struct xlb_service *s, int fd, struct xlb_ev *ev)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = ev };

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e) ? -errno : 0;
}

static void timer_arm(int fd, uint64_t ms, bool periodic)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
	if (!ms)
		its.it_value.tv_nsec = 1; /* 0 would disarm: fire now */
	if (periodic)
		its.it_interval = its.it_value;
	timerfd_settime(fd, 0, &its, NULL);
}

static void timer_drain(int fd)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0)
		return; /* EAGAIN: a re-arm raced the read, nothing due */
}

static int apply_real(struct xlb_service *s, const struct xlb_config *eff,
		      bool first, char *summary, size_t len)
{
	struct xlb_sync_report rep = { 0 };
	struct xlb_instance in;
	int err;

	if (first && xlb_instance_open(eff->interface, &in) == 0) {
		xlb_instance_close(&in);
		first = false; /* adopt what runs: a reload */
		xlb_slog("adopt", "interface", eff->interface, NULL);
	}
	if (first) {
		struct xlb_load_opts lo = { .mode = s->o.mode };

		err = xlb_load(eff, &lo, &rep);
	} else {
		err = xlb_reload(eff, s->o.mode, &rep);
	}
	snprintf(summary, len, "%s", rep.summary);
	return err;
}

/* Push the file config with the health overrides to the datapath. */
static int apply(struct xlb_service *s, const struct xlb_config *cfg,
		 bool first, char *summary, size_t len)
{
	uint64_t t0 = xlb_hc_clock_mono(NULL);
	struct xlb_config eff;
	int err;

	summary[0] = '\0';
	err = xlb_health_effective(&s->health, cfg, &eff);
	if (err)
		return err;
	if (s->o.apply)
		err = s->o.apply(s->o.ctx, &eff, first);
	else
		err = apply_real(s, &eff, first, summary, len);
	xlb_health_effective_free(&eff);
	snprintf(s->apply_ms, sizeof(s->apply_ms), "%llu",
		 (unsigned long long)(xlb_hc_clock_mono(NULL) - t0));
	if (err)
		s->applies_err++;
	else
		s->applies_ok++;
	return err;
}

/* The outcome of telling BIRD: problems are retried every second, so
 * each distinct one is logged once, and its end once. */
static void bgp_report(struct xlb_service *s, int err, const char *why)
{
	if (err) {
		if (strcmp(why, s->bgp_err))
			xlb_slog("bgp_error", "reason", why, "retry", "1s",
				 NULL);
		snprintf(s->bgp_err, sizeof(s->bgp_err), "%s", why);
	} else if (s->bgp_err[0]) {
		xlb_slog("bgp_recovered", "socket",
			 s->bgp ? s->bgp->socket : "", NULL);
		s->bgp_err[0] = '\0';
	}
}

static void bgp_done(void *ctx, struct xlb_bgp *b, int err)
{
	char why[sizeof(b->err) + 40];

	snprintf(why, sizeof(why), "BIRD did not take the new routes: %s",
		 b->err);
	bgp_report(ctx, err, why);
}

static void bgp_sync(struct xlb_service *s)
{
	struct xlb_config eff;
	char err[600];
	int r;

	if (!s->bgp)
		return;
	if (xlb_health_effective(&s->health, &s->cfg, &eff))
		return;
	r = xlb_bgp_sync(s->bgp, &eff, s->attached && !s->stop, err,
			 sizeof(err));
	/* 0 with a conversation in flight: bgp_done reports. */
	if (r || s->bgp->fd < 0)
		bgp_report(s, r, err);
	xlb_health_effective_free(&eff);
}

/* From now on talk to BIRD blocking (stopping, or turning BGP off). */
static void bgp_blocking(struct xlb_bgp *b)
{
	xlb_bgp_abort(b);
	b->epfd = -1;
}

static void bgp_setup(struct xlb_service *s)
{
	bool same = s->bgp && !strcmp(s->bgp->socket, s->svc.bird_socket) &&
		    !strcmp(s->bgp->include, s->svc.include_file);

	if ((same && s->svc.bgp) || (!s->bgp && !s->svc.bgp))
		return;
	if (s->bgp) {
		/* Turned off or moved: withdraw through the old settings. */
		char err[600];
		struct xlb_config none = { 0 };

		bgp_blocking(s->bgp);
		if (xlb_bgp_sync(s->bgp, &none, false, err, sizeof(err)))
			xlb_slog("bgp_error", "reason", err, NULL);
		xlb_bgp_free(s->bgp);
		free(s->bgp);
		s->bgp = NULL;
	}
	if (!s->svc.bgp)
		return;
	s->bgp = malloc(sizeof(*s->bgp));
	if (!s->bgp) {
		xlb_slog("bgp_error", "reason", "out of memory", NULL);
		return;
	}
	xlb_bgp_init(s->bgp);
	/* "configure" on the loop: a slow BIRD never holds up checks. */
	s->bgp->epfd = s->epfd;
	s->bgp->done = bgp_done;
	s->bgp->ctx = s;
	snprintf(s->bgp->socket, sizeof(s->bgp->socket), "%s",
		 s->svc.bird_socket);
	snprintf(s->bgp->include, sizeof(s->bgp->include), "%s",
		 s->svc.include_file);
}

static void metrics_setup(struct xlb_service *s, const char *old)
{
	char err[512];

	struct xlb_metrics_srv *m = NULL;

	if (s->metrics && old && !strcmp(old, s->svc.metrics_listen))
		return;
	if (!s->svc.metrics_listen[0]) {
		xlb_metrics_close(s->metrics);
		s->metrics = NULL;
		return;
	}
	/* The new address first, so that a failure keeps the old endpoint
	 * serving; if the old one holds the port, free it and try again. */
	if (xlb_metrics_open(&m, s->epfd, s->svc.metrics_listen,
			     xlb_service_metrics, s, err, sizeof(err)) &&
	    s->metrics) {
		xlb_metrics_close(s->metrics);
		s->metrics = NULL;
		if (xlb_metrics_open(&m, s->epfd, s->svc.metrics_listen,
				     xlb_service_metrics, s, err,
				     sizeof(err)) &&
		    old && old[0] &&
		    !xlb_metrics_open(&s->metrics, s->epfd, old,
				      xlb_service_metrics, s, NULL, 0))
			xlb_slog("metrics_listen", "address", old, "note",
				 "kept: the new address failed", NULL);
	}
	if (!m) {
		xlb_slog("metrics_error", "reason", err, NULL);
		return;
	}
	xlb_metrics_close(s->metrics);
	s->metrics = m;
	xlb_slog("metrics_listen", "address", s->svc.metrics_listen, NULL);
}

static void log_diag(const struct xlb_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		xlb_slog("config_error", "msg", d->msgs[i], NULL);
}

int xlb_service_reload(struct xlb_service *s, const char *why)
{
	struct xlb_config cfg;
	struct xlb_svc_cfg svc;
	struct xlb_diag diag = { 0 };
	char old_listen[sizeof(s->svc.metrics_listen)], msg[1024];
	int err;

	err = xlb_svc_load(s->path, &cfg, &svc, &diag);
	if (err) {
		log_diag(&diag);
		xlb_diag_free(&diag);
		snprintf(
			msg, sizeof(msg),
			"%s; the running config is unchanged: fix the file and save it again",
			err == -EINVAL ? "the new config has errors" :
					 strerror(-err));
		xlb_slog("reload", "result", "error", "trigger", why, "file",
			 s->path, "reason", msg, NULL);
		s->reloads_err++;
		return err;
	}
	xlb_diag_free(&diag);
	if (xlb_diff_fixed(&s->cfg, &cfg, msg, sizeof(msg))) {
		xlb_slog("reload", "result", "error", "trigger", why, "file",
			 s->path, "reason", msg, NULL);
		s->reloads_err++;
		err = -EINVAL;
		goto drop;
	}
	err = xlb_health_configure(&s->health, &cfg, &svc.hc);
	s->hc_due = true;
	if (!err) {
		char summary[256];

		err = apply(s, &cfg, false, summary, sizeof(summary));
		if (err) {
			/* Back to the checks of the config that still runs. */
			xlb_health_configure(&s->health, &s->cfg, &s->svc.hc);
		} else {
			xlb_slog("reload", "result", "ok", "trigger", why,
				 "file", s->path, "changes", summary, "ms",
				 s->apply_ms, NULL);
		}
	}
	if (err) {
		snprintf(
			msg, sizeof(msg),
			"the datapath refused the new config (%s); the running config is unchanged",
			strerror(-err));
		xlb_slog("reload", "result", "error", "trigger", why, "file",
			 s->path, "reason", msg, NULL);
		s->reloads_err++;
		goto drop;
	}
	s->reloads_ok++;
	s->last_reload = unix_now();
	snprintf(old_listen, sizeof(old_listen), "%s", s->svc.metrics_listen);
	xlb_config_free(&s->cfg);
	xlb_svc_cfg_free(&s->svc);
	s->cfg = cfg;
	s->svc = svc;
	if (!s->o.log_format)
		xlb_slog_set_json(s->svc.log_json);
	metrics_setup(s, old_listen);
	bgp_setup(s);
	bgp_sync(s);
	return 0;
drop:
	xlb_config_free(&cfg);
	xlb_svc_cfg_free(&svc);
	return err;
}

static void on_health_change(void *ctx, struct xlb_hc_target *t,
			     const char *reason)
{
	struct xlb_service *s = ctx;
	char a[64], port[8];

	xlb_addr_str(&t->addr, a, sizeof(a));
	snprintf(port, sizeof(port), "%u", t->cfg.port);
	xlb_slog(t->sm.up ? "backend_up" : "backend_down", "vip", t->vip_name,
		 "backend", a, "check", xlb_hc_type_name(t->cfg.type), "port",
		 port, "reason", reason, NULL);
	s->dirty = true;
}

static void apply_health(struct xlb_service *s)
{
	char summary[256];
	int err;

	s->dirty = false;
	s->apply_retry = false;
	err = apply(s, &s->cfg, false, summary, sizeof(summary));
	if (err) {
		char e[64];

		/* Retried every second: log a new reason only. */
		snprintf(e, sizeof(e), "%s", strerror(-err));
		if (strcmp(e, s->apply_err))
			xlb_slog("health_apply", "result", "error", "reason", e,
				 "retry", "1s", NULL);
		snprintf(s->apply_err, sizeof(s->apply_err), "%s", e);
		/* by the housekeeping timer (or the next transition), not
		 * after every event of the loop */
		s->apply_retry = true;
		return;
	}
	s->apply_err[0] = '\0';
	xlb_slog("health_apply", "result", "ok", "changes", summary, "ms",
		 s->apply_ms, NULL);
	bgp_sync(s);
}

static void on_signal(struct xlb_ev *ev, uint32_t events)
{
	struct xlb_service *s =
		(struct xlb_service *)((char *)ev -
				       offsetof(struct xlb_service, sig_ev));
	struct signalfd_siginfo si;

	while (read(s->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			s->reload_why = "SIGHUP";
			continue;
		}
		s->stop = true;
		s->exit_signal = (int)si.ssi_signo;
	}
}

static void on_inotify(struct xlb_ev *ev, uint32_t events)
{
	struct xlb_service *s =
		(struct xlb_service *)((char *)ev -
				       offsetof(struct xlb_service, ino_ev));
	char buf[4096]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	bool ours = false;
	ssize_t r;

	while ((r = read(s->ino_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + r;) {
			const struct inotify_event *e = (void *)p;

			struct stat st;

			/* A regular file is created empty and written after:
			 * its IN_CLOSE_WRITE says when it is whole. A symlink
			 * is whole at once. */
			if (e->len && !strcmp(e->name, s->base) &&
			    (!(e->mask & IN_CREATE) ||
			     (!lstat(s->path, &st) && S_ISLNK(st.st_mode))))
				ours = true;
			p += sizeof(*e) + e->len;
		}
	}
	/* Editors write in steps: reload once they are done. */
	if (ours)
		timer_arm(s->deb_fd, XLB_SVC_DEBOUNCE_MS, false);
}

static void on_debounce(struct xlb_ev *ev, uint32_t events)
{
	struct xlb_service *s =
		(struct xlb_service *)((char *)ev -
				       offsetof(struct xlb_service, deb_ev));

	timer_drain(s->deb_fd);
	s->file_events++;
	s->reload_why = "file changed";
}

static void on_hc_timer(struct xlb_ev *ev, uint32_t events)
{
	struct xlb_service *s =
		(struct xlb_service *)((char *)ev -
				       offsetof(struct xlb_service, hc_ev));

	timer_drain(s->hc_fd);
	s->hc_due = true; /* the tick runs once the round's events are done */
}

/* Our program is on the interface (always true without a datapath). */
static bool probe_attached(struct xlb_service *s)
{
	struct xlb_instance in;
	bool now = false;

	if (s->o.apply)
		return true;
	if (xlb_instance_open(s->cfg.interface, &in) == 0) {
		now = in.attached;
		xlb_instance_close(&in);
	}
	return now;
}

static void check_attached(struct xlb_service *s)
{
	bool now = probe_attached(s);

	if (now == s->attached)
		return;
	s->attached = now;
	xlb_slog(now ? "datapath_attached" : "datapath_detached", "interface",
		 s->cfg.interface, NULL);
	bgp_sync(s);
}

static void on_housekeeping(struct xlb_ev *ev, uint32_t events)
{
	struct xlb_service *s =
		(struct xlb_service *)((char *)ev -
				       offsetof(struct xlb_service, hk_ev));

	timer_drain(s->hk_fd);
	s->hk_due = true;
}

static void housekeeping(struct xlb_service *s)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	xlb_metrics_expire(s->metrics, (uint64_t)ts.tv_sec * 1000 +
					       (uint64_t)ts.tv_nsec / 1000000);
	check_attached(s);
	if (s->dirty || s->apply_retry)
		apply_health(s);
	if (s->bgp) {
		xlb_bgp_expire(s->bgp, (uint64_t)ts.tv_sec * 1000 +
					       (uint64_t)ts.tv_nsec / 1000000);
		if (s->bgp->pending && s->bgp->fd < 0)
			bgp_sync(s);
	}
}

/* One service per interface: a second one would fight the first over
 * the maps and the routes. The lock dies with the process. */
static int lock_interface(struct xlb_service *s, char *err, size_t len)
{
	char p[PATH_MAX], pid[32] = "";
	ssize_t n;
	int fd;

	if (mkdir(XLB_SVC_RUN_DIR, 0755) && errno != EEXIST) {
		snprintf(err, len, "cannot create %s: %s", XLB_SVC_RUN_DIR,
			 strerror(errno));
		return -errno;
	}
	snprintf(p, sizeof(p), "%s/run-%s.lock", XLB_SVC_RUN_DIR,
		 s->cfg.interface);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, len, "cannot open %s: %s", p, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		snprintf(
			err, len,
			"another xlbctl run (pid %s) manages %s; stop it first (lock %s)",
			pid[0] ? pid : "?", s->cfg.interface, p);
		close(fd);
		return -EBUSY;
	}
	if (ftruncate(fd, 0) == 0)
		dprintf(fd, "%d\n", (int)getpid());
	s->lock_fd = fd;
	return 0;
}

static int watch_setup(struct xlb_service *s)
{
	char tmp[PATH_MAX];
	char *d;

	snprintf(tmp, sizeof(tmp), "%s", s->o.config);
	snprintf(s->base, sizeof(s->base), "%s", basename(tmp));
	snprintf(tmp, sizeof(tmp), "%s", s->o.config);
	d = dirname(tmp);
	if (!realpath(d, s->dir))
		return -errno;
	snprintf(s->path, sizeof(s->path), "%s/%s", s->dir, s->base);
	s->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->ino_fd < 0)
		return -errno;
	/* The directory, not the file: editors and config managers replace
	 * the file by rename, which a watch on the old inode never sees. */
	if (inotify_add_watch(s->ino_fd, s->dir,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
				      IN_DELETE | IN_MOVED_FROM) < 0)
		return -errno;
	return 0;
}

static int open_fds(struct xlb_service *s)
{
	sigset_t set;
	int err;

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;
	s->deb_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->hc_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->hk_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->deb_fd < 0 || s->hc_fd < 0 || s->hk_fd < 0)
		return -errno;
	s->ino_ev.fn = on_inotify;
	s->deb_ev.fn = on_debounce;
	s->hc_ev.fn = on_hc_timer;
	s->hk_ev.fn = on_housekeeping;
	s->sig_ev.fn = on_signal;
	if ((err = ev_add(s, s->ino_fd, &s->ino_ev)) ||
	    (err = ev_add(s, s->deb_fd, &s->deb_ev)) ||
	    (err = ev_add(s, s->hc_fd, &s->hc_ev)) ||
	    (err = ev_add(s, s->hk_fd, &s->hk_ev)))
		return err;
	timer_arm(s->hk_fd, HOUSEKEEPING_MS, true);
	if (!s->o.signals)
		return 0;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->sig_fd < 0)
		return -errno;
	return ev_add(s, s->sig_fd, &s->sig_ev);
}

static void arm_health(struct xlb_service *s)
{
	uint64_t next = xlb_health_tick(&s->health), now;
	struct itimerspec its = { 0 };

	if (next == UINT64_MAX) {
		timerfd_settime(s->hc_fd, 0, &its, NULL);
		return;
	}
	now = xlb_hc_clock_mono(NULL);
	timer_arm(s->hc_fd, next > now ? next - now : 0, false);
}

int xlb_service_open(struct xlb_service **out, const struct xlb_service_opts *o)
{
	struct xlb_service *s = calloc(1, sizeof(*s));
	struct xlb_diag diag = { 0 };
	char summary[256], e[sizeof(s->path) + 128];
	int err;

	if (!s)
		return -ENOMEM;
	raise_nofile();
	s->o = *o;
	s->epfd = s->sig_fd = s->ino_fd = s->deb_fd = s->hc_fd = s->hk_fd = -1;
	s->lock_fd = -1;
	if (o->log_format)
		xlb_slog_set_json(!strcmp(o->log_format, "json"));
	err = watch_setup(s);
	if (!err)
		err = open_fds(s);
	if (err) {
		snprintf(e, sizeof(e),
			 "cannot set up the event loop for %s: %s", o->config,
			 strerror(-err));
		xlb_slog("start", "result", "error", "reason", e, NULL);
		goto fail;
	}
	xlb_health_init(&s->health, s->epfd);
	s->health.on_change = on_health_change;
	s->health.ctx = s;
	err = xlb_svc_load(s->path, &s->cfg, &s->svc, &diag);
	if (err) {
		log_diag(&diag);
		xlb_diag_free(&diag);
		snprintf(
			e, sizeof(e),
			"cannot start: %s has errors; check it with xlbctl check",
			s->path);
		xlb_slog("start", "result", "error", "reason", e, NULL);
		goto fail;
	}
	s->have_cfg = true;
	if (!o->apply && (err = lock_interface(s, e, sizeof(e)))) {
		xlb_slog("start", "result", "error", "reason", e, NULL);
		goto fail;
	}
	if (!o->log_format)
		xlb_slog_set_json(s->svc.log_json);
	err = xlb_health_configure(&s->health, &s->cfg, &s->svc.hc);
	if (!err)
		err = apply(s, &s->cfg, true, summary, sizeof(summary));
	if (err) {
		snprintf(e, sizeof(e), "cannot bring up the datapath on %s: %s",
			 s->cfg.interface, strerror(-err));
		xlb_slog("start", "result", "error", "reason", e, NULL);
		goto fail;
	}
	/* An adopted instance may have been detached: then announce nothing
	 * (housekeeping notices when it is attached again). */
	s->attached = probe_attached(s);
	s->started = true;
	if (!s->attached)
		xlb_slog("datapath_detached", "interface", s->cfg.interface,
			 NULL);
	s->last_reload = unix_now();
	xlb_slog("start", "result", "ok", "file", s->path, "interface",
		 s->cfg.interface, "changes", summary, NULL);
	metrics_setup(s, NULL);
	bgp_setup(s);
	bgp_sync(s);
	arm_health(s);
	*out = s;
	return 0;
fail:
	xlb_service_close(s);
	return err ? err : -EINVAL;
}

int xlb_service_step(struct xlb_service *s, int timeout_ms)
{
	struct epoll_event ev[64];
	int n = epoll_wait(s->epfd, ev, 64, timeout_ms);

	/* Handlers only do their own I/O and set flags: what frees event
	 * sources (a reload drops checks and metrics clients, housekeeping
	 * drops idle clients) runs after the batch, so no event of this
	 * batch can point at freed memory. */
	for (int i = 0; i < n; i++) {
		struct xlb_ev *e = ev[i].data.ptr;

		e->fn(e, ev[i].events);
	}
	if (s->reload_why && !s->stop) {
		const char *why = s->reload_why;

		s->reload_why = NULL;
		xlb_service_reload(s, why);
	}
	if (s->hk_due) {
		s->hk_due = false;
		housekeeping(s);
	}
	/* Only on the timer (or a new set of checks): a check's I/O never
	 * moves the next deadline earlier, so a tick after every event
	 * would only cost O(checks) each time. */
	if (s->hc_due) {
		s->hc_due = false;
		arm_health(s);
	}
	if (s->dirty && !s->stop)
		apply_health(s);
	return s->stop ? 1 : 0;
}

int xlb_service_run(struct xlb_service *s)
{
	while (!xlb_service_step(s, -1))
		;
	return 0;
}

void xlb_service_close(struct xlb_service *s)
{
	char sig[16] = "";

	if (!s)
		return;
	/* Only a service that brought the datapath up may take it down: a
	 * second one failing at start must not touch the first one's. */
	if (s->started) {
		s->stop = true;
		if (s->bgp)
			bgp_blocking(s->bgp);
		bgp_sync(s); /* stopping: announce nothing, and wait for it */
		if (s->svc.on_exit_unload && !s->o.apply) {
			bool nothing = false;
			int err = xlb_unload(s->cfg.interface, &nothing);

			xlb_slog("unload", "interface", s->cfg.interface,
				 "result", err ? "error" : "ok", NULL);
		}
		if (s->exit_signal)
			snprintf(sig, sizeof(sig), "%s",
				 sigabbrev_np(s->exit_signal));
		xlb_slog("stop", "signal", sig, "datapath",
			 s->svc.on_exit_unload ? "unloaded" : "kept", NULL);
	}
	xlb_health_free(&s->health);
	xlb_metrics_close(s->metrics);
	xlb_bgp_free(s->bgp);
	free(s->bgp);
	int fds[] = { s->sig_fd, s->ino_fd, s->deb_fd, s->hc_fd,
		      s->hk_fd,	 s->epfd,   s->lock_fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (s->have_cfg) {
		xlb_config_free(&s->cfg);
		xlb_svc_cfg_free(&s->svc);
	}
	free(s);
}

/* ---- Metrics ------------------------------------------------------------- */

static void prom_head(FILE *f, const char *name, const char *type,
		      const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_vb(FILE *f, const char *name, const char *vip, const char *be)
{
	fprintf(f, "%s{vip=", name);
	xlb_put_quoted(f, vip);
	if (be) {
		fputs(",backend=", f);
		xlb_put_quoted(f, be);
	}
	fputc('}', f);
}

/* The counters `xlbctl stats --prometheus` prints, same renderer.
 * Returns 0, or -errno if the maps cannot be read. */
static int datapath_metrics(struct xlb_service *s, FILE *f)
{
	struct xlb_instance in;
	struct xlb_state st;
	struct xlb_stats_sample smp;
	int err;

	err = xlb_instance_open(s->cfg.interface, &in);
	if (err)
		return err;
	err = xlb_state_read(&in, &st);
	if (err) {
		xlb_instance_close(&in);
		return err;
	}
	err = xlb_stats_read(&in, false, &smp);
	if (!err) {
		xlb_stats_prometheus(f, &st, &smp, false);
		xlb_stats_free(&smp);
	}
	xlb_state_free(&st);
	xlb_instance_close(&in);
	return err;
}

int xlb_service_metrics(void *ctx, FILE *f)
{
	struct xlb_service *s = ctx;
	const struct xlb_config *c = &s->cfg;
	char a[64];
	int err = 0;

	if (!s->o.apply) {
		/* Without the maps (unloaded by hand, say) the service's own
		 * metrics are what is left to see: serve them anyway. */
		err = datapath_metrics(s, f);
		if (err) {
			snprintf(a, sizeof(a), "cannot read the datapath: %s",
				 strerror(-err));
			if (strcmp(a, s->metrics_err))
				xlb_slog("metrics_error", "reason", a, NULL);
		}
		snprintf(s->metrics_err, sizeof(s->metrics_err), "%s",
			 err ? a : "");
	}
	prom_head(f, "xlb_backend_healthy", "gauge",
		  "1 if the backend passes its health checks (or has none).");
	for (size_t i = 0; i < c->n_vips; i++) {
		for (size_t j = 0; j < c->vips[i].n_backends; j++) {
			xlb_addr_str(&c->vips[i].backends[j].addr, a,
				     sizeof(a));
			prom_vb(f, "xlb_backend_healthy", c->vips[i].name, a);
			fprintf(f, " %d\n", xlb_health_up(&s->health, i, j));
		}
	}
	prom_head(f, "xlb_health_transitions_total", "counter",
		  "Backend health state changes (up->down and down->up).");
	fprintf(f, "xlb_health_transitions_total %llu\n",
		(unsigned long long)s->health.transitions);
	prom_head(f, "xlb_health_checks_total", "counter",
		  "Health checks completed.");
	fprintf(f, "xlb_health_checks_total %llu\n",
		(unsigned long long)s->health.checks);
	prom_head(
		f, "xlb_health_checks_not_run_total", "counter",
		"Checks skipped for a local error (no socket: raise LimitNOFILE).");
	fprintf(f, "xlb_health_checks_not_run_total %llu\n",
		(unsigned long long)s->health.local_errors);
	prom_head(f, "xlb_reloads_total", "counter",
		  "Config reloads (file change or SIGHUP) by result.");
	fprintf(f, "xlb_reloads_total{result=\"ok\"} %llu\n",
		(unsigned long long)s->reloads_ok);
	fprintf(f, "xlb_reloads_total{result=\"error\"} %llu\n",
		(unsigned long long)s->reloads_err);
	prom_head(f, "xlb_last_reload_timestamp_seconds", "gauge",
		  "Unix time the running config was applied.");
	fprintf(f, "xlb_last_reload_timestamp_seconds %.3f\n", s->last_reload);
	prom_head(f, "xlb_datapath_attached", "gauge",
		  "1 while the XDP program is attached to the interface.");
	fprintf(f, "xlb_datapath_attached %d\n", s->attached);
	if (s->bgp) {
		prom_head(f, "xlb_bgp_announced_prefixes", "gauge",
			  "VIP prefixes in the BIRD include file.");
		fprintf(f, "xlb_bgp_announced_prefixes %zu\n",
			s->bgp->n_prefixes);
	}
	return 0;
}
