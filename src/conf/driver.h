/* Driver classes and instances: Exim's router/transport/authenticator model.
 *
 * A class (routers, transports, authenticators) has a generic option table describing a generic
 * block shared by all its drivers, and a registry of drivers. A driver (accept, smtp, dovecot, ...)
 * has a private option table describing its private block, plus defaults for that block. The
 * configuration reader makes one driver_instance per "name:" block; later issues attach behaviour
 * through `ops` (router_ops, transport_ops, auth_ops) without changing this layout.
 */
#ifndef POSTERN_CONF_DRIVER_H
#define POSTERN_CONF_DRIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/option.h"
#include "lib/str.h"

typedef struct driver_info {
	const char *name;          /* the value of "driver =" */
	const opt_row *options;    /* private options, sorted by name */
	size_t noptions;
	size_t block_size;         /* size of the private block */
	const void *defaults;      /* a private block holding the defaults (copied per instance) */
	const void *ops;           /* class-specific behaviour, added by later issues; may be NULL */
} driver_info;

struct driver_instance;
struct driver_class;
/* Whether an option (generic or private) was given explicitly in an instance's block. */
typedef bool driver_option_was_set(const struct driver_instance *d, const char *option, void *ctx);

typedef struct driver_class {
	const char *section;       /* "routers", "transports", "authenticators" */
	const char *kind;          /* "router", "transport", "authenticator" (in messages) */
	const opt_row *generic;    /* generic options, sorted by name */
	size_t ngeneric;
	size_t generic_size;       /* size of the generic block */
	const void *generic_defaults;
	size_t driver_name_offset; /* offsetof the generic block's "driver" field (const char *) */
	const driver_info *const *drivers; /* NULL-terminated */
	/* After an instance's options are read: derive the values Exim computes at driver init, then
	 * run Exim's startup checks (false + Exim's message in err). Set by the drivers layer, so the
	 * reader needs no driver headers. */
	void (*instance_init)(const struct driver_class *cls, struct driver_instance *d,
		driver_option_was_set *was_set, void *ctx);
	bool (*instance_check)(const struct driver_class *cls, const struct driver_instance *d,
		driver_option_was_set *was_set, void *ctx, xbuf *err);
} driver_class;

typedef struct driver_instance {
	struct driver_instance *next;
	const char *name;          /* the instance name before ':' */
	const driver_info *info;
	void *generic;             /* generic block (generic_size bytes) */
	void *priv;                /* private block (info->block_size bytes) */
	const char *file;          /* where the instance was defined */
	int line;
} driver_instance;

/* Defined by src/drivers/<class>/registry.c. */
extern const driver_class router_class, transport_class, auth_class;

const driver_info *driver_find(const driver_class *cls, const char *name);

#endif
