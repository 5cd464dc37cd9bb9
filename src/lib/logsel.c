/* log_selector parsing; see logsel.h. Names and defaults from the Exim 4.96 specification,
 * chapter "Log files", section "Reducing or increasing what is logged". */
#include "lib/logsel.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

static const char *const names[LS__COUNT] = {
	[LS_8BITMIME] = "8bitmime",
	[LS_ACL_WARN_SKIPPED] = "acl_warn_skipped",
	[LS_ADDRESS_REWRITE] = "address_rewrite",
	[LS_ALL_PARENTS] = "all_parents",
	[LS_ARGUMENTS] = "arguments",
	[LS_CONNECTION_REJECT] = "connection_reject",
	[LS_DELAY_DELIVERY] = "delay_delivery",
	[LS_DELIVER_TIME] = "deliver_time",
	[LS_DELIVERY_SIZE] = "delivery_size",
	[LS_DKIM] = "dkim",
	[LS_DKIM_VERBOSE] = "dkim_verbose",
	[LS_DNSLIST_DEFER] = "dnslist_defer",
	[LS_DNSSEC] = "dnssec",
	[LS_ETRN] = "etrn",
	[LS_HOST_LOOKUP_FAILED] = "host_lookup_failed",
	[LS_IDENT_TIMEOUT] = "ident_timeout",
	[LS_INCOMING_INTERFACE] = "incoming_interface",
	[LS_INCOMING_PORT] = "incoming_port",
	[LS_LOST_INCOMING_CONNECTION] = "lost_incoming_connection",
	[LS_MILLISEC] = "millisec",
	[LS_MSG_ID] = "msg_id",
	[LS_MSG_ID_CREATED] = "msg_id_created",
	[LS_OUTGOING_INTERFACE] = "outgoing_interface",
	[LS_OUTGOING_PORT] = "outgoing_port",
	[LS_PID] = "pid",
	[LS_PIPELINING] = "pipelining",
	/* protocol_detail and rejected_headers: undocumented, but Exim 4.96 accepts them, so
	 * configurations that name them must load. */
	[LS_PROTOCOL_DETAIL] = "protocol_detail",
	[LS_PROXY] = "proxy",
	[LS_QUEUE_RUN] = "queue_run",
	[LS_QUEUE_TIME] = "queue_time",
	[LS_QUEUE_TIME_EXCLUSIVE] = "queue_time_exclusive",
	[LS_QUEUE_TIME_OVERALL] = "queue_time_overall",
	[LS_RECEIVE_TIME] = "receive_time",
	[LS_RECEIVED_RECIPIENTS] = "received_recipients",
	[LS_RECEIVED_SENDER] = "received_sender",
	[LS_REJECTED_HEADER] = "rejected_header",
	[LS_REJECTED_HEADERS] = "rejected_headers",
	[LS_RETRY_DEFER] = "retry_defer",
	[LS_RETURN_PATH_ON_DELIVERY] = "return_path_on_delivery",
	[LS_SENDER_ON_DELIVERY] = "sender_on_delivery",
	[LS_SENDER_VERIFY_FAIL] = "sender_verify_fail",
	[LS_SIZE_REJECT] = "size_reject",
	[LS_SKIP_DELIVERY] = "skip_delivery",
	[LS_SMTP_CONFIRMATION] = "smtp_confirmation",
	[LS_SMTP_CONNECTION] = "smtp_connection",
	[LS_SMTP_INCOMPLETE_TRANSACTION] = "smtp_incomplete_transaction",
	[LS_SMTP_MAILAUTH] = "smtp_mailauth",
	[LS_SMTP_NO_MAIL] = "smtp_no_mail",
	[LS_SMTP_PROTOCOL_ERROR] = "smtp_protocol_error",
	[LS_SMTP_SYNTAX_ERROR] = "smtp_syntax_error",
	[LS_SUBJECT] = "subject",
	[LS_TLS_CERTIFICATE_VERIFIED] = "tls_certificate_verified",
	[LS_TLS_CIPHER] = "tls_cipher",
	[LS_TLS_PEERDN] = "tls_peerdn",
	[LS_TLS_RESUMPTION] = "tls_resumption",
	[LS_TLS_SNI] = "tls_sni",
	[LS_UNKNOWN_IN_LIST] = "unknown_in_list",
};

/* The selectors marked as default in the specification's table, plus outgoing_interface, whose
 * description says it is turned off explicitly (it only matters with incoming_interface). */
static const logsel_id defaults[] = {
	LS_ACL_WARN_SKIPPED, LS_CONNECTION_REJECT, LS_DELAY_DELIVERY, LS_DKIM, LS_DNSLIST_DEFER,
	LS_ETRN, LS_HOST_LOOKUP_FAILED, LS_LOST_INCOMING_CONNECTION, LS_MSG_ID, LS_OUTGOING_INTERFACE,
	LS_QUEUE_RUN, LS_REJECTED_HEADER, LS_RETRY_DEFER, LS_SENDER_VERIFY_FAIL, LS_SIZE_REJECT,
	LS_SKIP_DELIVERY, LS_SMTP_CONFIRMATION, LS_TLS_CERTIFICATE_VERIFIED, LS_TLS_CIPHER,
};

#define ALL_BITS ((LS__COUNT == 64) ? ~(uint64_t)0 : (((uint64_t)1 << LS__COUNT) - 1))

logsel logsel_default(void)
{
	logsel s = { 0 };
	for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
		logsel_set(&s, defaults[i], true);
	return s;
}

const char *logsel_name(logsel_id id)
{
	return (unsigned)id < LS__COUNT ? names[id] : "?";
}

int logsel_lookup(sv name)
{
	for (int i = 0; i < LS__COUNT; i++)
		if (sv_eq_cstr(name, names[i]))
			return i;
	return -1;
}

static bool is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* "=<number>": the whole setting is one number in strtoul syntax (an empty number is 0). */
static bool parse_numeric(sv setting, size_t at, logsel *out, xbuf *err)
{
	char tmp[64];
	sv num = sv_trim(sv_sub(setting, at + 1, setting.len));
	bool ok = num.len < sizeof tmp;
	unsigned long long v = 0;
	if (ok) {
		memcpy(tmp, num.p, num.len);
		tmp[num.len] = 0;
		char *end;
		errno = 0;
		v = strtoull(tmp, &end, 0);
		/* All of the number must be used (a NUL inside the view is junk, not an end); like
		 * strtoul, overflow saturates rather than failing. */
		ok = end == tmp + num.len;
	}
	if (!ok) {
		if (err)
			xbuf_printf(err, "malformed numeric log_selector setting: %.*s", SV_ARG(sv_sub(setting, at, setting.len)));
		return false;
	}
	out->bits = v & ALL_BITS;
	return true;
}

bool logsel_parse(sv setting, logsel *out, xbuf *err)
{
	logsel s = logsel_default();
	size_t i = 0, n = setting.len;
	const char *p = setting.p;
	while (i < n && isspace((unsigned char)p[i]))
		i++;
	if (i < n && p[i] == '=')
		return parse_numeric(setting, i, out, err);
	for (;;) {
		while (i < n && isspace((unsigned char)p[i]))
			i++;
		if (i == n)
			break;
		if (p[i] != '+' && p[i] != '-') {
			if (err)
				xbuf_printf(err, "malformed log_selector setting: + or - expected but found \"%.*s\"",
					(int)(n - i), p + i);
			return false;
		}
		bool on = p[i] == '+';
		size_t start = ++i;
		while (i < n && is_name_char(p[i]))
			i++;
		sv name = sv_make(p + start, i - start);
		if (sv_eq_cstr(name, "all")) {
			s.bits = on ? ALL_BITS : 0;
			continue;
		}
		int id = logsel_lookup(name);
		if (id < 0) {
			if (err)
				xbuf_printf(err, "unknown log_selector setting: %c%.*s", on ? '+' : '-', SV_ARG(name));
			return false;
		}
		logsel_set(&s, (logsel_id)id, on);
	}
	*out = s;
	return true;
}

void logsel_format(const logsel *s, xbuf *out)
{
	logsel d = logsel_default();
	bool first = true;
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < LS__COUNT; i++) {
			bool want = logsel_has(s, (logsel_id)i), dflt = logsel_has(&d, (logsel_id)i);
			if (want == dflt || want != (pass == 0))
				continue;
			if (!first)
				xbuf_putc(out, ' ');
			xbuf_printf(out, "%c%s", pass == 0 ? '+' : '-', names[i]);
			first = false;
		}
	}
}
