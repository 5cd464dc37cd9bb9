/* conf_load: choose the file, reset state, read it, apply computed defaults, freeze the arena. */
#include "conf/conf_internal.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <pwd.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "lib/initial_cwd.h"
#include "lib/logsel.h"

conf_state conf_st;

/* Defined in default_config.c: the configuration used when no file exists. */
extern const char conf_default_text[];

/* The embedded configuration with its "./var" made absolute against the directory the process
 * started in: the daemon works from its spool directory (a relative log path would then point
 * elsewhere) and refuses a relative pid file path, as Exim does. Without a recorded directory
 * the text is as written. */
static const char builtin_name[] = "builtin";   /* its $config_file and -bP config_file */

static const char *builtin_text(void)
{
	const char *cwd = initial_cwd();
	if (!*cwd)
		return conf_default_text;
	xbuf t;
	xbuf_init(&t, pool_perm);
	const char *p = conf_default_text, *q;
	while ((q = strstr(p, "./var")) != NULL) {
		xbuf_putsv(&t, sv_make(p, (size_t)(q - p)));
		xbuf_printf(&t, "%s/var", strcmp(cwd, "/") == 0 ? "" : cwd);
		p = q + 5;
	}
	xbuf_puts(&t, p);
	return xbuf_cstr(&t);
}

bool conf_read_all(conf_reader *r);

static void reset_state(void)
{
	if (!pool_config)
		arena_init_pools();
	arena_unprotect(pool_config);
	arena_clear(pool_config);
	xbuf_free(&conf_st.config_text);
	free(conf_st.hidden);
	free(conf_st.set_options);
	memset(&conf_st, 0, sizeof conf_st);
	conf_st.named_tail = &conf_st.named_lists;
	conf_st.acls_tail = &conf_st.acls;
	conf_st.retries_tail = &conf_st.retries;
	conf_st.rewrites_tail = &conf_st.rewrites;
	xbuf_init(&conf_st.config_text, NULL);
	conf_macros_reset();
	conf_main = main_config_defaults;
}

static const char *own_hostname(void)
{
	struct utsname u;
	if (uname(&u) != 0)
		return "localhost";
	const char *name = arena_strdup(pool_config, u.nodename);
	if (!strchr(name, '.')) {
		/* Exim qualifies the node name through the resolver (normally /etc/hosts for this). */
		struct addrinfo hints = { .ai_flags = AI_CANONNAME, .ai_family = AF_UNSPEC };
		struct addrinfo *res = NULL;
		if (getaddrinfo(name, NULL, &hints, &res) == 0 && res && res->ai_canonname)
			name = arena_strdup(pool_config, res->ai_canonname);
		if (res)
			freeaddrinfo(res);
	}
	return name;
}

void conf_apply_computed_defaults(void)
{
	struct main_config *m = &conf_main;
	/* retry_interval_max cannot exceed a day; a larger setting means the default */
	if (m->retry_interval_max > 86400)
		m->retry_interval_max = main_config_defaults.retry_interval_max;
	if (!m->primary_hostname)
		m->primary_hostname = own_hostname();
	if (!m->qualify_domain)
		m->qualify_domain = m->primary_hostname;
	if (!m->qualify_recipient)
		m->qualify_recipient = m->qualify_domain;
	if (m->exim_user == POSTERN_UNSET_ID) {
		struct passwd *pw = getpwnam(POSTERN_EXIM_USER);
		m->exim_user = pw ? pw->pw_uid : getuid();
		if (m->exim_group == POSTERN_UNSET_ID) {
			struct group *gr = getgrnam(POSTERN_EXIM_GROUP);
			m->exim_group = gr ? gr->gr_gid : pw ? pw->pw_gid : getgid();
		}
	}
	if (m->exim_group == POSTERN_UNSET_ID) {
		struct passwd *pw = getpwuid(m->exim_user);
		m->exim_group = pw ? pw->pw_gid : getgid();
	}
	const char *spool = m->spool_directory ? m->spool_directory : "";
	if (!m->pid_file_path)
		m->pid_file_path = arena_printf(pool_config, "%s/exim-daemon.pid", spool);
	if (!m->process_log_path)
		m->process_log_path = arena_printf(pool_config, "%s/exim-process.info", spool);
}

/* The first existing file of a colon-separated list, or NULL. */
static const char *first_existing(const char *list)
{
	list_iter it;
	xbuf item;
	xbuf_init(&item, NULL);
	list_iter_init(&it, sv_cstr(list), ':');
	const char *found = NULL;
	while (!found && list_next(&it, &item))
		if (access(xbuf_cstr(&item), F_OK) == 0)
			found = arena_strdup(pool_config, xbuf_cstr(&item));
	xbuf_free(&item);
	return found;
}

/* log_selector is checked when the configuration is read (lib/logsel has Exim's names and
 * messages). */
static bool check_log_selector(conf_reader *r)
{
	if (!conf_main.log_selector)
		return true;
	logsel set;
	xbuf err;
	xbuf_init(&err, NULL);
	bool ok = logsel_parse(sv_cstr(conf_main.log_selector), &set, &err);
	if (!ok)
		conf_fail_noline(r, "%s", xbuf_cstr(&err));
	xbuf_free(&err);
	return ok;
}

/* A time whose numbers may have a fraction ("1.25s"), as the ratelimit delay allows. */
static bool fractional_time(const char *p, size_t len)
{
	size_t i = 0;
	if (!len)
		return false;
	while (i < len) {
		if (!isdigit((unsigned char)p[i]))
			return false;
		while (i < len && isdigit((unsigned char)p[i]))
			i++;
		if (i < len && p[i] == '.') {
			i++;
			while (i < len && isdigit((unsigned char)p[i]))
				i++;
		}
		if (i == len || !strchr("smhdw", p[i]))
			return false;
		i++;
	}
	return true;
}

/* smtp_ratelimit_mail/rcpt: "threshold,delay,factor,limit" (Exim checks them at startup and
 * dies with "malformed ratelimit data: <value>"). */
static bool ratelimit_ok(const char *v)
{
	char *end;
	errno = 0;
	long threshold = strtol(v, &end, 10);
	if (end == v || *end != ',' || errno)
		return false;
	(void)threshold;
	const char *p = end + 1;
	while (isspace((unsigned char)*p))
		p++;
	const char *comma = strchr(p, ',');
	if (!comma || !fractional_time(p, (size_t)(comma - p)))
		return false;
	p = comma + 1;
	(void)strtod(p, &end);
	if (end == p || *end != ',')
		return false;
	p = end + 1;
	while (isspace((unsigned char)*p))
		p++;
	size_t n = strcspn(p, " \t\n");
	int t;
	return conf_parse_time(sv_make(p, n), &t);
}

static bool check_ratelimits(conf_reader *r)
{
	const char *values[] = { conf_main.smtp_ratelimit_mail, conf_main.smtp_ratelimit_rcpt };
	for (size_t i = 0; i < 2; i++)
		if (values[i] && !ratelimit_ok(values[i])) {
			xbuf msg;
			xbuf_init(&msg, NULL);
			xbuf_printf(&msg, "malformed ratelimit data: %s", values[i]);
			r->err_startup = true;
			conf_fail_whole(r, xbuf_cstr(&msg));
			xbuf_free(&msg);
			return false;
		}
	return true;
}

/* syslog_facility must name a facility (any case, optional "log_" prefix). */
static bool check_syslog_facility(conf_reader *r)
{
	static const char *const names[] = {
		"auth", "authpriv", "cron", "daemon", "ftp", "kern", "local0", "local1", "local2", "local3",
		"local4", "local5", "local6", "local7", "lpr", "mail", "news", "syslog", "user", "uucp",
	};
	const char *f = conf_main.syslog_facility;
	if (!f)
		return true;
	const char *name = strncasecmp(f, "log_", 4) == 0 ? f + 4 : f;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(name, names[i]) == 0)
			return true;
	conf_fail_noline(r, "failed to interpret syslog_facility \"%s\"", f);
	return false;
}

static conf_error_kind last_error;

conf_error_kind conf_last_error_kind(void) { return last_error; }

static void format_error(const conf_reader *r, xbuf *err)
{
	if (!err)
		return;
	if (r->err_whole)
		xbuf_puts(err, xbuf_cstr(&r->err));
	else if (r->err_has_line)
		xbuf_printf(err, "Exim configuration error in line %d of %s:\n  %s", r->err_line, r->err_file,
			xbuf_cstr(&r->err));
	else
		xbuf_printf(err, "Exim configuration error:\n  %s", xbuf_cstr(&r->err));
}

bool conf_load(const char *file, const conf_define *defines, size_t ndefines, xbuf *err)
{
	reset_state();
	conf_macros_add_builtins();
	const char *list = file ? file : POSTERN_CONFIGURE_FILE;
	const char *name = first_existing(list);
	FILE *fp = NULL;
	if (name) {
		fp = fopen(name, "r");
		if (!fp) {
			last_error = CONF_ERROR_STARTUP;
			if (err)
				xbuf_printf(err, "Failed to open configuration file %s: %s", name, strerror(errno));
			return false;
		}
	} else if (file && strcmp(file, CONF_BUILTIN_NAME) != 0) {
		last_error = CONF_ERROR_STARTUP;
		if (err)
			xbuf_printf(err, "non-existent configuration file(s): %s", file);
		return false;
	} else {
		/* No configuration installed, or "-C @builtin" asked for it: the embedded default. */
		name = builtin_name;
		const char *text = builtin_text();
		fp = fmemopen((void *)text, strlen(text), "r");
		if (!fp) {
			if (err)
				xbuf_printf(err, "cannot read the embedded default configuration");
			return false;
		}
	}
	conf_st.file_name = name;
	xbuf_printf(&conf_st.config_text, "# Exim Configuration (%s)\n# 1 \"%s\"\n", EXIM_COMPAT_VERSION, name);

	conf_reader r;
	conf_reader_init(&r, fp, name);
	for (size_t i = 0; i < ndefines && !r.failed; i++) {
		sv dname = sv_cstr(defines[i].name);
		conf_macro_define(&r, dname, sv_cstr(defines[i].value ? defines[i].value : ""), false, true);
	}
	bool ok = !r.failed && conf_read_all(&r) && check_log_selector(&r) &&
		check_syslog_facility(&r) && check_ratelimits(&r);
	conf_st.last_line = r.files[0].lineno;
	last_error = r.err_not_die ? CONF_ERROR_MACRO : r.err_startup ? CONF_ERROR_STARTUP : CONF_ERROR_CONFIG;
	if (!ok)
		format_error(&r, err);
	conf_reader_close(&r);
	fclose(fp);
	if (!ok)
		return false;
	conf_apply_computed_defaults();
	DEBUG(D_CONFIG) debug_printf("configuration file is %s\n", name);
	arena_protect(pool_config);
	return true;
}

const char *conf_file_name(void)
{
	return conf_st.file_name ? conf_st.file_name : "";
}

bool conf_is_builtin(void)
{
	return conf_st.file_name == builtin_name;
}
