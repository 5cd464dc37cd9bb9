/* Fuzz Exim list iteration: any bytes as a list, with each separator mode. */
#include <stddef.h>
#include <stdint.h>

#include "lib/list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int seps[] = { 0, ':', -';', '\n' };
	for (size_t k = 0; k < sizeof seps / sizeof seps[0]; k++) {
		list_iter it;
		xbuf item, rebuilt;
		xbuf_init(&item, NULL);
		xbuf_init(&rebuilt, NULL);
		list_iter_init(&it, sv_make((const char *)data, size), seps[k]);
		int sep = list_separator(sv_make((const char *)data, size), seps[k]);
		size_t n = 0;
		while (list_next(&it, &item)) {
			list_append_item(&rebuilt, sep, xbuf_sv(&item));
			if (++n > size + 1)
				__builtin_trap(); /* the iterator must always make progress */
		}
		xbuf_free(&item);
		xbuf_free(&rebuilt);
	}
	return 0;
}
