/* Transport helpers the delivery process and the transport drivers share: generic option access
 * by name (the generic block's layout belongs to the drivers layer) and result setting. */
#include "core/transport.h"

#include <stdarg.h>
#include <string.h>

#include "conf/conf_dump.h"

static const void *generic_field(const driver_instance *t, const char *name, opt_type *type)
{
	if (!t || !t->generic)
		return NULL;
	const opt_row *row = opt_find(transport_class.generic, transport_class.ngeneric, name);
	if (!row)
		return NULL;
	*type = row->type;
	return (const char *)t->generic + row->offset;
}

const char *tp_opt_str(const driver_instance *t, const char *name)
{
	opt_type ty;
	const void *f = generic_field(t, name, &ty);
	if (!f)
		return NULL;
	const char *v;
	memcpy(&v, f, sizeof v);
	return v;
}

bool tp_opt_bool(const driver_instance *t, const char *name)
{
	opt_type ty;
	const void *f = generic_field(t, name, &ty);
	if (!f)
		return false;
	bool v;
	memcpy(&v, f, sizeof v);
	return v;
}

int tp_opt_int(const driver_instance *t, const char *name)
{
	opt_type ty;
	const void *f = generic_field(t, name, &ty);
	if (!f)
		return 0;
	int v;
	memcpy(&v, f, sizeof v);
	return v;
}

const driver_instance *tp_find(const char *name)
{
	for (const driver_instance *d = conf_driver_instances("transports"); d; d = d->next)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

const char *tp_expand_batch_id(xp_env *env, const char *batch_id)
{
	if (!batch_id)
		return NULL;
	xbuf out, err;
	xbuf_init(&out, env->a);
	xbuf_init(&err, env->a);
	if (xp_expand(env, sv_cstr(batch_id), &out, &err) != XP_OK)
		return NULL;
	return xbuf_cstr(&out);
}

void tp_set_result(arena *a, address_item *addr, addr_result r, int basic_errno, int more_errno,
	const char *fmt, ...)
{
	addr->result = r;
	addr->basic_errno = basic_errno;
	addr->more_errno = more_errno;
	if (fmt) {
		xbuf b;
		xbuf_init(&b, a);
		va_list ap;
		va_start(ap, fmt);
		xbuf_vprintf(&b, fmt, ap);
		va_end(ap);
		addr->message = xbuf_sv(&b);
	} else {
		addr->message = SV_NULL;
	}
}
