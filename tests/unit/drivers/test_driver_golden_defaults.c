/* Defaults against Exim: build each instance of tests/golden/drivers/defaults.conf from our
 * default blocks (plus the few options that config sets), apply driver_instance_init, render
 * every option the way Exim's -bP does, and compare with the output recorded from Exim 4.96.
 * The rendering here is a test oracle only; Postern's real -bP printer lives in src/conf. */
#include "driver_fixture.h"

#define GOLDEN "../../golden/drivers/expected/defaults/"

/* Options the config sets: name=value; the value is parsed per the option's type. */
static const struct instance {
	const driver_class *cls;
	const char *kind, *name, *driver;
	const char *set[FIXTURE_MAX_SET];
} instances[] = {
	{ &router_class, "router", "r_accept", "accept", { "transport=t_smtp" } },
	{ &router_class, "router", "r_dnslookup", "dnslookup", { "transport=t_smtp" } },
	{ &router_class, "router", "r_ipliteral", "ipliteral", { "transport=t_smtp" } },
	{ &router_class, "router", "r_iplookup", "iplookup", { "hosts=localhost", "port=25" } },
	{ &router_class, "router", "r_manualroute", "manualroute", { "route_list=* localhost", "transport=t_smtp" } },
	{ &router_class, "router", "r_queryprogram", "queryprogram", { "command=/bin/true" } },
	{ &router_class, "router", "r_redirect", "redirect", { "data=postmaster@example.com" } },
	{ &transport_class, "transport", "t_appendfile", "appendfile", { "file=/var/mail/$local_part" } },
	{ &transport_class, "transport", "t_autoreply", "autoreply", { NULL } },
	{ &transport_class, "transport", "t_lmtp", "lmtp", { "command=/usr/bin/true" } },
	{ &transport_class, "transport", "t_pipe", "pipe", { NULL } },
	{ &transport_class, "transport", "t_smtp", "smtp", { NULL } },
	{ &auth_class, "authenticator", "a_cram_md5", "cram_md5", { "public_name=CRAM-MD5" } },
	{ &auth_class, "authenticator", "a_cyrus_sasl", "cyrus_sasl", { "public_name=PLAIN" } },
	{ &auth_class, "authenticator", "a_dovecot", "dovecot", { NULL } },
	{ &auth_class, "authenticator", "a_external", "external", { NULL } },
	{ &auth_class, "authenticator", "a_plaintext", "plaintext", { NULL } },
	{ &auth_class, "authenticator", "a_spa", "spa", { NULL } },
	{ &auth_class, "authenticator", "a_tls", "tls", { NULL } },
};

/* Declared by Postern but absent from Debian's build, so absent from the reference. */
static const char *const extras[] = { "bmi_deliver_alternate", "bmi_deliver_default", "bmi_dont_deliver",
	"bmi_rule", "translate_ip_address", "srs", "srs_alias", "srs_condition", "srs_dbinsert",
	"srs_dbselect", "tpda_delivery_action", "arc_sign", "tpda_host_defer_action",
	"connection_idle_timeout" };
/* Rendered from the password file by Exim (command_user = root sets the group too). */
static const char *const via_passwd[] = { "command_user", "command_group" };

static bool in(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

static void render_time(char *out, size_t len, int t)
{
	static const struct { int secs; char unit; } units[] = { { 604800, 'w' }, { 86400, 'd' },
		{ 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	size_t used = 0;
	out[0] = '\0';
	if (t == 0) {
		snprintf(out, len, "0s");
		return;
	}
	for (size_t i = 0; i < 5; i++)
		if (t >= units[i].secs) {
			used += (size_t)snprintf(out + used, len - used, "%d%c", t / units[i].secs, units[i].unit);
			t %= units[i].secs;
		}
}

/* One -bP line for row r of block; "" for rows Exim does not show. */
static void render(char *out, size_t len, const opt_row *r, const void *block)
{
	const char *p = (const char *)block + r->offset;
	const char *s;
	int v;
	bool b;
	switch (r->type) {
	case OPT_BOOL: case OPT_BOOL_SET:
		memcpy(&b, p, sizeof b);
		snprintf(out, len, "%s%s", b ? "" : "no_", r->name);
		return;
	case OPT_EXPAND_BOOL:
		memcpy(&s, p, sizeof s);
		if (s == NULL || strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
			snprintf(out, len, "%s%s", s && strcmp(s, "true") == 0 ? "" : "no_", r->name);
		else
			snprintf(out, len, "%s = %s", r->name, s);
		return;
	case OPT_TIME: {
		char t[64];
		memcpy(&v, p, sizeof v);
		render_time(t, sizeof t, v);
		snprintf(out, len, "%s = %s", r->name, t);
		return;
	}
	case OPT_INT:
		memcpy(&v, p, sizeof v);
		snprintf(out, len, "%s = %d", r->name, v);
		return;
	case OPT_MKINT:
		memcpy(&v, p, sizeof v);
		if (v != 0 && v % (1024 * 1024) == 0)
			snprintf(out, len, "%s = %dM", r->name, v / (1024 * 1024));
		else if (v != 0 && v % 1024 == 0)
			snprintf(out, len, "%s = %dK", r->name, v / 1024);
		else
			snprintf(out, len, "%s = %d", r->name, v);
		return;
	case OPT_OCTINT:
		memcpy(&v, p, sizeof v);
		snprintf(out, len, "%s = %#o", r->name, (unsigned)v);
		return;
	default: { /* string-stored types: show the text, newlines escaped */
		memcpy(&s, p, sizeof s);
		if (s == NULL && (r->type == OPT_UIDLIST || r->type == OPT_GIDLIST)) {
			snprintf(out, len, "%s =", r->name); /* Exim's quirk: no space after '=' */
			return;
		}
		size_t used = (size_t)snprintf(out, len, "%s = ", r->name);
		for (; s && *s && used + 3 < len; s++) {
			if (*s == '\n') {
				out[used++] = '\\';
				out[used++] = 'n';
			} else
				out[used++] = *s;
		}
		out[used] = '\0';
	}
	}
}

static void compare_instance(const struct instance *in_)
{
	const driver_class *cls = in_->cls;
	fixture fx;
	if (!fixture_make_named(&fx, cls, in_->name, in_->driver, in_->set))
		return;
	const driver_info *info = fx.d.info;
	const char *generic = fx.generic, *priv = fx.priv;

	char path[256];
	snprintf(path, sizeof path, GOLDEN "%s.%s", in_->kind, in_->name);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	char want[1024], got[1024];
	for (int part = 0; part < 2; part++) {
		const opt_row *rows = part ? info->options : cls->generic;
		size_t n = part ? info->noptions : cls->ngeneric;
		const void *block = part ? (const void *)priv : (const void *)generic;
		for (size_t i = 0; i < n; i++) {
			if ((rows[i].flags & OPTF_HIDDEN) || in(extras, sizeof extras / sizeof *extras, rows[i].name))
				continue;
			if (!fgets(want, sizeof want, f)) {
				fprintf(stderr, "%s: reference ends before %s\n", path, rows[i].name);
				CHECK(!"reference long enough");
				break;
			}
			want[strcspn(want, "\n")] = '\0';
			if (in(via_passwd, 2, rows[i].name))
				continue;
			render(got, sizeof got, &rows[i], block);
			if (strcmp(got, want) != 0)
				fprintf(stderr, "%s:\n", path);
			CHECK_STR(got, want);
		}
	}
	CHECK(fgets(want, sizeof want, f) == NULL); /* nothing left over in the reference */
	fclose(f);
}

static void test_defaults_match_exim(void)
{
	for (size_t i = 0; i < sizeof instances / sizeof instances[0]; i++)
		compare_instance(&instances[i]);
}

int main(void)
{
	RUN(test_defaults_match_exim);
	return unit_report("test_driver_golden_defaults");
}
