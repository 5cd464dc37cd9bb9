/* Test fixture: a driver instance built from the declared defaults plus "name=value" settings,
 * as the configuration reader would leave it (booleans "true"/"false", integers and uids in
 * decimal, everything else stored as given). */
#ifndef POSTERN_TESTS_DRIVER_FIXTURE_H
#define POSTERN_TESTS_DRIVER_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "conf/driver.h"
#include "drivers/driver_init.h"
#include "../unit.h"

#define FIXTURE_MAX_SET 6

typedef struct fixture {
	driver_instance d;
	const char *const *set; /* FIXTURE_MAX_SET entries, NULL-padded */
	char generic[4096], priv[4096];
} fixture;

static inline void fixture_set(fixture *f, const driver_class *cls, const char *assign)
{
	const char *eq = strchr(assign, '=');
	char name[64];
	snprintf(name, sizeof name, "%.*s", (int)(eq - assign), assign);
	const opt_row *r = opt_find(cls->generic, cls->ngeneric, name);
	char *block = f->d.generic;
	if (r == NULL) {
		r = opt_find(f->d.info->options, f->d.info->noptions, name);
		block = f->d.priv;
	}
	CHECK(r != NULL);
	if (r == NULL)
		return;
	const char *v = eq + 1;
	switch (r->type) {
	case OPT_BOOL: {
		bool b = strcmp(v, "true") == 0;
		memcpy(block + r->offset, &b, sizeof b);
		break;
	}
	case OPT_INT: case OPT_OCTINT: case OPT_TIME: {
		int n = (int)strtol(v, NULL, 0);
		memcpy(block + r->offset, &n, sizeof n);
		break;
	}
	case OPT_UID: case OPT_GID: {
		uid_t u = (uid_t)atoi(v);
		memcpy(block + r->offset, &u, sizeof u);
		break;
	}
	default:
		memcpy(block + r->offset, &v, sizeof v);
	}
}

static inline bool fixture_was_set(const driver_instance *d, const char *option, void *ctx)
{
	const fixture *f = ctx;
	size_t n = strlen(option);
	(void)d;
	for (size_t i = 0; i < FIXTURE_MAX_SET && f->set[i]; i++)
		if (strncmp(f->set[i], option, n) == 0 && f->set[i][n] == '=')
			return true;
	return false;
}

/* Build instance name of driver in cls with the settings, then run driver_instance_init. */
static inline bool fixture_make_named(fixture *f, const driver_class *cls, const char *name,
	const char *driver, const char *const *set)
{
	const driver_info *info = driver_find(cls, driver);
	CHECK(info != NULL);
	if (!info || cls->generic_size > sizeof f->generic || info->block_size > sizeof f->priv)
		return false;
	memcpy(f->generic, cls->generic_defaults, cls->generic_size);
	if (info->block_size)
		memcpy(f->priv, info->defaults, info->block_size);
	f->d = (driver_instance){ .name = name, .info = info, .generic = f->generic,
		.priv = info->block_size ? f->priv : NULL };
	const char *drv = info->name;
	memcpy(f->generic + cls->driver_name_offset, &drv, sizeof drv);
	f->set = set;
	for (size_t i = 0; i < FIXTURE_MAX_SET && set[i]; i++)
		fixture_set(f, cls, set[i]);
	driver_instance_init(cls, &f->d, fixture_was_set, f);
	return true;
}

static inline bool fixture_make(fixture *f, const driver_class *cls, const char *driver,
	const char *const *set)
{
	return fixture_make_named(f, cls, "x", driver, set);
}

#endif
