/* Command-line parsing in Exim's style: options start with '-', letters may be followed by
 * attached arguments, and the first argument that does not start with '-' ends the options. */
#include "prog/cmdline.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"

static bool fail(char *err, size_t n, const char *msg, const char *arg)
{
	snprintf(err, n, msg, arg);
	return false;
}

bool cmdline_parse(int argc, char **argv, cmdline *cl, char *err, size_t errlen)
{
	memset(cl, 0, sizeof *cl);
	cl->argv0 = argc > 0 ? argv[0] : "postern";
	const char *slash = strrchr(cl->argv0, '/');
	cl->called_as = slash ? slash + 1 : cl->argv0;
	cl->defines = arena_calloc(pool_perm, (size_t)(argc > 0 ? argc : 1), sizeof *cl->defines);
	cl->args = arena_calloc(pool_perm, (size_t)(argc > 0 ? argc : 1) + 1, sizeof *cl->args);

	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "-bV") == 0) {
			cl->mode = MODE_BV;
		} else if (strcmp(a, "-bP") == 0) {
			cl->mode = MODE_BP;
		} else if (strcmp(a, "-be") == 0) {
			cl->mode = MODE_BE;
		} else if (strcmp(a, "-bem") == 0) {
			if (i + 1 >= argc)
				return fail(err, errlen, "%s: string expected after -bem", cl->called_as);
			cl->mode = MODE_BEM;
			cl->bem_file = argv[++i];
		} else if (strncmp(a, "-C", 2) == 0) {
			const char *v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
			if (!v)
				return fail(err, errlen, "%s: string expected after -C", cl->called_as);
			cl->config_file = v;
		} else if (strncmp(a, "-D", 2) == 0) {
			/* Exim: the definition is attached (-DNAME=value); the name must start upper case. */
			const char *d = a + 2;
			if (!isupper((unsigned char)d[0]))
				return fail(err, errlen, "%s: macro name set by -D must start with an upper case letter", "exim");
			size_t n = strcspn(d, "=");
			for (size_t k = 0; k < n; k++)
				if (!isalnum((unsigned char)d[k]) && d[k] != '_')
					return fail(err, errlen, "%s: macro name set by -D must contain only letters, digits, and underscores", "exim");
			conf_define *def = &cl->defines[cl->ndefines++];
			def->name = arena_strndup(pool_perm, d, n);
			def->value = d[n] == '=' ? d + n + 1 : "";
		} else if (strncmp(a, "-d", 2) == 0) {
			cl->debug = a + 2;
		} else if (strcmp(a, "-v") == 0) {
			cl->verbose = true;
		} else if (strcmp(a, "-n") == 0) {
			cl->no_names = true;
		} else {
			return fail(err, errlen, "exim abandoned: unknown, malformed, or incomplete option %s", a);
		}
	}
	for (; i < argc; i++)
		cl->args[cl->nargs++] = argv[i];
	return true;
}
