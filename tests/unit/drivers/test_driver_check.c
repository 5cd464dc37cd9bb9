/* driver_instance_check: each case is a driver instance with a few options set, and the message
 * Exim 4.96 gives for the same instance (recorded with `exim -C conf -bP router_list`), or
 * NULL when Exim accepts it. */
#include "drivers/driver_check.h"
#include "driver_fixture.h"

static const struct check_case {
	const driver_class *cls;
	const char *driver;
	const char *set[FIXTURE_MAX_SET]; /* "name=value"; booleans as =true / =false */
	const char *want;
} cases[] = {
	{ &router_class, "accept", { NULL },
		"Exim configuration error:\n  x router:\n  a transport is required for this router" },
	{ &router_class, "accept", { "transport=t" }, NULL },
	{ &router_class, "dnslookup", { NULL },
		"Exim configuration error:\n  x router:\n  a transport is required for this router" },
	{ &router_class, "ipliteral", { NULL },
		"Exim configuration error:\n  x router:\n  a transport is required for this router" },
	{ &router_class, "manualroute", { "route_list=* x" }, NULL },
	{ &router_class, "manualroute", { "transport=t" },
		"Exim configuration error for x router:\n  route_list or route_data (but not both) must be specified" },
	{ &router_class, "manualroute", { "route_list=* x", "route_data=y" },
		"Exim configuration error for x router:\n  route_list or route_data (but not both) must be specified" },
	{ &router_class, "manualroute", { "route_list=* x", "host_find_failed=Ignore" },
		"Exim configuration error for x router:\n  unrecognized setting for host_find_failed option" },
	{ &router_class, "manualroute", { "route_list=* x", "host_all_ignored=foo" },
		"Exim configuration error for x router:\n  unrecognized setting for host_all_ignored option" },
	{ &router_class, "manualroute", { "route_list=* x", "host_all_ignored=freeze", "host_find_failed=pass" }, NULL },
	{ &router_class, "iplookup", { NULL }, "Exim configuration error for x router:\n  a port must be specified" },
	{ &router_class, "iplookup", { "port=1" }, "Exim configuration error for x router:\n  a host list must be specified" },
	{ &router_class, "iplookup", { "port=1", "hosts=h", "protocol=foo" },
		"Exim configuration error for x router:\n  protocol not specified as udp or tcp" },
	{ &router_class, "iplookup", { "port=1", "hosts=h", "transport=t" },
		"Exim configuration error:\n  x router:\n  a transport must not be defined for this router" },
	{ &router_class, "iplookup", { "port=1", "hosts=h", "protocol=tcp" }, NULL },
	{ &router_class, "queryprogram", { NULL },
		"Exim configuration error for x router:\n  a command specification is required" },
	{ &router_class, "queryprogram", { "command=x" },
		"Exim configuration error for x router:\n  command_user must be specified" },
	{ &router_class, "queryprogram", { "command=x", "command_user=0", "transport=t" }, NULL },
	{ &router_class, "redirect", { NULL },
		"Exim configuration error for x router:\n  one of \"file\" or \"data\" must be specified" },
	{ &router_class, "redirect", { "data=x", "file=y" },
		"Exim configuration error for x router:\n  only one of \"file\" or \"data\" must be specified" },
	{ &router_class, "redirect", { "data=x", "transport=t" },
		"Exim configuration error:\n  x router:\n  a transport must not be defined for this router" },
	{ &router_class, "redirect", { "data=x", "one_time=true", "headers_add=X: y" },
		"Exim configuration error for x router:\n  \"headers_add\" and \"headers_remove\" are not permitted with \"one_time\"" },
	{ &router_class, "redirect", { "data=x", "one_time=true", "unseen=true" },
		"Exim configuration error for x router:\n  \"unseen\" may not be used with \"one_time\"" },
	{ &router_class, "redirect", { "data=x", "one_time=true" }, NULL },
	{ &router_class, "accept", { "transport=t", "self=Send" },
		"Exim configuration error for x router:\n  Send is not valid for the self option" },
	{ &router_class, "accept", { "transport=t", "self=reroute:x.y" }, NULL },
	{ &router_class, "accept", { "transport=t", "self=pass" }, NULL },
	{ &transport_class, "appendfile", { NULL }, NULL },
	{ &transport_class, "appendfile", { "file=x", "directory=y" },
		"Exim configuration error for x transport:\n  only one of \"file\" or \"directory\" can be specified" },
	{ &transport_class, "appendfile", { "file=x", "create_file=foo" },
		"Exim configuration error:\n  invalid value given for \"create_file\" for the x transport: 'foo'" },
	{ &transport_class, "appendfile", { "file=x", "create_file=/abs" }, NULL },
	{ &transport_class, "appendfile", { "directory=x", "use_fcntl_lock=false", "use_lockfile=false" },
		"Exim configuration error for x transport:\n  no locking configured" },
	{ &transport_class, "appendfile", { "file=x", "mbx_format=true", "use_fcntl_lock=false" }, NULL },
	{ &transport_class, "lmtp", { NULL },
		"Exim configuration error:\n  one (and only one) of command or socket must be set for the x transport" },
	{ &transport_class, "lmtp", { "command=x", "socket=y" },
		"Exim configuration error:\n  one (and only one) of command or socket must be set for the x transport" },
	{ &transport_class, "lmtp", { "socket=y" }, NULL },
	{ &transport_class, "pipe", { "command=x", "use_shell=true", "restrict_to_path=true" },
		"Exim configuration error:\n  both restrict_to_path and use_shell set for x transport" },
	{ &transport_class, "pipe", { "temp_errors=1:2:*" },
		"Exim configuration error:\n  temp_errors must be a list of numbers or an asterisk for the x transport" },
	{ &transport_class, "pipe", { "temp_errors=75 : x" },
		"Exim configuration error:\n  temp_errors must be a list of numbers or an asterisk for the x transport" },
	{ &transport_class, "pipe", { "temp_errors=*" }, NULL },
	{ &transport_class, "pipe", { "temp_errors=75 : 73 : 1" }, NULL },
	{ &transport_class, "pipe", { "body_only=true", "headers_only=true" },
		"Exim configuration error:\n  x transport: body_only and headers_only are mutually exclusive" },
	{ &transport_class, "smtp", { "protocol=foo" }, NULL },
	{ &transport_class, "queuefile", { NULL },
		"Exim configuration error:\n  directory must be set for the x transport" },
	{ &auth_class, "cram_md5", { NULL },
		"Exim configuration error:\n  no public name specified for the x authenticator" },
	{ &auth_class, "cram_md5", { "server_secret=s" },
		"Exim configuration error:\n  no public name specified for the x authenticator" },
	{ &auth_class, "cram_md5", { "public_name=CRAM-MD5" }, NULL },
	{ &auth_class, "plaintext", { NULL }, NULL },
	{ &auth_class, "spa", { "client_username=x" },
		"Exim configuration error for x authenticator:\n  one of client_username and client_password cannot be set without the other" },
	{ &auth_class, "spa", { "client_username=x", "client_password=y" }, NULL },
};

static void test_checks_match_exim(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct check_case *c = &cases[i];
		fixture f;
		if (!fixture_make(&f, c->cls, c->driver, c->set))
			continue;
		xbuf err;
		xbuf_init(&err, NULL);
		bool ok = driver_instance_check(c->cls, &f.d, fixture_was_set, &f, &err);
		if (c->want == NULL) {
			if (!ok)
				fprintf(stderr, "case %zu (%s): unexpected error: %s\n", i, c->driver, xbuf_cstr(&err));
			CHECK(ok);
		} else {
			CHECK(!ok);
			CHECK_STR(xbuf_cstr(&err), c->want);
		}
		xbuf_free(&err);
	}
}

int main(void)
{
	RUN(test_checks_match_exim);
	return unit_report("test_driver_check");
}
