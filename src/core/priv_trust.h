/* Whether the configuration this process runs with is one Exim 4.96 would keep root for.
 *
 * Exim keeps its privilege for a -C configuration only when the caller is root, or when the file
 * is listed in its TRUSTED_CONFIG_LIST; for -D only when the caller is root, or when every macro
 * is in WHITELIST_D_MACROS with a plain value. A process it re-executes for a delivery (-Mc) is
 * called by the exim user, so after a reception by root with an untrusted -C or -D the delivery
 * runs without root. Postern is not set-uid: the caller's uid is what it has. What this module
 * keeps is the trust question, so that a root process can hand such deliveries to a process
 * running as the exim user (priv_reexec.h) as Exim's re-execution does. */
#ifndef POSTERN_CORE_PRIV_TRUST_H
#define POSTERN_CORE_PRIV_TRUST_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

/* Debian's build values (exim -d -bV prints them). The list file holds full path names, one a
 * line; it counts only when root owns it and neither group nor others may write it. */
#define PRIV_TRUSTED_CONFIG_LIST "/etc/postern/trusted_configs"
#define PRIV_WHITELIST_D_MACROS "OUTGOING"

/* Record the command line's -C argument (NULL: none) and -D definitions. Called once at start,
 * before anything asks; the strings must live as long as the process. */
void priv_trust_set(const char *config_arg, const conf_define *defines, size_t ndefines);

/* "-C" when -C names a configuration other than the built-in list that is not trusted, else
 * "-D" when a -D definition is not whitelisted, else NULL (the configuration is trusted). Exim
 * names -C first when both apply. */
const char *priv_untrusted_option(void);

/* This process runs as the exim user with an untrusted -C or -D and deliver_drop_privilege is
 * not set: Exim writes "exim user lost privilege for using -C option" (or -D) to the main and
 * panic logs at the start of every such process, including the ones it runs again for a
 * delivery and for each message it makes itself (bounces, autoreplies). */
bool priv_lost_privilege(void);
/* Write that line (the caller has set up the logs). */
void priv_note_lost_privilege(void);

/* The caller is neither root nor the exim user and the -C or -D is untrusted (for such a caller
 * a -C in the trusted list too: Exim reads the list for root and the exim user only): Exim 4.96 runs
 * as that caller, writes its log lines to stderr only (no log file is opened) and cannot give
 * the spool files it makes to the exim user, so a message is refused (observed: "Failed setting
 * ownership on spool file ...", or "Failed to create spool file ...: Permission denied" when the
 * spool is not the caller's to write; status 1). Postern does the same. */
bool priv_caller_lacks_trust(void);

/* A test aid (tests/scenario/conftest.py sets POSTERN_TEST_TRUST_CONFIG=1), as Exim's test suite
 * lists its -C file as trusted: a root caller keeps root for its receptions and deliveries
 * (priv_reexec.h), and another caller's message is not refused for the -C. It grants no
 * privilege: it only withholds a drop from a process that is root already, and a caller that
 * is not root writes the spool as itself either way. */
bool priv_trust_test_aid(void);

/* The -C argument and -D definitions recorded, for running this program again with them. */
const char *priv_trust_config_arg(void);
size_t priv_trust_defines(const conf_define **defines);

#endif
