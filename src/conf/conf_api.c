/* Read-only access to the loaded configuration (conf.h and conf_dump.h). */
#include "conf/conf_internal.h"

#include <stdlib.h>
#include <string.h>

#include "conf/main_options.h"

/* The driver registries are defined in src/drivers (registry.c of each class) against the
 * interface in conf/driver.h; tests may substitute their own classes. */

static const driver_class *override_classes[3];
static bool overridden;

void conf_use_driver_classes(const driver_class *routers, const driver_class *transports,
	const driver_class *auths)
{
	override_classes[0] = routers;
	override_classes[1] = transports;
	override_classes[2] = auths;
	overridden = true;
}

const driver_class *conf_class_for_section(const char *section)
{
	int i = strcmp(section, "routers") == 0 ? 0 : strcmp(section, "transports") == 0 ? 1
		: strcmp(section, "authenticators") == 0 ? 2 : -1;
	if (i < 0)
		return NULL;
	if (overridden)
		return override_classes[i];
	const driver_class *linked[3] = { &router_class, &transport_class, &auth_class };
	return linked[i];
}

void conf_hidden_mark(const opt_row *row)
{
	if (conf_hidden_is(row))
		return;
	if (conf_st.nhidden == conf_st.hidden_cap) {
		size_t ncap = conf_st.hidden_cap ? conf_st.hidden_cap * 2 : 16;
		const opt_row **n = realloc(conf_st.hidden, ncap * sizeof *n);
		if (!n)
			abort();
		conf_st.hidden = n;
		conf_st.hidden_cap = ncap;
	}
	conf_st.hidden[conf_st.nhidden++] = row;
}

bool conf_hidden_is(const opt_row *row)
{
	for (size_t i = 0; i < conf_st.nhidden; i++)
		if (conf_st.hidden[i] == row)
			return true;
	return false;
}

void conf_record_set(const driver_instance *inst, const char *option)
{
	if (conf_st.nset == conf_st.set_cap) {
		size_t ncap = conf_st.set_cap ? conf_st.set_cap * 2 : 64;
		conf_set_record *n = realloc(conf_st.set_options, ncap * sizeof *n);
		if (!n)
			abort();
		conf_st.set_options = n;
		conf_st.set_cap = ncap;
	}
	conf_st.set_options[conf_st.nset++] = (conf_set_record){ inst, option };
}

bool conf_was_set(const driver_instance *inst, const char *option, void *ctx)
{
	(void)ctx;
	for (size_t i = 0; i < conf_st.nset; i++)
		if (conf_st.set_options[i].inst == inst && strcmp(conf_st.set_options[i].option, option) == 0)
			return true;
	return false;
}

const conf_named_list_def *conf_named_lists(void) { return conf_st.named_lists; }
const conf_acl *conf_acls(void) { return conf_st.acls; }
const conf_retry_rule *conf_retry_rules(void) { return conf_st.retries; }
const conf_rewrite_rule *conf_rewrite_rules(void) { return conf_st.rewrites; }
const char *conf_config_text(void) { return xbuf_cstr(&conf_st.config_text); }

const conf_acl *conf_acl_find(const char *name)
{
	for (const conf_acl *a = conf_st.acls; a; a = a->next)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

const driver_instance *conf_driver_instances(const char *section)
{
	if (strcmp(section, "routers") == 0)
		return conf_st.routers;
	if (strcmp(section, "transports") == 0)
		return conf_st.transports;
	if (strcmp(section, "authenticators") == 0)
		return conf_st.auths;
	return NULL;
}

const opt_row *conf_main_rows(size_t *n)
{
	*n = main_option_count;
	return main_option_rows;
}

const void *conf_main_block(void) { return &conf_main; }

bool conf_main_value(const char *name, xbuf *out)
{
	const opt_row *row = opt_find(main_option_rows, main_option_count, name);
	if (!row)
		return false;
	conf_format_value(row, &conf_main, out);
	return true;
}

const char *conf_main_string(const char *name)
{
	const opt_row *row = opt_find(main_option_rows, main_option_count, name);
	if (!row || (row->type != OPT_STRING && row->type != OPT_TIMELIST && row->type != OPT_EXPAND_BOOL &&
		row->type != OPT_EXPAND_UID && row->type != OPT_EXPAND_GID && row->type != OPT_FUNC &&
		row->type != OPT_REWRITE))
		return NULL;
	return *(const char *const *)((const char *)&conf_main + row->offset);
}

const char *conf_named_list(const char *kind, const char *name)
{
	for (const conf_named_list_def *d = conf_st.named_lists; d; d = d->next)
		if (strcmp(d->kind, kind) == 0 && strcmp(d->name, name) == 0)
			return d->value;
	return NULL;
}
