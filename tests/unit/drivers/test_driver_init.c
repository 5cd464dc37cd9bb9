/* driver_instance_init: values Exim 4.96 derives when it initialises an instance, each case
 * checked against `exim -bP router|transport|authenticator NAME` for the same settings. */
#include "driver_fixture.h"

static const struct init_case {
	const driver_class *cls;
	const char *driver;
	const char *set[FIXTURE_MAX_SET];
	const char *want[6]; /* "option=value": bools true/false, strings as text, NULL as (unset) */
} cases[] = {
	{ &router_class, "accept", { "transport=t" }, { "log_as_local=true", "retry_use_local_part=false" } },
	{ &router_class, "dnslookup", { "transport=t" }, { "log_as_local=false" } },
	{ &router_class, "ipliteral", { "log_as_local=true" }, { "log_as_local=true" } },
	{ &router_class, "accept", { "log_as_local=false" }, { "log_as_local=false" } },
	{ &router_class, "accept", { "local_parts=a" }, { "retry_use_local_part=true" } },
	{ &router_class, "accept", { "senders=:" }, { "retry_use_local_part=true" } },
	{ &router_class, "accept", { "local_parts=a", "retry_use_local_part=false" }, { "retry_use_local_part=false" } },
	{ &router_class, "redirect", { "data=x", "one_time=true" },
		{ "forbid_file=true", "forbid_filter_reply=true", "forbid_pipe=true", "check_owner=false" } },
	{ &router_class, "redirect", { "data=x", "check_local_user=true", "modemask=002" },
		{ "check_owner=true", "check_group=true", "retry_use_local_part=true" } },
	{ &router_class, "redirect", { "data=x", "check_local_user=true", "modemask=022" },
		{ "check_owner=true", "check_group=false" } },
	{ &router_class, "redirect", { "data=x", "owners=root" }, { "check_owner=true", "check_group=false" } },
	{ &router_class, "redirect", { "data=x", "owngroups=mail" }, { "check_owner=false", "check_group=true" } },
	{ &transport_class, "smtp", { NULL }, { "retry_use_local_part=false", "port=smtp" } },
	{ &transport_class, "smtp", { "protocol=lmtp" }, { "port=lmtp" } },
	{ &transport_class, "smtp", { "protocol=smtps" }, { "port=smtps" } },
	{ &transport_class, "smtp", { "port=587" }, { "port=587" } },
	{ &transport_class, "pipe", { NULL }, { "retry_use_local_part=true", "check_string=(unset)",
		"message_suffix=\n" } },
	{ &transport_class, "pipe", { "retry_use_local_part=false" }, { "retry_use_local_part=false" } },
	{ &transport_class, "pipe", { "use_bsmtp=true" }, { "check_string=.", "escape_string=..",
		"message_prefix=(unset)", "message_suffix=(unset)" } },
	{ &transport_class, "lmtp", { NULL }, { "retry_use_local_part=true" } },
	{ &transport_class, "autoreply", { NULL }, { "retry_use_local_part=true" } },
	{ &transport_class, "appendfile", { "file=x" }, { "check_string=From ", "escape_string=>From ",
		"message_suffix=\n", "quota_warn_message=(unset)" } },
	{ &transport_class, "appendfile", { "directory=x", "maildir_format=true" }, { "check_string=(unset)",
		"escape_string=(unset)", "message_prefix=(unset)", "message_suffix=(unset)" } },
	{ &transport_class, "appendfile", { "directory=x", "maildir_format=true", "message_prefix=P",
		"check_string=C" }, { "check_string=C", "escape_string=(unset)", "message_prefix=P" } },
	{ &transport_class, "appendfile", { "file=x", "use_bsmtp=true", "message_suffix=S", "escape_string=E" },
		{ "check_string=.", "escape_string=..", "message_prefix=(unset)", "message_suffix=S" } },
	/* mbx keeps the mbox prefix and suffix (Exim 4.96 -bP shows them and writes them). */
	{ &transport_class, "appendfile", { "file=x", "mbx_format=true" }, { "check_string=From ",
		"message_suffix=\n", "use_lockfile=false", "use_mbx_lock=true" } },
	{ &transport_class, "appendfile", { "directory=x", "maildir_use_size_file=${if eq{a}{a}}" },
		{ "*expand_maildir_use_size_file=${if eq{a}{a}}", "maildir_use_size_file=${if eq{a}{a}}" } },
	{ &transport_class, "appendfile", { "directory=x", "maildir_use_size_file=true" },
		{ "*expand_maildir_use_size_file=(unset)", "maildir_use_size_file=true" } },
	{ &transport_class, "appendfile", { "file=x", "quota_warn_threshold=75%" },
		{ "quota_warn_message=To: $local_part@$domain\nSubject: Your mailbox\n\nThis message is "
		  "automatically created by mail delivery software (Exim).\n\nThe size of your mailbox has "
		  "exceeded a warning threshold that is\nset by the system administrator.\n" } },
	{ &auth_class, "plaintext", { NULL }, { "public_name=x" } },
	{ &auth_class, "plaintext", { "public_name=FOO" }, { "public_name=FOO" } },
	{ &auth_class, "tls", { "public_name=ZZZ" }, { "public_name=x" } },
	{ &auth_class, "cyrus_sasl", { "public_name=PLAIN" }, { "server_mech=PLAIN", "server_service=smtp",
		"server_hostname=$primary_hostname" } },
	{ &auth_class, "cyrus_sasl", { "public_name=DIGEST-MD5", "server_mech=digest-md5" },
		{ "server_mech=digest-md5" } },
	{ &auth_class, "gsasl", { NULL }, { "server_mech=x", "public_name=x" } },
};

/* The value of option name in f, as the case table writes it. */
static const char *value_of(const fixture *f, const driver_class *cls, const char *name, char *buf,
	size_t len)
{
	const opt_row *r = opt_find(cls->generic, cls->ngeneric, name);
	const char *block = f->d.generic;
	if (r == NULL) {
		r = opt_find(f->d.info->options, f->d.info->noptions, name);
		block = f->d.priv;
	}
	if (r == NULL)
		return "(no such option)";
	if (r->type == OPT_BOOL) {
		bool b;
		memcpy(&b, block + r->offset, sizeof b);
		return b ? "true" : "false";
	}
	if (r->type == OPT_INT || r->type == OPT_OCTINT || r->type == OPT_TIME) {
		int n;
		memcpy(&n, block + r->offset, sizeof n);
		snprintf(buf, len, "%d", n);
		return buf;
	}
	const char *s;
	memcpy(&s, block + r->offset, sizeof s);
	return s ? s : "(unset)";
}

static void test_derived_values_match_exim(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct init_case *c = &cases[i];
		fixture f;
		if (!fixture_make(&f, c->cls, c->driver, c->set))
			continue;
		for (size_t w = 0; w < 6 && c->want[w]; w++) {
			const char *eq = strchr(c->want[w], '=');
			char name[64], buf[32];
			snprintf(name, sizeof name, "%.*s", (int)(eq - c->want[w]), c->want[w]);
			const char *got = value_of(&f, c->cls, name, buf, sizeof buf);
			if (strcmp(got, eq + 1) != 0)
				fprintf(stderr, "case %zu (%s) %s:\n", i, c->driver, name);
			CHECK_STR(got, eq + 1);
		}
	}
}

int main(void)
{
	RUN(test_derived_values_match_exim);
	return unit_report("test_driver_init");
}
