/* Loading the configuration for a command-line mode. */
#include "prog/conf_load_for.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "conf/conf.h"
#include "lib/str.h"

static bool loaded;

bool conf_is_loaded(void) { return loaded; }

bool conf_load_for(const cmdline *cl)
{
	conf_define *defs = NULL;
	if (cl->ndefines) {
		defs = calloc(cl->ndefines, sizeof *defs);
		if (!defs)
			abort();
		for (size_t i = 0; i < cl->ndefines; i++)
			defs[i] = (conf_define){ cl->defines[i].name, cl->defines[i].value };
	}
	xbuf err;
	xbuf_init(&err, NULL);
	loaded = conf_load(cl->config_file, defs, cl->ndefines, &err);
	free(defs);
	if (!loaded) {
		/* Exim reports a configuration error through its panic log, which it echoes on stderr
		 * as a "LOG:" block in -bP and as a time-stamped log line in the other modes. */
		if (cl->mode == MODE_BP) {
			fprintf(stderr, "LOG: PANIC DIE\n  %s\n", xbuf_cstr(&err));
		} else {
			char stamp[32];
			time_t now = time(NULL);
			struct tm tm;
			strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", localtime_r(&now, &tm));
			fprintf(stderr, "%s %s\n", stamp, xbuf_cstr(&err));
		}
	}
	xbuf_free(&err);
	return loaded;
}
