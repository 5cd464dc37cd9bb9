/* The main options' storage, compiled-in defaults and sorted option table, all generated from
 * the single declaration list in main_options.h. */
#include "conf/main_options.h"

#include <stddef.h>

#define MAIN_OPT__DEFAULT(name, type, ctype, flags, def) .name = def,
#define MAIN_OPT__NODEFAULT(name, target, type)
const struct main_config main_config_defaults = {
	MAIN_OPTIONS(MAIN_OPT__DEFAULT, MAIN_OPT__NODEFAULT)
};

struct main_config conf_main = {
	MAIN_OPTIONS(MAIN_OPT__DEFAULT, MAIN_OPT__NODEFAULT)
};

#define MAIN_OPT__ROW(name, type, ctype, flags, def) OPT_ROW(#name, type, flags, struct main_config, name),
#define MAIN_OPT__ALIAS(name, target, type) OPT_ROW(#name, type, OPTF_HIDDEN, struct main_config, target),
const opt_row main_option_rows[] = {
	MAIN_OPTIONS(MAIN_OPT__ROW, MAIN_OPT__ALIAS)
};

const size_t main_option_count = sizeof main_option_rows / sizeof main_option_rows[0];
