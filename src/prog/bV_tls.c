/* -bV's check of the TLS library settings that Exim built with OpenSSL validates when it reads
 * its configuration: an openssl_options naming an unknown option is reported in Exim's words,
 * "openssl_options parse error: <setting>", with the file and line of the setting. */
#include "prog/bV_tls.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "build_config.h"
#include "conf/conf.h"
#include "conf/main_options.h"
#include "lib/arena.h"

#if SUPPORT_TLS
#include "tls/tls_int.h"

/* The line of the last "openssl_options = ..." in the main file (0: not found there, e.g. it
 * came from an .include or a macro). */
static int setting_line(const char *file)
{
	FILE *fp = fopen(file, "r");
	if (!fp) return 0;
	char buf[4096];
	int n = 0, found = 0;
	bool continued = false;
	while (fgets(buf, sizeof buf, fp)) {
		size_t len = strlen(buf);
		bool complete = len && buf[len - 1] == '\n';
		if (!continued) {
			n++;
			const char *p = buf;
			while (isspace((unsigned char)*p)) p++;
			if (strncmp(p, "begin", 5) == 0 && (isspace((unsigned char)p[5]) || !p[5])) break;
			if (strncmp(p, "openssl_options", 15) == 0) {
				p += 15;
				while (*p == ' ' || *p == '\t') p++;
				if (*p == '=') found = n;
			}
		}
		continued = !complete;   /* a line longer than buf: the rest is not a new line */
	}
	fclose(fp);
	return found;
}

bool bV_check_tls(xbuf *err)
{
	const char *opts = conf_main.openssl_options;
	if (!opts) return true;
	uint64_t set, clear;
	xbuf why;
	xbuf_init(&why, pool_perm);
	if (tls_parse_openssl_options(opts, &set, &clear, &why)) return true;
	const char *file = conf_file_name();
	int line = file ? setting_line(file) : 0;
	if (line)
		xbuf_printf(err, "Exim configuration error in line %d of %s:\n  openssl_options parse error: %s",
			line, file, opts);
	else
		xbuf_printf(err, "Exim configuration error:\n  openssl_options parse error: %s", opts);
	return false;
}

#else

bool bV_check_tls(xbuf *err)
{
	(void)err;
	return true;
}

#endif
