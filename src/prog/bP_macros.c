/* -bP macros: the order Exim 4.96 prints them in.
 *
 * Exim keeps builtin macros on a list to which each new one is added at the front, and appends
 * the configuration's (and -D) macros at the end, so -bP macros shows the builtins in the reverse
 * of the order Exim creates them, then the user's in definition order. Postern's macro list keeps
 * creation order for substitution (conf/conf_macros.c), so the display order is computed here:
 * each builtin gets the position Exim would create it at, and the builtins are printed from the
 * last created to the first.
 *
 * Exim's creation order (observed with `exim -bP macros`): build features, lookups, appendfile
 * mailbox formats, ACL conditions/modifiers (by name), crypto, malware scanners, main options,
 * then for routers, transports and authenticators: generic options, and per driver (by name) its
 * _DRIVER_ macro followed by its options; then log selectors, _RESUME_DECODE, the TLS library's
 * features and DKIM's header lists. Names within a group are in Exim's table order: by their
 * lower-case spelling, so "DELIVER_TIME" comes before "DELIVERY_SIZE".
 */
#include "prog/bP_macros.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf/conf_dump.h"

/* Build features in Exim's creation order; features Exim 4.96 does not have (Postern's
 * experimental ones) go after these, in name order. */
static const char *const feature_order[] = {
	"CRYPTEQ", "ICONV", "IPV6", "PAM", "PERL", "DLFUNC", "TLS", "GNUTLS", "OPENSSL",
	"MOVE_FROZEN_MESSAGES", "CONTENT_SCANNING", "DKIM", "DNSSEC", "EVENT", "I18N", "OCSP",
	"PIPE_CONNECT", "PRDR", "PROXY", "SOCKS", "NATIVE_SRS", "TCP_FASTOPEN", "SPF", "SRS", "DANE",
	"TLS_RESUME", NULL,
};
static const char *const lookup_order[] = {
	"LSEARCH", "CDB", "DBM", "DNSDB", "DSEARCH", "IBASE", "JSON", "LDAP", "LMDB", "MYSQL", "NIS",
	"NISPLUS", "ORACLE", "PASSWD", "PGSQL", "REDIS", "SQLITE", "WHOSON", NULL,
};
static const char *const tls_order[] = { "TLS1_3", "TLS_OCSP", "TLS_OCSP_LIST", "TLS_CA_CACHE", "TLS_ALPN", NULL };

enum group {
	G_FEATURE, G_FEATURE_OTHER, G_LOOKUP, G_APPEND, G_ACL, G_CRYPTO, G_MALWARE, G_MAIN,
	G_ROUTERS, G_TRANSPORTS = G_ROUTERS + 2, G_AUTHS = G_TRANSPORTS + 2, G_LOG = G_AUTHS + 2,
	G_RESUME, G_TLS, G_DKIM, G_UNKNOWN,
};

typedef struct keyed {
	const conf_macro *m;
	int group, index;     /* group, then position in a fixed list (or 0) */
	const char *driver;   /* driver name for per-driver macros ("" for the class's generic ones) */
	int is_option;        /* per-driver: _DRIVER_ (0) comes before the driver's options (1) */
	const char *sortname; /* the rest of the name, compared in lower case */
} keyed;

static int list_index(const char *const *list, const char *s)
{
	for (int i = 0; list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return i;
	return -1;
}

static int lower_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int ca = tolower((unsigned char)*a), cb = tolower((unsigned char)*b);
		if (ca != cb || !ca)
			return ca - cb;
	}
}

static bool starts(const char *s, const char *prefix, const char **rest)
{
	size_t n = strlen(prefix);
	if (strncmp(s, prefix, n) != 0)
		return false;
	*rest = s + n;
	return true;
}

/* "_OPT_ROUTER_<DRIVER>_<OPTION>" / "_DRIVER_ROUTER_<DRIVER>": the driver (longest registered
 * name that fits, since names such as cyrus_sasl contain '_'). */
static bool split_driver(const driver_class *cls, const char *rest, bool option, const char **driver,
	const char **opt)
{
	size_t best = 0;
	for (const driver_info *const *d = cls ? cls->drivers : NULL; d && *d; d++) {
		size_t n = strlen((*d)->name);
		if (n <= best || strncasecmp(rest, (*d)->name, n) != 0)
			continue;
		if (option ? rest[n] == '_' : rest[n] == 0) {
			best = n;
			*driver = (*d)->name;
			*opt = option ? rest + n + 1 : "";
		}
	}
	return best > 0;
}

static void classify(keyed *k)
{
	static const struct { const char *kind_upper, *section; int group; } classes[] = {
		{ "ROUTER", "routers", G_ROUTERS }, { "TRANSPORT", "transports", G_TRANSPORTS },
		{ "AUTHENTICATOR", "authenticators", G_AUTHS },
	};
	const char *n = k->m->name, *rest;
	k->group = G_UNKNOWN;
	k->index = 0;
	k->driver = "";
	k->is_option = 0;
	k->sortname = n;
	if (starts(n, "_HAVE_LOOKUP_", &rest)) {
		int i = list_index(lookup_order, rest);
		k->group = G_LOOKUP;
		k->index = i < 0 ? 100 : i;
		k->sortname = rest;
	} else if (starts(n, "_HAVE_TRANSPORT_APPEND_", &rest)) {
		k->group = G_APPEND;
		k->sortname = rest;
	} else if (starts(n, "_HAVE_MALWARE_", &rest)) {
		k->group = G_MALWARE;
		k->sortname = rest;
	} else if (starts(n, "_HAVE_", &rest) && list_index(tls_order, rest) >= 0) {
		k->group = G_TLS;
		k->index = list_index(tls_order, rest);
	} else if (starts(n, "_HAVE_", &rest)) {
		int i = list_index(feature_order, rest);
		k->group = i < 0 ? G_FEATURE_OTHER : G_FEATURE;
		k->index = i < 0 ? 0 : i;
		k->sortname = rest;
	} else if (starts(n, "_EXP_", &rest)) {
		k->group = G_FEATURE_OTHER;
	} else if (starts(n, "_ACL_COND_", &rest) || starts(n, "_ACL_MOD_", &rest)) {
		k->group = G_ACL;
		k->sortname = rest;
	} else if (starts(n, "_CRYPTO_", &rest)) {
		k->group = G_CRYPTO;
	} else if (starts(n, "_OPT_MAIN_", &rest)) {
		k->group = G_MAIN;
		k->sortname = rest;
	} else if (starts(n, "_LOG_", &rest)) {
		k->group = G_LOG;
		k->sortname = rest;
	} else if (strcmp(n, "_RESUME_DECODE") == 0) {
		k->group = G_RESUME;
	} else if (starts(n, "_DKIM_", &rest)) {
		k->group = G_DKIM;
	} else {
		char buf[64];
		for (size_t c = 0; c < sizeof classes / sizeof classes[0]; c++) {
			const driver_class *cls = conf_class_for_section(classes[c].section);
			snprintf(buf, sizeof buf, "_OPT_%sS_", classes[c].kind_upper);
			if (starts(n, buf, &rest)) {
				k->group = classes[c].group;
				k->sortname = rest;
				return;
			}
			const char *opt;
			snprintf(buf, sizeof buf, "_OPT_%s_", classes[c].kind_upper);
			if (starts(n, buf, &rest) && split_driver(cls, rest, true, &k->driver, &opt)) {
				k->group = classes[c].group + 1;
				k->is_option = 1;
				k->sortname = opt;
				return;
			}
			snprintf(buf, sizeof buf, "_DRIVER_%s_", classes[c].kind_upper);
			if (starts(n, buf, &rest)) {
				k->group = classes[c].group + 1;
				if (!split_driver(cls, rest, false, &k->driver, &opt))
					k->driver = rest;
				k->sortname = "";
				return;
			}
		}
	}
}

/* Creation order. */
static int created_before(const void *pa, const void *pb)
{
	const keyed *a = pa, *b = pb;
	if (a->group != b->group)
		return a->group - b->group;
	if (a->index != b->index)
		return a->index - b->index;
	int c = lower_cmp(a->driver, b->driver);
	if (c)
		return c;
	if (a->is_option != b->is_option)
		return a->is_option - b->is_option;
	return lower_cmp(a->sortname, b->sortname);
}

void bp_macros_in_exim_order(void (*emit)(void *ctx, const conf_macro *m), void *ctx)
{
	size_t n = 0;
	for (const conf_macro *m = conf_macros(); m; m = m->next)
		n += m->builtin;
	keyed *k = n ? calloc(n, sizeof *k) : NULL;
	if (n && !k)
		abort();
	size_t i = 0;
	for (const conf_macro *m = conf_macros(); m; m = m->next)
		if (m->builtin) {
			k[i].m = m;
			classify(&k[i]);
			i++;
		}
	if (n)
		qsort(k, n, sizeof *k, created_before);
	while (n--)
		emit(ctx, k[n].m);
	free(k);
	for (const conf_macro *m = conf_macros(); m; m = m->next)
		if (!m->builtin)
			emit(ctx, m);
}
