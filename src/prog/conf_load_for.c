/* Loading the configuration for a command-line mode. */
#include "prog/conf_load_for.h"

#include <stdio.h>
#include <time.h>

#include "conf/conf.h"
#include "conf/conf_dump.h"
#include "core/acl.h"
#include "core/auth.h"
#include "lib/str.h"

static bool loaded;

bool conf_is_loaded(void) { return loaded; }

bool conf_load_for(const cmdline *cl)
{
	xbuf err;
	xbuf_init(&err, NULL);
	loaded = conf_load(cl->config_file, cl->defines, cl->ndefines, &err);
	bool config_error = false;
	/* Checks across driver instances, which the reader (seeing one instance at a time) cannot
	 * make; Exim makes them while reading, so they fail every mode the same way. */
	if (loaded && (!acl_check_config(&err)
	               || !auth_check_public_names(conf_driver_instances("authenticators"), &err))) {
		loaded = false;
		config_error = true;
	}
	if (!loaded) {
		/* Exim reports a configuration error through its panic log, which it echoes on stderr
		 * as a "LOG:" block in -bP and as a time-stamped log line in the other modes. */
		if (cl->mode == MODE_BP) {
			conf_error_kind kind = config_error ? CONF_ERROR_CONFIG : conf_last_error_kind();
			fprintf(stderr, "LOG: %s\n  %s\n", kind == CONF_ERROR_MACRO ? "PANIC"
				: kind == CONF_ERROR_STARTUP ? "MAIN PANIC DIE" : "PANIC DIE", xbuf_cstr(&err));
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
