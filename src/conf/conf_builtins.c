/* Builtin macros: what this build supports, so configurations can test it with .ifdef.
 *
 * Exim 4.96 classes (its manual, "Builtin macros"): _HAVE_* build features, _DRIVER_<CLASS>_<NAME>
 * per driver, _OPT_MAIN_<OPTION>, _OPT_ROUTERS_/_OPT_TRANSPORTS_/_OPT_AUTHENTICATORS_<OPTION> for
 * generic options, _OPT_ROUTER_<DRIVER>_<OPTION> (etc.) for private ones, _LOG_<SELECTOR>,
 * _ACL_COND_/_ACL_MOD_<NAME>, and _RESUME_DECODE. Option and driver macros are generated from the
 * option tables so they can never disagree with what the reader accepts. Values are "y" except
 * _RESUME_DECODE, the list describing each $tls_in_resumption value.
 */
#include "conf/conf_internal.h"

#include <ctype.h>
#include <string.h>

#include "build_config.h"
#include "conf/main_options.h"
#include "lib/logsel.h"

/* Features Postern implements or accepts in configuration (the seed feature set and the core).
 * Lookup macros follow src/drivers/lookups/meson.build: always-built ones here, optional ones
 * under the build_config.h switches below. */
static const char *const have_features[] = {
	"_HAVE_ARC", "_HAVE_BRIGHTMAIL", "_HAVE_DCC", "_HAVE_DSN_INFO", "_HAVE_EVENT", "_HAVE_IPV6",
	"_HAVE_NATIVE_SRS", "_HAVE_OCSP", "_HAVE_PRDR", "_HAVE_PROXY", "_HAVE_SPF", "_HAVE_SRS", "_HAVE_TLS",
	"_HAVE_TLS_OCSP", "_HAVE_TLS_OCSP_LIST", "_HAVE_TLS_RESUME", "_HAVE_TLS_ALPN", "_HAVE_TLS1_3",
	"_HAVE_TRANSPORT_APPEND_MAILDIR", "_HAVE_TRANSPORT_APPEND_MAILSTORE", "_HAVE_TRANSPORT_APPEND_MBX",
	"_HAVE_LOOKUP_CDB", "_HAVE_LOOKUP_DSEARCH", "_HAVE_LOOKUP_LSEARCH", "_HAVE_LOOKUP_PASSWD",
	"_EXP_ARC", "_EXP_BMI", "_EXP_DCC", "_EXP_DSNI", "_EXP_QUEUEFILE",
};


static const char *const acl_names[] = {
	"COND_ACL", "COND_AUTHENTICATED", "COND_CONDITION", "COND_DCC", "COND_DECODE", "COND_DNSLISTS",
	"COND_DOMAINS", "COND_ENCRYPTED", "COND_HOSTS", "COND_LOCAL_PARTS", "COND_MALWARE",
	"COND_MIME_REGEX", "COND_RATELIMIT", "COND_RECIPIENTS", "COND_REGEX", "COND_SEEN",
	"COND_SENDER_DOMAINS", "COND_SENDERS", "COND_SPAM", "COND_SPF", "COND_SPF_GUESS", "COND_VERIFY",
	"MOD_ADD_HEADER", "MOD_BMI_OPTIN", "MOD_CONTINUE", "MOD_CONTROL", "MOD_DELAY", "MOD_ENDPASS",
	"MOD_LOG_MESSAGE", "MOD_LOG_REJECT_TARGET", "MOD_LOGWRITE", "MOD_MESSAGE", "MOD_QUEUE",
	"MOD_REMOVE_HEADER", "MOD_SET", "MOD_UDPSEND",
};

/* Element k (1-based) describes $tls_in_resumption == k; impossible values hold their hex. */
static const char resume_decode[] =
	"not requested or offered : 0x02 :client requested, no server ticket: 0x04 : 0x05 : 0x06 :"
	"client offered session, no server action: 0x08 :no client request: 0x0A :"
	"client requested new ticket, server provided: 0x0C :client offered session, not used: 0x0E :"
	"client offered session, server only provided new ticket: 0x10 :session resumed unasked: 0x12 :"
	"session resumed unasked: 0x14 : 0x15 : 0x16 :session resumed: 0x18 :session resumed unasked: 0x1A :"
	"session resumed unasked: 0x1C :session resumed: 0x1E :session resumed, also new ticket";

static void add_upper(xbuf *b, const char *s)
{
	for (; *s; s++)
		xbuf_putc(b, (char)toupper((unsigned char)*s));
}

static void add_rows(const char *prefix, const opt_row *rows, size_t n)
{
	xbuf b;
	xbuf_init(&b, NULL);
	for (size_t i = 0; i < n; i++) {
		if (!isalpha((unsigned char)rows[i].name[0]))
			continue;  /* internal pseudo-options */
		xbuf_reset(&b);
		xbuf_puts(&b, prefix);
		add_upper(&b, rows[i].name);
		conf_builtin_macro(arena_strdup(pool_config, xbuf_cstr(&b)), NULL);
	}
	xbuf_free(&b);
}

static void add_class(const driver_class *cls, const char *generic_prefix, const char *kind_upper)
{
	if (!cls)
		return;
	add_rows(generic_prefix, cls->generic, cls->ngeneric);
	xbuf b;
	xbuf_init(&b, NULL);
	for (const driver_info *const *d = cls->drivers; d && *d; d++) {
		xbuf_reset(&b);
		xbuf_printf(&b, "_DRIVER_%s_", kind_upper);
		add_upper(&b, (*d)->name);
		conf_builtin_macro(arena_strdup(pool_config, xbuf_cstr(&b)), NULL);
		xbuf_reset(&b);
		xbuf_printf(&b, "_OPT_%s_", kind_upper);
		add_upper(&b, (*d)->name);
		xbuf_putc(&b, '_');
		add_rows(arena_strdup(pool_config, xbuf_cstr(&b)), (*d)->options, (*d)->noptions);
	}
	xbuf_free(&b);
}

void conf_macros_add_builtins(void)
{
	for (size_t i = 0; i < sizeof have_features / sizeof have_features[0]; i++)
		conf_builtin_macro(have_features[i], NULL);
#if SUPPORT_OPENSSL
	conf_builtin_macro("_HAVE_OPENSSL", NULL);
#endif
#if LOOKUP_LMDB
	conf_builtin_macro("_HAVE_LMDB", NULL);
	conf_builtin_macro("_HAVE_LOOKUP_LMDB", NULL);
#endif
#if LOOKUP_REDIS
	conf_builtin_macro("_HAVE_LOOKUP_REDIS", NULL);
#endif
#if LOOKUP_SQLITE
	conf_builtin_macro("_HAVE_LOOKUP_SQLITE", NULL);
#endif
#if LOOKUP_PGSQL
	conf_builtin_macro("_HAVE_LOOKUP_PGSQL", NULL);
#endif
#if LOOKUP_DBM
	conf_builtin_macro("_HAVE_LOOKUP_DBM", NULL);
#endif
#if LOOKUP_JSON
	conf_builtin_macro("_HAVE_LOOKUP_JSON", NULL);
#endif
	conf_builtin_macro("_RESUME_DECODE", resume_decode);
	xbuf b;
	xbuf_init(&b, NULL);
	/* one per log_selector name (lib/logsel.h is the list), plus _LOG_ALL */
	for (int i = 0; i <= LS__COUNT; i++) {
		xbuf_reset(&b);
		xbuf_puts(&b, "_LOG_");
		add_upper(&b, i < LS__COUNT ? logsel_name((logsel_id)i) : "all");
		conf_builtin_macro(arena_strdup(pool_config, xbuf_cstr(&b)), NULL);
	}
	for (size_t i = 0; i < sizeof acl_names / sizeof acl_names[0]; i++) {
		xbuf_reset(&b);
		xbuf_printf(&b, "_ACL_%s", acl_names[i]);
		conf_builtin_macro(arena_strdup(pool_config, xbuf_cstr(&b)), NULL);
	}
	xbuf_free(&b);
	add_rows("_OPT_MAIN_", main_option_rows, main_option_count);
	add_class(conf_class_for_section("routers"), "_OPT_ROUTERS_", "ROUTER");
	add_class(conf_class_for_section("transports"), "_OPT_TRANSPORTS_", "TRANSPORT");
	add_class(conf_class_for_section("authenticators"), "_OPT_AUTHENTICATORS_", "AUTHENTICATOR");
}
