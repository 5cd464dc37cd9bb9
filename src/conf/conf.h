/* The loaded configuration, as the rest of Postern sees it.
 *
 * The main options live in one struct whose field names are Exim's option names
 * (conf/main_options.h declares them once, X-macro style); other layers read fields directly
 * through conf_main or by name through conf_main_value().
 */
#ifndef POSTERN_CONF_CONF_H
#define POSTERN_CONF_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/str.h"

typedef struct conf_define {
	const char *name;
	const char *value;
} conf_define;

/* "-C @builtin" selects the embedded default configuration (unless a file of that name exists). */
#define CONF_BUILTIN_NAME "@builtin"

/* Load a configuration file (NULL: the default search path, falling back to the embedded default).
 * defines are -D macros in command-line order. On error, writes Exim's two-line message
 * ("Exim configuration error in line N of FILE:\n  <problem>") to err and returns false. */
bool conf_load(const char *file, const conf_define *defines, size_t ndefines, xbuf *err);

/* The file actually read, for $config_file, $config_dir and -bP config_file. */
const char *conf_file_name(void);
/* Whether that was the configuration compiled into the program (-C @builtin, or none installed). */
bool conf_is_builtin(void);

/* A main option's value as -bP prints it after "name = " (booleans: "true"/"false").
 * false if there is no such option. */
bool conf_main_value(const char *name, xbuf *out);
/* A string main option's value, or NULL if unset or not a string option. */
const char *conf_main_string(const char *name);

/* Named lists: kind is "domain", "host", "address" or "localpart". NULL if undefined. */
const char *conf_named_list(const char *kind, const char *name);

/* Substitute macros in one line as the reader does (used by -be on its input lines). */
void conf_macro_substitute(sv line, xbuf *out);

/* Define a macro after loading, as -be's "NAME = value" lines do ("NAME == value" with redefine):
 * the value gets the macros defined so far substituted; -D macros keep their value. On success
 * *reported is the name Exim's "Defined macro '<name>'" shows (the most recently added macro,
 * which a redefinition does not change). false + Exim's two-line message in err. */
bool conf_define_macro_late(sv name, sv value, bool redefine, const char **reported, xbuf *err);
/* Forget every macro (builtin, -D and the configuration's) for the rest of the process. Exim's
 * -be does this for callers who are not administrators, so macro values (which may carry hidden
 * settings) cannot be read back through it; definitions made afterwards work as usual. */
void conf_macros_forget(void);
/* Exim's message for a problem found after loading that it reports against the configuration's
 * last line read ("Exim configuration error in line N of FILE:\n  <problem>"). */
void conf_late_error(const char *problem, xbuf *err);

#endif
