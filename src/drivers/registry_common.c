/* Driver lookup by name, shared by the router, transport and authenticator classes. */
#include <string.h>

#include "conf/driver.h"

const driver_info *driver_find(const driver_class *cls, const char *name)
{
	if (cls == NULL || name == NULL)
		return NULL;
	/* A handful of drivers per class: a linear scan is clearer than anything cleverer. */
	for (const driver_info *const *d = cls->drivers; *d != NULL; d++)
		if (strcmp((*d)->name, name) == 0)
			return *d;
	return NULL;
}
