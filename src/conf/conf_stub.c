/* TEMPORARY (session scaffolding): lets the tree link before the reader lands. Deleted by the
 * configuration work; must not be in a landed commit. */
#include "conf/conf.h"
bool conf_load(const char *file, const conf_define *d, size_t n, xbuf *err) { (void)file; (void)d; (void)n; (void)err; return true; }
const char *conf_file_name(void) { return ""; }
bool conf_main_value(const char *name, xbuf *out) { (void)name; (void)out; return false; }
const char *conf_main_string(const char *name) { (void)name; return NULL; }
const char *conf_named_list(const char *kind, const char *name) { (void)kind; (void)name; return NULL; }
void conf_macro_substitute(sv line, xbuf *out) { xbuf_putsv(out, line); }
