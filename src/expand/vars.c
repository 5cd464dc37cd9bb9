/* Expansion variables: providers first (later layers), then registered tables, then the built-in
 * table of variables that make sense without a message or connection (as in -be), then the
 * prefix families ($acl_c*, $acl_m*, $auth<n>, $regex<n>, $r_*). Names Exim knows but that only
 * have values during a message or connection are known and empty here.
 */
#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "build_config.h"
#include "conf/conf.h"
#include "conf/main_options.h"
#include "expand/ops/ops.h"
#include "expand/xp_internal.h"
#include "lib/caller_id.h"
#include "lib/initial_cwd.h"
#include "lib/timefmt.h"
#include "search/search.h"

static void put_decoded(xp_env *env, sv t, xbuf *out);

/* ---- process facts ---- */

static const char *proc_exim_path, *proc_config_file;

void xp_set_process_info(const char *exim_path, const char *config_file)
{
	proc_exim_path = exim_path;
	proc_config_file = config_file;
}

/* ---- getters ---- */

#define GETTER(fn) static void fn(xp_env *env, const xp_var_def *def, xbuf *out)

static const char *primary_hostname(void)
{
	const char *h = conf_main_string("primary_hostname");
	if (h && *h)
		return h;
	static char name[256];
	if (!name[0]) {
		struct utsname u;
		if (uname(&u) == 0)
			snprintf(name, sizeof name, "%s", u.nodename);
	}
	return name;
}

static const char *qualify_domain(void)
{
	const char *q = conf_main_string("qualify_domain");
	return q && *q ? q : primary_hostname();
}

static const char *caller_login(void)
{
	static char login[64];
	if (!login[0]) {
		struct passwd *pw = getpwuid(caller_id_uid());
		snprintf(login, sizeof login, "%s", pw ? pw->pw_name : "unknown");
	}
	return login;
}

GETTER(v_primary_hostname) { xbuf_puts(out, primary_hostname()); }
GETTER(v_qualify_domain) { xbuf_puts(out, qualify_domain()); }
GETTER(v_qualify_recipient)
{
	const char *q = conf_main_string("qualify_recipient");
	xbuf_puts(out, q && *q ? q : qualify_domain());
}
GETTER(v_caller_login) { xbuf_puts(out, caller_login()); }
GETTER(v_sender_address) { xbuf_printf(out, "%s@%s", caller_login(), qualify_domain()); }
GETTER(v_pid) { xbuf_printf(out, "%ld", (long)getpid()); }
GETTER(v_uid) { xbuf_printf(out, "%lu", (unsigned long)caller_id_uid()); }
GETTER(v_gid) { xbuf_printf(out, "%lu", (unsigned long)caller_id_gid()); }
GETTER(v_config_file) { xbuf_puts(out, proc_config_file ? proc_config_file : conf_file_name()); }
GETTER(v_config_dir)
{
	/* As Exim: the directory part of the file name, made absolute with the current directory
	 * when relative (so "t.conf" gives "<cwd>/" and "../x/t.conf" gives "<cwd>/../x"). */
	const char *f = proc_config_file ? proc_config_file : conf_file_name();
	if (!f || !*f)
		return;
	const char *slash = strrchr(f, '/');
	if (f[0] != '/') {
		const char *cwd = initial_cwd();
		xbuf_printf(out, "%s%s", cwd, cwd[0] && cwd[strlen(cwd) - 1] == '/' ? "" : "/");
	}
	if (slash)
		xbuf_put(out, f, (size_t)(slash - f));
}
GETTER(v_exim_path)
{
	/* The binary's own absolute path (Exim shows its configured install path). */
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	if (n > 0)
		xbuf_put(out, buf, (size_t)n);
	else
		xbuf_puts(out, proc_exim_path ? proc_exim_path : "/usr/sbin/postern");
}
/* The configured exim_user/exim_group (the loader fills in the build defaults when unset). */
GETTER(v_exim_uid)
{
	uid_t u = conf_main.exim_user;
	xbuf_printf(out, "%lu", (unsigned long)(u != POSTERN_UNSET_ID ? u : getuid()));
}
GETTER(v_exim_gid)
{
	gid_t g = conf_main.exim_group;
	xbuf_printf(out, "%lu", (unsigned long)(g != (gid_t)POSTERN_UNSET_ID ? g : getgid()));
}
/* Added (rcvleft): asked of the daemon over its notifier socket (prog/daemon_notify.c). */
void (*xp_queue_size_source)(xbuf *out);
GETTER(v_queue_size)
{
	(void)env;
	(void)def;
	if (xp_queue_size_source)
		xp_queue_size_source(out);
}
GETTER(v_version) { xbuf_puts(out, EXIM_COMPAT_VERSION); }
GETTER(v_compile_date) { xbuf_puts(out, __DATE__ " " __TIME__); }
GETTER(v_initial_cwd)
{
	xbuf_puts(out, initial_cwd());
}
GETTER(v_spool_directory)
{
	const char *s = conf_main_string("spool_directory");
	xbuf_puts(out, s ? s : "/var/spool/postern");
}
GETTER(v_main_option)
{
	/* Variables that show a size option's value as a plain number (-bP shows "100K"). */
	xbuf v;
	xbuf_init(&v, env->a);
	if (!conf_main_value(def->name, &v)) {
		if (def->fixed)
			xbuf_puts(out, def->fixed);
		return;
	}
	long long n;
	sv t = xbuf_sv(&v);
	if (t.len > 1 && strchr("KkMmGg", t.p[t.len - 1]) && sv_to_long(sv_sub(t, 0, t.len - 1), &n)) {
		char m = (char)tolower((unsigned char)t.p[t.len - 1]);
		n *= m == 'k' ? 1024 : m == 'm' ? 1024 * 1024 : 1024 * 1024 * 1024;
		xbuf_printf(out, "%lld", n);
	} else {
		xbuf_putsv(out, t);
	}
}
GETTER(v_smtp_active_hostname)
{
	const char *h = conf_main_string("smtp_active_hostname");
	xbuf_puts(out, h && *h ? h : primary_hostname());
}
GETTER(v_load_average)
{
	double l[1];
	xbuf_printf(out, "%d", getloadavg(l, 1) == 1 ? (int)(l[0] * 1000.0) : -1);
}
static void fs_space(const char *dir, bool inodes, xbuf *out)
{
	struct statvfs st;
	if (!dir || statvfs(dir, &st) != 0) {
		xbuf_puts(out, "-1");
		return;
	}
	if (inodes)
		xbuf_printf(out, "%llu", (unsigned long long)st.f_favail);
	else
		xbuf_printf(out, "%llu", (unsigned long long)st.f_bavail * st.f_frsize / 1024);
}
GETTER(v_spool_space) { fs_space(conf_main_string("spool_directory") ?: "/var/spool", false, out); }
GETTER(v_spool_inodes) { fs_space(conf_main_string("spool_directory") ?: "/var/spool", true, out); }
GETTER(v_log_space) { fs_space("/var/log", false, out); }
/* Set by the last DNS-based lookup (dnsdb), kept across other lookups and expansions as in
 * Exim 4.96: "yes", "no", or empty (none yet, or dnssec_never). */
GETTER(v_lookup_dnssec_authenticated) { xbuf_puts(out, search_dnssec_authenticated()); }
GETTER(v_log_inodes) { fs_space("/var/log", true, out); }
GETTER(v_value) { xbuf_putsv(out, env->value); }
GETTER(v_item) { xbuf_putsv(out, env->item); }
GETTER(v_runrc) { xbuf_printf(out, "%d", env->runrc); }

/* Time of day in Exim's formats (lib/timefmt). */
static void tod(const char *which, xbuf *out)
{
	static const struct { const char *name; tod_format f; } t[] = {
		{ "tod_bsdinbox", TOD_BSDINBOX }, { "tod_epoch", TOD_EPOCH }, { "tod_epoch_l", TOD_EPOCH_L },
		{ "tod_full", TOD_FULL }, { "tod_log", TOD_LOG }, { "tod_logfile", TOD_LOGFILE },
		{ "tod_zone", TOD_ZONE }, { "tod_zulu", TOD_ZULU },
	};
	struct timeval tv;
	gettimeofday(&tv, NULL);
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (!strcmp(which, t[i].name))
			tod_format_time(t[i].f, tv.tv_sec, (long)tv.tv_usec, out);
}
GETTER(v_tod) { tod(def->name, out); }

/* Message variables from env->msg (empty without a message). */
/* message_body_visible: how much of the body $message_body and $message_body_end show. */
static size_t body_visible(xp_env *env)
{
	xbuf v;
	xbuf_init(&v, env->a);
	long long n;
	if (conf_main_value("message_body_visible", &v) && sv_to_long(xbuf_sv(&v), &n) && n >= 0)
		return (size_t)n;
	return 500;
}

GETTER(v_message_body)
{
	if (!env->msg)
		return;
	/* $message_body: the first message_body_visible characters, newlines as spaces. */
	sv b = env->msg->body;
	size_t vis = body_visible(env), n = b.len < vis ? b.len : vis;
	size_t st = out->len;
	xbuf_put(out, b.p, n);
	for (size_t i = st; i < out->len; i++)
		if (out->p[i] == '\n')
			out->p[i] = ' ';
	/* Tainted, unlike Exim 4.96 (which lets ${expand:$message_body} through): the body comes
	 * from the sender, and expanding it would run whatever items it contains. */
	out->taint = 1;
}
GETTER(v_message_body_end)
{
	if (!env->msg)
		return;
	sv b = env->msg->body;
	size_t vis = body_visible(env), n = b.len < vis ? b.len : vis;
	size_t st = out->len;
	xbuf_put(out, b.p + b.len - n, n);
	for (size_t i = st; i < out->len; i++)
		if (out->p[i] == '\n')
			out->p[i] = ' ';
	/* Tainted, unlike Exim 4.96 (which lets ${expand:$message_body} through): the body comes
	 * from the sender, and expanding it would run whatever items it contains. */
	out->taint = 1;
}
GETTER(v_message_headers)
{
	if (!env->msg)
		return;
	bool raw = !strcmp(def->name, "message_headers_raw");
	for (size_t i = 0; i < env->msg->nheaders; i++) {
		const xp_header *h = &env->msg->headers[i];
		if (raw) {
			/* raw: the header lines exactly, each with its newline */
			xbuf_putsv(out, h->name);
			xbuf_putc(out, ':');
			xbuf_putsv(out, h->text);
			continue;
		}
		if (i)
			xbuf_putc(out, '\n');
		xbuf_putsv(out, h->name);
		xbuf_putc(out, ':');
		sv t = h->text;
		if (t.len && t.p[t.len - 1] == '\n')
			t.len--;
		put_decoded(env, t, out);
	}
	out->taint = 1;
}
/* $reply_address: Reply-To: if present and not empty, else From:, trimmed, not decoded. */
GETTER(v_reply_address)
{
	if (!env->msg)
		return;
	xbuf v;
	xbuf_init(&v, env->a);
	bool exists;
	xp_header_get(env, H_BODY_RAWTRIM, SV_LIT("reply-to"), &v, &exists);
	if (!v.len)
		xp_header_get(env, H_BODY_RAWTRIM, SV_LIT("from"), &v, &exists);
	xbuf_putsv(out, xbuf_sv(&v));
}

GETTER(v_message_number)
{
	long long v = 0;
	if (env->msg) {
		if (!strcmp(def->name, "body_linecount"))
			v = env->msg->body_linecount;
		else if (!strcmp(def->name, "message_linecount"))
			v = env->msg->message_linecount;
		else if (!strcmp(def->name, "body_zerocount"))
			v = env->msg->body_zerocount;
		else if (!strcmp(def->name, "message_size"))
			v = env->msg->size;
		else if (!strcmp(def->name, "message_body_size"))
			v = (long long)env->msg->body.len;
		else if (!strcmp(def->name, "max_received_linelength"))
			v = env->msg->max_linelength;
	}
	xbuf_printf(out, "%lld", v);
}

/* ---- the built-in table ---- */

#define EMPTY(n) { n, NULL, NULL }
#define FIXED(n, v) { n, NULL, v }
#define FN(n, f) { n, f, NULL }

static xp_var_def builtin[] = {
	FIXED("acl_narg", "0"), EMPTY("acl_verify_message"), EMPTY("address_data"),
	EMPTY("address_file"), EMPTY("address_pipe"), EMPTY("authenticated_fail_id"),
	FN("authenticated_id", v_caller_login), FN("authenticated_sender", v_sender_address),
	FIXED("authentication_failed", "0"), FIXED("av_failed", "0"), FN("body_linecount", v_message_number),
	FN("body_zerocount", v_message_number), EMPTY("bounce_recipient"),
	{ "bounce_return_size_limit", v_main_option, "102400" }, FN("caller_gid", v_gid),
	FN("caller_uid", v_uid), EMPTY("callout_address"), FIXED("compile_number", "1"),
	FN("compile_date", v_compile_date), FN("config_dir", v_config_dir), FN("config_file", v_config_file),
	EMPTY("csa_status"), EMPTY("dkim_algo"), FIXED("dkim_bodylength", "9999999999999"),
	EMPTY("dkim_canon_body"), EMPTY("dkim_canon_headers"), EMPTY("dkim_copiedheaders"),
	FIXED("dkim_created", "0"), EMPTY("dkim_cur_signer"), EMPTY("dkim_domain"),
	FIXED("dkim_expires", "9999999999999"), EMPTY("dkim_headernames"), EMPTY("dkim_identity"),
	FIXED("dkim_key_granularity", "*"), FIXED("dkim_key_length", "0"), EMPTY("dkim_key_notes"),
	FIXED("dkim_key_nosubdomains", "0"), FIXED("dkim_key_srvtype", "*"), FIXED("dkim_key_testing", "0"),
	EMPTY("dkim_selector"), EMPTY("dkim_signers"), EMPTY("dkim_verify_reason"), EMPTY("dkim_verify_status"),
	EMPTY("dnslist_domain"), EMPTY("dnslist_matched"), EMPTY("dnslist_text"), EMPTY("dnslist_value"),
	EMPTY("domain"), EMPTY("domain_data"), EMPTY("event_data"), FIXED("event_defer_errno", "0"),
	EMPTY("event_name"), FN("exim_gid", v_exim_gid), FN("exim_path", v_exim_path),
	FN("exim_uid", v_exim_uid), FN("exim_version", v_version), EMPTY("headers_added"), EMPTY("home"),
	EMPTY("host"), EMPTY("host_address"), EMPTY("host_data"), FIXED("host_lookup_deferred", "0"),
	FIXED("host_lookup_failed", "0"), FIXED("host_port", "0"), FN("initial_cwd", v_initial_cwd),
	FIXED("inode", "0"), EMPTY("interface_address"), FIXED("interface_port", "-1"), FN("item", v_item),
	EMPTY("ldap_dn"), FN("load_average", v_load_average), EMPTY("local_part"), EMPTY("local_part_data"),
	EMPTY("local_part_prefix"), EMPTY("local_part_prefix_v"), EMPTY("local_part_suffix"),
	EMPTY("local_part_suffix_v"), EMPTY("local_scan_data"), FIXED("local_user_gid", "4294967295"),
	FIXED("local_user_uid", "4294967295"), FIXED("localhost_number", "0"), FN("log_inodes", v_log_inodes),
	FN("log_space", v_log_space), FN("lookup_dnssec_authenticated", v_lookup_dnssec_authenticated), EMPTY("mailstore_basename"),
	EMPTY("malware_name"), FN("max_received_linelength", v_message_number), FIXED("message_age", "0"),
	FN("message_body", v_message_body), FN("message_body_end", v_message_body_end),
	FN("message_body_size", v_message_number), EMPTY("message_exim_id"),
	FN("message_headers", v_message_headers), FN("message_headers_raw", v_message_headers),
	EMPTY("message_id"), FN("message_linecount", v_message_number), FN("message_size", v_message_number),
	FIXED("mime_anomaly_level", "0"), EMPTY("mime_anomaly_text"), EMPTY("mime_boundary"),
	EMPTY("mime_charset"), EMPTY("mime_content_description"), EMPTY("mime_content_disposition"),
	EMPTY("mime_content_id"), FIXED("mime_content_size", "0"), EMPTY("mime_content_transfer_encoding"),
	EMPTY("mime_content_type"), EMPTY("mime_decoded_filename"), EMPTY("mime_filename"),
	FIXED("mime_is_coverletter", "0"), FIXED("mime_is_multipart", "0"), FIXED("mime_is_rfc822", "0"),
	FIXED("mime_part_count", "-1"), EMPTY("original_domain"), EMPTY("original_local_part"),
	FN("originator_gid", v_gid), FN("originator_uid", v_uid), EMPTY("parent_domain"),
	EMPTY("parent_local_part"), FN("pid", v_pid), FIXED("prdr_requested", "no"),
	FN("primary_hostname", v_primary_hostname), EMPTY("proxy_external_address"),
	FIXED("proxy_external_port", "0"), EMPTY("proxy_local_address"), FIXED("proxy_local_port", "0"),
	FIXED("proxy_session", "no"), EMPTY("prvscheck_address"), EMPTY("prvscheck_keynum"),
	EMPTY("prvscheck_result"), FN("qualify_domain", v_qualify_domain),
	FN("qualify_recipient", v_qualify_recipient), EMPTY("queue_name"), FN("queue_size", v_queue_size),
	FIXED("rcpt_count", "0"), FIXED("rcpt_defer_count", "0"), FIXED("rcpt_fail_count", "0"),
	FIXED("received_count", "0"), EMPTY("received_for"), EMPTY("received_ip_address"),
	FIXED("received_port", "-1"), EMPTY("received_protocol"), FIXED("received_time", "0"),
	EMPTY("recipient_data"), EMPTY("recipient_verify_failure"), EMPTY("recipients"),
	FIXED("recipients_count", "0"), EMPTY("regex_match_string"), FN("reply_address", v_reply_address),
	{ "return_size_limit", v_main_option, "102400" }, EMPTY("return_path"), EMPTY("router_name"),
	FN("runrc", v_runrc), EMPTY("self_hostname"), FN("sender_address", v_sender_address),
	EMPTY("sender_address_data"), FN("sender_address_domain", v_qualify_domain),
	FN("sender_address_local_part", v_caller_login), EMPTY("sender_data"), EMPTY("sender_fullhost"),
	FIXED("sender_helo_dnssec", "no"), EMPTY("sender_helo_name"), EMPTY("sender_host_address"),
	EMPTY("sender_host_authenticated"), FIXED("sender_host_dnssec", "no"), EMPTY("sender_host_name"),
	FIXED("sender_host_port", "0"), FN("sender_ident", v_caller_login), EMPTY("sender_rate"),
	EMPTY("sender_rate_limit"), EMPTY("sender_rate_period"), EMPTY("sender_rcvhost"),
	EMPTY("sender_verify_failure"), EMPTY("sending_ip_address"), FIXED("sending_port", "-1"),
	FN("smtp_active_hostname", v_smtp_active_hostname), EMPTY("smtp_command"),
	EMPTY("smtp_command_argument"), EMPTY("smtp_command_history"),
	FIXED("smtp_count_at_connection_start", "0"), EMPTY("spam_action"), EMPTY("spam_bar"),
	EMPTY("spam_report"), EMPTY("spam_score"), EMPTY("spam_score_int"), EMPTY("spf_header_comment"),
	EMPTY("spf_received"), EMPTY("spf_result"), FIXED("spf_result_guessed", "no"),
	EMPTY("spf_smtp_comment"), FN("spool_directory", v_spool_directory), FN("spool_inodes", v_spool_inodes),
	FN("spool_space", v_spool_space), EMPTY("srs_recipient"), EMPTY("thisaddress"),
	FIXED("tls_bits", "0"), FIXED("tls_certificate_verified", "0"), EMPTY("tls_cipher"),
	FIXED("tls_in_bits", "0"), FIXED("tls_in_certificate_verified", "0"), EMPTY("tls_in_cipher"),
	EMPTY("tls_in_cipher_std"), FIXED("tls_in_ocsp", "0"), EMPTY("tls_in_ourcert"), EMPTY("tls_in_peercert"),
	EMPTY("tls_in_peerdn"), FIXED("tls_in_resumption", "0"), EMPTY("tls_in_sni"), EMPTY("tls_in_ver"),
	FIXED("tls_out_bits", "0"), FIXED("tls_out_certificate_verified", "0"), EMPTY("tls_out_cipher"),
	EMPTY("tls_out_cipher_std"), FIXED("tls_out_dane", "no"), FIXED("tls_out_ocsp", "0"),
	EMPTY("tls_out_ourcert"), EMPTY("tls_out_peercert"), EMPTY("tls_out_peerdn"),
	FIXED("tls_out_resumption", "0"), EMPTY("tls_out_sni"), FIXED("tls_out_tlsa_usage", "0"),
	EMPTY("tls_out_ver"), EMPTY("tls_peerdn"), EMPTY("tls_sni"), FN("tod_bsdinbox", v_tod),
	FN("tod_epoch", v_tod), FN("tod_epoch_l", v_tod), FN("tod_full", v_tod), FN("tod_log", v_tod),
	FN("tod_logfile", v_tod), FN("tod_zone", v_tod), FN("tod_zulu", v_tod), EMPTY("transport_name"),
	FN("value", v_value), EMPTY("verify_mode"), FN("version_number", v_version),
	EMPTY("warn_message_delay"), EMPTY("warn_message_recipients"),
};

/* ---- registry ---- */

typedef struct var_table {
	const xp_var_def *defs;
	size_t n;
	bool sorted;
} var_table;

static var_table tables[16];
static size_t ntables;

void xp_var_register(const xp_var_def *defs, size_t n)
{
	if (ntables < sizeof tables / sizeof tables[0])
		tables[ntables++] = (var_table){ defs, n, false };
}

static int def_cmp(const void *a, const void *b)
{
	return strcmp(((const xp_var_def *)a)->name, ((const xp_var_def *)b)->name);
}

static const xp_var_def *find_in(const xp_var_def *defs, size_t n, bool sorted, sv name)
{
	if (sorted) {
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			int c = sv_cmp(name, sv_cstr(defs[mid].name));
			if (c == 0)
				return &defs[mid];
			if (c < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (sv_eq_cstr(name, defs[i].name))
			return &defs[i];
	return NULL;
}

static const xp_var_def *find_builtin(sv name)
{
	static bool sorted;
	if (!sorted) {
		qsort(builtin, sizeof builtin / sizeof builtin[0], sizeof builtin[0], def_cmp);
		sorted = true;
	}
	return find_in(builtin, sizeof builtin / sizeof builtin[0], true, name);
}

/* ---- ACL variables ---- */

typedef struct xp_aclvar {
	struct xp_aclvar *next;
	sv name, value;
	char *buf;    /* value's storage (NUL-terminated), bytes usable: cap + 1 */
	size_t cap;
} xp_aclvar;

/* A new value goes into the variable's storage when it fits: env->state lasts the whole SMTP
 * connection, and an acl_m variable is set (and emptied at the message's end) once per message,
 * so a fresh copy each time grew the connection's arena with every message. Values are only
 * read by copying them out (prefix_var), so nothing else points into buf. */
void xp_env_set_aclvar(xp_env *env, sv name, sv value)
{
	xp_aclvar *v = env->aclvars;
	while (v && !sv_eq(v->name, name))
		v = v->next;
	if (!v) {
		v = arena_calloc(env->state, 1, sizeof *v);
		v->name = sv_copy(env->state, name);
		v->next = env->aclvars;
		env->aclvars = v;
	}
	if (!v->buf || value.len > v->cap) {
		v->buf = arena_alloc(env->state, value.len + 1);
		v->cap = value.len;
	}
	if (value.len)
		memmove(v->buf, value.p, value.len);
	v->buf[value.len] = '\0';
	v->value = value;
	v->value.p = v->buf;
}

void xp_unknown_var_message(sv name, xbuf *err)
{
	xp_err(err, "unknown variable name \"" SV_FMT "\"", SV_ARG(name));
	xp_acl_name_hint(name, err);
}

void xp_acl_name_hint(sv name, xbuf *err)
{
	if (sv_starts(name, "acl_")) {
		if (name.len > 4 && (name.p[4] == 'c' || name.p[4] == 'm'))
			xbuf_puts(err, " (6th character of a user-defined ACL variable must be a digit or underscore)");
		else
			xbuf_puts(err, " (user-defined ACL variables must start acl_c or acl_m)");
	}
}

/* The prefix families; 1 = known (value appended), 0 = not one of them. */
static int prefix_var(xp_env *env, sv name, xbuf *out)
{
	if (sv_starts(name, "acl_c") || sv_starts(name, "acl_m")) {
		sv rest = sv_sub(name, 5, name.len);
		/* Exim only refuses a letter as the 6th character ("$acl_m-x" is an unset variable). */
		if (rest.len == 0 || !isalpha((unsigned char)rest.p[0])) {
			for (xp_aclvar *v = env->aclvars; v; v = v->next)
				if (sv_eq(v->name, name)) {
					xbuf_putsv(out, v->value);
					break;
				}
			return 1;
		}
		return 0;
	}
	if (sv_starts(name, "acl_arg")) {
		sv rest = sv_sub(name, 7, name.len);
		return rest.len == 1 && rest.p[0] >= '1' && rest.p[0] <= '9';
	}
	/* $auth1..$auth4 and $regex1..$regex9 */
	if (name.len == 5 && sv_starts(name, "auth") && name.p[4] >= '1' && name.p[4] <= '4')
		return 1;
	if (name.len == 6 && sv_starts(name, "regex") && name.p[5] >= '1' && name.p[5] <= '9')
		return 1;
	if (sv_starts(name, "r_"))
		return 1; /* router variables: set by routers (later layer) */
	return 0;
}

int xp_var_get(xp_env *env, sv name, xbuf *out, xbuf *err)
{
	for (xp_provider *p = env->providers; p; p = p->next)
		if (p->get(p->ctx, name, out))
			return 1;
	const xp_var_def *d = NULL;
	for (size_t i = 0; i < ntables && !d; i++)
		d = find_in(tables[i].defs, tables[i].n, false, name);
	if (!d)
		d = find_builtin(name);
	if (d) {
		if (d->get)
			d->get(env, d, out);
		else if (d->fixed)
			xbuf_puts(out, d->fixed);
		return 1;
	}
	if (prefix_var(env, name, out))
		return 1;
	xp_unknown_var_message(name, err);
	return 0;
}

/* ---- headers ---- */

/* RFC 2047 encoded words decoded as ${rfc2047d:} does (the operator module owns the decoder);
 * text that does not decode is kept as it is. */
static void put_decoded(xp_env *env, sv t, xbuf *out)
{
	if (!memmem(t.p, t.len, "=?", 2)) {
		xbuf_putsv(out, t);
		return;
	}
	xbuf dec, derr;
	xbuf_init(&dec, env->a);
	xbuf_init(&derr, env->a);
	if (xp_op_apply(SV_LIT("rfc2047d"), t, &dec, &derr) == XP_OP_OK)
		xbuf_putsv(out, xbuf_sv(&dec));
	else
		xbuf_putsv(out, t);
}

/* Header text for $h_ (leading white space and the final newline removed), $bh_ (same, no
 * decoding), $rh_ (raw), $lh_ (each header's text on its own line). Several headers of the same
 * name are joined with a newline. */
void xp_header_get(xp_env *env, int hkind, sv name, xbuf *out, bool *exists)
{
	*exists = false;
	if (!env->msg)
		return;
	bool first = true;
	for (size_t i = 0; i < env->msg->nheaders; i++) {
		const xp_header *h = &env->msg->headers[i];
		if (!sv_eqi(h->name, name))
			continue;
		*exists = true;
		sv t = h->text;
		if (hkind == H_RAW) {
			/* raw: the texts exactly as received, one after another */
			xbuf_putsv(out, t);
			continue;
		}
		if (t.len && t.p[t.len - 1] == '\n')
			t.len--;
		if (hkind == H_LIST) {
			/* list: each text as it is (final newline removed), colon-separated */
			if (!first)
				xbuf_putc(out, ':');
		} else {
			while (t.len && isspace((unsigned char)t.p[0]))
				t = sv_sub(t, 1, t.len);
			while (t.len && isspace((unsigned char)t.p[t.len - 1]))
				t.len--;
			if (!first)
				xbuf_putc(out, '\n');
		}
		first = false;
		if (hkind == H_PLAIN || hkind == H_BODY)
			put_decoded(env, t, out);
		else
			xbuf_putsv(out, t);
	}
	if (*exists)
		out->taint = 1; /* a header that is not there gives an untainted empty string */
}
