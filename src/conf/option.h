/* Typed option rows: one declaration per option gives its name, type, storage and -bP printing.
 *
 * A table is a sorted array of opt_row describing one C struct (the main configuration, the generic
 * part of a router/transport/authenticator instance, or a driver's private block). offset is the
 * field's offsetof() in that struct; OPT_ROW checks at compile time that the field's C type is the
 * one the option type stores, so a wrong field type is a compile error, not a silent corruption.
 *
 * Storage per type:
 *   OPT_STRING, OPT_EXPAND_BOOL, OPT_EXPAND_UID, OPT_EXPAND_GID,
 *   OPT_UIDLIST, OPT_GIDLIST, OPT_REWRITE, OPT_FUNC          const char *  (NULL = unset)
 *   OPT_BOOL, OPT_BOOL_VERIFY, OPT_BOOL_SET                   bool
 *   OPT_INT, OPT_MKINT, OPT_OCTINT, OPT_FIXED, OPT_TIME       int
 *   OPT_KINT                                                  long long (K units, 64-bit as in Exim)
 *   OPT_TIMELIST                                              const char * (parsed by the user)
 *   OPT_UID                                                   uid_t
 *   OPT_GID                                                   gid_t
 * The printing rules of each type (-bP) follow Exim 4.96 and live in conf/option_print.c.
 */
#ifndef POSTERN_CONF_OPTION_H
#define POSTERN_CONF_OPTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum opt_type {
	OPT_STRING,      /* string (expanded or not at use, as Exim documents per option) */
	OPT_BOOL,        /* name / no_name / name = true|false|yes|no */
	OPT_BOOL_VERIFY, /* router 'verify': sets verify_sender and verify_recipient */
	OPT_BOOL_SET,    /* bool that also records it was set explicitly */
	OPT_EXPAND_BOOL, /* bool whose value may be an expansion string */
	OPT_INT,         /* integer: decimal, 0x hex, leading-0 octal, K/M/G suffix */
	OPT_MKINT,       /* integer printed with K/M suffix when exact (e.g. 100K) */
	OPT_KINT,        /* 64-bit integer held in K units (K/M/G/T suffixes) */
	OPT_OCTINT,      /* integer printed in octal (file modes) */
	OPT_FIXED,       /* fixed-point, 3 decimals, stored times 1000 */
	OPT_TIME,        /* time interval in seconds: 1w2d3h4m5s */
	OPT_TIMELIST,    /* colon-separated list of times */
	OPT_UID,         /* user name or number, resolved at load */
	OPT_GID,         /* group name or number */
	OPT_UIDLIST,     /* list of users */
	OPT_GIDLIST,     /* list of groups */
	OPT_EXPAND_UID,  /* user, possibly an expansion */
	OPT_EXPAND_GID,  /* group, possibly an expansion */
	OPT_REWRITE,     /* rewrite rules (transport headers_rewrite) */
	OPT_FUNC,        /* custom parser; stored as the raw string */
	OPT__COUNT
} opt_type;

enum {
	OPTF_SECURE = 1u << 0,  /* value never displayed by -bP (like Exim's opt_secure) */
	OPTF_PUBLIC = 1u << 1,  /* driver option stored in the generic instance block */
	OPTF_HIDDEN = 1u << 2,  /* not listed by -bP all (obsolete synonyms) */
	OPTF_DEPRECATED = 1u << 3,
};

typedef struct opt_row {
	const char *name;
	uint16_t type;
	uint16_t flags;
	uint32_t offset;
} opt_row;

/* Compile-time check that field f of struct s has the C type that option type t stores. */
#define OPT__STORES(t, s, f)                                                                   \
	_Generic(((s *)0)->f,                                                                      \
		const char *: ((t) == OPT_STRING || (t) == OPT_EXPAND_BOOL || (t) == OPT_EXPAND_UID ||  \
			(t) == OPT_EXPAND_GID || (t) == OPT_UIDLIST || (t) == OPT_GIDLIST ||                \
			(t) == OPT_REWRITE || (t) == OPT_FUNC || (t) == OPT_TIMELIST),                      \
		bool: ((t) == OPT_BOOL || (t) == OPT_BOOL_VERIFY || (t) == OPT_BOOL_SET),              \
		int: ((t) == OPT_INT || (t) == OPT_MKINT || (t) == OPT_OCTINT ||                         \
			(t) == OPT_FIXED || (t) == OPT_TIME),                                               \
		long long: ((t) == OPT_KINT),                                                          \
		uid_t: ((t) == OPT_UID || (t) == OPT_GID),                                             \
		default: 0)

#define OPT_ROW(name, t, flags, s, f)                                                          \
	{ name, t, flags, (uint32_t)(offsetof(s, f) + 0 * sizeof(char[OPT__STORES(t, s, f) ? 1 : -1])) }

/* Find an option in a sorted table (binary search); NULL if absent. */
const opt_row *opt_find(const opt_row *table, size_t n, const char *name);

#endif
