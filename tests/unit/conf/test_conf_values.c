/* Option values: every type's syntax and -bP printing, and the errors, as Exim 4.96 gives them
 * (expected texts captured from `exim -C file -bP name`). */
#include "conf_test_support.h"
#include "../unit.h"

static const struct { const char *setting, *option, *printed; } values[] = {
	/* booleans */
	{ "queue_only", "queue_only", "queue_only" },
	{ "no_accept_8bitmime", "accept_8bitmime", "no_accept_8bitmime" },
	{ "not_accept_8bitmime", "accept_8bitmime", "no_accept_8bitmime" },
	{ "queue_only = true", "queue_only", "queue_only" },
	{ "queue_only = TRUE", "queue_only", "queue_only" },
	{ "queue_only = Yes", "queue_only", "queue_only" },
	{ "accept_8bitmime = no", "accept_8bitmime", "no_accept_8bitmime" },
	{ "accept_8bitmime = false", "accept_8bitmime", "no_accept_8bitmime" },
	/* integers */
	{ "smtp_accept_max = 10 ", "smtp_accept_max", "smtp_accept_max = 10" },
	{ "smtp_accept_max = +5", "smtp_accept_max", "smtp_accept_max = 5" },
	{ "smtp_accept_max = -5", "smtp_accept_max", "smtp_accept_max = -5" },
	{ "smtp_accept_max = 2147483647", "smtp_accept_max", "smtp_accept_max = 2147483647" },
	{ "smtp_accept_max = -2147483648", "smtp_accept_max", "smtp_accept_max = -2147483648" },
	{ "smtp_accept_max = 1k", "smtp_accept_max", "smtp_accept_max = 1024" },
	{ "header_maxsize = 010", "header_maxsize", "header_maxsize = 8" },
	{ "header_maxsize = 0x10", "header_maxsize", "header_maxsize = 16" },
	{ "header_maxsize = 2M", "header_maxsize", "header_maxsize = 2097152" },
	{ "bounce_return_size_limit = 2048", "bounce_return_size_limit", "bounce_return_size_limit = 2K" },
	{ "bounce_return_size_limit = 1025", "bounce_return_size_limit", "bounce_return_size_limit = 1025" },
	{ "bounce_return_size_limit = 0x10", "bounce_return_size_limit", "bounce_return_size_limit = 16" },
	{ "bounce_return_size_limit = 0", "bounce_return_size_limit", "bounce_return_size_limit = 0" },
	{ "bounce_return_linesize_limit = 2M", "bounce_return_linesize_limit", "bounce_return_linesize_limit = 2M" },
	{ "message_body_visible = -2048", "message_body_visible", "message_body_visible = -2K" },
	{ "return_size_limit = 3K", "bounce_return_size_limit", "bounce_return_size_limit = 3K" },
	{ "check_spool_space = 100", "check_spool_space", "check_spool_space = 100K" },
	{ "check_spool_space = 2048K", "check_spool_space", "check_spool_space = 2M" },
	{ "check_spool_space = 2G", "check_spool_space", "check_spool_space = 2G" },
	{ "check_spool_space = 0", "check_spool_space", "check_spool_space = 0" },
	{ "check_log_space = 2048", "check_log_space", "check_log_space = 2M" },
	/* 64-bit K sizes, T as well (exim -bP, Exim 4.96) */
	{ "check_spool_space = 100000G", "check_spool_space", "check_spool_space = 100000G" },
	{ "check_spool_space = 1024G", "check_spool_space", "check_spool_space = 1T" },
	{ "check_spool_space = 2T", "check_spool_space", "check_spool_space = 2T" },
	{ "check_spool_space = 10000000000G", "check_spool_space", "check_spool_space = 9765625T" },
	{ "check_spool_space = 3000000000000000000", "check_spool_space", "check_spool_space = 2929687500000000M" },
	{ "check_spool_space = 1025", "check_spool_space", "check_spool_space = 1025K" },
	{ "check_spool_space = -5", "check_spool_space", "check_spool_space = -5K" },
	{ "check_spool_space = 0x10", "check_spool_space", "check_spool_space = 16K" },
	{ "check_spool_inodes = 1K", "check_spool_inodes", "check_spool_inodes = 1024" },
	/* fixed point */
	{ "deliver_queue_load_max = 1.5", "deliver_queue_load_max", "deliver_queue_load_max = 1.5" },
	{ "queue_only_load = 2", "queue_only_load", "queue_only_load = 2.0" },
	{ "smtp_load_reserve = 0.125", "smtp_load_reserve", "smtp_load_reserve = 0.125" },
	{ "smtp_load_reserve = 1.5555", "smtp_load_reserve", "smtp_load_reserve = 1.555" },
	{ "smtp_load_reserve = 0.05", "smtp_load_reserve", "smtp_load_reserve = 0.05" },
	{ "primary_hostname = x", "smtp_load_reserve", "smtp_load_reserve =" },
	/* times */
	{ "auto_thaw = 1h30m", "auto_thaw", "auto_thaw = 1h30m" },
	{ "auto_thaw = 90m", "auto_thaw", "auto_thaw = 1h30m" },
	{ "auto_thaw = 0s", "auto_thaw", "auto_thaw = 0s" },
	{ "keep_malformed = 1w2d3h4m5s", "keep_malformed", "keep_malformed = 1w2d3h4m5s" },
	{ "keep_malformed = 2147483647s", "keep_malformed", "keep_malformed = 3550w5d3h14m7s" },
	{ "retry_interval_max = 2w3m", "retry_interval_max", "retry_interval_max = 1d" },
	{ "retry_interval_max = 5h", "retry_interval_max", "retry_interval_max = 5h" },
	{ "retry_data_expire = 7d", "retry_data_expire", "retry_data_expire = 1w" },
	{ "delay_warning = 24h:2d : 3d", "delay_warning", "delay_warning = 1d:2d:3d" },
	{ "delay_warning = 90m", "delay_warning", "delay_warning = 1h30m" },
	/* strings */
	{ "primary_hostname = mail.example", "primary_hostname", "primary_hostname = mail.example" },
	{ "primary_hostname=", "primary_hostname", "primary_hostname = " },
	{ "primary_hostname = a  b", "primary_hostname", "primary_hostname = a  b" },
	{ "primary_hostname = \"a\\tb\\x41\\101\\q\"", "primary_hostname", "primary_hostname = a\\tbAAq" },
	{ "primary_hostname = \" lead \"", "primary_hostname", "primary_hostname =  lead " },
	{ "primary_hostname = \"a\\nb\"", "primary_hostname", "primary_hostname = a\\nb" },
	{ "primary_hostname = \"\\\"q\\\\\"", "primary_hostname", "primary_hostname = \"q\\" },
	{ "primary_hostname = a\\\n  b", "primary_hostname", "primary_hostname = ab" },
	{ "primary_hostname = \"a\\\n  b\"", "primary_hostname", "primary_hostname = ab" },
	{ "primary_hostname = a \\\n# comment\n  b", "primary_hostname", "primary_hostname = a b" },
	{ "primary_hostname = $x", "primary_hostname", "primary_hostname = $x" },
	{ "smtp_receive_timeout = 300s", "smtp_receive_timeout", "smtp_receive_timeout = 5m" },
	{ "smtp_receive_timeout = ${if def:x{1s}{2s}}", "smtp_receive_timeout", "smtp_receive_timeout = ${if def:x{1s}{2s}}" },
	{ "syslog_facility = LOG_MAIL", "syslog_facility", "syslog_facility = LOG_MAIL" },
	{ "syslog_facility = Local7", "syslog_facility", "syslog_facility = Local7" },
	{ "message_size_limit = 12X", "message_size_limit", "message_size_limit = 12X" },
	{ "daemon_smtp_port = 25", "daemon_smtp_ports", "daemon_smtp_ports = 25" },
	{ "hide mysql_servers = secret", "mysql_servers", "mysql_servers = secret" },
	/* users and groups */
	{ "trusted_users = root : 0", "trusted_users", "trusted_users = root:root" },
	{ "trusted_groups = 0", "trusted_groups", "trusted_groups = root" },
	{ "primary_hostname = x", "never_users", "never_users =" },
	{ "trusted_users = ", "trusted_users", "trusted_users =" },
	{ "trusted_users =", "trusted_users", "trusted_users =" },
	{ "primary_hostname = x", "admin_groups", "admin_groups =" },
	{ "exim_user = root", "exim_user", "exim_user = root" },
	{ "exim_user = 0", "exim_user", "exim_user = root" },
	{ "exim_group = 0", "exim_group", "exim_group = root" },
	{ "system_filter_user = root", "system_filter_group", "system_filter_group = root" },
	{ "primary_hostname = x", "system_filter_user", "system_filter_user = " },
	/* defaults */
	{ "primary_hostname = x", "qualify_domain", "qualify_domain = x" },
	{ "qualify_domain = y", "qualify_recipient", "qualify_recipient = y" },
	{ "primary_hostname = x", "acl_smtp_data_prdr", "acl_smtp_data_prdr = accept" },
	{ "primary_hostname = x", "received_headers_max", "received_headers_max = 30" },
	{ "primary_hostname = x", "callout_domain_positive_expire", "callout_domain_positive_expire = 1w" },
	{ "primary_hostname = x", "local_interfaces", "local_interfaces = <; ::0 ; 0.0.0.0" },
	{ "primary_hostname = x", "tls_dh_max_bits", "tls_dh_max_bits = 2236" },
	{ "primary_hostname = x", "sqlite_lock_timeout", "sqlite_lock_timeout = 5" },
	{ "primary_hostname = x", "queue_fast_ramp", "no_queue_fast_ramp" },
	{ "primary_hostname = x", "remote_max_parallel", "remote_max_parallel = 2" },
	{ "primary_hostname = x", "dccifd_options", "dccifd_options = header" },
	{ "primary_hostname = x", "proxy_protocol_timeout", "proxy_protocol_timeout = 3s" },
	{ "primary_hostname = x", "tls_ocsp_file", "tls_ocsp_file = " },
};

static const struct { const char *config, *problem; } errors[] = {
	{ "foo_bar = 1\n", "main option \"foo_bar\" unknown" },
	{ "primary_hostname\n", "unexpected end of line (data missing) after primary_hostname" },
	{ "primary_hostname x\n", "missing \"=\" after primary_hostname" },
	{ "queue_only = maybe\n", "\"maybe\" is not a valid value for the \"queue_only\" option" },
	{ "no_queue_only = true\n", "extra characters follow boolean option no_queue_only" },
	{ "queue_only junk\n", "extra characters follow boolean option queue_only" },
	{ "no_primary_hostname\n", "negation prefix applied to a non-boolean option" },
	{ "smtp_accept_max = 1x\n", "extra characters follow integer value for smtp_accept_max" },
	{ "smtp_accept_max = 0x\n", "extra characters follow integer value for smtp_accept_max" },
	{ "smtp_accept_max = 08\n", "extra characters follow integer value for smtp_accept_max" },
	{ "smtp_accept_max = 10 x\n", "extra characters follow integer value for smtp_accept_max" },
	{ "smtp_accept_max = \n", "integer expected for smtp_accept_max" },
	{ "smtp_accept_max = 99999999999\n", "absolute value of integer \"99999999999\" is too large (overflow)" },
	{ "smtp_accept_max = 2097152K\n", "absolute value of integer \"2097152K\" is too large (overflow)" },
	{ "bounce_return_size_limit = 3G\n", "absolute value of integer \"3G\" is too large (overflow)" },
	{ "check_spool_space = 9999999999999999999\n", "absolute value of integer \"9999999999999999999\" is too large (overflow)" },
	{ "check_spool_space = 9000000000000000T\n", "absolute value of integer \"9000000000000000T\" is too large (overflow)" },
	{ "check_spool_space = 1.5M\n", "extra characters follow integer value for check_spool_space" },
	{ "auto_thaw = 1x\n", "invalid time value for auto_thaw" },
	{ "auto_thaw = \n", "invalid time value for auto_thaw" },
	{ "auto_thaw = 0\n", "invalid time value for auto_thaw" },
	{ "auto_thaw = 1H\n", "invalid time value for auto_thaw" },
	{ "auto_thaw = 1h 2m\n", "invalid time value for auto_thaw" },
	{ "auto_thaw = -1h\n", "invalid time value for auto_thaw" },
	{ "delay_warning = 24h:x\n", "invalid time value for delay_warning" },
	{ "delay_warning = 24h:2d : 90m\n", "time value out of order for delay_warning" },
	{ "deliver_queue_load_max = x\n", "fixed-point number expected for deliver_queue_load_max" },
	{ "deliver_queue_load_max = 1.5x\n", "extra characters follow fixed-point value for deliver_queue_load_max" },
	{ "primary_hostname = \"abc\n", "missing quote at end of string value for primary_hostname" },
	{ "primary_hostname = \"abc\" x\n", "extra characters follow string value for primary_hostname" },
	{ "exim_user = nosuchuserx\n", "user nosuchuserx was not found" },
	{ "exim_group = nosuchg\n", "group nosuchg was not found" },
	{ "trusted_groups = nosuchg\n", "group nosuchg was not found" },
	{ "never_users = 0:nosuch\n", "user nosuch was not found" },
	{ "123 = x\n", "option setting expected: 123 = x" },
	{ ".foo\n", "option setting expected: .foo" },
	{ "primary-hostname = x\n", "main option \"primary\" unknown" },
	{ "begin\n", "main option \"begin\" unknown" },
	{ "hide = 1\n", "main option \"\" unknown" },
	{ "smtp_receive_timeout = 0\n", "invalid time value for smtp_receive_timeout" },
	{ "log_selector = smtp_connection\n", "malformed log_selector setting: + or - expected but found \"smtp_connection\"" },
	{ "log_selector = +\n", "unknown log_selector setting: +" },
	{ "log_selector = +ALL\n", "unknown log_selector setting: +ALL" },
	{ "log_selector = +all -smtp_connection +nope\n", "unknown log_selector setting: +nope" },
	{ "syslog_facility = \n", "failed to interpret syslog_facility \"\"" },
	{ "syslog_facility = v\n", "failed to interpret syslog_facility \"v\"" },
};

static void test_values(void)
{
	xbuf err;
	xbuf_init(&err, NULL);
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		char text[512];
		snprintf(text, sizeof text, "%s\n", values[i].setting);
		bool ok = t_load(text, &err);
		if (!ok)
			fprintf(stderr, "load of \"%s\" failed: %s\n", values[i].setting, xbuf_cstr(&err));
		CHECK(ok);
		CHECK_STR(t_bp(values[i].option), values[i].printed);
	}
	xbuf_free(&err);
}

static void test_errors(void)
{
	xbuf err;
	xbuf_init(&err, NULL);
	for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
		CHECK(!t_load(errors[i].config, &err));
		CHECK_STR(t_problem(&err), errors[i].problem);
		/* log_selector is checked after reading, and Exim then gives no line number */
		bool after_reading = strncmp(errors[i].config, "log_selector", 12) == 0 ||
			strncmp(errors[i].config, "syslog_facility", 15) == 0;
		CHECK(strstr(xbuf_cstr(&err), after_reading ? "Exim configuration error:\n  "
			: "Exim configuration error in line 1 of ") == xbuf_cstr(&err));
	}
	xbuf_free(&err);
}

static void test_ratelimits(void)
{
	static const struct { const char *value; bool ok; } cases[] = {
		{ "2,0.5s,1.05,4m", true }, { "2, 0.5s, 1.05, 4m", true }, { "2,1m,1,1s", true },
		{ "2,1.25s,1,1s", true }, { "2,1s,1, 1s", true }, { "2,1s,1,1s junk", true },
		{ "+2,1s,1,1s", true }, { "2,1s,-1,1s", true }, { "2,1s,1,0s", true }, { "2,1s,1e2,1s", true },
		{ "2,1s,1.,1s", true }, { "2,1m30s,1,1s", true },
		{ "2,0.5s,1.05", false }, { "x", false }, { "2,5,1,3", false }, { "2,0.5s,1.05,4m,junk", false },
		{ "", false }, { "2,1h,1,1", false }, { "2 ,1s, 1 ,1s", false }, { "2,1s,x,1s", false },
		{ "2,.5s,1,1s", false }, { "0x2,1s,1,1s", false }, { "2,1,1,1s", false }, { "2,0.5,1,1s", false },
		{ "2,1s ,1,1s", false }, { "2,1s,1 ,1s", false }, { "2,1s,1,-1s", false },
	};
	xbuf err;
	xbuf_init(&err, NULL);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[256];
		snprintf(text, sizeof text, "smtp_ratelimit_%s = %s\n", i % 2 ? "mail" : "rcpt", cases[i].value);
		bool ok = t_load(text, &err);
		if (ok != cases[i].ok)
			fprintf(stderr, "ratelimit \"%s\": %s\n", cases[i].value, ok ? "accepted" : xbuf_cstr(&err));
		CHECK(ok == cases[i].ok);
		if (!ok) {
			char want[256];
			snprintf(want, sizeof want, "malformed ratelimit data: %s", cases[i].value);
			CHECK_STR(xbuf_cstr(&err), want);
			CHECK_INT(conf_last_error_kind(), CONF_ERROR_STARTUP);
		}
	}
	xbuf_free(&err);
}

static void test_formatters(void)
{
	static const struct { int secs; const char *text; } times[] = {
		{ 0, "0s" }, { 1, "1s" }, { 60, "1m" }, { 3661, "1h1m1s" }, { 86400, "1d" }, { 604800, "1w" },
		{ 694861, "1w1d1h1m1s" }, { -60, "-1m" },
	};
	for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
		xbuf b;
		xbuf_init(&b, NULL);
		conf_format_time(times[i].secs, &b);
		CHECK_STR(xbuf_cstr(&b), times[i].text);
		xbuf_free(&b);
	}
	static const struct { int v; const char *text; } fixed[] = {
		{ 0, "0.0" }, { 1500, "1.5" }, { 2000, "2.0" }, { 125, "0.125" }, { 50, "0.05" }, { 1001, "1.001" },
	};
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		xbuf b;
		xbuf_init(&b, NULL);
		conf_format_fixed(fixed[i].v, &b);
		CHECK_STR(xbuf_cstr(&b), fixed[i].text);
		xbuf_free(&b);
	}
	xbuf b;
	xbuf_init(&b, NULL);
	conf_format_printing("a\tb\nc\001\x7f\xc3\xa9\033\r\f\b\v", &b);
	CHECK_STR(xbuf_cstr(&b), "a\\tb\\nc\\001\\177\\303\\251\\033\\r\\f\\b\\v");
	xbuf_free(&b);
}

static void test_no_names(void)
{
	xbuf err, out;
	xbuf_init(&err, NULL);
	xbuf_init(&out, NULL);
	CHECK(t_load("primary_hostname = h\nqueue_only\nno_smtp_enforce_sync\n", &err));
	size_t n;
	const opt_row *rows = conf_main_rows(&n);
	conf_print_option(opt_find(rows, n, "primary_hostname"), conf_main_block(), true, false, &out);
	conf_print_option(opt_find(rows, n, "queue_only"), conf_main_block(), true, false, &out);
	conf_print_option(opt_find(rows, n, "smtp_enforce_sync"), conf_main_block(), true, false, &out);
	conf_print_option(opt_find(rows, n, "queue_only_load"), conf_main_block(), true, false, &out);
	conf_print_option(opt_find(rows, n, "never_users"), conf_main_block(), true, false, &out);
	CHECK_STR(xbuf_cstr(&out), "h\nqueue_only\nno_smtp_enforce_sync\nqueue_only_load =\n\n");
	/* hidden values are masked for non-administrators */
	CHECK(t_load("hide mysql_servers = secret\nhide pgsql_servers = y\n", &err));
	xbuf_reset(&out);
	conf_print_option(opt_find(rows, n, "pgsql_servers"), conf_main_block(), false, true, &out);
	conf_print_option(opt_find(rows, n, "pgsql_servers"), conf_main_block(), false, false, &out);
	conf_print_option(opt_find(rows, n, "sqlite_dbfile"), conf_main_block(), false, true, &out);
	CHECK_STR(xbuf_cstr(&out), "pgsql_servers = <value not displayable>\npgsql_servers = y\nsqlite_dbfile = \n");
	xbuf_free(&err);
	xbuf_free(&out);
}

int main(void)
{
	arena_init_pools();
	t_use_registry();
	RUN(test_values);
	RUN(test_errors);
	RUN(test_ratelimits);
	RUN(test_formatters);
	RUN(test_no_names);
	return unit_report("test_conf_values");
}
