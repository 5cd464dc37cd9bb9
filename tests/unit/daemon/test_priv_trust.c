/* priv_trust: which -C and -D Exim 4.96 would keep root for, and priv_can_become. */
#include "../unit.h"

#include <stdlib.h>
#include <unistd.h>

#include "conf/build_paths.h"
#include "conf/main_options.h"
#include "core/priv.h"
#include "core/priv_reexec.h"
#include "core/priv_trust.h"
#include "lib/arena.h"

static const char *untrusted(const char *conf, const conf_define *d, size_t n)
{
	priv_trust_set(conf, d, n);
	return priv_untrusted_option();
}

static void test_config_and_defines(void)
{
	CHECK(untrusted(NULL, NULL, 0) == NULL);
	CHECK(untrusted(POSTERN_CONFIGURE_FILE, NULL, 0) == NULL);
	CHECK_STR(untrusted("/tmp/no/such/trusted.conf", NULL, 0), "-C");
	CHECK_STR(untrusted("relative.conf", NULL, 0), "-C");
	/* A file named like the list's entries but given relative never matches it. */
	conf_define ok[] = { { "OUTGOING", "smarthost.example/x-1_2" } };
	CHECK(untrusted(NULL, ok, 1) == NULL);
	conf_define empty[] = { { "OUTGOING", NULL } };
	CHECK(untrusted(NULL, empty, 1) == NULL);
	conf_define spaced[] = { { "OUTGOING", "a b" } };
	CHECK_STR(untrusted(NULL, spaced, 1), "-D");
	conf_define dollar[] = { { "OUTGOING", "$tod_log" } };
	CHECK_STR(untrusted(NULL, dollar, 1), "-D");
	conf_define other[] = { { "OUTGOING", "x" }, { "SPOOL", "/tmp" } };
	CHECK_STR(untrusted(NULL, other, 2), "-D");
	conf_define prefix[] = { { "OUTGOINGX", "x" } };
	CHECK_STR(untrusted(NULL, prefix, 1), "-D");
	/* Exim names -C when both apply. */
	CHECK_STR(untrusted("/tmp/x.conf", other, 2), "-C");
	const conf_define *got;
	priv_trust_set("/tmp/x.conf", other, 2);
	CHECK_INT(priv_trust_defines(&got), 2);
	CHECK(got == other);
	CHECK_STR(priv_trust_config_arg(), "/tmp/x.conf");
}

static void test_lost_privilege(void)
{
	/* Only the exim user loses privilege, and not with deliver_drop_privilege. */
	conf_main.exim_user = getuid();
	conf_main.exim_group = getgid();
	conf_main.deliver_drop_privilege = false;
	priv_trust_set("/tmp/x.conf", NULL, 0);
	CHECK(priv_lost_privilege() == (getuid() != 0));
	conf_main.deliver_drop_privilege = true;
	CHECK(!priv_lost_privilege());
	CHECK(!priv_reexec_wanted());
	conf_main.deliver_drop_privilege = false;
	priv_trust_set(NULL, NULL, 0);
	CHECK(!priv_lost_privilege());
	CHECK(!priv_reexec_wanted());
	conf_main.exim_user = getuid() + 1;
	priv_trust_set("/tmp/x.conf", NULL, 0);
	CHECK(priv_reexec_wanted() == priv_is_root());
}

static void test_can_become(void)
{
	CHECK(priv_can_become(geteuid(), getegid()));
	if (!priv_is_root())
		CHECK(!priv_can_become(geteuid() + 1, getegid()));
	else
		CHECK(priv_can_become(65534, 65534));
}

int main(void)
{
	arena_init_pools();
	unsetenv("POSTERN_TEST_TRUST_CONFIG");   /* the scenario tests' aid must not apply here */
	RUN(test_config_and_defines);
	RUN(test_lost_privilege);
	RUN(test_can_become);
	return unit_report("test_priv_trust");
}
