/* The trust question for -C and -D (priv_trust.h). */
#include "core/priv_trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/build_paths.h"
#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/priv.h"
#include "lib/caller_id.h"
#include "lib/log.h"

static const char *config_arg;
static const conf_define *defs;
static size_t ndefs;
/* The answer, worked out once per setting: asked for every message a daemon delivers. */
static bool answered;
static const char *answer;

void priv_trust_set(const char *arg, const conf_define *defines, size_t ndefines)
{
	config_arg = arg;
	defs = defines;
	ndefs = ndefines;
	answered = false;
}

const char *priv_trust_config_arg(void) { return config_arg; }

size_t priv_trust_defines(const conf_define **defines)
{
	*defines = defs;
	return ndefs;
}

/* Owned by root and writable by nobody else: a file anyone else could change grants nothing. */
static bool root_safe(const struct stat *st)
{
	return st->st_uid == 0 && (st->st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/* Is path a line of the trusted list (and the file itself safe)? Lines are compared whole, with
 * trailing white space removed; a line longer than the buffer never matches. */
static bool listed_as_trusted(const char *path)
{
	struct stat st;
	FILE *f = fopen(PRIV_TRUSTED_CONFIG_LIST, "re");
	if (!f)
		return false;
	bool found = false;
	if (fstat(fileno(f), &st) == 0 && root_safe(&st)) {
		char line[4096];
		while (!found && fgets(line, sizeof line, f)) {
			size_t n = strlen(line);
			if (n && line[n - 1] != '\n' && !feof(f))
				break;   /* longer than any path we would compare */
			while (n && (line[n - 1] == '\n' || line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
				line[--n] = 0;
			found = n && strcmp(line, path) == 0;
		}
	}
	fclose(f);
	if (!found)
		return false;
	/* The listed configuration must itself be safe, or it is not trusted after all. */
	return stat(path, &st) == 0 && root_safe(&st);
}

static bool config_trusted(void)
{
	/* The compiled-in search list, and the configuration compiled into the program (-C
	 * @builtin, what `make run` uses): nobody but the one who built it can change either, as
	 * with Exim's CONFIGURE_FILE. */
	if (!config_arg || strcmp(config_arg, POSTERN_CONFIGURE_FILE) == 0 ||
	    strcmp(config_arg, CONF_BUILTIN_NAME) == 0)
		return true;
	return config_arg[0] == '/' && listed_as_trusted(config_arg);
}

/* A whitelisted macro with a value of letters, digits and _ / . - only. */
static bool define_whitelisted(const conf_define *d)
{
	const char *list = PRIV_WHITELIST_D_MACROS;
	size_t nl = strlen(d->name);
	bool listed = false;
	for (const char *p = list; *p && !listed;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		listed = len == nl && strncmp(p, d->name, nl) == 0;
		p += len + (end ? 1 : 0);
	}
	if (!listed)
		return false;
	for (const char *v = d->value ? d->value : ""; *v; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9')
		      || *v == '_' || *v == '/' || *v == '.' || *v == '-'))
			return false;
	return true;
}

static const char *work_out_untrusted(void)
{
	if (!config_trusted())
		return "-C";
	for (size_t i = 0; i < ndefs; i++)
		if (!define_whitelisted(&defs[i]))
			return "-D";
	return NULL;
}

const char *priv_untrusted_option(void)
{
	if (!answered) {
		answer = work_out_untrusted();
		answered = true;
	}
	return answer;
}

bool priv_lost_privilege(void)
{
	if (getuid() == 0 || getuid() != priv_exim_uid() || conf_main.deliver_drop_privilege)
		return false;
	return priv_untrusted_option() != NULL;
}

bool priv_trust_test_aid(void)
{
	const char *keep = getenv("POSTERN_TEST_TRUST_CONFIG");
	return keep && strcmp(keep, "1") == 0;
}

/* A -C that is trusted only by being in the trusted list. */
static bool config_trusted_by_list(void)
{
	return config_arg && strcmp(config_arg, POSTERN_CONFIGURE_FILE) != 0 && strcmp(config_arg, CONF_BUILTIN_NAME) != 0;
}

bool priv_caller_lacks_trust(void)
{
	uid_t uid = caller_id_uid();
	if (uid == 0 || uid == priv_exim_uid() || priv_trust_test_aid())
		return false;
	/* Exim 4.96 reads its trusted list for root and the exim user only (observed with strace):
	 * for anyone else a listed -C is as untrusted as any other. */
	return priv_untrusted_option() != NULL || config_trusted_by_list();
}

void priv_note_lost_privilege(void)
{
	const char *option = priv_untrusted_option();
	if (!option || !priv_lost_privilege())
		return;
	/* A process of its own in Exim: no message id yet. */
	log_write(LOG_MAIN | LOG_PANIC | LOG_NOID, "exim user lost privilege for using %s option", option);
}
