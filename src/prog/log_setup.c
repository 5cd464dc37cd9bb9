/* Log configuration from the main options (see log_setup.h). */
#include "prog/log_setup.h"

#include "conf/conf.h"
#include "conf/main_options.h"
#include "expand/expand.h"
#include "lib/arena.h"

/* Expand a main option that Exim expands once at startup. */
static bool expand_option(const char *name, const char *value, const char **out, xbuf *err)
{
	if (!value) {
		*out = NULL;
		return true;
	}
	xp_env env;
	xp_env_init(&env, pool_scratch);
	xbuf res, e;
	xbuf_init(&res, pool_perm);
	xbuf_init(&e, NULL);
	int rc = xp_expand(&env, sv_cstr(value), &res, &e);
	xp_env_release(&env);
	if (rc != XP_OK) {
		xbuf_printf(err, "failed to expand %s \"%s\": %s", name, value, xbuf_cstr(&e));
		xbuf_free(&e);
		return false;
	}
	xbuf_free(&e);
	*out = xbuf_cstr(&res);
	return true;
}

bool log_setup_from_config(enum log_echo echo, const char **spool, xbuf *err)
{
	const char *spooldir, *path;
	if (!expand_option("spool_directory", conf_main.spool_directory, &spooldir, err)
		|| !expand_option("log_file_path", conf_main.log_file_path, &path, err))
		return false;
	log_config c;
	log_config_default(&c);
	c.file_path = path;
	c.spool_directory = spooldir;
	if (conf_main.log_selector && !logsel_parse(sv_cstr(conf_main.log_selector), &c.selector, err))
		return false;
	c.timezone = conf_main.log_timezone;
	c.write_rejectlog = conf_main.write_rejectlog;
	c.syslog_facility = conf_main.syslog_facility;
	c.syslog_processname = conf_main.syslog_processname;
	c.syslog_timestamp = conf_main.syslog_timestamp;
	c.syslog_pid = conf_main.syslog_pid;
	c.syslog_duplication = conf_main.syslog_duplication;
	c.echo = echo;
	if (!log_configure(&c, err))
		return false;
	if (spool)
		*spool = spooldir;
	return true;
}
