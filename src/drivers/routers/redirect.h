/* redirect router: private options (Exim 4.96 "The redirect router"). */
#ifndef POSTERN_DRIVERS_ROUTERS_REDIRECT_H
#define POSTERN_DRIVERS_ROUTERS_REDIRECT_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct redirect_router_options {
	bool allow_defer;
	bool allow_fail;
	bool allow_filter;
	bool allow_freeze;
	bool check_ancestor;
	bool check_group;
	bool check_owner;
	const char *data;
	const char *directory_transport;
	const char *file;
	const char *file_transport;
	bool filter_prepend_home;
	bool forbid_blackhole;
	bool forbid_exim_filter;
	bool forbid_file;
	bool forbid_filter_dlfunc;
	bool forbid_filter_existstest;
	bool forbid_filter_logwrite;
	bool forbid_filter_lookup;
	bool forbid_filter_perl;
	bool forbid_filter_readfile;
	bool forbid_filter_readsocket;
	bool forbid_filter_reply;
	bool forbid_filter_run;
	bool forbid_include;
	bool forbid_pipe;
	bool forbid_sieve_filter;
	bool forbid_smtp_code;
	bool hide_child_in_errmsg;
	bool ignore_eacces;
	bool ignore_enotdir;
	const char *include_directory;
	int modemask;
	bool one_time;
	const char *owners;  /* user list (OPT_UIDLIST), raw text */
	const char *owngroups;  /* group list (OPT_GIDLIST), raw text */
	const char *pipe_transport;
	const char *qualify_domain;
	bool qualify_preserve_domain;
	bool repeat_use;
	const char *reply_transport;
	bool rewrite;
	const char *sieve_enotify_mailto_owner;
	const char *sieve_subaddress;
	const char *sieve_useraddress;
	const char *sieve_vacation_directory;
	bool skip_syntax_errors;
	const char *srs;  /* libsrs_alt SRS (EXPERIMENTAL_SRS, pre-4.96 builds) */
	const char *srs_alias;  /* libsrs_alt SRS (EXPERIMENTAL_SRS, pre-4.96 builds) */
	const char *srs_condition;  /* libsrs_alt SRS (EXPERIMENTAL_SRS, pre-4.96 builds) */
	const char *srs_dbinsert;  /* libsrs_alt SRS (EXPERIMENTAL_SRS, pre-4.96 builds) */
	const char *srs_dbselect;  /* libsrs_alt SRS (EXPERIMENTAL_SRS, pre-4.96 builds) */
	const char *syntax_errors_text;
	const char *syntax_errors_to;
};

extern const driver_info redirect_router_info;

#endif
