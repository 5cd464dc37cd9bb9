/* The current named queue of this process (core/queue_named.h). */
#include "core/queue_named.h"

#include <stdlib.h>
#include <string.h>

#include "expand/expand.h"

/* Every name this process has used, never freed: spool configurations made while a name was
 * current keep pointing at it after the current queue changes. A process uses few names (a
 * session those its ACLs choose, a queue runner or delivery one). NULL: the default queue. */
typedef struct interned {
	struct interned *next;
	char name[];
} interned;
static interned *names;
static const char *current;

const char *queue_named_current(void)
{
	return current ? current : "";
}

/* $queue_name. Registered tables come before the built-in (empty) definition. */
static void v_queue_name(xp_env *env, const xp_var_def *def, xbuf *out)
{
	(void)env;
	(void)def;
	xbuf_puts(out, queue_named_current());
}

static void register_variable(void)
{
	static bool done;
	static const xp_var_def vars[] = { { "queue_name", v_queue_name, NULL } };
	if (done)
		return;
	done = true;
	xp_var_register(vars, sizeof vars / sizeof vars[0]);
}

void queue_named_set(const char *name)
{
	if (!name || !*name) {
		current = NULL;
		return;
	}
	size_t n = strnlen(name, QUEUE_NAME_MAX);
	for (interned *i = names; i; i = i->next)
		if (strncmp(i->name, name, n) == 0 && i->name[n] == 0) {
			current = i->name;
			return;
		}
	interned *i = malloc(sizeof *i + n + 1);
	if (!i)
		abort();
	memcpy(i->name, name, n);
	i->name[n] = 0;
	i->next = names;
	names = i;
	current = i->name;
	register_variable();
}

bool queue_named_check(sv name, xbuf *err)
{
	if (name.taint) {
		xbuf_printf(err, "Tainted name '" SV_FMT "' for queue not permitted", SV_ARG(name));
		return false;
	}
	if (memchr(name.p, '/', name.len)) {
		xbuf_printf(err, "Directory separator not permitted in queue name: '" SV_FMT "'", SV_ARG(name));
		return false;
	}
	if (sv_eq_cstr(name, ".") || sv_eq_cstr(name, "..") || memchr(name.p, 0, name.len)
		|| name.len > QUEUE_NAME_MAX) {
		xbuf_puts(err, "Queue name '");
		for (size_t i = 0; i < name.len && i < QUEUE_NAME_MAX; i++)
			xbuf_putc(err, name.p[i] ? name.p[i] : '?');
		xbuf_puts(err, name.len > QUEUE_NAME_MAX ? "...' not permitted" : "' not permitted");
		return false;
	}
	return true;
}

acl_result queue_named_acl(acl_ctx *c, sv name)
{
	xbuf_reset(&c->log_msg);
	if (!queue_named_check(name, &c->log_msg))
		return ACL_ERROR;
	char buf[QUEUE_NAME_MAX + 1];
	memcpy(buf, name.p, name.len);
	buf[name.len] = 0;
	queue_named_set(buf);
	return ACL_OK;
}

void queue_named_log_field_of(const char *name, xbuf *out)
{
	if (name && *name)
		xbuf_printf(out, " Q=%s", name);
}

void queue_named_log_field(xbuf *out)
{
	queue_named_log_field_of(current, out);
}
