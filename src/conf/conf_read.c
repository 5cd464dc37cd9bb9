/* The configuration reader proper: sections, main options, named lists, drivers, ACL blocks,
 * retry and rewrite rules. Logical lines come from conf_source.c; values are parsed by
 * conf_value.c. Every line read is also recorded, in Exim's layout, for "-bP config". */
#include "conf/conf_internal.h"

#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "conf/main_options.h"

typedef enum section {
	SEC_MAIN, SEC_ACL, SEC_ROUTERS, SEC_TRANSPORTS, SEC_AUTHS, SEC_RETRY, SEC_REWRITE, SEC_LOCAL_SCAN,
	SEC__COUNT
} section;

static const char *const section_names[SEC__COUNT] = {
	"", "acl", "routers", "transports", "authenticators", "retry", "rewrite", "local_scan",
};

typedef struct read_ctx {
	conf_reader *r;
	section sec;
	bool seen[SEC__COUNT];
	const driver_class *cls;      /* for driver sections */
	driver_instance *inst;        /* current driver instance */
	driver_instance **inst_tail;
	conf_acl *acl;                /* current ACL block */
	size_t acl_cap;
} read_ctx;

static sv skip_ws(sv v)
{
	while (v.len && isspace((unsigned char)*v.p)) {
		v.p++;
		v.len--;
	}
	return v;
}

static size_t word_len(sv v)
{
	size_t n = 0;
	while (n < v.len && (isalnum((unsigned char)v.p[n]) || v.p[n] == '_'))
		n++;
	return n;
}

/* "-bP config" shows each logical line with runs of white space reduced to one space. */
static void record(const char *indent, sv line)
{
	xbuf *t = &conf_st.config_text;
	xbuf_puts(t, indent);
	bool space = false;
	for (size_t i = 0; i < line.len; i++) {
		if (isspace((unsigned char)line.p[i])) {
			space = true;
			continue;
		}
		if (space)
			xbuf_putc(t, ' ');
		space = false;
		xbuf_putc(t, line.p[i]);
	}
	xbuf_putc(t, '\n');
}

/* NAME = value / NAME == value */
static bool macro_line(read_ctx *c, sv line)
{
	size_t n = word_len(line);
	sv name = sv_sub(line, 0, n);
	sv rest = skip_ws(sv_sub(line, n, line.len));
	if (!rest.len || rest.p[0] != '=') {
		c->r->err_not_die = true;
		conf_fail(c->r, "malformed macro definition");
		return false;
	}
	bool redefine = rest.len > 1 && rest.p[1] == '=';
	sv value = sv_trim(sv_sub(rest, redefine ? 2 : 1, rest.len));
	return conf_macro_define(c->r, name, value, redefine, false);
}

static const char *list_kind(sv word, const char **what)
{
	static const struct { const char *word, *kind, *what; } kinds[] = {
		{ "domainlist", "domain", "domain list" },
		{ "hostlist", "host", "host list" },
		{ "addresslist", "address", "address list" },
		{ "localpartlist", "localpart", "local part list" },
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (sv_eq_cstr(word, kinds[i].word)) {
			*what = kinds[i].what;
			return kinds[i].kind;
		}
	return NULL;
}

static bool named_list(read_ctx *c, const char *kind, const char *what, sv rest, bool hidden)
{
	rest = skip_ws(rest);
	size_t n = 0;
	while (n < rest.len && rest.p[n] != '=' && !isspace((unsigned char)rest.p[n]))
		n++;
	sv name = sv_sub(rest, 0, n);
	sv after = skip_ws(sv_sub(rest, n, rest.len));
	if (!after.len || after.p[0] != '=') {
		conf_fail(c->r, "missing '=' after \"" SV_FMT "\"", SV_ARG(name));
		return false;
	}
	for (const conf_named_list_def *d = conf_st.named_lists; d; d = d->next)
		if (strcmp(d->kind, kind) == 0 && sv_eq_cstr(name, d->name)) {
			conf_fail(c->r, "duplicate name \"" SV_FMT "\" for a named %s", SV_ARG(name), what);
			return false;
		}
	xbuf val;
	xbuf_init(&val, NULL);
	bool ok = conf_parse_string(c->r, skip_ws(sv_sub(after, 1, after.len)), "named list", &val);
	if (ok) {
		conf_named_list_def *d = arena_calloc(pool_config, 1, sizeof *d);
		d->kind = kind;
		d->name = sv_dup(pool_config, name);
		d->value = sv_dup(pool_config, xbuf_sv(&val));
		d->hidden = hidden;
		*conf_st.named_tail = d;
		conf_st.named_tail = &d->next;
	}
	xbuf_free(&val);
	return ok;
}

/* Setting a user by name also sets the matching group option ("user" -> "group",
 * "command_user" -> "command_group") to that user's primary group, unless the group is set
 * explicitly in the same block, before or after (as Exim 4.96 does; seen in -bP). */
static void user_brings_group(const opt_row *rows, size_t n, const opt_row *urow, void *block,
	const driver_instance *inst)
{
	const char *at = strstr(urow->name, "user");
	if (!at || (urow->type != OPT_UID && urow->type != OPT_EXPAND_UID))
		return;
	char sibling[128];
	int len = snprintf(sibling, sizeof sibling, "%.*sgroup%s", (int)(at - urow->name), urow->name, at + 4);
	if (len < 0 || (size_t)len >= sizeof sibling)
		return;
	const opt_row *grow = opt_find(rows, n, sibling);
	if (!grow || conf_was_set(inst, sibling, NULL) || (grow->type != OPT_GID && grow->type != OPT_EXPAND_GID))
		return;
	const char *field = (const char *)block + urow->offset;
	struct passwd *pw;
	if (urow->type == OPT_UID) {
		pw = getpwuid(*(const uid_t *)field);
	} else {
		const char *name = *(const char *const *)field;
		if (!name || name[0] == '$' || isdigit((unsigned char)name[0]))
			return;
		pw = getpwnam(name);
	}
	if (!pw)
		return;
	char *gfield = (char *)block + grow->offset;
	if (grow->type == OPT_GID) {
		*(gid_t *)gfield = pw->pw_gid;
	} else {
		struct group *gr = getgrgid(pw->pw_gid);
		*(const char **)gfield = gr ? arena_strdup(pool_config, gr->gr_name)
			: arena_printf(pool_config, "%u", (unsigned)pw->pw_gid);
	}
}

/* Find an option by name, or by its name after a no_/not_ prefix. */
static const opt_row *find_option(const opt_row *rows, size_t n, sv name, bool *negated)
{
	char buf[128];
	if (name.len >= sizeof buf)
		return NULL;
	memcpy(buf, name.p, name.len);
	buf[name.len] = 0;
	const opt_row *row = opt_find(rows, n, buf);
	*negated = false;
	if (row)
		return row;
	const char *base = NULL;
	if (strncmp(buf, "no_", 3) == 0)
		base = buf + 3;
	else if (strncmp(buf, "not_", 4) == 0)
		base = buf + 4;
	if (base && (row = opt_find(rows, n, base)) != NULL)
		*negated = true;
	return row;
}

/* Exim refuses a second setting of the same option (main or per driver instance), naming the
 * option as it was written ("no_x" for a negated boolean). */
static bool refuse_second_setting(read_ctx *c, const driver_instance *inst, const opt_row *row, sv word)
{
	if (!conf_was_set(inst, row->name, NULL))
		return true;
	conf_fail(c->r, "\"" SV_FMT "\" option set for the second time", SV_ARG(word));
	return false;
}

static bool main_option(read_ctx *c, sv line)
{
	bool hidden = false;
	sv s = line;
	size_t n = word_len(s);
	if (n == 4 && sv_starts(s, "hide") && s.len > 4 && isspace((unsigned char)s.p[4])) {
		hidden = true;
		s = skip_ws(sv_sub(s, 4, s.len));
		n = word_len(s);
	}
	if (hidden && n == 0) {
		conf_fail(c->r, "main option \"\" unknown");
		return false;
	}
	if (n == 0 || !islower((unsigned char)s.p[0])) {
		conf_fail(c->r, "option setting expected: " SV_FMT, SV_ARG(line));
		return false;
	}
	sv word = sv_sub(s, 0, n);
	const char *what;
	const char *kind = list_kind(word, &what);
	if (kind)
		return named_list(c, kind, what, sv_sub(s, n, s.len), hidden);
	bool negated;
	const opt_row *row = find_option(main_option_rows, main_option_count, word, &negated);
	if (!row) {
		conf_fail(c->r, "main option \"" SV_FMT "\" unknown", SV_ARG(word));
		return false;
	}
	if (!refuse_second_setting(c, NULL, row, word))
		return false;
	if (!conf_set_option(c->r, row, &conf_main, sv_sub(s, n, s.len), negated))
		return false;
	conf_record_set(NULL, row->name);
	user_brings_group(main_option_rows, main_option_count, row, &conf_main, NULL);
	if (hidden)
		conf_hidden_mark(row);
	return true;
}

static const driver_info *find_driver(const driver_class *cls, const char *name)
{
	for (const driver_info *const *d = cls->drivers; d && *d; d++)
		if (strcmp((*d)->name, name) == 0)
			return *d;
	return NULL;
}

static bool start_instance(read_ctx *c, sv name)
{
	driver_instance *i = arena_calloc(pool_config, 1, sizeof *i);
	i->name = sv_dup(pool_config, name);
	const char *kind = c->sec == SEC_ROUTERS ? "router" : c->sec == SEC_TRANSPORTS ? "transport" : "authenticator";
	for (driver_instance *o = c->sec == SEC_ROUTERS ? conf_st.routers
		: c->sec == SEC_TRANSPORTS ? conf_st.transports : conf_st.auths; o; o = o->next)
		if (strcmp(o->name, i->name) == 0) {
			conf_fail_noline(c->r, "there are two %ss called \"%s\"", kind, i->name);
			return false;
		}
	i->file = conf_cur_file(c->r);
	i->line = conf_cur_line(c->r);
	if (c->cls) {
		i->generic = arena_alloc(pool_config, c->cls->generic_size);
		memcpy(i->generic, c->cls->generic_defaults, c->cls->generic_size);
		*(const char **)((char *)i->generic + c->cls->driver_name_offset) = NULL;
	}
	*c->inst_tail = i;
	c->inst_tail = &i->next;
	c->inst = i;
	return true;
}

static bool driver_option(read_ctx *c, sv line)
{
	const driver_class *cls = c->cls;
	driver_instance *inst = c->inst;
	bool hidden = false;
	sv s = line;
	size_t n = word_len(s);
	if (n == 4 && sv_starts(s, "hide") && s.len > 4 && isspace((unsigned char)s.p[4])) {
		hidden = true;
		s = skip_ws(sv_sub(s, 4, s.len));
		n = word_len(s);
	}
	sv word = sv_sub(s, 0, n);
	sv rest = sv_sub(s, n, s.len);
	bool negated;
	const opt_row *row = find_option(cls->generic, cls->ngeneric, word, &negated);
	void *block = inst->generic;
	const opt_row *table = cls->generic;
	size_t ntable = cls->ngeneric;
	if (row && sv_eq_cstr(word, "driver")) {
		const char *cur = *(const char **)((char *)inst->generic + cls->driver_name_offset);
		if (cur) {
			conf_fail(c->r, "\"driver\" option set for the second time");
			return false;
		}
		if (!conf_set_option(c->r, row, block, rest, false))
			return false;
		conf_record_set(inst, "driver");
		const char *dname = *(const char **)((char *)inst->generic + cls->driver_name_offset);
		inst->info = find_driver(cls, dname);
		if (!inst->info) {
			conf_fail(c->r, "%s %s: cannot find %s driver \"%s\"", cls->kind, inst->name, cls->kind, dname);
			return false;
		}
		inst->priv = arena_alloc(pool_config, inst->info->block_size ? inst->info->block_size : 1);
		if (inst->info->block_size && inst->info->defaults)
			memcpy(inst->priv, inst->info->defaults, inst->info->block_size);
		return true;
	}
	if (!row) {
		if (!inst->info) {
			conf_fail(c->r, "option \"" SV_FMT "\" unknown (\"driver\" must be specified before any private options)",
				SV_ARG(word));
			return false;
		}
		row = find_option(inst->info->options, inst->info->noptions, word, &negated);
		block = row && (row->flags & OPTF_PUBLIC) ? inst->generic : inst->priv;
		table = inst->info->options;
		ntable = inst->info->noptions;
	}
	if (!row) {
		conf_fail(c->r, "option \"" SV_FMT "\" unknown", SV_ARG(word));
		return false;
	}
	/* Exim lets a driver set headers_add and headers_remove more than once and joins the values
	 * (newline for headers_add, colon for headers_remove), as -bP shows. */
	bool joins = row->type == OPT_STRING
		&& (strcmp(row->name, "headers_add") == 0 || strcmp(row->name, "headers_remove") == 0);
	const char *earlier = NULL;
	if (joins && conf_was_set(inst, row->name, NULL))
		memcpy(&earlier, (char *)block + row->offset, sizeof earlier);
	else if (!refuse_second_setting(c, inst, row, word))
		return false;
	if (!conf_set_option(c->r, row, block, rest, negated))
		return false;
	if (earlier) {
		const char *later;
		memcpy(&later, (char *)block + row->offset, sizeof later);
		size_t n1 = strlen(earlier), n2 = later ? strlen(later) : 0;
		char *both = arena_alloc(pool_config, n1 + n2 + 2);
		memcpy(both, earlier, n1);
		both[n1] = row->name[8] == 'a' ? '\n' : ':';
		memcpy(both + n1 + 1, later ? later : "", n2 + 1);
		const char *joined = both;
		memcpy((char *)block + row->offset, &joined, sizeof joined);
	}
	conf_record_set(inst, row->name);
	user_brings_group(table, ntable, row, block, inst);
	if (hidden)
		conf_hidden_mark(row);
	return true;
}

/* "name:" with optional space before the colon; returns the name length or 0. *extra is set
 * when something follows the colon. */
static size_t instance_name(sv line, bool *extra)
{
	*extra = false;
	size_t n = word_len(line);
	if (!n || !isalpha((unsigned char)line.p[0]))  /* names start with a letter */
		return 0;
	sv rest = skip_ws(sv_sub(line, n, line.len));
	if (!rest.len || rest.p[0] != ':')
		return 0;
	*extra = skip_ws(sv_sub(rest, 1, rest.len)).len != 0;
	return n;
}

static bool driver_line(read_ctx *c, sv line)
{
	bool extra;
	size_t n = instance_name(line, &extra);
	if (n && extra) {
		conf_fail(c->r, "extra characters follow driver name %.*s", (int)n, line.p);
		return false;
	}
	if (n) {
		record("\n  ", line);
		return start_instance(c, sv_sub(line, 0, n));
	}
	record(c->inst ? "    " : "  ", line);
	if (isupper((unsigned char)line.p[0]))
		return macro_line(c, line);
	if (!c->inst) {
		conf_fail(c->r, "%s name missing", c->sec == SEC_ROUTERS ? "router"
			: c->sec == SEC_TRANSPORTS ? "transport" : "authenticator");
		return false;
	}
	/* Without a linked driver registry for this class (a program or test built without
	 * src/drivers) the instance is kept by name and its options cannot be checked. */
	if (!c->cls)
		return true;
	return driver_option(c, line);
}

static bool acl_line(read_ctx *c, sv line)
{
	static const char *const verbs[] = { "accept", "defer", "deny", "discard", "drop", "require", "warn" };
	bool extra;
	size_t n = instance_name(line, &extra);
	if (n && !extra) {
		record("\n  ", line);
		sv name = sv_sub(line, 0, n);
		for (const conf_acl *a = conf_st.acls; a; a = a->next)
			if (sv_eq_cstr(name, a->name)) {
				conf_fail(c->r, "there are two ACLs called \"" SV_FMT "\"", SV_ARG(name));
				return false;
			}
		conf_acl *a = arena_calloc(pool_config, 1, sizeof *a);
		a->name = sv_dup(pool_config, name);
		a->file = conf_cur_file(c->r);
		a->line = conf_cur_line(c->r);
		*conf_st.acls_tail = a;
		conf_st.acls_tail = &a->next;
		c->acl = a;
		c->acl_cap = 0;
		return true;
	}
	record(c->acl ? "    " : "  ", line);
	if (isupper((unsigned char)line.p[0]))
		return macro_line(c, line);
	if (!c->acl) {
		conf_fail(c->r, "missing or malformed ACL name");
		return false;
	}
	if (c->acl->nlines == 0) {
		size_t w = word_len(line);
		bool verb = false;
		for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
			verb = verb || sv_eq_cstr(sv_sub(line, 0, w), verbs[i]);
		if (!verb) {
			conf_fail(c->r, "error in ACL: unknown ACL verb \"" SV_FMT "\" in \"" SV_FMT "\"",
				(int)w, line.p, SV_ARG(line));
			return false;
		}
	}
	if (c->acl->nlines == c->acl_cap) {
		size_t ncap = c->acl_cap ? c->acl_cap * 2 : 8;
		c->acl->lines = arena_realloc(pool_config, c->acl->lines, c->acl_cap * sizeof *c->acl->lines,
			ncap * sizeof *c->acl->lines);
		c->acl_cap = ncap;
	}
	c->acl->lines[c->acl->nlines++] = (conf_acl_line){
		sv_dup(pool_config, line), conf_cur_file(c->r), conf_cur_line(c->r) };
	return true;
}

static bool begin_section(read_ctx *c, sv name)
{
	section s = SEC__COUNT;
	for (int i = 1; i < SEC__COUNT; i++)
		if (sv_eqi(name, sv_cstr(section_names[i])))  /* Exim accepts any case */
			s = (section)i;
	if (s == SEC__COUNT) {
		conf_fail(c->r, "\"" SV_FMT "\" is not a known configuration section name", SV_ARG(name));
		return false;
	}
	if (c->seen[s]) {
		conf_fail(c->r, "\"%s\" section is repeated in the configuration file", section_names[s]);
		return false;
	}
	c->seen[s] = true;
	c->sec = s;
	c->inst = NULL;
	c->acl = NULL;
	c->cls = NULL;
	c->r->macros_allowed = s != SEC_RETRY && s != SEC_REWRITE && s != SEC_LOCAL_SCAN;
	xbuf_printf(&conf_st.config_text, "\nbegin %s\n", section_names[s]);
	switch (s) {
	case SEC_ROUTERS:
		c->cls = conf_class_for_section("routers");
		c->inst_tail = &conf_st.routers;
		break;
	case SEC_TRANSPORTS:
		c->cls = conf_class_for_section("transports");
		c->inst_tail = &conf_st.transports;
		break;
	case SEC_AUTHS:
		c->cls = conf_class_for_section("authenticators");
		c->inst_tail = &conf_st.auths;
		break;
	default:
		break;
	}
	return true;
}

static bool dispatch(read_ctx *c, sv line)
{
	if (line.len > 5 && sv_eqi(sv_sub(line, 0, 5), SV_LIT("begin")) && isspace((unsigned char)line.p[5]))
		return begin_section(c, sv_trim(sv_sub(line, 5, line.len)));
	switch (c->sec) {
	case SEC_MAIN:
		record("", line);
		if (isupper((unsigned char)line.p[0]))
			return macro_line(c, line);
		return main_option(c, line);
	case SEC_ACL:
		return acl_line(c, line);
	case SEC_ROUTERS:
	case SEC_TRANSPORTS:
	case SEC_AUTHS:
		return driver_line(c, line);
	case SEC_RETRY: {
		record("  ", line);
		conf_retry_rule *rule;
		if (!conf_retry_parse(c->r, line, &rule))
			return false;
		*conf_st.retries_tail = rule;
		conf_st.retries_tail = &rule->next;
		return true;
	}
	case SEC_REWRITE: {
		record("  ", line);
		conf_rewrite_rule *rule;
		if (!conf_rewrite_parse(c->r, line, &rule))
			return false;
		*conf_st.rewrites_tail = rule;
		conf_st.rewrites_tail = &rule->next;
		return true;
	}
	case SEC_LOCAL_SCAN:
		conf_fail(c->r, "local_scan() options not supported: (LOCAL_SCAN_HAS_OPTIONS not defined in Local/Makefile)");
		return false;
	default:
		return false;
	}
}

/* After reading: every instance needs a driver; then the drivers layer derives its computed
 * values and runs Exim's startup checks (whose message is complete, so it replaces ours). */
static bool check_drivers(conf_reader *r, const driver_instance *list, const char *section, const char *kind)
{
	const driver_class *cls = conf_class_for_section(section);
	for (const driver_instance *i = list; i; i = i->next)
		if (!i->info && i->generic) {
			conf_fail_noline(r, "no driver defined for %s \"%s\"", kind, i->name);
			return false;
		}
	if (!cls)
		return true;
	for (driver_instance *i = (driver_instance *)list; i; i = i->next) {
		if (cls->instance_init)
			cls->instance_init(cls, i, conf_was_set, NULL);
		if (cls->instance_check) {
			xbuf err;
			xbuf_init(&err, NULL);
			bool ok = cls->instance_check(cls, i, conf_was_set, NULL, &err);
			if (!ok)
				conf_fail_whole(r, xbuf_cstr(&err));
			xbuf_free(&err);
			if (!ok)
				return false;
		}
	}
	return true;
}

bool conf_read_all(conf_reader *r)
{
	read_ctx c = { .r = r, .sec = SEC_MAIN };
	xbuf line;
	xbuf_init(&line, NULL);
	while (!r->failed && conf_next_line(r, &line))
		if (!dispatch(&c, xbuf_sv(&line)))
			break;
	xbuf_free(&line);
	if (r->failed)
		return false;
	return check_drivers(r, conf_st.routers, "routers", "router") &&
		check_drivers(r, conf_st.transports, "transports", "transport") &&
		check_drivers(r, conf_st.auths, "authenticators", "authenticator");
}
