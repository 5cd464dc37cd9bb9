/* -bV: version and build information in Exim's layout, then the configuration file in use.
 *
 * The first line keeps Exim's "Exim version 4.96" prefix because monitoring scripts and test
 * harnesses parse it; Postern's own version follows in parentheses. "Support for:" lists only what
 * this build really implements; later issues add their features here as they land.
 */
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "build_config.h"
#include "conf/conf.h"
#include "conf/driver.h"
#include "lib/str.h"
#include "prog/bV_tls.h"
#include "prog/cmdline.h"
#include "prog/environment_note.h"
#include "prog/sender_arg.h"
#include "search/search.h"

static void print_drivers(const char *title, const driver_class *cls)
{
	printf("%s:", title);
	for (const driver_info *const *d = cls->drivers; *d; d++)
		printf(" %s", (*d)->name);
	printf("\n");
}

int bV_main(const cmdline *cl)
{
	xbuf err;
	xbuf_init(&err, pool_perm);
	bool loaded = conf_load(cl->config_file, cl->defines, cl->ndefines, &err);
	if (loaded) loaded = bV_check_tls(&err);

	printf("Exim version %s (Postern %s) #1 built %s %s\n", EXIM_COMPAT_VERSION, POSTERN_VERSION,
		__DATE__, __TIME__);
	printf("Copyright (c) the Postern developers; configuration-compatible with Exim 4.96\n");
	printf("Support for: crypteq iconv() IPv6\n");
	xbuf look;
	xbuf_init(&look, pool_perm);
	search_version_report(&look);
	fputs(xbuf_cstr(&look), stdout);
	print_drivers("Authenticators", &auth_class);
	print_drivers("Routers", &router_class);
	print_drivers("Transports", &transport_class);
	printf("Size of off_t: %zu\n", sizeof(off_t));
	if (!loaded) {
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
		return 1;
	}
	environment_note_purge(cl);
	if (cl->sender && !sender_arg_parse(pool_perm, cl->sender, ""))
		return 1; /* after the version lines, as Exim (prog/sender_arg.h) */
	printf("Configuration file is %s\n", conf_file_name());
	return 0;
}
