/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The one logger of the control plane: levels, a verbose switch, and the
 * libbpf/libxdp print hooks routed through it. */
#ifndef XLB_LOG_H
#define XLB_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum xlb_log_level {
	XLB_LOG_ERROR = 0, /* always shown, prefixed "xlbctl: " */
	XLB_LOG_WARN, /* always shown, prefixed "xlbctl: warning: " */
	XLB_LOG_INFO, /* always shown, no prefix (progress, results) */
	XLB_LOG_DEBUG, /* only with -v */
};

/**
 * xlb_log_init - set the program name used as prefix and the verbosity
 * @prog:    prefix for errors and warnings ("xlbctl")
 * @verbose: show debug lines and libbpf/libxdp output
 *
 * Also installs the libbpf and libxdp print callbacks, so their output
 * goes through this logger (and is hidden unless @verbose).
 */
void xlb_log_init(const char *prog, bool verbose);
bool xlb_log_verbose(void);

void xlb_log(enum xlb_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define xlb_err(...) xlb_log(XLB_LOG_ERROR, __VA_ARGS__)
#define xlb_warn(...) xlb_log(XLB_LOG_WARN, __VA_ARGS__)
#define xlb_info(...) xlb_log(XLB_LOG_INFO, __VA_ARGS__)
#define xlb_dbg(...) xlb_log(XLB_LOG_DEBUG, __VA_ARGS__)

/* A JSON string literal: quotes, backslashes, control characters escaped. */
void xlb_put_json_str(FILE *f, const char *s);
/* A double-quoted value with ", \ and newline escaped: Prometheus label
 * values and logfmt values. */
void xlb_put_quoted(FILE *f, const char *s);

#endif /* XLB_LOG_H */
