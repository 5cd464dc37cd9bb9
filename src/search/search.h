/* Lookups: the driver interface and the single wrapper every lookup goes through.
 *
 * Drivers live in src/drivers/lookups/, one file each, and are listed in the registry there
 * (lookup_drivers[]); this layer declares the interface they implement, so the dependency points
 * downward. search_find() owns caching, partial matching (partial-, partialN-, *, *@ defaults),
 * ret=key, taint and quoter checks, and writes one debug trace line per lookup.
 */
#ifndef POSTERN_SEARCH_SEARCH_H
#define POSTERN_SEARCH_SEARCH_H

#include <stdbool.h>
#include <sys/types.h>

#include "lib/str.h"

enum { SEARCH_OK = 0, SEARCH_FAIL = 1, SEARCH_DEFER = 2 };

enum {
	LOOKUP_SINGLEKEY = 1u << 0,   /* key + file */
	LOOKUP_QUERYSTYLE = 1u << 1,  /* query only */
	LOOKUP_ABSFILE = 1u << 2,     /* file must be an absolute path */
	LOOKUP_ABSFILEQUERY = 1u << 3 /* query-style whose query starts with a file name (sqlite) */
};

typedef struct lookup_info {
	const char *name;
	unsigned type;
	/* Open the file/database (filename NULL for query-style); NULL + *errmsg on failure. */
	void *(*open)(const char *filename, xbuf *errmsg);
	/* Optional: check the opened file (type, mode bits in modemask, owner among owners, group
	 * among owngroups; NULL lists are not checked; element 0 of a list is its count, as in
	 * Exim); false + errmsg, and the handle is closed. search_find calls it after each real
	 * open with modemask 0 and no lists, which is how every lookup in Exim 4.96 opens its file,
	 * so only the type check ("... is not a regular file (lsearch lookup)") shows. */
	bool (*check)(void *handle, const char *filename, int modemask, const uid_t *owners,
		const gid_t *owngroups, xbuf *errmsg);
	/* Find key (single-key) or run query; result appended to *result.
	 * opts: the ",opt=..." text after the type name minus generic ones (ret=key), or NULL.
	 * *do_cache: set 0 to prevent caching of this result (e.g. nil/volatile). */
	int (*find)(void *handle, const char *filename, sv key, xbuf *result, xbuf *errmsg,
		unsigned *do_cache, const char *opts);
	void (*close)(void *handle);
	void (*tidy)(void);
	/* ${quote_<name>[_<opt>]:...}; NULL if the lookup has no quoting function. */
	bool (*quote)(sv in, sv opt, xbuf *out, xbuf *errmsg);
	void (*version_report)(xbuf *out); /* one line for -bV / -d */
	/* Optional: load now what the driver would load at its first lookup (a library), so that
	 * the processes a daemon forks inherit it (search_preload_named). */
	void (*preload)(void);
} lookup_info;

extern const lookup_info *const lookup_drivers[]; /* NULL-terminated, sorted by name */

const lookup_info *search_driver(sv name);

/* Run the preload hook of every driver whose name appears in text (the configuration's text:
 * a lookup it may use). Only a cost saving: a driver not preloaded loads at its first use. */
void search_preload_named(const char *text);

/* The checks behind a driver's check callback, for the open file fd: its type must be s_type
 * (S_IFREG or S_IFDIR: "<file> is not a regular file (<type> lookup)" / "... not a directory");
 * no bit of modemask may be set in its mode ("<file> (<type> lookup): file mode 0664 should not
 * contain 0020"); with owners / owngroups (element 0 = count), its owner / group must be listed
 * ("<file> (<type> lookup): file has wrong owner" / "... wrong group"). false + errmsg. */
bool search_check_file(int fd, const char *filename, unsigned s_type, int modemask, const uid_t *owners,
	const gid_t *owngroups, const char *type, xbuf *errmsg);

/* Lookups not built whose ${quote_<name>:} operator Postern still offers (ldap, mysql...):
 * defined in src/drivers/lookups/quote_only.c, NULL-terminated. The quote function has the
 * lookup_info.quote contract; its results carry no quoter id. */
typedef struct lookup_quote_only {
	const char *name;
	bool (*quote)(sv in, sv opt, xbuf *out, xbuf *errmsg);
} lookup_quote_only;
extern const lookup_quote_only lookup_quote_only_table[];
/* The quote-only entry for name, or NULL (also NULL when a built lookup has that name). */
const lookup_quote_only *search_quote_only(sv name);
/* Quoter id of a lookup: its registry index + 1 (0 = none). */
unsigned search_quoter_id(const lookup_info *li);
const lookup_info *search_quoter_driver(unsigned id);

/* A parsed lookup type: "partial2-lsearch*@,ret=key" or "redis,servers=..." */
typedef struct search_spec {
	const lookup_info *li;
	int partial;          /* -1: none; else minimum number of non-wild components */
	const char *affix;    /* partial affix, default "*." */
	bool star, starat;    /* "*" or "*@" default after the type */
	bool ret_key;         /* ",ret=key" */
	const char *opts;     /* other options after the first comma, or NULL */
} search_spec;

/* Parse a type spec; false + Exim's error text in err. */
bool search_spec_parse(sv spec, search_spec *out, xbuf *err);

/* Look up key in file (single-key; filename ignored for query-style, key is the query).
 * Returns SEARCH_OK with the value in *result, SEARCH_FAIL (not found) or SEARCH_DEFER
 * (err set). Taint: a tainted filename is refused; a tainted query must carry this lookup's
 * quoter. The result is tainted. */
int search_find(const search_spec *spec, sv filename, sv key, xbuf *result, xbuf *err);

/* Close cached handles and clear the result cache (end of message / -be line batch). */
void search_tidyup(void);
/* The same between two connections of one process (prog/daemon_reuse.c), and what the last
 * lookup left for its variables. */
void search_reset_connection(void);

/* ---- Additions (h/search) ---- */

/* -bV: "Lookups (built-in): lsearch wildlsearch ...\n" in Exim's order. */
void search_version_report(xbuf *out);

/* For the expansion engine: check ${lookup{key}type{file}} vs ${lookup type{query}} shapes,
 * with Exim's error wording ("missing {key} for single-key ...", "a single key was given ..."). */
bool search_check_style(const search_spec *spec, bool have_key, bool have_file, xbuf *err);
/* For LOOKUP_ABSFILEQUERY types (sqlite): the file from ",file=", else a leading "/file " on the
 * query, else sqlite_dbfile; none: false + "absolute file name expected for ...". */
bool search_split_query_file(const search_spec *spec, sv query, sv *file, sv *rest, xbuf *err);

/* Hooks filled in by higher layers (NULL = not available):
 * search_expand_hook expands a wildlsearch key (0 ok, 1 forced fail, 2 error);
 * search_log_hook receives warnings for the main+panic logs (e.g. an unquoted tainted query,
 * which 4.96 logs and then runs anyway); without it they go to log_write(LOG_MAIN|LOG_PANIC).
 * Wiring needed in the expansion engine: search_expand_hook (wildlsearch keys). */
extern int (*search_expand_hook)(sv in, xbuf *out, xbuf *err);
extern void (*search_log_hook)(const char *msg);
/* Send a lookup warning where search_log_hook says (main+panic log by default). */
void search_log_warning(const char *msg);

/* $lookup_dnssec_authenticated: a DNS-based lookup (dnsdb) calls the setter after each query
 * with "yes" (the answer had the AD bit), "no", or NULL/"" (dnssec_never); the value stays until
 * the next such lookup, as in Exim 4.96 (other lookup types leave it alone). The getter never
 * returns NULL. */
void search_set_dnssec_authenticated(const char *value);
const char *search_dnssec_authenticated(void);

/* After a successful search_find that matched through partial matching, the wild and fixed
 * parts of the key ($1 and $2 in domain lists); both empty otherwise. Valid until the next
 * search_find. */
void search_last_partial(sv *wild, sv *fixed);

/* Notes on search_find (Exim 4.96 behaviour):
 *  - The result is NOT tainted: lookup data comes from files and databases the administrator
 *    controls; Exim marks ${lookup} results untainted (dsearch and ret=key included).
 *  - err holds exactly what Exim prints after "Failed: " for a ${lookup}: open failures and
 *    taint refusals as they are, a driver's DEFER as 'lookup of "<key>" gave DEFER: <why>'.
 *  - For LOOKUP_ABSFILEQUERY types (sqlite) with a NULL filename, the file is split off the
 *    front of the query (or comes from ",file=" / sqlite_dbfile); a tainted query therefore
 *    makes a tainted file name, which is refused, as in 4.96.
 * search_find_list: the same without the 'lookup of ... gave DEFER' wrapping, for list items
 * (whose errors read 'unable to complete match against "<item>": <why>'). */
int search_find_list(const search_spec *spec, sv filename, sv key, xbuf *result, xbuf *err);

/* The value of a numeric main option read through conf_main_value, or dflt if unset. */
long search_main_int(const char *name, long dflt);
/* A time main option (-bP form such as "5s" or "1h30m") in seconds, or dflt if unset/bad. */
long search_main_time(const char *name, long dflt);

#endif
