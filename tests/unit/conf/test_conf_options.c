/* The main option table: sorted, unique, complete, with Exim's types; the builtin option macros;
 * the embedded default configuration; the conf.h accessors. */
#include <ctype.h>

#include "conf/main_options.h"
#include "lib/list.h"
#include "conf_test_support.h"
#include "../unit.h"

static void test_table(void)
{
	CHECK(main_option_count >= 290);
	for (size_t i = 1; i < main_option_count; i++) {
		int c = strcmp(main_option_rows[i - 1].name, main_option_rows[i].name);
		if (c >= 0)
			fprintf(stderr, "not sorted/unique: %s, %s\n", main_option_rows[i - 1].name, main_option_rows[i].name);
		CHECK(c < 0);
	}
	size_t hidden = 0;
	for (size_t i = 0; i < main_option_count; i++) {
		const opt_row *r = &main_option_rows[i];
		bool name_ok = islower((unsigned char)r->name[0]);
		for (const char *p = r->name; *p; p++)
			name_ok = name_ok && (islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_');
		CHECK(name_ok);
		CHECK(opt_find(main_option_rows, main_option_count, r->name) == r);
		CHECK(r->type < OPT__COUNT);
		hidden += (r->flags & OPTF_HIDDEN) != 0;
	}
	CHECK_INT(hidden, 5);  /* daemon_smtp_port, return_size_limit, proxy_required_hosts,
	                        * delivery_event_action, tpda_event_action (older event_action names) */
	CHECK(opt_find(main_option_rows, main_option_count, "nope") == NULL);
}

static const struct { const char *name; int type; } types[] = {
	{ "accept_8bitmime", OPT_BOOL }, { "acl_smtp_rcpt", OPT_STRING }, { "admin_groups", OPT_GIDLIST },
	{ "auto_thaw", OPT_TIME }, { "bounce_return_size_limit", OPT_MKINT }, { "check_spool_space", OPT_KINT },
	{ "daemon_smtp_port", OPT_STRING }, { "delay_warning", OPT_TIMELIST }, { "deliver_queue_load_max", OPT_FIXED },
	{ "exim_group", OPT_GID }, { "exim_user", OPT_UID }, { "header_maxsize", OPT_INT },
	{ "message_size_limit", OPT_STRING }, { "never_users", OPT_UIDLIST }, { "queue_run_max", OPT_STRING },
	{ "smtp_accept_max_per_connection", OPT_STRING }, { "smtp_receive_timeout", OPT_FUNC },
	{ "sqlite_lock_timeout", OPT_INT }, { "system_filter_user", OPT_UID }, { "tls_ocsp_file", OPT_STRING },
	{ "tls_resumption_hosts", OPT_STRING }, { "hosts_proxy", OPT_STRING }, { "proxy_protocol_timeout", OPT_TIME },
	{ "spf_guess", OPT_STRING }, { "spf_smtp_comment_template", OPT_STRING }, { "dccifd_address", OPT_STRING },
	{ "dcc_direct_add_header", OPT_BOOL }, { "bmi_config_file", OPT_STRING }, { "redis_servers", OPT_STRING },
	{ "event_action", OPT_STRING }, { "dsn_advertise_hosts", OPT_STRING }, { "openssl_options", OPT_STRING },
	{ "srs_config", OPT_STRING }, { "srs_hashlength", OPT_INT }, { "srs_usehash", OPT_BOOL },
	{ "trusted_users", OPT_UIDLIST }, { "trusted_groups", OPT_GIDLIST }, { "timezone", OPT_STRING },
};

static void test_types(void)
{
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		const opt_row *r = opt_find(main_option_rows, main_option_count, types[i].name);
		CHECK(r != NULL);
		if (!r)
			fprintf(stderr, "missing option %s\n", types[i].name);
		CHECK_INT(r ? r->type : -1, types[i].type);
	}
	/* aliases share storage with their target */
	CHECK_INT(opt_find(main_option_rows, main_option_count, "daemon_smtp_port")->offset,
		opt_find(main_option_rows, main_option_count, "daemon_smtp_ports")->offset);
	CHECK_INT(opt_find(main_option_rows, main_option_count, "return_size_limit")->offset,
		opt_find(main_option_rows, main_option_count, "bounce_return_size_limit")->offset);
	/* defaults straight from the declaration list */
	CHECK_INT(main_config_defaults.bounce_return_size_limit, 100 * 1024);
	CHECK_INT(main_config_defaults.check_spool_space, 10 * 1024);
	CHECK_INT(main_config_defaults.callout_positive_expire, 86400);
	CHECK_INT(main_config_defaults.deliver_queue_load_max, -1);
	CHECK(main_config_defaults.accept_8bitmime && !main_config_defaults.queue_only);
	CHECK_STR(main_config_defaults.acl_smtp_data_prdr, "accept");
	CHECK_STR(main_config_defaults.acl_smtp_rcpt, NULL);
	CHECK_STR(main_config_defaults.spf_guess, "v=spf1 a/24 mx/24 ptr ?all");
	CHECK_STR(main_config_defaults.exim_version, EXIM_COMPAT_VERSION);
}

static void test_builtin_macros(void)
{
	xbuf err;
	xbuf_init(&err, NULL);
	CHECK(t_load("primary_hostname = h\n", &err));
	/* one _OPT_MAIN_ macro per option, hidden synonyms included */
	size_t opt_main = 0;
	for (const conf_macro *m = conf_macros(); m; m = m->next) {
		CHECK(m->name[0] == '_' || !m->builtin);
		if (strncmp(m->name, "_OPT_MAIN_", 10) == 0)
			opt_main++;
	}
	CHECK_INT(opt_main, main_option_count);
	static const char *const expected[] = {
		"_OPT_MAIN_TLS_OCSP_FILE", "_OPT_MAIN_DAEMON_SMTP_PORT", "_OPT_MAIN_SPF_GUESS", "_HAVE_TLS_RESUME",
		"_HAVE_PROXY", "_HAVE_SPF", "_HAVE_SRS", "_HAVE_NATIVE_SRS", "_HAVE_EVENT", "_HAVE_OCSP",
		"_HAVE_TLS_OCSP", "_HAVE_TLS_OCSP_LIST", "_HAVE_DCC", "_HAVE_BRIGHTMAIL", "_EXP_ARC", "_LOG_TLS_RESUMPTION",
		"_OPT_ROUTERS_DRIVER", "_OPT_ROUTER_REDIRECT_MODEMASK", "_DRIVER_ROUTER_ACCEPT",
		"_OPT_TRANSPORTS_BODY_ONLY", "_OPT_TRANSPORT_APPENDFILE_QUOTA", "_DRIVER_TRANSPORT_APPENDFILE",
	};
	for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
		const conf_macro *m = conf_macro_find(expected[i]);
		if (!m)
			fprintf(stderr, "missing builtin %s\n", expected[i]);
		CHECK(m && m->builtin && strcmp(m->value, "y") == 0);
	}
	const conf_macro *rd = conf_macro_find("_RESUME_DECODE");
	CHECK(rd && strncmp(rd->value, "not requested or offered : 0x02 :", 33) == 0);
	/* 31 elements, as $tls_in_resumption values 1..31 */
	list_iter it;
	xbuf item;
	xbuf_init(&item, NULL);
	list_iter_init(&it, sv_cstr(rd ? rd->value : ""), 0);
	int count = 0;
	const char *eleventh = NULL;
	while (list_next(&it, &item))
		if (++count == 11)
			eleventh = arena_strdup(pool_perm, xbuf_cstr(&item));
	CHECK_INT(count, 31);
	CHECK_STR(eleventh, "client requested new ticket, server provided");
	xbuf_free(&item);
	xbuf_free(&err);
}

static void test_accessors(void)
{
	xbuf err, out;
	xbuf_init(&err, NULL);
	xbuf_init(&out, NULL);
	CHECK(t_load("primary_hostname = h.example\nqueue_only\nauto_thaw = 2h\nhostlist relay = 1.2.3.4\n", &err));
	CHECK(conf_main_value("queue_only", &out));
	CHECK_STR(xbuf_cstr(&out), "true");
	xbuf_reset(&out);
	CHECK(conf_main_value("auto_thaw", &out));
	CHECK_STR(xbuf_cstr(&out), "2h");
	xbuf_reset(&out);
	CHECK(conf_main_value("acl_smtp_rcpt", &out));
	CHECK_STR(xbuf_cstr(&out), "");
	CHECK(!conf_main_value("nope", &out));
	CHECK_STR(conf_main_string("primary_hostname"), "h.example");
	CHECK_STR(conf_main_string("qualify_domain"), "h.example");
	CHECK_STR(conf_main_string("acl_smtp_rcpt"), NULL);
	CHECK_STR(conf_main_string("auto_thaw"), NULL);
	CHECK_STR(conf_named_list("host", "relay"), "1.2.3.4");
	CHECK(conf_main.queue_only);
	CHECK_INT(conf_main.auto_thaw, 7200);
	CHECK(strstr(conf_file_name(), "test.conf") != NULL);
	xbuf_reset(&out);
	conf_macro_substitute(SV_LIT("x _HAVE_TLS y"), &out);
	CHECK_STR(xbuf_cstr(&out), "x y y");
	xbuf_reset(&out);
	conf_macro_substitute(SV_LIT("no macros here"), &out);
	CHECK_STR(xbuf_cstr(&out), "no macros here");
	/* the loaded configuration is read-only: a failed load leaves a usable state for the next */
	CHECK(!t_load("nope = 1\n", &err));
	CHECK(t_load("primary_hostname = again\n", &err));
	CHECK_STR(conf_main_string("primary_hostname"), "again");
	CHECK(!conf_main.queue_only);
	xbuf_free(&err);
	xbuf_free(&out);
}

static void test_environment(void)
{
	char *env[] = { "PATH=/bin", "FOO=1", "BAR=2", "BAZ=3", "QUX=4", "B=5", NULL };
	static const struct { const char *config, *want; } cases[] = {
		{ "keep_environment = FOO : ^B.+\nadd_environment = ZED=1 : AAA=2 : PATH\n",
			"AAA=2\nBAR=2\nBAZ=3\nFOO=1\nZED=1\n" },
		{ "add_environment = <; X=a:b ; Y=\n", "X=a:b\nY=\n" },
		{ "primary_hostname = h\n", "" },
		{ "keep_environment = FOO : PATH\nadd_environment = FOO=9\n", "FOO=9\nPATH=/bin\n" },
		{ "keep_environment = ^[\n", "" },
	};
	xbuf err, out;
	xbuf_init(&err, NULL);
	xbuf_init(&out, NULL);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CHECK(t_load(cases[i].config, &err));
		xbuf_reset(&out);
		conf_format_environment(env, &out);
		CHECK_STR(xbuf_cstr(&out), cases[i].want);
	}
	xbuf_free(&err);
	xbuf_free(&out);
}

static void test_default_config(void)
{
	/* The embedded configuration reads cleanly with the drivers it names. */
	extern const char conf_default_text[];
	xbuf err;
	xbuf_init(&err, NULL);
	conf_use_driver_classes(NULL, NULL, NULL);
	bool ok = t_load(conf_default_text, &err);
	if (!ok)
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
	CHECK(ok);
	CHECK_STR(conf_main_string("daemon_smtp_ports"), "2525");
	CHECK_STR(conf_main_string("local_interfaces"), "127.0.0.1");
	CHECK_STR(conf_main_string("spool_directory"), "./var/spool");
	CHECK_STR(conf_named_list("domain", "local_domains"), "@ : localhost");
	CHECK(conf_acl_find("acl_check_rcpt") != NULL);
	CHECK(conf_retry_rules() && conf_retry_rules()->nitems == 3);
	int routers = 0;
	for (const driver_instance *i = conf_driver_instances("routers"); i; i = i->next)
		routers++;
	CHECK_INT(routers, 4);
	t_use_registry();
	xbuf_free(&err);
}

int main(void)
{
	arena_init_pools();
	t_use_registry();
	RUN(test_table);
	RUN(test_types);
	RUN(test_builtin_macros);
	RUN(test_accessors);
	RUN(test_environment);
	RUN(test_default_config);
	return unit_report("test_conf_options");
}
