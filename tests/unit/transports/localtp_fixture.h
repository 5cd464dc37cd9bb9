/* Test fixture for the local transports: a configuration loaded from text (with "%T" standing for
 * the test's temporary directory), a real spool message (spool_begin_message/commit), and a
 * tp_ctx as the delivery process gives a transport child, so tests call ops->deliver directly. */
#ifndef POSTERN_TESTS_LOCALTP_FIXTURE_H
#define POSTERN_TESTS_LOCALTP_FIXTURE_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/addr.h"
#include "core/message.h"
#include "core/spool.h"
#include "core/transport.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "../unit.h"

static char fx_dir[] = "/tmp/localtp_test_XXXXXX";

/* Replace every %T in text by the temporary directory. */
static char *fx_subst(const char *text)
{
	xbuf b;
	xbuf_init(&b, pool_perm);
	for (const char *p = text; *p; p++) {
		if (p[0] == '%' && p[1] == 'T') {
			xbuf_puts(&b, fx_dir);
			p++;
		} else {
			xbuf_putc(&b, *p);
		}
	}
	return (char *)xbuf_cstr(&b);
}

static void fx_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

/* Set up pools, the temporary directory, the configuration and the logs (in %T/log/). */
static void fx_init(const char *config_text)
{
	arena_init_pools();
	if (!mkdtemp(fx_dir))
		exit(1);
	char path[256];
	snprintf(path, sizeof path, "%s/test.conf", fx_dir);
	fx_write(path, fx_subst(config_text));
	xbuf err;
	xbuf_init(&err, pool_perm);
	if (!conf_load(path, NULL, 0, &err)) {
		fprintf(stderr, "config: %s\n", xbuf_cstr(&err));
		exit(1);
	}
	log_config lc;
	log_config_default(&lc);
	lc.file_path = arena_printf(pool_perm, "%s/%%slog", fx_dir);
	lc.echo = LOG_ECHO_NONE;
	if (!log_configure(&lc, &err))
		exit(1);
}

static void fx_done(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", fx_dir);
	if (system(cmd) != 0)
		exit(1);
}

/* One spooled message and what a transport child gets for it. */
typedef struct fx_msg {
	spool_config sc;
	message *m;
	msg_origin o;
	int data_fd;
	xp_env env;
	message_vars mv;
	xp_provider av, rp;
	tp_ctx c;
	address_item *addrs;
} fx_msg;

/* $return_path as the delivery process shows it: the sender (empty for a bounce). */
static bool fx_return_path(void *ctx, sv name, xbuf *out)
{
	const message *m = ctx;
	if (!sv_eq_cstr(name, "return_path"))
		return false;
	xbuf_putsv(out, m->sender);
	return true;
}

/* Spool a message from sender to the recipients (comma-separated) with the given header lines
 * ("Name: value\n"...) and body, then build the context for a batch of all the recipients. */
static void fx_message(fx_msg *x, const char *sender, const char *rcpts, const char *headers,
	const char *body)
{
	memset(x, 0, sizeof *x);
	xbuf err;
	xbuf_init(&err, pool_perm);
	if (!spool_config_from_main(&x->sc, &err)) {
		fprintf(stderr, "spool config: %s\n", xbuf_cstr(&err));
		exit(1);
	}
	x->m = message_new(pool_msg);
	x->o.login = sv_cstr("root");
	x->o.protocol = sv_cstr("local");
	x->m->origin = &x->o;
	x->m->sender = sv_cstr(sender);
	char *list = arena_strdup(pool_perm, rcpts);
	for (char *s = strtok(list, ","); s; s = strtok(NULL, ","))
		message_add_recipient(x->m, sv_cstr(s));
	for (const char *h = headers; h && *h; ) {
		const char *nl = strchr(h, '\n');
		size_t n = nl ? (size_t)(nl - h) + 1 : strlen(h);
		/* continuation lines belong to the header before */
		while (nl && (nl[1] == ' ' || nl[1] == '\t')) {
			nl = strchr(nl + 1, '\n');
			n = nl ? (size_t)(nl - h) + 1 : strlen(h);
		}
		sv text = sv_make(arena_strndup(pool_msg, h, n), n);
		const char *colon = memchr(h, ':', n);
		char type = colon ? message_header_type(sv_make(h, (size_t)(colon - h))) : ' ';
		message_add_header(x->m, type, text);
		h += n;
	}
	long long lines = 0;
	for (const char *p = body; *p; p++)
		lines += *p == '\n';
	x->m->body_linecount = lines;
	spool_txn *t = spool_begin_message(&x->sc, x->m, &err);
	if (!t || !spool_write_body(t, body, strlen(body), &err) || !spool_commit(t, x->m, &err)) {
		fprintf(stderr, "spool: %s\n", xbuf_cstr(&err));
		exit(1);
	}
	spool_end(t);
	x->data_fd = spool_open_locked(&x->sc, x->m->id, &err);
	if (x->data_fd < 0) {
		fprintf(stderr, "spool lock: %s\n", xbuf_cstr(&err));
		exit(1);
	}
	x->m->size = message_header_size(x->m) + 1 + (long long)strlen(body);

	xp_env_init(&x->env, pool_scratch);
	x->env.state = pool_perm;
	/* $h_subject: and friends, as the delivery process shows them */
	xp_message *xm = arena_calloc(pool_msg, 1, sizeof *xm);
	message_to_xp(x->m, sv_cstr(body), xm, pool_msg);
	x->env.msg = xm;
	message_vars_init(&x->mv, x->m, NULL);
	xp_env_push_provider(&x->env, &x->mv.p);
	x->rp = (xp_provider){ .get = fx_return_path, .ctx = x->m };
	xp_env_push_provider(&x->env, &x->rp);
	address_item **tail = &x->addrs;
	for (size_t i = 0; i < x->m->nrcpt; i++) {
		address_item *ad = route_new_address(pool_msg, x->m->rcpt[i].address);
		ad->rcpt_index = (int)i;
		*tail = ad;
		tail = &ad->next;
	}
	if (x->addrs)
		route_vars_push(&x->env, &x->av, x->addrs);
	x->c = (tp_ctx){ .a = pool_scratch, .env = &x->env, .m = x->m, .sc = &x->sc,
		.data_fd = x->data_fd };
}

static void fx_message_done(fx_msg *x)
{
	if (x->data_fd >= 0)
		close(x->data_fd);
	x->data_fd = -1;
}

/* Run the transport called name on the message's batch. */
static void fx_deliver(fx_msg *x, const char *name)
{
	const driver_instance *t = tp_find(name);
	CHECK(t != NULL);
	if (!t)
		return;
	const transport_ops *ops = t->info->ops;
	CHECK(ops != NULL && ops->deliver != NULL);
	if (!ops || !ops->deliver)
		return;
	for (address_item *ad = x->addrs; ad; ad = ad->next) {
		ad->result = ADDR_PENDING;
		ad->message = SV_NULL;
		ad->basic_errno = ad->more_errno = 0;
		ad->transport = t->name;
	}
	ops->deliver(t, &x->c, x->addrs);
	for (address_item *ad = x->addrs; ad; ad = ad->next)
		CHECK(ad->result != ADDR_PENDING);
}

/* The outcome text ("" when none) of address i of the batch. */
static const char *fx_text(const fx_msg *x, int i)
{
	const address_item *ad = x->addrs;
	while (ad && i-- > 0)
		ad = ad->next;
	if (!ad || sv_is_null(ad->message))
		return "";
	return sv_dup(pool_scratch, ad->message);
}

/* A whole small file (at most 1 MB) as a string, or NULL. */
static char *fx_read(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	size_t cap = 1 << 20, n = 0;
	char *buf = arena_alloc(pool_scratch, cap + 1);
	ssize_t r;
	while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

#endif
