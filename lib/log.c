/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The control plane's logger, and the hooks that route libbpf and libxdp
 * output into it (shown only with -v). */
#include <stdarg.h>
#include <stdio.h>

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "log.h"

static const char *log_prog = "xlb";
static bool log_verbose;

static int libbpf_print(enum libbpf_print_level lvl, const char *fmt,
			va_list ap)
{
	if (!log_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap); /* already "libbpf: ..." */
}

static int libxdp_print(enum libxdp_print_level lvl, const char *fmt,
			va_list ap)
{
	if (!log_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap); /* already "libxdp: ..." */
}

void xlb_log_init(const char *prog, bool verbose)
{
	if (prog)
		log_prog = prog;
	log_verbose = verbose;
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
}

bool xlb_log_verbose(void)
{
	return log_verbose;
}

void xlb_log(enum xlb_log_level lvl, const char *fmt, ...)
{
	FILE *out = stderr;
	va_list ap;

	switch (lvl) {
	case XLB_LOG_ERROR:
		fprintf(out, "%s: ", log_prog);
		break;
	case XLB_LOG_WARN:
		fprintf(out, "%s: warning: ", log_prog);
		break;
	case XLB_LOG_INFO:
		out = stdout;
		break;
	case XLB_LOG_DEBUG:
		if (!log_verbose)
			return;
		fprintf(out, "%s: debug: ", log_prog);
		break;
	}
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
}

void xlb_put_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void xlb_put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}
