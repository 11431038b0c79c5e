/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Reads an xlb YAML config (libyaml events -> a small tree -> the model)
 * and reports every problem it finds with its file:line:column. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>
#include <yaml.h>

#include "config.h"
#include "vipindex.h"

/* Bytes: a config of 1024 VIPs and 65536 backends is about 3 MiB, so a
 * bigger file is a wrong path, and refusing it bounds our memory. */
#define CFG_MAX_FILE (16U << 20)
/* Messages handed back: past this, a summary line stands for the rest. */
#define CFG_MAX_MSGS 1000
/* Longest excerpt of a user's value quoted in a message, in bytes. */
#define CFG_EXCERPT 40
/* Largest connection table, in flows (~100 bytes each in the kernel). */
#define CFG_CONNTRACK_MAX (1U << 27)
/* Smallest MTU: IPv4's minimum (RFC 791) and IPv6's (RFC 8200). */
#define CFG_MTU_MIN 68
#define CFG_MTU_MIN_V6 1280

/* ---- Messages ----------------------------------------------------------- */

struct msg {
	struct xlb_pos pos; /* line 0: about the whole file */
	size_t seq; /* order added, to keep the sort stable */
	char *text;
};

struct ctx {
	const char *name; /* file name used in messages */
	struct msg *msgs;
	size_t n_msgs, cap_msgs;
	size_t n_errors;
	size_t n_nodes;
};

static void __attribute__((format(printf, 3, 4)))
err_at(struct ctx *c, const struct xlb_pos *pos, const char *fmt, ...)
{
	char body[1024];
	char *text = NULL;
	va_list ap;
	int r;

	c->n_errors++;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (pos && pos->line)
		r = asprintf(&text, "%s:%u:%u: error: %s", c->name, pos->line,
			     pos->col, body);
	else
		r = asprintf(&text, "%s: error: %s", c->name, body);
	if (r < 0)
		return; /* out of memory: the error still counts */
	if (c->n_msgs == c->cap_msgs) {
		size_t cap = c->cap_msgs ? c->cap_msgs * 2 : 16;
		struct msg *m = realloc(c->msgs, cap * sizeof(*m));

		if (!m) {
			free(text);
			return;
		}
		c->msgs = m;
		c->cap_msgs = cap;
	}
	c->msgs[c->n_msgs].pos = pos ? *pos : (struct xlb_pos){ 0, 0 };
	c->msgs[c->n_msgs].seq = c->n_msgs;
	c->msgs[c->n_msgs].text = text;
	c->n_msgs++;
}

static int msg_cmp(const void *pa, const void *pb)
{
	const struct msg *a = pa, *b = pb;

	if (a->pos.line != b->pos.line)
		return a->pos.line < b->pos.line ? -1 : 1;
	if (a->pos.col != b->pos.col)
		return a->pos.col < b->pos.col ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void diag_push(struct xlb_diag *d, char *text)
{
	char **m;

	if (!d) {
		free(text);
		return;
	}
	m = realloc(d->msgs, (d->n + 1) * sizeof(*m));
	if (!m) {
		free(text);
		return;
	}
	d->msgs = m;
	d->msgs[d->n++] = text;
}

/* Hands the messages over in file order, the first CFG_MAX_MSGS of them. */
static void ctx_finish(struct ctx *c, struct xlb_diag *d)
{
	size_t i;

	if (c->n_msgs)
		qsort(c->msgs, c->n_msgs, sizeof(*c->msgs), msg_cmp);
	for (i = 0; i < c->n_msgs; i++) {
		if (i < CFG_MAX_MSGS)
			diag_push(d, c->msgs[i].text);
		else
			free(c->msgs[i].text);
	}
	if (c->n_msgs > CFG_MAX_MSGS) {
		char *t = NULL;

		if (asprintf(
			    &t,
			    "%s: error: %zu more errors not shown; fix the ones above and check again",
			    c->name, c->n_msgs - CFG_MAX_MSGS) >= 0)
			diag_push(d, t);
	}
	free(c->msgs);
	c->msgs = NULL;
	c->n_msgs = c->cap_msgs = 0;
}

void xlb_diag_free(struct xlb_diag *diag)
{
	size_t i;

	if (!diag)
		return;
	for (i = 0; i < diag->n; i++)
		free(diag->msgs[i]);
	free(diag->msgs);
	diag->msgs = NULL;
	diag->n = 0;
}

void xlb_diag_print(const struct xlb_diag *diag, FILE *out)
{
	size_t i;

	if (!diag)
		return;
	for (i = 0; i < diag->n; i++)
		fprintf(out, "%s\n", diag->msgs[i]);
}

/* ---- The YAML tree ------------------------------------------------------ */

enum node_kind {
	NODE_SCALAR,
	NODE_SEQ,
	NODE_MAP, /* kids[2i] key, kids[2i + 1] value */
	NODE_ALIAS, /* refused and reported already: checks skip it */
};

struct node {
	enum node_kind kind;
	bool plain; /* unquoted scalar: may be a number, boolean or null */
	struct xlb_pos pos;
	char *str; /* scalar text, NUL-terminated (may hold NULs) */
	size_t len;
	struct node **kids;
	size_t n, cap;
};

static void node_free(struct node *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

static struct xlb_pos mark_pos(const yaml_mark_t *m)
{
	return (struct xlb_pos){ (unsigned int)m->line + 1,
				 (unsigned int)m->column + 1 };
}

/* Reader errors carry a byte offset, not a mark: count lines up to it,
 * and characters, as marks do (not a UTF-8 sequence's continuation
 * bytes, nor a byte-order mark). */
static struct xlb_pos offset_pos(const char *buf, size_t len, size_t off)
{
	struct xlb_pos p = { 1, 1 };
	size_t i = len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3) ? 3 : 0;

	for (; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			p.line++;
			p.col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			p.col++;
		}
	}
	return p;
}

static void yaml_error(struct ctx *c, const yaml_parser_t *p, const char *buf,
		       size_t len)
{
	const char *problem = p->problem ? p->problem : "unreadable input";
	struct xlb_pos pos;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		err_at(c, NULL,
		       "out of memory while reading the YAML; free memory or check that this is the right file");
		break;
	case YAML_READER_ERROR:
		pos = offset_pos(buf, len, p->problem_offset);
		if (p->problem_value != -1)
			err_at(c, &pos,
			       "invalid input: %s (0x%02x); an xlb config must be UTF-8 text",
			       problem, (unsigned int)p->problem_value);
		else
			err_at(c, &pos,
			       "invalid input: %s; an xlb config must be UTF-8 text",
			       problem);
		break;
	default:
		pos = mark_pos(&p->problem_mark);
		if (p->context)
			err_at(c, &pos,
			       "invalid YAML: %s (%s at line %u column %u); check the indentation, the quotes and the ': ' after each key",
			       problem, p->context,
			       (unsigned int)p->context_mark.line + 1,
			       (unsigned int)p->context_mark.column + 1);
		else
			err_at(c, &pos,
			       "invalid YAML: %s; check the indentation, the quotes and the ': ' after each key",
			       problem);
		break;
	}
}

/* A node for an event that starts one, or NULL after saying why not. */
static struct node *event_node(struct ctx *c, const yaml_event_t *ev)
{
	struct xlb_pos pos = mark_pos(&ev->start_mark);
	enum node_kind kind;
	struct node *n;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		kind = NODE_SCALAR;
		break;
	case YAML_SEQUENCE_START_EVENT:
		kind = NODE_SEQ;
		break;
	case YAML_MAPPING_START_EVENT:
		kind = NODE_MAP;
		break;
	default:
		err_at(c, &pos,
		       "aliases ('*%.*s') are not supported in xlb configs; write the value out in full",
		       CFG_EXCERPT, (const char *)ev->data.alias.anchor);
		kind = NODE_ALIAS;
		break;
	}
	if (c->n_nodes >= XLB_CFG_MAX_NODES) {
		err_at(c, &pos,
		       "more than %u YAML values; an xlb config needs far fewer: check that this is the right file",
		       XLB_CFG_MAX_NODES);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (n && kind == NODE_SCALAR) {
		n->str = malloc(ev->data.scalar.length + 1);
		if (n->str) {
			memcpy(n->str, ev->data.scalar.value,
			       ev->data.scalar.length);
			n->str[ev->data.scalar.length] = '\0';
			n->len = ev->data.scalar.length;
			n->plain = ev->data.scalar.style ==
				   YAML_PLAIN_SCALAR_STYLE;
		} else {
			free(n);
			n = NULL;
		}
	}
	if (!n) {
		err_at(c, &pos,
		       "out of memory while reading the YAML; free memory and try again");
		return NULL;
	}
	c->n_nodes++;
	n->kind = kind;
	n->pos = pos;
	return n;
}

static int node_add(struct node *parent, struct node *kid)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 4;
		struct node **k = realloc(parent->kids, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		parent->kids = k;
		parent->cap = cap;
	}
	parent->kids[parent->n++] = kid;
	return 0;
}

/* Hangs @n under the open collection (or makes it the root) and opens it
 * if it is a collection. On failure @n is freed or already attached. */
static int attach(struct ctx *c, struct node **stack, size_t *depth,
		  struct node **root, struct node *n)
{
	if (*depth == 0) {
		if (*root) { /* libyaml gives one root per document */
			err_at(c, &n->pos,
			       "a second value at the top level; an xlb config is one mapping");
			node_free(n);
			return -EINVAL;
		}
		*root = n;
	} else if (node_add(stack[*depth - 1], n)) {
		err_at(c, &n->pos,
		       "out of memory while reading the YAML; free memory and try again");
		node_free(n);
		return -ENOMEM;
	}
	if (n->kind != NODE_SEQ && n->kind != NODE_MAP)
		return 0;
	if (*depth == XLB_CFG_MAX_DEPTH) {
		err_at(c, &n->pos,
		       "nesting deeper than %u levels; an xlb config needs 4 (top level, vips, vip, backends)",
		       XLB_CFG_MAX_DEPTH);
		return -E2BIG;
	}
	stack[(*depth)++] = n;
	return 0;
}

/**
 * build_tree - parse @buf into a tree of nodes with positions
 *
 * Returns the root of the first document (NULL for an empty file) and
 * reports problems in @c. After a syntax error it returns NULL: the
 * partial tree would only produce misleading messages. Aliases and a
 * second document are reported, and the tree is still returned.
 */
static struct node *build_tree(struct ctx *c, const char *buf, size_t len)
{
	struct node *stack[XLB_CFG_MAX_DEPTH];
	struct node *root = NULL, *n;
	size_t depth = 0, docs = 0;
	struct xlb_pos pos;
	yaml_parser_t p;
	yaml_event_t ev;

	if (!yaml_parser_initialize(&p)) {
		err_at(c, NULL, "out of memory starting the YAML parser");
		return NULL;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			yaml_error(c, &p, buf, len);
			goto fail;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			goto out;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs == 1)
				break;
			pos = mark_pos(&ev.start_mark);
			err_at(c, &pos,
			       "a second YAML document starts here; an xlb config is one document: remove the '---' line or split the file");
			yaml_event_delete(&ev);
			goto out; /* the first one is still checked */
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			n = event_node(c, &ev);
			if (!n || attach(c, stack, &depth, &root, n)) {
				yaml_event_delete(&ev);
				goto fail;
			}
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
fail:
	node_free(root);
	root = NULL;
out:
	yaml_parser_delete(&p);
	return root;
}

/* ---- Reading values ----------------------------------------------------- */

static bool is_null(const struct node *n)
{
	return n->kind == NODE_SCALAR && n->plain &&
	       (n->len == 0 || !strcmp(n->str, "~") ||
		!strcmp(n->str, "null") || !strcmp(n->str, "Null") ||
		!strcmp(n->str, "NULL"));
}

/* A user's text, shortened and with control bytes escaped, for a message. */
static const char *excerpt(const char *s, size_t len, char *out, size_t size)
{
	size_t i, o = 0, shown = 0;

	for (i = 0; i < len && o + 8 < size; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (shown >= CFG_EXCERPT && (ch & 0xc0) != 0x80) {
			o += (size_t)snprintf(out + o, size - o, "...");
			break;
		}
		if (ch < 0x20 || ch == 0x7f || ch == '\'' || ch == '"' ||
		    ch == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", ch);
		else
			out[o++] = (char)ch;
		if ((ch & 0xc0) != 0x80)
			shown++;
	}
	out[o] = '\0';
	return out;
}

#define EXCERPT_BUF (CFG_EXCERPT * 4 + 16)

static const char *node_text(const struct node *n, char *out, size_t size)
{
	return excerpt(n->str ? n->str : "", n->len, out, size);
}

/* "a list", "'yes'", "the quoted string \"80\"": what a value is. */
static const char *describe(const struct node *n, char *out, size_t size)
{
	char ex[EXCERPT_BUF];

	switch (n->kind) {
	case NODE_SEQ:
		snprintf(out, size, "a list");
		break;
	case NODE_MAP:
		snprintf(out, size, "a mapping");
		break;
	case NODE_ALIAS:
		snprintf(out, size, "an alias");
		break;
	case NODE_SCALAR:
		if (n->plain && n->len == 0)
			snprintf(out, size, "an empty value");
		else if (is_null(n))
			snprintf(out, size, "null");
		else if (n->plain)
			snprintf(out, size, "'%s'",
				 node_text(n, ex, sizeof(ex)));
		else
			snprintf(out, size, "the quoted string \"%s\"",
				 node_text(n, ex, sizeof(ex)));
		break;
	}
	return out;
}

/* "a, b, c" from a NULL-terminated list of words. */
static const char *join(const char *const *words, char *out, size_t size)
{
	size_t o = 0;

	out[0] = '\0';
	for (; *words && o < size; words++)
		o += (size_t)snprintf(out + o, size - o, "%s%s", o ? ", " : "",
				      *words);
	return out;
}

/* Optimal string alignment distance (a swap of neighbours costs 1),
 * ignoring ASCII case; capped at 9 since only small ones matter. */
static unsigned int edit_distance(const char *a, size_t la, const char *b)
{
	unsigned int d[3][34], best;
	size_t lb = strlen(b), i, j;

	if (la > 32 || lb > 32)
		return 9;
	for (j = 0; j <= lb; j++)
		d[0][j] = (unsigned int)j;
	for (i = 1; i <= la; i++) {
		unsigned int *cur = d[i % 3], *prev = d[(i - 1) % 3];
		unsigned int *prev2 = d[(i + 1) % 3];

		cur[0] = (unsigned int)i;
		for (j = 1; j <= lb; j++) {
			char ca = (char)tolower((unsigned char)a[i - 1]);
			char cb = (char)tolower((unsigned char)b[j - 1]);
			unsigned int cost = ca != cb;

			best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (prev[j - 1] + cost < best)
				best = prev[j - 1] + cost;
			if (i > 1 && j > 1 &&
			    ca == (char)tolower((unsigned char)b[j - 2]) &&
			    cb == (char)tolower((unsigned char)a[i - 2]) &&
			    prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
	}
	return d[la % 3][lb] > 9 ? 9 : d[la % 3][lb];
}

/* The closest word, if close enough to be a typo of it; else NULL. */
static const char *suggest(const char *s, size_t len, const char *const *words)
{
	const char *best = NULL;
	unsigned int best_d = 9;

	for (; *words; words++) {
		unsigned int d = edit_distance(s, len, *words);
		unsigned int limit = strlen(*words) <= 4 ? 1 : 2;

		if (d <= limit && d < best_d) {
			best = *words;
			best_d = d;
		}
	}
	return best;
}

static int word_index(const struct node *n, const char *const *words)
{
	int i;

	if (n->kind != NODE_SCALAR || strlen(n->str) != n->len)
		return -1;
	for (i = 0; words[i]; i++)
		if (!strcmp(n->str, words[i]))
			return i;
	return -1;
}

/* Keys of each mapping; the enum indexes the list, which ends in NULL and
 * is in the order the messages list them. service and health_check are
 * known here and read by lib/service.c and lib/health.c. */
enum {
	T_IFACE,
	T_MODE,
	T_GWMAC,
	T_SRC,
	T_RING,
	T_CT,
	T_MTU,
	T_TOOBIG,
	T_SERVICE,
	T_VIPS,
	T_N
};
static const char *const top_keys[T_N + 1] = {
	[T_IFACE] = "interface",
	[T_MODE] = "mode",
	[T_GWMAC] = "gateway_mac",
	[T_SRC] = "encap_source",
	[T_RING] = "maglev_table_size",
	[T_CT] = "conntrack_size",
	[T_MTU] = "mtu",
	[T_TOOBIG] = "icmp_too_big",
	[T_SERVICE] = "service",
	[T_VIPS] = "vips",
};

enum { S_V4, S_V6, S_N };
static const char *const src_keys[S_N + 1] = {
	[S_V4] = "ipv4",
	[S_V6] = "ipv6",
};

enum {
	V_NAME,
	V_ADDR,
	V_PORT,
	V_PROTO,
	V_HASH,
	V_CT,
	V_ECHO,
	V_ENCAP,
	V_GUE,
	V_HEALTH,
	V_BACKENDS,
	V_N
};
static const char *const vip_keys[V_N + 1] = {
	[V_NAME] = "name",	   [V_ADDR] = "address",
	[V_PORT] = "port",	   [V_PROTO] = "protocol",
	[V_HASH] = "hash",	   [V_CT] = "conntrack",
	[V_ECHO] = "icmp_echo",	   [V_ENCAP] = "encap",
	[V_GUE] = "gue_port",	   [V_HEALTH] = "health_check",
	[V_BACKENDS] = "backends",
};

enum { B_ADDR, B_WEIGHT, B_STATE, B_ENCAP, B_HEALTH, B_N };
static const char *const be_keys[B_N + 1] = {
	[B_ADDR] = "address", [B_WEIGHT] = "weight",	   [B_STATE] = "state",
	[B_ENCAP] = "encap",  [B_HEALTH] = "health_check",
};

/* Where a key that is unknown in one mapping does belong. */
static const struct {
	const char *what;
	const char *const *keys;
} key_homes[] = {
	{ "the top level", top_keys },
	{ "a vip", vip_keys },
	{ "a backend", be_keys },
	{ "encap_source", src_keys },
};

#define MAX_KEYS V_N /* the longest list */

struct fields {
	const struct node *key[MAX_KEYS];
	const struct node *val[MAX_KEYS];
};

static void unknown_key(struct ctx *c, const struct node *k, const char *what,
			const char *const *keys)
{
	char ex[EXCERPT_BUF], list[256];
	const char *s = suggest(k->str, k->len, keys);
	size_t h;

	node_text(k, ex, sizeof(ex));
	join(keys, list, sizeof(list));
	if (s) {
		err_at(c, &k->pos,
		       "unknown key '%s' in %s; did you mean '%s'? (allowed: %s)",
		       ex, what, s, list);
		return;
	}
	for (h = 0; h < sizeof(key_homes) / sizeof(key_homes[0]); h++) {
		if (key_homes[h].keys == keys ||
		    word_index(k, key_homes[h].keys) < 0)
			continue;
		err_at(c, &k->pos,
		       "unknown key '%s' in %s; it belongs in %s: check the indentation (allowed here: %s)",
		       ex, what, key_homes[h].what, list);
		return;
	}
	err_at(c, &k->pos, "unknown key '%s' in %s; allowed: %s", ex, what,
	       list);
}

/**
 * map_fields - sort a mapping's pairs into @f by key
 * @what: "backend", "vip", ... for messages
 *
 * Unknown, duplicate and non-scalar keys are reported and skipped.
 */
static void map_fields(struct ctx *c, const struct node *map, const char *what,
		       const char *const *keys, struct fields *f)
{
	char d[EXCERPT_BUF + 32], list[256];
	size_t i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i + 1 < map->n; i += 2) {
		const struct node *k = map->kids[i], *v = map->kids[i + 1];
		int idx;

		if (k->kind == NODE_ALIAS)
			continue;
		if (k->kind != NODE_SCALAR) {
			err_at(c, &k->pos,
			       "a key in %s must be a name, not %s; allowed: %s",
			       what, describe(k, d, sizeof(d)),
			       join(keys, list, sizeof(list)));
			continue;
		}
		idx = word_index(k, keys);
		if (idx < 0) {
			unknown_key(c, k, what, keys);
			continue;
		}
		if (f->key[idx]) {
			err_at(c, &k->pos,
			       "duplicate key '%s' in %s (first at line %u); give each key once",
			       keys[idx], what, f->key[idx]->pos.line);
			continue;
		}
		f->key[idx] = k;
		f->val[idx] = v;
	}
}

static void missing_keys(struct ctx *c, const struct node *map,
			 const struct fields *f, const char *what,
			 const char *const *keys, const int *required, size_t n)
{
	char list[256];
	const char *req[MAX_KEYS + 1];
	size_t i;

	for (i = 0; i < n; i++)
		req[i] = keys[required[i]];
	req[n] = NULL;
	join(req, list, sizeof(list));
	for (i = 0; i < n; i++)
		if (!f->key[required[i]])
			err_at(c, &map->pos,
			       "missing required key '%s' in %s; required: %s",
			       keys[required[i]], what, list);
}

/* A string value; anything else is reported with @hint as the remedy. */
static bool get_str(struct ctx *c, const char *key, const struct node *v,
		    const char *hint, const char **out)
{
	char d[EXCERPT_BUF + 32];

	if (v->kind == NODE_ALIAS)
		return false;
	if (v->kind != NODE_SCALAR || is_null(v)) {
		err_at(c, &v->pos, "'%s' must be a string, not %s; %s", key,
		       describe(v, d, sizeof(d)), hint);
		return false;
	}
	*out = v->str;
	return true;
}

/* A plain decimal number in [min, max]; @allowed says so in words. */
static bool get_uint(struct ctx *c, const char *key, const struct node *v,
		     uint64_t min, uint64_t max, const char *allowed,
		     uint64_t *out)
{
	char d[EXCERPT_BUF + 32], ex[EXCERPT_BUF];
	const char *s;
	uint64_t val = 0;
	bool neg = false, digits = false;

	if (v->kind == NODE_ALIAS)
		return false;
	if (v->kind != NODE_SCALAR || !v->plain || is_null(v))
		goto not_number;
	s = v->str;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (*s == '0' && isdigit((unsigned char)s[1])) {
		err_at(c, &v->pos,
		       "'%s' %s has a leading zero, which YAML 1.1 reads as octal; write it in decimal without leading zeros (allowed: %s)",
		       key, node_text(v, ex, sizeof(ex)), allowed);
		return false;
	}
	for (; isdigit((unsigned char)*s); s++) {
		digits = true;
		if (val > (UINT64_MAX - 9) / 10)
			val = UINT64_MAX; /* saturate: out of range anyway */
		else
			val = val * 10 + (uint64_t)(*s - '0');
	}
	if (!digits || s != v->str + v->len)
		goto not_number;
	if (neg || val < min || val > max) { /* -0 too: the docs allow '+' */
		err_at(c, &v->pos, "'%s' %s is out of range; allowed: %s", key,
		       node_text(v, ex, sizeof(ex)), allowed);
		return false;
	}
	*out = val;
	return true;
not_number:
	err_at(c, &v->pos, "'%s' must be a number, not %s; allowed: %s", key,
	       describe(v, d, sizeof(d)), allowed);
	return false;
}

static bool get_bool(struct ctx *c, const char *key, const struct node *v,
		     bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", NULL };
	static const char *const no[] = { "false", "no", "off", NULL };
	char d[EXCERPT_BUF + 32];
	size_t i;

	if (v->kind == NODE_ALIAS)
		return false;
	if (v->kind == NODE_SCALAR && v->plain) {
		for (i = 0; yes[i]; i++) {
			if (!strcasecmp(v->str, yes[i])) {
				*out = true;
				return true;
			}
			if (!strcasecmp(v->str, no[i])) {
				*out = false;
				return true;
			}
		}
	}
	err_at(c, &v->pos,
	       "'%s' must be true or false, not %s; allowed: true, false", key,
	       describe(v, d, sizeof(d)));
	return false;
}

/* One of @words; returns its index, or -1 after reporting. */
static int get_enum(struct ctx *c, const char *key, const struct node *v,
		    const char *const *words)
{
	char d[EXCERPT_BUF + 32], ex[EXCERPT_BUF], list[128];
	const char *s;
	int i;

	if (v->kind == NODE_ALIAS)
		return -1;
	join(words, list, sizeof(list));
	if (v->kind != NODE_SCALAR || is_null(v)) {
		err_at(c, &v->pos, "'%s' must be a string, not %s; allowed: %s",
		       key, describe(v, d, sizeof(d)), list);
		return -1;
	}
	i = word_index(v, words);
	if (i >= 0)
		return i;
	node_text(v, ex, sizeof(ex));
	s = suggest(v->str, v->len, words);
	if (s)
		err_at(c, &v->pos,
		       "invalid %s '%s'; did you mean '%s'? (allowed: %s)", key,
		       ex, s, list);
	else
		err_at(c, &v->pos, "invalid %s '%s'; allowed: %s", key, ex,
		       list);
	return -1;
}

/* Why @a cannot be a VIP, backend or source address; NULL if it can. */
static const char *not_unicast(const struct xlb_addr *a)
{
	const uint8_t *b = (const uint8_t *)a->a;
	static const uint8_t zero[16];

	if (a->family == XLB_FAMILY_V4) {
		if (a->a[0] == 0)
			return "the unspecified address";
		if (a->a[0] == 0xffffffffU)
			return "the broadcast address";
		if (b[0] == 127)
			return "a loopback address";
		if (b[0] >= 224)
			return b[0] < 240 ? "a multicast address" :
					    "a reserved (class E) address";
		return NULL;
	}
	if (!memcmp(b, zero, 16))
		return "the unspecified address";
	if (!memcmp(b, zero, 15) && b[15] == 1)
		return "the loopback address";
	if (b[0] == 0xff)
		return "a multicast address";
	return NULL;
}

/**
 * get_addr - an IP address value
 * @what:   whose address, for messages ("vip", "backend", ...)
 * @family: required family, or 0 for either
 */
static bool get_addr(struct ctx *c, const char *what, const struct node *v,
		     int family, struct xlb_addr *out)
{
	static const char *const fam_hint[] = {
		[0] = "an IPv4 (10.0.0.10) or IPv6 (fc00::10) address",
		[XLB_FAMILY_V4] = "an IPv4 address such as 10.0.0.1",
		[XLB_FAMILY_V6] = "an IPv6 address such as fc00::1",
	};
	char d[EXCERPT_BUF + 32], ex[EXCERPT_BUF], as[INET6_ADDRSTRLEN];
	const char *why;

	if (v->kind == NODE_ALIAS)
		return false;
	if (v->kind != NODE_SCALAR || is_null(v)) {
		err_at(c, &v->pos,
		       "%s address must be a string, not %s; give %s", what,
		       describe(v, d, sizeof(d)), fam_hint[family]);
		return false;
	}
	node_text(v, ex, sizeof(ex));
	if (strlen(v->str) != v->len || xlb_addr_parse(v->str, out)) {
		if (memchr(v->str, '/', v->len))
			err_at(c, &v->pos,
			       "invalid %s address '%s': a prefix length is not allowed here; give %s",
			       what, ex, fam_hint[family]);
		else
			err_at(c, &v->pos, "invalid %s address '%s'; give %s",
			       what, ex, fam_hint[family]);
		return false;
	}
	if (out->family == XLB_FAMILY_V6) {
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
		const uint8_t *b = (const uint8_t *)out->a;

		/* ::ffff:a.b.c.d is how a dual-stack socket shows an IPv4
		 * peer; no packet carries it, and it would dodge the
		 * duplicate and loopback checks of the IPv4 address */
		if (!memcmp(b, mapped, sizeof(mapped))) {
			err_at(c, &v->pos,
			       "%s address '%s' is an IPv4-mapped IPv6 address, which no packet carries; write the IPv4 address %u.%u.%u.%u",
			       what, ex, b[12], b[13], b[14], b[15]);
			return false;
		}
	}
	if (family && out->family != family) {
		err_at(c, &v->pos,
		       "%s address '%s' is an IPv%d address; give %s", what, ex,
		       out->family, fam_hint[family]);
		return false;
	}
	why = not_unicast(out);
	if (why) {
		err_at(c, &v->pos,
		       "%s address %s is %s; give a routable unicast address",
		       what, xlb_addr_str(out, as, sizeof(as)), why);
		return false;
	}
	return true;
}

/* ---- The model ---------------------------------------------------------- */

/* What the cross-checks need beside each VIP: validity and positions. */
struct vip_aux {
	bool name_ok, key_ok; /* name; address + port + protocol */
	bool echo_set;
	bool v6; /* an IPv6 VIP or backend: outer MTU >= 1280 */
	struct xlb_pos echo_pos;
	struct xlb_pos be_pos; /* of the backends list */
	char label[XLB_NAME_LEN + 8];
};

struct be_ref {
	const struct xlb_backend_cfg *be;
	struct xlb_pos pos; /* of the address value */
	size_t idx;
};

static int be_ref_cmp(const void *pa, const void *pb)
{
	const struct be_ref *a = pa, *b = pb;
	int r;

	if (a->be->addr.family != b->be->addr.family)
		return a->be->addr.family < b->be->addr.family ? -1 : 1;
	r = memcmp(a->be->addr.a, b->be->addr.a, sizeof(a->be->addr.a));
	if (r)
		return r;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static void parse_backend(struct ctx *c, const struct node *m,
			  const char *vip_label, bool vip_gue,
			  struct xlb_backend_cfg *be, bool *addr_ok,
			  struct xlb_pos *addr_pos)
{
	static const char *const states[] = {
		[XLB_BE_STATE_ACTIVE] = "active",
		[XLB_BE_STATE_DRAIN] = "drain",
		[XLB_BE_STATE_DOWN] = "down",
		[XLB_BE_STATE_DOWN + 1] = NULL,
	};
	static const char *const encaps[] = {
		[XLB_ENCAP_IPIP] = "ipip",
		[XLB_ENCAP_GUE] = "gue",
		[XLB_ENCAP_GUE + 1] = NULL,
	};
	static const int required[] = { B_ADDR };
	struct fields f;
	uint64_t u;
	int i;

	be->pos = m->pos;
	be->weight = 100;
	be->state = XLB_BE_STATE_ACTIVE;
	map_fields(c, m, "backend", be_keys, &f);
	missing_keys(c, m, &f, "backend", be_keys, required, 1);
	if (f.val[B_ADDR]) {
		*addr_pos = f.val[B_ADDR]->pos;
		*addr_ok = get_addr(c, "backend", f.val[B_ADDR], 0, &be->addr);
	}
	if (f.val[B_WEIGHT] &&
	    get_uint(c, "weight", f.val[B_WEIGHT], 0, 65535, "0..65535", &u))
		be->weight = (uint16_t)u;
	if (f.val[B_STATE] &&
	    (i = get_enum(c, "state", f.val[B_STATE], states)) >= 0)
		be->state = (uint8_t)i;
	if (f.val[B_ENCAP] &&
	    (i = get_enum(c, "encap", f.val[B_ENCAP], encaps)) >= 0) {
		be->gue = i == XLB_ENCAP_GUE;
		if (!be->gue && vip_gue)
			err_at(c, &f.val[B_ENCAP]->pos,
			       "backend encap 'ipip' cannot override encap 'gue' of %s; a backend can only switch to gue: set encap: ipip on the vip and encap: gue on its GUE backends",
			       vip_label);
	}
}

static void parse_backends(struct ctx *c, const struct node *list,
			   struct xlb_vip_cfg *vip, struct vip_aux *aux)
{
	char d[EXCERPT_BUF + 32];
	struct be_ref *refs = NULL;
	size_t i, n_ok = 0, first;

	if (list->kind == NODE_ALIAS)
		return;
	if (list->kind != NODE_SEQ) {
		err_at(c, &list->pos,
		       "'backends' of %s must be a list, not %s; write one '- address: ...' item per backend",
		       aux->label, describe(list, d, sizeof(d)));
		return;
	}
	if (list->n == 0) {
		err_at(c, &list->pos,
		       "%s has no backends; add at least one (state: down to keep it out)",
		       aux->label);
		return;
	}
	if (list->n > XLB_MAX_BACKENDS_PER_VIP)
		err_at(c, &list->pos,
		       "%s has %zu backends, more than %u; allowed: at most %u backends per vip",
		       aux->label, list->n, XLB_MAX_BACKENDS_PER_VIP,
		       XLB_MAX_BACKENDS_PER_VIP);
	vip->backends = calloc(list->n, sizeof(*vip->backends));
	refs = calloc(list->n, sizeof(*refs));
	if (!vip->backends || !refs) {
		err_at(c, &list->pos, "out of memory for %zu backends",
		       list->n);
		free(refs);
		return;
	}
	vip->n_backends = list->n;
	for (i = 0; i < list->n; i++) {
		const struct node *m = list->kids[i];
		struct xlb_backend_cfg *be = &vip->backends[i];
		bool ok = false;
		struct xlb_pos apos = m->pos;

		be->pos = m->pos;
		if (m->kind == NODE_ALIAS)
			continue;
		if (m->kind != NODE_MAP) {
			err_at(c, &m->pos,
			       "a backend must be a mapping, not %s; write '- address: 10.1.0.1' (keys: address, weight, state, encap, health_check)",
			       describe(m, d, sizeof(d)));
			continue;
		}
		parse_backend(c, m, aux->label, vip->encap == XLB_ENCAP_GUE, be,
			      &ok, &apos);
		if (!ok)
			continue;
		if (be->addr.family == XLB_FAMILY_V6)
			aux->v6 = true;
		refs[n_ok++] = (struct be_ref){ be, apos, i };
	}
	/* Duplicates: sort by address (then position), report all but the
	 * first of each run of equal addresses. */
	qsort(refs, n_ok, sizeof(*refs), be_ref_cmp);
	for (i = 1, first = 0; i < n_ok; i++) {
		char as[INET6_ADDRSTRLEN];

		if (!xlb_addr_eq(&refs[first].be->addr, &refs[i].be->addr)) {
			first = i;
			continue;
		}
		err_at(c, &refs[i].pos,
		       "duplicate backend %s in %s (first at line %u); list each backend once",
		       xlb_addr_str(&refs[i].be->addr, as, sizeof(as)),
		       aux->label, refs[first].pos.line);
	}
	free(refs);
}

static bool valid_vip_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len >= XLB_NAME_LEN)
		return false;
	for (i = 0; i < len; i++) /* ASCII only, whatever the locale */
		if (!(s[i] >= 'a' && s[i] <= 'z') &&
		    !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '_' &&
		    s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

static void parse_vip(struct ctx *c, const struct node *m, size_t idx,
		      struct xlb_vip_cfg *vip, struct vip_aux *aux)
{
	static const char *const protos[] = { "tcp", "udp", NULL };
	static const char *const hashes[] = {
		[XLB_HASH_5TUPLE] = "5tuple",
		[XLB_HASH_SRC_IP] = "src-ip",
		[XLB_HASH_SRC_IP_PORT] = "src-ip-port",
		[XLB_HASH_SRC_IP_PORT + 1] = NULL,
	};
	static const char *const encaps[] = {
		[XLB_ENCAP_IPIP] = "ipip",
		[XLB_ENCAP_GUE] = "gue",
		[XLB_ENCAP_GUE + 1] = NULL,
	};
	static const int required[] = { V_NAME, V_ADDR, V_PORT, V_PROTO,
					V_BACKENDS };
	char ex[EXCERPT_BUF];
	bool addr_ok = false, port_ok = false, proto_ok = false;
	const char *s;
	struct fields f;
	uint64_t u;
	int i;

	vip->pos = m->pos;
	vip->hash_mode = XLB_HASH_5TUPLE;
	vip->conntrack = true;
	vip->icmp_echo = true;
	vip->encap = XLB_ENCAP_IPIP;
	vip->gue_port = XLB_GUE_PORT_DEFAULT;
	snprintf(aux->label, sizeof(aux->label), "vip #%zu", idx + 1);
	/* Name the vip in messages about its keys, if it has a good name. */
	for (i = 0; (size_t)i + 1 < m->n; i += 2) {
		const struct node *v = m->kids[i + 1];

		if (word_index(m->kids[i], vip_keys) == V_NAME &&
		    v->kind == NODE_SCALAR && !is_null(v) &&
		    valid_vip_name(v->str, v->len)) {
			snprintf(aux->label, sizeof(aux->label), "vip '%s'",
				 v->str);
			break;
		}
	}

	map_fields(c, m, aux->label, vip_keys, &f);
	if (f.val[V_NAME] &&
	    get_str(c, "name", f.val[V_NAME],
		    "give a name of 1..31 characters from A-Z a-z 0-9 _ . -",
		    &s)) {
		const struct node *v = f.val[V_NAME];

		if (valid_vip_name(s, v->len)) {
			memcpy(vip->name, s, v->len + 1);
			aux->name_ok = true;
		} else if (v->len >= XLB_NAME_LEN) {
			err_at(c, &v->pos,
			       "vip name '%s' is %zu bytes long; use 1..31 characters from A-Z a-z 0-9 _ . -",
			       node_text(v, ex, sizeof(ex)), v->len);
		} else {
			err_at(c, &v->pos,
			       "invalid vip name '%s'; use 1..31 characters from A-Z a-z 0-9 _ . -",
			       node_text(v, ex, sizeof(ex)));
		}
	}
	missing_keys(c, m, &f, aux->label, vip_keys, required,
		     sizeof(required) / sizeof(required[0]));

	if (f.val[V_ADDR]) {
		addr_ok = get_addr(c, "vip", f.val[V_ADDR], 0, &vip->addr);
		if (addr_ok && vip->addr.family == XLB_FAMILY_V6)
			aux->v6 = true;
	}
	if (f.val[V_PORT] && get_uint(c, "port", f.val[V_PORT], 0, 65535,
				      "0..65535 (0 = every port)", &u)) {
		vip->port = (uint16_t)u;
		port_ok = true;
	}
	if (f.val[V_PROTO] &&
	    (i = get_enum(c, "protocol", f.val[V_PROTO], protos)) >= 0) {
		vip->proto = i == 0 ? IPPROTO_TCP : IPPROTO_UDP;
		proto_ok = true;
	}
	aux->key_ok = addr_ok && port_ok && proto_ok;
	if (f.val[V_HASH] &&
	    (i = get_enum(c, "hash", f.val[V_HASH], hashes)) >= 0)
		vip->hash_mode = (uint8_t)i;
	if (f.val[V_CT])
		get_bool(c, "conntrack", f.val[V_CT], &vip->conntrack);
	if (f.val[V_ECHO] &&
	    get_bool(c, "icmp_echo", f.val[V_ECHO], &vip->icmp_echo)) {
		aux->echo_set = true;
		aux->echo_pos = f.val[V_ECHO]->pos;
	}
	if (f.val[V_ENCAP] &&
	    (i = get_enum(c, "encap", f.val[V_ENCAP], encaps)) >= 0)
		vip->encap = (uint8_t)i;
	if (f.val[V_GUE] &&
	    get_uint(c, "gue_port", f.val[V_GUE], 1, 65535, "1..65535", &u))
		vip->gue_port = (uint16_t)u;
	if (f.val[V_BACKENDS]) {
		aux->be_pos = f.val[V_BACKENDS]->pos;
		parse_backends(c, f.val[V_BACKENDS], vip, aux);
	}
}

/* Orders indices into the vip array @arg (qsort_r), for the duplicate
 * checks; the index breaks ties so the first in the file comes first. */
static int by_key(const void *pa, const void *pb, void *arg)
{
	size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
	const struct xlb_vip_cfg *vips = arg;
	const struct xlb_vip_cfg *a = &vips[ia], *b = &vips[ib];
	int r;

	if (a->addr.family != b->addr.family)
		return a->addr.family < b->addr.family ? -1 : 1;
	r = memcmp(a->addr.a, b->addr.a, sizeof(a->addr.a));
	if (r)
		return r;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	return ia < ib ? -1 : ia > ib;
}

static int by_name(const void *pa, const void *pb, void *arg)
{
	size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
	const struct xlb_vip_cfg *vips = arg;
	int r = strcmp(vips[ia].name, vips[ib].name);

	return r ? r : ia < ib ? -1 : ia > ib;
}

static bool same_key(const struct xlb_vip_cfg *a, const struct xlb_vip_cfg *b)
{
	return xlb_addr_eq(&a->addr, &b->addr) && a->port == b->port &&
	       a->proto == b->proto;
}

/* The datapath finds VIPs in an index of XLB_VIP_INDEX_SLOTS slots where
 * each must sit within XLB_VIP_INDEX_PROBES of its hashed home: refuse a
 * set that does not fit here, with the VIP that found no room. Checked on
 * the @n VIPs @idx names (those with a valid key). */
static void check_index(struct ctx *c, const struct xlb_config *cfg,
			const size_t *idx, size_t n)
{
	struct xlb_vip_slot *slots =
		calloc(XLB_VIP_INDEX_SLOTS, sizeof(*slots));
	struct xlb_vip_key *keys = calloc(n ? n : 1, sizeof(*keys));
	size_t bad;
	int err = -ENOMEM;

	if (slots && keys) {
		for (size_t i = 0; i < n; i++)
			xlb_vip_key_of(&keys[i], &cfg->vips[idx[i]]);
		err = xlb_vip_index_fill(slots, keys, NULL, n, &bad);
	}
	if (err == -ENOSPC)
		err_at(c, &cfg->vips[idx[bad]].pos,
		       "vip '%s' finds no free slot in the datapath's VIP index: too many of the %zu vips hash next to it (%d slots, a vip may sit at most %d past its own); change its port or address, or drop a vip",
		       cfg->vips[idx[bad]].name, n, XLB_VIP_INDEX_SLOTS,
		       XLB_VIP_INDEX_PROBES - 1);
	else if (err)
		err_at(c, NULL, "out of memory checking %zu vips", n);
	free(slots);
	free(keys);
}

/* Duplicate names, duplicate address+port+protocol, and icmp_echo, which
 * the datapath keeps per address, differing between VIPs of one address. */
static void check_vips(struct ctx *c, const struct xlb_config *cfg,
		       const struct vip_aux *aux)
{
	size_t *idx = calloc(cfg->n_vips ? cfg->n_vips : 1, sizeof(*idx));
	size_t i, n = 0, first;
	char as[INET6_ADDRSTRLEN];

	if (!idx) {
		err_at(c, NULL, "out of memory checking %zu vips", cfg->n_vips);
		return;
	}

	for (i = 0; i < cfg->n_vips; i++)
		if (aux[i].name_ok)
			idx[n++] = i;
	qsort_r(idx, n, sizeof(*idx), by_name, cfg->vips);
	for (i = 1, first = 0; i < n; i++) {
		const struct xlb_vip_cfg *a = &cfg->vips[idx[first]];
		const struct xlb_vip_cfg *b = &cfg->vips[idx[i]];

		if (strcmp(a->name, b->name)) {
			first = i;
			continue;
		}
		err_at(c, &b->pos,
		       "duplicate vip name '%s' (first at line %u); give each vip a unique name",
		       b->name, a->pos.line);
	}

	n = 0;
	for (i = 0; i < cfg->n_vips; i++)
		if (aux[i].key_ok)
			idx[n++] = i;
	qsort_r(idx, n, sizeof(*idx), by_key, cfg->vips);
	for (i = 1, first = 0; i < n; i++) {
		const struct xlb_vip_cfg *a = &cfg->vips[idx[first]];
		const struct xlb_vip_cfg *b = &cfg->vips[idx[i]];

		if (!same_key(a, b)) {
			first = i;
			continue;
		}
		err_at(c, &b->pos,
		       "duplicate vip %s port %u %s: %s at line %u has the same address, port and protocol; each combination may be used once",
		       xlb_addr_str(&b->addr, as, sizeof(as)), b->port,
		       b->proto == IPPROTO_TCP ? "tcp" : "udp",
		       aux[idx[first]].label, a->pos.line);
	}

	check_index(c, cfg, idx, n);

	/* Same sort order groups VIPs by address: compare icmp_echo. */
	for (i = 1, first = 0; i < n; i++) {
		const struct xlb_vip_cfg *a = &cfg->vips[idx[first]];
		const struct xlb_vip_cfg *b = &cfg->vips[idx[i]];
		const struct vip_aux *xb = &aux[idx[i]];

		if (!xlb_addr_eq(&a->addr, &b->addr)) {
			first = i;
			continue;
		}
		if (a->icmp_echo == b->icmp_echo)
			continue;
		err_at(c, xb->echo_set ? &xb->echo_pos : &b->pos,
		       "%s has icmp_echo %s but %s (line %u) on the same address %s has %s; icmp_echo belongs to the address: give every vip of %s the same value",
		       xb->label, b->icmp_echo ? "true" : "false",
		       aux[idx[first]].label, a->pos.line,
		       xlb_addr_str(&b->addr, as, sizeof(as)),
		       a->icmp_echo ? "true" : "false", as);
	}
	free(idx);
}

static void parse_vips(struct ctx *c, const struct node *list,
		       struct xlb_config *cfg, bool ring_ok, bool mtu_ok,
		       const struct node *mtu_node)
{
	char d[EXCERPT_BUF + 32];
	struct vip_aux *aux;
	size_t i, total = 0;
	bool total_reported = false;

	if (list->kind == NODE_ALIAS)
		return;
	if (list->kind != NODE_SEQ) {
		err_at(c, &list->pos,
		       "'vips' must be a list, not %s; write one '- name: ...' item per vip",
		       describe(list, d, sizeof(d)));
		return;
	}
	if (list->n == 0) {
		err_at(c, &list->pos,
		       "'vips' is empty; add at least one vip (name, address, port, protocol, backends)");
		return;
	}
	if (list->n > XLB_MAX_VIPS)
		err_at(c, &list->pos,
		       "'vips' has %zu entries, more than %u; allowed: at most %u vips",
		       list->n, XLB_MAX_VIPS, XLB_MAX_VIPS);
	cfg->vips = calloc(list->n, sizeof(*cfg->vips));
	aux = calloc(list->n, sizeof(*aux));
	if (!cfg->vips || !aux) {
		err_at(c, &list->pos, "out of memory for %zu vips", list->n);
		free(aux);
		return;
	}
	cfg->n_vips = list->n;
	for (i = 0; i < list->n; i++) {
		const struct node *m = list->kids[i];

		cfg->vips[i].pos = m->pos;
		snprintf(aux[i].label, sizeof(aux[i].label), "vip #%zu", i + 1);
		if (m->kind == NODE_ALIAS)
			continue;
		if (m->kind != NODE_MAP) {
			err_at(c, &m->pos,
			       "a vip must be a mapping, not %s; write '- name: web' followed by address, port, protocol and backends",
			       describe(m, d, sizeof(d)));
			continue;
		}
		parse_vip(c, m, i, &cfg->vips[i], &aux[i]);
	}

	for (i = 0; i < cfg->n_vips; i++) {
		const struct xlb_vip_cfg *v = &cfg->vips[i];

		total += v->n_backends;
		if (total > XLB_MAX_BACKENDS && !total_reported) {
			err_at(c, &aux[i].be_pos,
			       "%s brings the backends of all vips to %zu, more than %u; allowed: at most %u backends in total",
			       aux[i].label, total, XLB_MAX_BACKENDS,
			       XLB_MAX_BACKENDS);
			total_reported = true;
		}
		if (ring_ok && v->n_backends > cfg->maglev_table_size)
			err_at(c, &aux[i].be_pos,
			       "%s has %zu backends, more than maglev_table_size %u; use a prime table size at least that large (ideally 100 times the backend count)",
			       aux[i].label, v->n_backends,
			       cfg->maglev_table_size);
	}

	if (mtu_ok && cfg->mtu < CFG_MTU_MIN_V6) {
		for (i = 0; i < cfg->n_vips; i++) {
			if (!aux[i].v6)
				continue;
			err_at(c, mtu_node ? &mtu_node->pos : NULL,
			       "'mtu' %u is below %u, the IPv6 minimum, and %s (line %u) has IPv6 addresses; allowed: %u..65535 with IPv6",
			       cfg->mtu, CFG_MTU_MIN_V6, aux[i].label,
			       cfg->vips[i].pos.line, CFG_MTU_MIN_V6);
			break;
		}
	}
	check_vips(c, cfg, aux);
	free(aux);
}

/* Linux's dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or
 * white space. */
static bool valid_ifname(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len >= IF_NAMESIZE || !strcmp(s, ".") ||
	    !strcmp(s, ".."))
		return false;
	for (i = 0; i < len; i++)
		if (s[i] == '/' || s[i] == ':' ||
		    isspace((unsigned char)s[i]) || s[i] == '\0')
			return false;
	return true;
}

static bool parse_mac(const char *s, size_t len, uint8_t mac[6])
{
	size_t i;

	if (len != 17)
		return false;
	for (i = 0; i < 6; i++) {
		const char *p = s + i * 3;

		if (!isxdigit((unsigned char)p[0]) ||
		    !isxdigit((unsigned char)p[1]) || (i < 5 && p[2] != ':'))
			return false;
		mac[i] = (uint8_t)strtoul((char[3]){ p[0], p[1], 0 }, NULL, 16);
	}
	return true;
}

static void parse_gw_mac(struct ctx *c, const struct node *v,
			 struct xlb_config *cfg)
{
	static const uint8_t zero[6];
	char ex[EXCERPT_BUF];
	const char *s;

	if (!get_str(c, "gateway_mac", v,
		     "give auto or a MAC address such as 02:00:00:00:00:fe",
		     &s))
		return;
	if (!strcmp(s, "auto")) {
		cfg->gw_mac_auto = true;
		return;
	}
	node_text(v, ex, sizeof(ex));
	if (!parse_mac(s, v->len, cfg->gw_mac)) {
		err_at(c, &v->pos,
		       "invalid gateway_mac '%s'; give auto or a MAC address such as 02:00:00:00:00:fe",
		       ex);
		return;
	}
	if (!memcmp(cfg->gw_mac, zero, 6) || (cfg->gw_mac[0] & 1)) {
		err_at(c, &v->pos,
		       "gateway_mac %s is %s; give the router's unicast MAC or auto",
		       ex, cfg->gw_mac[0] & 1 ? "a multicast address" : "zero");
		return;
	}
	cfg->gw_mac_auto = false;
}

static void parse_encap_source(struct ctx *c, const struct node *m,
			       struct xlb_config *cfg)
{
	char d[EXCERPT_BUF + 32];
	struct fields f;

	if (m->kind == NODE_ALIAS)
		return;
	if (m->kind != NODE_MAP) {
		err_at(c, &m->pos,
		       "'encap_source' must be a mapping, not %s; write 'ipv4: ADDRESS' and/or 'ipv6: ADDRESS' under it, or leave it out",
		       describe(m, d, sizeof(d)));
		return;
	}
	map_fields(c, m, "encap_source", src_keys, &f);
	if (f.val[S_V4])
		cfg->has_src4 = get_addr(c, "encap_source ipv4", f.val[S_V4],
					 XLB_FAMILY_V4, &cfg->src4);
	if (f.val[S_V6])
		cfg->has_src6 = get_addr(c, "encap_source ipv6", f.val[S_V6],
					 XLB_FAMILY_V6, &cfg->src6);
}

/* Nearest primes around @n within 2..XLB_RING_SIZE_MAX, for a message. */
static void ring_hint(uint32_t n, char *out, size_t size)
{
	uint32_t lo = n > XLB_RING_SIZE_MAX ? XLB_RING_SIZE_MAX : n, hi = n;

	while (lo >= 2 && !xlb_is_prime(lo))
		lo--;
	while (hi <= XLB_RING_SIZE_MAX && !xlb_is_prime(hi))
		hi++;
	if (lo >= 2 && hi <= XLB_RING_SIZE_MAX)
		snprintf(out, size, "use %u or %u", lo, hi);
	else
		snprintf(out, size, "use %u", lo >= 2 ? lo : hi);
}

static void parse_top(struct ctx *c, const struct node *root,
		      struct xlb_config *cfg)
{
	static const char *const modes[] = { "native", "generic", NULL };
	static const int required[] = { T_IFACE, T_VIPS };
	char d[EXCERPT_BUF + 32], ex[EXCERPT_BUF], hint[64];
	bool ring_ok = false, mtu_ok = false;
	struct fields f;
	const char *s;
	uint64_t u;
	int i;

	if (!root || is_null(root)) {
		struct xlb_pos p = { 1, 1 };

		err_at(c, &p,
		       "the file is empty; an xlb config needs at least 'interface' and 'vips' (see docs/config.md)");
		return;
	}
	if (root->kind != NODE_MAP) {
		err_at(c, &root->pos,
		       "the top level must be a mapping of keys, not %s; start with 'interface: eth0' (see docs/config.md)",
		       describe(root, d, sizeof(d)));
		return;
	}
	map_fields(c, root, "the top level", top_keys, &f);
	missing_keys(c, root, &f, "the top level", top_keys, required, 2);

	if (f.val[T_IFACE] &&
	    get_str(c, "interface", f.val[T_IFACE],
		    "give an interface name such as eth0", &s)) {
		if (valid_ifname(s, f.val[T_IFACE]->len))
			memcpy(cfg->interface, s, f.val[T_IFACE]->len + 1);
		else
			err_at(c, &f.val[T_IFACE]->pos,
			       "invalid interface name '%s'; Linux names are 1..15 bytes without '/', ':' or spaces",
			       node_text(f.val[T_IFACE], ex, sizeof(ex)));
	}
	if (f.val[T_MODE] &&
	    (i = get_enum(c, "mode", f.val[T_MODE], modes)) >= 0) {
		cfg->mode_generic = i == 1;
		cfg->mode_set = true;
	}
	if (f.val[T_GWMAC])
		parse_gw_mac(c, f.val[T_GWMAC], cfg);
	if (f.val[T_SRC])
		parse_encap_source(c, f.val[T_SRC], cfg);
	if (f.val[T_RING] && get_uint(c, "maglev_table_size", f.val[T_RING], 0,
				      UINT32_MAX, "a prime up to 655373", &u)) {
		if (u > XLB_RING_SIZE_MAX) {
			err_at(c, &f.val[T_RING]->pos,
			       "'maglev_table_size' %llu is too large; allowed: a prime up to %u",
			       (unsigned long long)u, XLB_RING_SIZE_MAX);
		} else if (!xlb_is_prime((uint32_t)u)) {
			ring_hint((uint32_t)u, hint, sizeof(hint));
			err_at(c, &f.val[T_RING]->pos,
			       "'maglev_table_size' %llu is not a prime; %s (Maglev needs a prime table size)",
			       (unsigned long long)u, hint);
		} else {
			cfg->maglev_table_size = (uint32_t)u;
			ring_ok = true;
		}
	} else if (!f.val[T_RING]) {
		ring_ok = true;
	}
	if (f.val[T_CT] &&
	    get_uint(c, "conntrack_size", f.val[T_CT], 1, CFG_CONNTRACK_MAX,
		     "1..134217728 flows", &u))
		cfg->conntrack_size = (uint32_t)u;
	if (f.val[T_MTU] && get_uint(c, "mtu", f.val[T_MTU], CFG_MTU_MIN, 65535,
				     "68..65535 (1280..65535 with IPv6)", &u)) {
		cfg->mtu = (uint16_t)u;
		mtu_ok = true;
	} else if (!f.val[T_MTU]) {
		mtu_ok = true;
	}
	if (f.val[T_TOOBIG])
		get_bool(c, "icmp_too_big", f.val[T_TOOBIG],
			 &cfg->icmp_too_big);
	if (f.val[T_VIPS])
		parse_vips(c, f.val[T_VIPS], cfg, ring_ok, mtu_ok,
			   f.val[T_MTU]);
}

/* ---- Entry points ------------------------------------------------------- */

static void config_defaults(struct xlb_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->gw_mac_auto = true;
	cfg->maglev_table_size = XLB_RING_SIZE_DEFAULT;
	cfg->conntrack_size = XLB_CONNTRACK_DEFAULT;
	cfg->mtu = 1500;
	cfg->icmp_too_big = true;
}

void xlb_config_free(struct xlb_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_vips; i++)
		free(cfg->vips[i].backends);
	free(cfg->vips);
	memset(cfg, 0, sizeof(*cfg));
}

/* Parses with @c's name; frees @cfg again if anything was wrong. */
static int parse_buf(struct ctx *c, const char *buf, size_t len,
		     struct xlb_config *cfg)
{
	size_t n_errors;
	struct node *root;

	/* NULL after an error means the YAML could not be read: there is
	 * nothing more to check. Aliases and a second document are reported
	 * but leave a tree to check. */
	/* libyaml reads UTF-16 too, which the docs (and editors' diffs of
	 * the file) do not expect */
	if (len >= 2 &&
	    (!memcmp(buf, "\xff\xfe", 2) || !memcmp(buf, "\xfe\xff", 2))) {
		struct xlb_pos at = { 1, 1 };

		err_at(c, &at,
		       "the file is UTF-16 text (it starts with a UTF-16 byte-order mark); an xlb config must be UTF-8: convert it, e.g. iconv -f UTF-16 -t UTF-8");
		xlb_config_free(cfg);
		return -EINVAL;
	}
	n_errors = c->n_errors;
	root = build_tree(c, buf, len);
	if (root || c->n_errors == n_errors)
		parse_top(c, root, cfg);
	node_free(root);
	if (c->n_errors) {
		xlb_config_free(cfg);
		return -EINVAL;
	}
	return 0;
}

int xlb_config_parse(const char *name, const char *buf, size_t len,
		     struct xlb_config *cfg, struct xlb_diag *diag)
{
	struct ctx c = { .name = name ? name : "<config>" };
	int r;

	if (diag)
		memset(diag, 0, sizeof(*diag));
	config_defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", c.name);
	r = parse_buf(&c, buf ? buf : "", buf ? len : 0, cfg);
	ctx_finish(&c, diag);
	return r;
}

static const char *file_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISFIFO(m))
		return "a pipe";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

/* Reads all of @fd, at most CFG_MAX_FILE bytes; -EFBIG past that. */
static int read_all(int fd, char **out, size_t *len)
{
	size_t cap = 64 << 10, n = 0;
	char *buf = malloc(cap), *nb;
	ssize_t r;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			if (cap > CFG_MAX_FILE) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			free(buf);
			return (int)r;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > CFG_MAX_FILE) {
			free(buf);
			return -EFBIG;
		}
	}
	*out = buf;
	*len = n;
	return 0;
}

int xlb_config_load(const char *path, struct xlb_config *cfg,
		    struct xlb_diag *diag)
{
	struct ctx c = { .name = path ? path : "<config>" };
	char *buf = NULL;
	struct stat st;
	size_t len = 0;
	int fd, r;

	if (diag)
		memset(diag, 0, sizeof(*diag));
	config_defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", c.name);
	if (!path) {
		err_at(&c, NULL,
		       "no config file given; pass the path of a YAML file");
		r = -EINVAL;
		goto out;
	}
	/* O_NONBLOCK: opening a FIFO must not hang; fstat then refuses it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		err_at(&c, NULL,
		       "cannot open: %s; check the path and its permissions",
		       strerror(-r));
		goto out;
	}
	if (fstat(fd, &st)) {
		r = -errno;
		err_at(&c, NULL, "cannot stat: %s", strerror(-r));
	} else if (!S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -ENODEV;
		err_at(&c, NULL,
		       "is %s, not a regular file; give the path of a YAML config file",
		       file_kind(st.st_mode));
	} else if ((unsigned long long)st.st_size > CFG_MAX_FILE) {
		r = -EFBIG;
		err_at(&c, NULL,
		       "is %llu bytes, more than the %u-byte (16 MiB) limit for a config; check that this is the right file",
		       (unsigned long long)st.st_size, CFG_MAX_FILE);
	} else {
		r = read_all(fd, &buf, &len);
		if (r == -EFBIG)
			err_at(&c, NULL,
			       "is more than the %u-byte (16 MiB) limit for a config; check that this is the right file",
			       CFG_MAX_FILE);
		else if (r)
			err_at(&c, NULL, "cannot read: %s", strerror(-r));
	}
	close(fd);
	if (!r)
		r = parse_buf(&c, buf, len, cfg);
	free(buf);
out:
	if (r)
		xlb_config_free(cfg);
	ctx_finish(&c, diag);
	return r;
}

int xlb_config_check_file(const char *path, FILE *out)
{
	struct xlb_config cfg;
	struct xlb_diag diag;
	size_t i, n_be = 0;
	int r;

	r = xlb_config_load(path, &cfg, &diag);
	xlb_diag_print(&diag, out);
	xlb_diag_free(&diag);
	if (r)
		return 1;
	for (i = 0; i < cfg.n_vips; i++)
		n_be += cfg.vips[i].n_backends;
	fprintf(out, "%s: ok: %zu VIPs, %zu backends\n", path, cfg.n_vips,
		n_be);
	xlb_config_free(&cfg);
	return 0;
}
