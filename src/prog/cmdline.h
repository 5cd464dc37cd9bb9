/* The Exim command line, parsed into one struct that the modes (-bV, -bP, -be, ...) read. */
#ifndef POSTERN_PROG_CMDLINE_H
#define POSTERN_PROG_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

typedef enum cmd_mode {
	MODE_NONE,
	MODE_BV,   /* -bV: version and build information */
	MODE_BP,   /* -bP: print configuration */
	MODE_BE,   /* -be: expansion testing */
	MODE_BEM,  /* -bem FILE: expansion testing with a message loaded */
} cmd_mode;


typedef struct cmdline {
	const char *argv0;        /* as invoked */
	const char *called_as;    /* basename of argv0: postern, exim, sendmail, mailq, rmail, rsmtp */
	cmd_mode mode;
	const char *config_file;  /* -C; NULL: the default search path */
	conf_define *defines;     /* -D NAME=VALUE, in command-line order */
	size_t ndefines;
	const char *debug;        /* -d argument after the "d" ("" for plain -d); NULL: no debug */
	bool verbose;             /* -v */
	bool no_names;            /* -n (with -bP: values only) */
	const char *bem_file;     /* -bem FILE */
	char **args;              /* non-option arguments (-bP names, -be strings, recipients) */
	size_t nargs;
} cmdline;

/* Parse argv. On error returns false and writes Exim's wording of the problem into err. */
bool cmdline_parse(int argc, char **argv, cmdline *out, char *err, size_t errlen);

/* The modes; each returns the process exit status. */
int bV_main(const cmdline *cl);
int bP_main(const cmdline *cl);
int be_main(const cmdline *cl);

#endif
