/* Driver option tables: sorted and unique, every driver found, defaults sane, and each table
 * declaring exactly the options Exim 4.96 (Debian's build) shows with -bP, plus our extras. */
#include <stdint.h>
#include <string.h>

#include "conf/driver.h"
#include "drivers/routers/router.h"
#include "drivers/transports/transport.h"
#include "drivers/auths/auth.h"
#include "../unit.h"

static const driver_class *const classes[] = { &router_class, &transport_class, &auth_class };

/* Expected per table: the number of option lines Debian's `exim -bP router|transport|
 * authenticator NAME` prints (counted from tests/golden/drivers/expected/defaults), and the
 * options Postern declares that Debian's build lacks (experimental or other build options). */
static const struct expect {
	const char *cls, *driver; /* driver NULL: the class's generic table */
	int debian_lines;          /* -1: no Debian reference (driver not built there) */
	const char *extras[6];
} expects[] = {
	{ "routers", NULL, 47, { "bmi_deliver_alternate", "bmi_deliver_default", "bmi_dont_deliver",
		"bmi_rule", "translate_ip_address" } },
	{ "routers", "accept", 0, { NULL } },
	{ "routers", "dnslookup", 13, { NULL } },
	{ "routers", "ipliteral", 0, { NULL } },
	{ "routers", "iplookup", 8, { NULL } },
	{ "routers", "manualroute", 6, { NULL } },
	{ "routers", "queryprogram", 5, { NULL } },
	{ "routers", "redirect", 49, { "srs", "srs_alias", "srs_condition", "srs_dbinsert", "srs_dbselect" } },
	{ "transports", NULL, 26, { NULL } },
	{ "transports", "appendfile", 53, { NULL } },
	{ "transports", "autoreply", 18, { NULL } },
	{ "transports", "lmtp", 6, { NULL } },
	{ "transports", "pipe", 30, { NULL } },
	{ "transports", "queuefile", -1, { NULL } },
	{ "transports", "smtp", 78, { "arc_sign", "connection_idle_timeout" } },
	{ "authenticators", NULL, 9, { NULL } },
	{ "authenticators", "cram_md5", 3, { NULL } },
	{ "authenticators", "cyrus_sasl", 4, { NULL } },
	{ "authenticators", "dovecot", 1, { NULL } },
	{ "authenticators", "external", 3, { NULL } },
	{ "authenticators", "gsasl", -1, { NULL } },
	{ "authenticators", "heimdal_gssapi", -1, { NULL } },
	{ "authenticators", "plaintext", 3, { NULL } },
	{ "authenticators", "spa", 4, { NULL } },
	{ "authenticators", "tls", 4, { NULL } },
};

static const driver_class *class_named(const char *section)
{
	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
		if (strcmp(classes[i]->section, section) == 0)
			return classes[i];
	return NULL;
}

/* Rows sorted strictly (so unique), named, and each field inside its block. */
static void check_table(const char *what, const opt_row *rows, size_t n, size_t block_size)
{
	for (size_t i = 0; i < n; i++) {
		CHECK(rows[i].name != NULL && rows[i].name[0] != '\0');
		CHECK(rows[i].type < OPT__COUNT);
		CHECK(rows[i].offset < block_size);
		if (i > 0 && strcmp(rows[i - 1].name, rows[i].name) >= 0) {
			fprintf(stderr, "%s: \"%s\" not before \"%s\"\n", what, rows[i - 1].name, rows[i].name);
			CHECK(!"table sorted and unique");
		}
		/* every row can be found by the binary search the reader uses */
		CHECK(opt_find(rows, n, rows[i].name) == &rows[i]);
	}
	CHECK(opt_find(rows, n, "no_such_option") == NULL);
}

static void test_tables_sorted_unique(void)
{
	for (size_t c = 0; c < sizeof classes / sizeof classes[0]; c++) {
		const driver_class *cls = classes[c];
		check_table(cls->section, cls->generic, cls->ngeneric, cls->generic_size);
		CHECK(cls->driver_name_offset < cls->generic_size);
		const opt_row *drv = opt_find(cls->generic, cls->ngeneric, "driver");
		CHECK(drv != NULL && drv->offset == cls->driver_name_offset && drv->type == OPT_STRING);
		for (const driver_info *const *d = cls->drivers; *d; d++) {
			check_table((*d)->name, (*d)->options, (*d)->noptions, (*d)->block_size);
			CHECK(((*d)->noptions == 0) == ((*d)->options == NULL));
			CHECK(((*d)->block_size == 0) == ((*d)->defaults == NULL));
			/* a private option may not shadow a generic one: the reader would never reach it */
			for (size_t i = 0; i < (*d)->noptions; i++)
				if (opt_find(cls->generic, cls->ngeneric, (*d)->options[i].name) != NULL) {
					fprintf(stderr, "%s: %s shadows a generic option\n", (*d)->name, (*d)->options[i].name);
					CHECK(!"no shadowing");
				}
		}
	}
}

static void test_every_driver_found(void)
{
	static const char *const names[][10] = {
		{ "accept", "dnslookup", "ipliteral", "iplookup", "manualroute", "queryprogram", "redirect" },
		{ "appendfile", "autoreply", "lmtp", "pipe", "smtp", "queuefile" },
		{ "cram_md5", "cyrus_sasl", "dovecot", "external", "gsasl", "heimdal_gssapi", "plaintext",
			"spa", "tls" },
	};
	for (size_t c = 0; c < 3; c++) {
		size_t want = 0;
		for (size_t i = 0; i < 10 && names[c][i]; i++, want++) {
			const driver_info *d = driver_find(classes[c], names[c][i]);
			CHECK(d != NULL);
			if (d)
				CHECK_STR(d->name, names[c][i]);
		}
		size_t have = 0;
		for (const driver_info *const *d = classes[c]->drivers; *d; d++)
			have++;
		CHECK_INT(have, want);
	}
	CHECK(driver_find(&router_class, "smtp") == NULL); /* a transport, not a router */
	CHECK(driver_find(&transport_class, "") == NULL);
	CHECK(driver_find(&auth_class, NULL) == NULL);
	CHECK(driver_find(&router_class, "Accept") == NULL); /* driver names are case-sensitive */
}

static bool is_extra(const struct expect *e, const char *name)
{
	for (size_t i = 0; i < 6 && e->extras[i]; i++)
		if (strcmp(e->extras[i], name) == 0)
			return true;
	return false;
}

static void test_counts_match_exim(void)
{
	for (size_t i = 0; i < sizeof expects / sizeof expects[0]; i++) {
		const struct expect *e = &expects[i];
		const driver_class *cls = class_named(e->cls);
		CHECK(cls != NULL);
		if (!cls)
			continue;
		const opt_row *rows = cls->generic;
		size_t n = cls->ngeneric;
		if (e->driver) {
			const driver_info *d = driver_find(cls, e->driver);
			CHECK(d != NULL);
			if (!d)
				continue;
			rows = d->options, n = d->noptions;
		}
		int shown = 0, extras = 0;
		for (size_t r = 0; r < n; r++) {
			if (rows[r].flags & OPTF_HIDDEN)
				continue; /* accepted but never printed, like Exim's verify / fail_verify */
			if (is_extra(e, rows[r].name))
				extras++;
			else
				shown++;
		}
		size_t nextras = 0;
		while (nextras < 6 && e->extras[nextras])
			nextras++;
		CHECK_INT(extras, nextras); /* every listed extra is really declared */
		if (e->debian_lines >= 0 && shown != e->debian_lines) {
			fprintf(stderr, "%s %s: %d options shown, Exim shows %d\n", e->cls,
				e->driver ? e->driver : "(generic)", shown, e->debian_lines);
			CHECK(!"count matches Exim -bP");
		} else if (e->debian_lines >= 0) {
			CHECK(1);
		} else {
			CHECK(shown > 0);
		}
	}
}

static void test_defaults_sane(void)
{
	const struct router_generic *r = &router_generic_defaults;
	CHECK(r->driver == NULL && r->transport == NULL && r->domains == NULL);
	CHECK(r->address_test && r->expn && r->verify_sender && r->verify_recipient && !r->verify_only);
	CHECK_STR(r->more, "true");
	CHECK_STR(r->unseen, "false");
	CHECK_STR(r->self, "freeze");
	CHECK_STR(r->dnssec_request_domains, "*");
	const struct transport_generic *t = &transport_generic_defaults;
	CHECK(t->driver == NULL && !t->body_only && !t->headers_only);
	CHECK_INT(t->transport_filter_timeout, 300);
	const struct auth_generic *a = &auth_generic_defaults;
	CHECK(a->driver == NULL && a->public_name == NULL && a->server_condition == NULL);
	/* every driver's defaults block: strings either NULL or NUL-terminated text, ints >= 0
	 * (except the documented -1 sentinels of uid/gid) */
	for (size_t c = 0; c < 3; c++)
		for (const driver_info *const *d = classes[c]->drivers; *d; d++)
			for (size_t i = 0; i < (*d)->noptions; i++) {
				const opt_row *o = &(*d)->options[i];
				const char *base = (const char *)(*d)->defaults + o->offset;
				if (o->type == OPT_TIME || o->type == OPT_INT || o->type == OPT_MKINT ||
					o->type == OPT_OCTINT) {
					int v;
					memcpy(&v, base, sizeof v);
					CHECK(v >= 0);
				} else if (o->type == OPT_STRING) {
					const char *s;
					memcpy(&s, base, sizeof s);
					CHECK(s == NULL || strlen(s) < 200);
				}
			}
}

int main(void)
{
	RUN(test_tables_sorted_unique);
	RUN(test_every_driver_found);
	RUN(test_counts_match_exim);
	RUN(test_defaults_sane);
	return unit_report("test_driver_tables");
}
