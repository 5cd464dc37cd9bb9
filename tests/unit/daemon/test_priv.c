/* priv: uid/gid list membership (numbers and names) and the trusted/admin rules. */
#include "../unit.h"

#include <unistd.h>

#include "conf/main_options.h"
#include "core/priv.h"
#include "lib/arena.h"

static void test_lists(void)
{
	CHECK(priv_uid_in_list("0", 0));
	CHECK(priv_uid_in_list("root", 0));
	CHECK(priv_uid_in_list("daemon : root", 0));
	CHECK(priv_uid_in_list("<; 1 ; mail", 8));
	CHECK(!priv_uid_in_list("mail", 0));
	CHECK(!priv_uid_in_list("no-such-user-here", 0));
	CHECK(!priv_uid_in_list(NULL, 0));
	CHECK(!priv_uid_in_list("", 0));
	CHECK(priv_gid_in_list("mail", 8));
	CHECK(priv_gid_in_list("12 : 8", 8));
	CHECK(!priv_gid_in_list("root", 8));
}

static void test_trust_rules(void)
{
	conf_main.exim_user = 8;
	conf_main.exim_group = 8;
	conf_main.trusted_users = "daemon";   /* uid 1 on Debian */
	conf_main.trusted_groups = "4321";
	conf_main.admin_groups = "adm";      /* gid 4 */
	conf_main.never_users = "root";
	CHECK(priv_is_trusted(0, 0, NULL, 0));
	CHECK(priv_is_trusted(8, 100, NULL, 0));
	CHECK(priv_is_trusted(1, 1, NULL, 0));
	CHECK(!priv_is_trusted(1000, 1000, NULL, 0));
	gid_t groups[] = { 5, 4321 };
	CHECK(priv_is_trusted(1000, 1000, groups, 2));
	CHECK(priv_is_trusted(1000, 4321, NULL, 0));
	CHECK(!priv_is_admin(1000, 1000, groups, 2));
	gid_t adm[] = { 4 };
	CHECK(priv_is_admin(1000, 1000, adm, 1));
	CHECK(priv_is_admin(8, 8, NULL, 0));
	CHECK(priv_is_never_user(0));
	CHECK(!priv_is_never_user(8));
	CHECK_INT(priv_exim_uid(), 8);
	CHECK_INT(priv_exim_gid(), 8);
}

static void test_drop_when_not_root(void)
{
	/* As a non-root user other than the exim user there is nothing to drop to: refused. */
	if (priv_is_root())
		return;
	conf_main.exim_user = getuid() + 1;
	xbuf err;
	xbuf_init(&err, NULL);
	CHECK(!priv_drop_to_exim(&err));
	CHECK(err.len > 0);
	xbuf_free(&err);
}

int main(void)
{
	arena_init_pools();
	RUN(test_lists);
	RUN(test_trust_rules);
	RUN(test_drop_when_not_root);
	return unit_report("test_priv");
}
