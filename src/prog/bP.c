/* -bP: print configuration settings, as Exim 4.96 prints them.
 *
 *   -bP                      every main option (hidden synonyms excluded); "all" is the same
 *   -bP NAME...              those options ("X is not a known option" and status 1 otherwise)
 *   -bP config_file          the file read;  -bP config  the configuration as read
 *   -bP macros / macro NAME  NAME=value lines
 *   -bP +NAME                a named list ("domainlist NAME = value")
 *   -bP router_list, routers, router NAME (and transport/authenticator alike)
 * -n prints values without names. Values of options set with "hide" are masked for callers who
 * are not administrators (root, the Exim user, or a member of admin_groups); hidden named lists
 * are always masked, as in Exim. Output goes to stdout, including the "not known" messages; the
 * exit status is 1 when the last item asked for was unknown, as Exim's is.
 */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "conf/conf.h"
#include "core/priv.h"
#include "conf/conf_dump.h"
#include "prog/bP_macros.h"
#include "conf/main_options.h"
#include "lib/list.h"
#include "prog/cmdline.h"
#include "prog/conf_load_for.h"

typedef struct bp_ctx {
	bool no_names;
	bool admin;
	xbuf out;
	int status;
	bool denied;
} bp_ctx;


static void print_main_all(bp_ctx *c)
{
	size_t n;
	const opt_row *rows = conf_main_rows(&n);
	for (size_t i = 0; i < n; i++)
		if (!(rows[i].flags & OPTF_HIDDEN))
			conf_print_option(&rows[i], conf_main_block(), c->no_names, !c->admin, &c->out);
}

static void print_instance(bp_ctx *c, const driver_class *cls, const driver_instance *inst)
{
	if (!cls || !inst->generic)
		return;  /* no driver registry linked: nothing known about the options */
	for (size_t i = 0; i < cls->ngeneric; i++)
		if (!(cls->generic[i].flags & OPTF_HIDDEN))
			conf_print_option(&cls->generic[i], inst->generic, c->no_names, !c->admin, &c->out);
	if (!inst->info)
		return;
	for (size_t i = 0; i < inst->info->noptions; i++) {
		const opt_row *row = &inst->info->options[i];
		if (row->flags & OPTF_HIDDEN)
			continue;
		const void *block = (row->flags & OPTF_PUBLIC) ? inst->generic : inst->priv;
		conf_print_option(row, block, c->no_names, !c->admin, &c->out);
	}
}

static const char *section_of(const char *kind)
{
	return strcmp(kind, "router") == 0 ? "routers" : strcmp(kind, "transport") == 0 ? "transports"
		: "authenticators";
}

static bool is_kind(const char *word, const char *suffix, const char **kind)
{
	static const char *const kinds[] = { "router", "transport", "authenticator" };
	for (size_t i = 0; i < 3; i++) {
		size_t k = strlen(kinds[i]);
		if (strncmp(word, kinds[i], k) == 0 && strcmp(word + k, suffix) == 0) {
			*kind = kinds[i];
			return true;
		}
	}
	return false;
}

static void print_macro(bp_ctx *c, const conf_macro *m)
{
	if (c->no_names)
		xbuf_printf(&c->out, "%s\n", m->value);
	else
		xbuf_printf(&c->out, "%s=%s\n", m->name, m->value);
}

static void print_named_list(bp_ctx *c, const char *name)
{
	static const struct { const char *kind, *word; } words[] = {
		{ "domain", "domainlist" }, { "host", "hostlist" }, { "address", "addresslist" },
		{ "localpart", "localpartlist" },
	};
	for (const conf_named_list_def *d = conf_named_lists(); d; d = d->next) {
		if (strcmp(d->name, name) != 0)
			continue;
		const char *word = "";
		for (size_t i = 0; i < 4; i++)
			if (strcmp(words[i].kind, d->kind) == 0)
				word = words[i].word;
		if (!c->no_names)
			xbuf_printf(&c->out, "%s %s = ", word, d->name);
		if (d->hidden)
			xbuf_puts(&c->out, "<value not displayable>");
		else
			conf_format_printing(d->value, &c->out);
		xbuf_putc(&c->out, '\n');
		return;
	}
	xbuf_printf(&c->out, "no address, domain, host, or local part list called \"%s\" exists\n", name);
	c->status = 1;
}

/* The configuration text, with values of "hide" settings masked for non-administrators. */
static void print_config(bp_ctx *c)
{
	const char *text = conf_config_text();
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		size_t lead = strspn(text, " ");
		const char *eq = memchr(text, '=', len);
		if (!c->admin && eq && len > lead + 5 && strncmp(text + lead, "hide ", 5) == 0) {
			xbuf_put(&c->out, text, (size_t)(eq - text) + 1);
			xbuf_puts(&c->out, " <value not displayable>\n");
		} else {
			xbuf_put(&c->out, text, len);
			xbuf_putc(&c->out, '\n');
		}
		text += len + (nl ? 1 : 0);
	}
}

static void emit_macro(void *ctx, const conf_macro *m)
{
	print_macro(ctx, m);
}

/* One -bP argument; *consumed tells whether the following argument was used too. */
static void print_item(bp_ctx *c, const char *name, const char *next, bool *consumed)
{
	*consumed = false;
	const char *kind;
	if (strcmp(name, "config_file") == 0) {
		xbuf_printf(&c->out, "%s\n", conf_file_name());
	} else if (strcmp(name, "environment") == 0) {
		conf_format_environment(environ, &c->out);
	} else if (strcmp(name, "config") == 0) {
		print_config(c);
	} else if (strcmp(name, "all") == 0) {
		print_main_all(c);
	} else if ((strcmp(name, "macros") == 0 || strcmp(name, "macro") == 0) && !c->admin) {
		c->denied = true;  /* Exim refuses macros to non-administrators outright */
	} else if (strcmp(name, "macros") == 0) {
		bp_macros_in_exim_order(emit_macro, c);
	} else if (strcmp(name, "macro") == 0 && next) {
		*consumed = true;
		const conf_macro *m = conf_macro_find(next);
		if (m) {
			print_macro(c, m);
		} else {
			xbuf_printf(&c->out, "macro %s not found\n", next);
			c->status = 1;
		}
	} else if (name[0] == '+') {
		print_named_list(c, name + 1);
	} else if (is_kind(name, "_list", &kind)) {
		for (const driver_instance *i = conf_driver_instances(section_of(kind)); i; i = i->next)
			xbuf_printf(&c->out, "%s\n", i->name);
	} else if (is_kind(name, "s", &kind)) {
		const driver_class *cls = conf_class_for_section(section_of(kind));
		for (const driver_instance *i = conf_driver_instances(section_of(kind)); i; i = i->next) {
			xbuf_printf(&c->out, "\n%s %s:\n", i->name, kind);
			print_instance(c, cls, i);
		}
	} else if (is_kind(name, "", &kind) && next) {
		*consumed = true;
		const driver_class *cls = conf_class_for_section(section_of(kind));
		const driver_instance *i = conf_driver_instances(section_of(kind));
		while (i && strcmp(i->name, next) != 0)
			i = i->next;
		if (i) {
			print_instance(c, cls, i);
		} else {
			xbuf_printf(&c->out, "%s %s not found\n", kind, next);
			c->status = 1;
		}
	} else {
		size_t n;
		const opt_row *rows = conf_main_rows(&n);
		const opt_row *row = opt_find(rows, n, name);
		if (row) {
			conf_print_option(row, conf_main_block(), c->no_names, !c->admin, &c->out);
		} else {
			xbuf_printf(&c->out, "%s is not a known option\n", name);
			c->status = 1;
		}
	}
}

int bP_main(const cmdline *cl)
{
	if (!conf_is_loaded() && !conf_load_for(cl))
		return 1;
	bp_ctx c = { .no_names = cl->no_names, .admin = priv_caller_is_admin() };
	xbuf_init(&c.out, NULL);
	if (cl->nargs == 0)
		print_main_all(&c);
	for (size_t i = 0; i < cl->nargs; i++) {
		bool consumed;
		c.status = 0;  /* Exim's exit status is that of the last item asked for */
		print_item(&c, cl->args[i], i + 1 < cl->nargs ? cl->args[i + 1] : NULL, &consumed);
		if (c.denied)
			break;
		if (strcmp(cl->args[i], "config") == 0)
			break;  /* Exim prints the configuration and ignores the rest */
		if (consumed)
			i++;
	}
	fwrite(c.out.p ? c.out.p : "", 1, c.out.len, stdout);
	xbuf_free(&c.out);
	if (c.denied) {
		fflush(stdout);
		fprintf(stderr, "exim: permission denied\n");
		return 1;
	}
	return c.status;
}
