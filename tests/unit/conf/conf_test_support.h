/* Shared helpers for the configuration unit tests: a small driver registry (the real one lives
 * in src/drivers and is not linked into these tests) and loading a configuration from text. */
#ifndef POSTERN_TESTS_CONF_SUPPORT_H
#define POSTERN_TESTS_CONF_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/conf_dump.h"
#include "conf/driver.h"
#include "lib/arena.h"

/* Routers: a generic block with a few of Exim's generic options. */
typedef struct t_router {
	const char *domains;
	const char *driver;
	bool more;
	const char *transport;
	const char *user;
	bool verify_sender;
	bool verify_recipient;
} t_router;

static const opt_row t_router_generic[] = {
	OPT_ROW("domains", OPT_STRING, 0, t_router, domains),
	OPT_ROW("driver", OPT_STRING, 0, t_router, driver),
	OPT_ROW("more", OPT_BOOL, 0, t_router, more),
	OPT_ROW("transport", OPT_STRING, 0, t_router, transport),
	OPT_ROW("user", OPT_EXPAND_UID, 0, t_router, user),
	OPT_ROW("verify", OPT_BOOL_VERIFY, OPTF_HIDDEN, t_router, verify_sender),
	OPT_ROW("verify_recipient", OPT_BOOL, 0, t_router, verify_recipient),
	OPT_ROW("verify_sender", OPT_BOOL, 0, t_router, verify_sender),
};
static const t_router t_router_defaults = { .more = true, .verify_sender = true, .verify_recipient = true };

typedef struct t_redirect {
	bool allow_fail;
	const char *data;
	const char *file;
	int modemask;
} t_redirect;

static const opt_row t_redirect_options[] = {
	OPT_ROW("allow_fail", OPT_BOOL, 0, t_redirect, allow_fail),
	OPT_ROW("data", OPT_STRING, 0, t_redirect, data),
	OPT_ROW("file", OPT_STRING, 0, t_redirect, file),
	OPT_ROW("modemask", OPT_OCTINT, 0, t_redirect, modemask),
};
static const t_redirect t_redirect_defaults = { .modemask = 022 };

static const driver_info t_accept = { "accept", NULL, 0, 0, NULL, NULL };
static const driver_info t_redirect_info = {
	"redirect", t_redirect_options, sizeof t_redirect_options / sizeof t_redirect_options[0],
	sizeof(t_redirect), &t_redirect_defaults, NULL,
};
static const driver_info *const t_router_drivers[] = { &t_accept, &t_redirect_info, NULL };

static const driver_class t_router_class = {
	.section = "routers", .kind = "router", .generic = t_router_generic,
	.ngeneric = sizeof t_router_generic / sizeof t_router_generic[0], .generic_size = sizeof(t_router),
	.generic_defaults = &t_router_defaults, .driver_name_offset = offsetof(t_router, driver),
	.drivers = t_router_drivers,
};

/* Transports: generic driver/body_only, appendfile with file/mode/quota. */
typedef struct t_transport {
	bool body_only;
	const char *driver;
	const char *headers_rewrite;
	int transport_filter_timeout;
} t_transport;

static const opt_row t_transport_generic[] = {
	OPT_ROW("body_only", OPT_BOOL, 0, t_transport, body_only),
	OPT_ROW("driver", OPT_STRING, 0, t_transport, driver),
	OPT_ROW("headers_rewrite", OPT_REWRITE, 0, t_transport, headers_rewrite),
	OPT_ROW("transport_filter_timeout", OPT_TIME, 0, t_transport, transport_filter_timeout),
};
static const t_transport t_transport_defaults = { .transport_filter_timeout = 300 };

typedef struct t_appendfile {
	const char *file;
	int mode;
	const char *quota;
} t_appendfile;

static const opt_row t_appendfile_options[] = {
	OPT_ROW("file", OPT_STRING, 0, t_appendfile, file),
	OPT_ROW("mode", OPT_OCTINT, 0, t_appendfile, mode),
	OPT_ROW("quota", OPT_STRING, 0, t_appendfile, quota),
};
static const t_appendfile t_appendfile_defaults = { .mode = 0600 };
static const driver_info t_appendfile_info = {
	"appendfile", t_appendfile_options, sizeof t_appendfile_options / sizeof t_appendfile_options[0],
	sizeof(t_appendfile), &t_appendfile_defaults, NULL,
};
static const driver_info *const t_transport_drivers[] = { &t_appendfile_info, NULL };
/* Stands for the drivers layer's startup checks: a transport may not be called "bad". */
static bool t_transport_check(const driver_class *cls, const driver_instance *d,
	driver_option_was_set *was_set, void *ctx, xbuf *err)
{
	(void)cls;
	if (strcmp(d->name, "bad") != 0 || !was_set(d, "driver", ctx))
		return true;
	xbuf_printf(err, "Exim configuration error for %s transport:\n  bad name", d->name);
	return false;
}

/* Stands for the drivers layer's derived values: body_only set means a 1s filter timeout unless
 * that option was given. */
static void t_transport_init(const driver_class *cls, driver_instance *d, driver_option_was_set *was_set,
	void *ctx)
{
	(void)cls;
	t_transport *g = d->generic;
	if (g->body_only && !was_set(d, "transport_filter_timeout", ctx))
		g->transport_filter_timeout = 1;
}

static const driver_class t_transport_class = {
	.section = "transports", .kind = "transport", .generic = t_transport_generic,
	.ngeneric = sizeof t_transport_generic / sizeof t_transport_generic[0],
	.generic_size = sizeof(t_transport), .generic_defaults = &t_transport_defaults,
	.driver_name_offset = offsetof(t_transport, driver), .drivers = t_transport_drivers,
	.instance_init = t_transport_init, .instance_check = t_transport_check,
};

static inline void t_use_registry(void)
{
	conf_use_driver_classes(&t_router_class, &t_transport_class, NULL);
}

/* Load a configuration held in text; err receives Exim's message on failure. The file lives in
 * a fresh temporary directory (also returned, for tests that add included files). */
static char t_dir[64];

static inline const char *t_write(const char *name, const char *text)
{
	if (!t_dir[0]) {
		strcpy(t_dir, "/tmp/postern-conf-XXXXXX");
		if (!mkdtemp(t_dir))
			abort();
	}
	static char path[256];
	snprintf(path, sizeof path, "%s/%s", t_dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	return path;
}

static inline bool t_load_defs(const char *text, const conf_define *defs, size_t n, xbuf *err)
{
	const char *path = t_write("test.conf", text);
	xbuf_reset(err);
	return conf_load(path, defs, n, err);
}

static inline bool t_load(const char *text, xbuf *err)
{
	return t_load_defs(text, NULL, 0, err);
}

/* The second line of an error message (the problem itself, without the indentation). */
static inline const char *t_problem(const xbuf *err)
{
	const char *nl = strchr(xbuf_cstr(err), '\n');
	return nl ? nl + 3 : xbuf_cstr(err);
}

/* A main option as -bP prints it (without the newline). */
static inline const char *t_bp(const char *name)
{
	static char buf[4096];
	size_t n;
	const opt_row *rows = conf_main_rows(&n);
	const opt_row *row = opt_find(rows, n, name);
	if (!row)
		return "(unknown)";
	xbuf out;
	xbuf_init(&out, NULL);
	conf_print_option(row, conf_main_block(), false, false, &out);
	snprintf(buf, sizeof buf, "%s", xbuf_cstr(&out));
	xbuf_free(&out);
	size_t len = strlen(buf);
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = 0;
	return buf;
}

#endif
