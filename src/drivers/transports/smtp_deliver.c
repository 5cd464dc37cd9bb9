/* The smtp transport's delivery: a batch of addresses routed to one host list goes to the first
 * host that takes it, as Exim 4.96's smtp transport does. Per host: the host retry records
 * (skip when not due), the client engine's conversation (src/smtp/client.h), then each address's
 * outcome in Exim's words, the retry items the delivery process applies, the host-level log
 * lines Exim writes from the transport and the events raised there. Addresses deferred at one
 * host (connection problems, 4xx replies) go on to the next host, then to the fallback hosts.
 *
 * Exim's behaviour, observed with 4.96 as the client against a scripted server:
 *   - a host error (connection refused or lost, timeouts except at MAIL and RCPT, a malformed
 *     reply, an error greeting or HELO) closes the connection, then logs
 *     "H=<name> [<ip>]: <text>[: <strerror>]" ("H=<name> [<ip>] <strerror>" without text), then
 *     raises msg:host:defer; the retry item is the host's;
 *   - a message error (4xx to MAIL or DATA or after the data, a timeout after MAIL, the
 *     connection lost after the end of data) logs the same line at once, raises nothing, and its
 *     retry item is the host's key with the message id;
 *   - a 4xx to RCPT raises msg:rcpt:host:defer, then logs the line when another host follows
 *     or raises msg:rcpt:defer when none does; the retry item is the address's (with the sender
 *     when address_retry_include_sender);
 *   - a timeout after RCPT logs nothing; the address whose RCPT timed out keeps the host in its
 *     log line, the addresses after it do not; the retry item is that address's, without the
 *     sender;
 *   - when TCP could not connect, no host goes into the addresses' log lines.
 */
#include "drivers/transports/smtp_deliver.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/event.h"
#include "core/retry.h"
#include "core/tfo_state.h"
#include "core/tp_write.h"
#include "drivers/transports/smtp.h"
#include "drivers/transports/smtp_client_opts.h"
#include "drivers/transports/smtp_ehlo_cache.h"
#include "lib/log.h"
#include "lib/logsel.h"
#include "lib/printing.h"
#include "build_config.h"
#if SUPPORT_TLS
#include "tls/tls_client_smtp.h"
#endif

/* Where a host's conversation broke, which decides logging, events and the retry key. */
typedef enum failure_kind {
	FK_NONE,          /* the host took part in every recipient's outcome */
	FK_HOST,          /* the whole host failed (connection, greeting, HELO, lost, malformed) */
	FK_MESSAGE,       /* specific to this message at this host */
	FK_RCPT_TIMEOUT,  /* a timeout waiting for a RCPT reply */
} failure_kind;

/* The state of one batch. */
typedef struct batch {
	const driver_instance *t;
	const struct smtp_transport_options *ob;
	tp_ctx *c;
	address_item **addr;
	size_t n;
	bool *open;                   /* still to be delivered (pending or deferred so far) */
	sv sender;                    /* envelope sender for MAIL FROM */
	time_t now;
	/* the host being tried */
	const route_host *host;
	smtpc_host sh;
	sv local_address;
	int local_port;
	xp_provider host_vars;
	int counted, attempts;        /* hosts_max_try / hosts_max_try_hardlimit */
	int last_mx;                  /* MX of the last counted host */
	bool any_attempt, any_skipped;
	bool any_serialized;          /* a host was skipped: another process is connected to it */
	sv msg_keys[16];              /* message-specific host records written for this message */
	int nmsg_keys;
	/* The last host or message error, for the msg:defer event raised when the batch ends
	 * with addresses deferred by it (Exim raises none for RCPT-level deferrals). */
	bool defer_pending;
	sv defer_data;
	int defer_errno;
	/* Left behind by the transport's message events for its later engine events. */
	int last_defer_errno;
	bool msg_event_raised;
	const address_item *view;     /* batch_view's address for a batch of several */
} batch;

/* ---- $host, $host_address, $host_port while a host is tried ---- */

static bool host_var(void *ctx, sv name, xbuf *out)
{
	batch *b = ctx;
	if (b->host == NULL)
		return false;
	if (sv_eq_cstr(name, "host"))
		xbuf_putsv(out, b->sh.name);
	else if (sv_eq_cstr(name, "host_address"))
		xbuf_putsv(out, b->sh.address);
	else if (sv_eq_cstr(name, "host_port"))
		xbuf_printf(out, "%d", b->sh.port);
	else
		return false;
	return true;
}

/* ---- events ---- */

static event_vars vars_for(batch *b, const address_item *a, int defer_errno, sv errstr)
{
	event_vars v = {
		.m = b->c->m,
		.transport_name = b->t->name,
		.host = b->sh.name,
		.host_address = b->sh.address,
		.host_port = b->sh.port > 0 ? b->sh.port : 25,
		.sending_ip = b->local_address,
		.sending_port = b->local_port,
		.defer_errno = defer_errno,
		.defer_errstr = errstr,
	};
	v.addr = a;
	for (size_t i = 0; v.addr == NULL && i < b->n; i++)
		if (b->open[i])
			v.addr = b->addr[i];
	if (v.addr == NULL && b->n)
		v.addr = b->addr[0];
	return v;
}

/* What the engine's events see of the batch's addresses, as Exim 4.96 sets them for a
 * transport: one address shows its own variables; several show no $local_part, and $domain
 * only when they all share it. */
static const address_item *batch_view(batch *b)
{
	if (b->n == 1)
		return b->addr[0];
	if (b->view == NULL) {
		address_item *v = arena_calloc(b->c->a, 1, sizeof *v);
		v->host_used_mx = -1;
		v->domain = b->addr[0]->domain;
		for (size_t i = 1; i < b->n; i++)
			if (!sv_eq(b->addr[i]->domain, v->domain))
				v->domain = SV_NULL;
		b->view = v;
	}
	return b->view;
}

/* The engine's events (tcp:connect, smtp:connect, smtp:ehlo, tcp:close). Observed: they see
 * the $event_defer_errno of the transport's last message event, and after such an event an
 * empty $transport_name (Exim keeps both in globals its message events leave behind). */
static void engine_event(void *ctx, const char *name, sv data, xbuf *result)
{
	batch *b = ctx;
	event_vars v = vars_for(b, batch_view(b), b->last_defer_errno, SV_NULL);
	if (b->msg_event_raised)
		v.transport_name = NULL;
	event_raise_for(b->t, name, data, &v, b->c->env, result);
}

/* An event of the transport's own: the transport's event_action, or for msg:host:defer the
 * older tpda_host_defer_action. */
static void raise(batch *b, const address_item *a, const char *name, sv data, int defer_errno,
	sv errstr)
{
	const char *action = event_action_for(b->t, name);
	if (action == NULL && strcmp(name, "msg:host:defer") == 0)
		action = b->ob->tpda_host_defer_action;
	if (action == NULL)
		return;
	b->last_defer_errno = defer_errno;
	b->msg_event_raised = true;
	event_vars v = vars_for(b, a, defer_errno, errstr);
	xbuf ignored;
	xbuf_init(&ignored, b->c->a);
	event_raise(action, b->t->name, name, data, &v, b->c->env, &ignored);
}

/* ---- texts ---- */

/* "H=<name> [<ip>]" (":<port>" with the outgoing_port log selector). */
static void host_id(batch *b, xbuf *out)
{
	xbuf_printf(out, "H=" SV_FMT " [" SV_FMT "]", SV_ARG(b->sh.name), SV_ARG(b->sh.address));
	const log_config *lc = log_current_config();
	if (lc && logsel_has(&lc->selector, LS_OUTGOING_PORT))
		xbuf_printf(out, ":%d", b->sh.port);
}

/* The text Exim gives an error number in a host line: strerror, or for the tcp:connect event's
 * refusal its own words. */
static sv errno_text(int err, const smtpc_conn *conn)
{
	if (err > 0)
		return sv_cstr(strerror(err));
	if (err == SMTPC_ERRNO_EVENT && conn)
		return xbuf_sv(&conn->message);
	return SV_NULL;
}

/* Exim's host line: "H=n [ip]: text[: strerror]", or "H=n [ip] <errno text>" without text. */
/* Observed with Exim 4.96: "plain authenticator failed H=127.0.0.1 [127.0.0.1] 535 bad" for
 * an authenticator the server refused before the next one is tried. */
static void log_auth_failed(void *ctx, const char *authenticator, sv reply)
{
	batch *b = ctx;
	xbuf l;
	xbuf_init(&l, b->c->a);
	xbuf_printf(&l, "%s authenticator failed ", authenticator);
	host_id(b, &l);
	xbuf_putc(&l, ' ');
	printing_escape(reply, PRINT_TAB_LITERAL, &l);
	log_write(LOG_MAIN, "%s", xbuf_cstr(&l));
}

static void log_host_line(batch *b, sv text, int err, const smtpc_conn *conn)
{
	xbuf l;
	xbuf_init(&l, b->c->a);
	host_id(b, &l);
	sv et = errno_text(err, conn);
	if (text.len) {
		xbuf_printf(&l, ": " SV_FMT, SV_ARG(text));
		if (et.len)
			xbuf_printf(&l, ": " SV_FMT, SV_ARG(et));
	} else if (et.len)
		xbuf_printf(&l, " " SV_FMT, SV_ARG(et));
	log_write(LOG_MAIN, "%s", xbuf_cstr(&l));
	/* Exim 4.96 writes the host line to the message log too (observed). */
	if (b->c->sc && b->c->m)
		spool_msglog(b->c->sc, b->c->m->id, "%s", xbuf_cstr(&l));
}

/* The remote's reply inside an engine text ("SMTP error ... after X: 550 5.1.1 no"): what
 * Diagnostic-Code: smtp; carries. */
static sv reply_part(sv text, int code)
{
	char want[8];
	snprintf(want, sizeof want, ": %03d", code);
	for (size_t i = 0; code > 0 && i + 5 <= text.len; i++)
		if (memcmp(text.p + i, want, 5) == 0)
			return sv_sub(text, i + 2, text.len);
	return SV_NULL;
}

/* Exim's more_errno in retry items and $event_defer_errno: the reply's last two digits in the
 * second byte, 'M' or 'A' (was the host from an MX record) in the first. */
static int encoded_more(const route_host *h, int code)
{
	return ((code % 100) << 8) | (h->mx >= 0 ? 'M' : 'A');
}

static void add_retry(batch *b, address_item *a, sv key, int err, int more, sv text, bool is_host,
	bool remove)
{
	if (key.len == 0)
		return;
	addr_retry *r = arena_calloc(b->c->a, 1, sizeof *r);
	r->key = key;
	r->basic_errno = err;
	r->more_errno = more;
	r->text = sv_copy(b->c->a, text);
	r->is_host = is_host;
	r->remove = remove;
	r->next = a->retries;
	a->retries = r;
}

/* The text Exim stores in a retry record: the errno's text (Exim's "unknown error" for its own
 * numbers when there is no message), else the message, after the host when the address shows
 * one. */
static sv retry_text(batch *b, int err, sv message, bool with_host)
{
	xbuf t;
	xbuf_init(&t, b->c->a);
	if (err > 0 || message.len == 0)
		xbuf_puts(&t, err > 0 ? strerror(err) : "unknown error");
	else {
		if (with_host) {
			host_id(b, &t);
			xbuf_puts(&t, ": ");
		}
		xbuf_putsv(&t, message);
	}
	return xbuf_sv(&t);
}

static sv address_key(batch *b, const address_item *a, bool with_sender)
{
	sv k = retry_address_key(b->c->a, a, true);
	if (k.len == 0 || !with_sender)
		return k;
	xbuf t;
	xbuf_init(&t, b->c->a);
	xbuf_printf(&t, SV_FMT ":<" SV_FMT ">", SV_ARG(k), SV_ARG(b->c->m->sender));
	return xbuf_sv(&t);
}

/* ---- outcomes ---- */

static void set_host_fields(batch *b, address_item *a, smtpc_conn *conn)
{
	a->host_used_name = b->sh.name;
	a->host_used_address = b->sh.address;
	a->host_used_port = b->sh.port;
	a->host_used_mx = b->host->mx;
	a->sending_address = b->local_address;
	a->sending_port = b->local_port;
	xbuf t;
	xbuf_init(&t, b->c->a);
	smtpc_first_line(xbuf_sv(&conn->greeting.text), 128, &t);
	a->smtp_greeting = xbuf_sv(&t);
	xbuf_init(&t, b->c->a);
	smtpc_first_line(xbuf_sv(&conn->helo_response.text), 128, &t);
	a->helo_response = xbuf_sv(&t);
#if SUPPORT_TLS
	smtp_tls_to_addr(conn, a);
#else
	a->tls_used = conn->tls_active;
#endif
	a->chunking_used = (conn->offered & SMTPC_OFFER_CHUNKING) != 0;
	/* A=: the authenticator of this connection; a continued one's is not known (Exim 4.96's
	 * -MCA process does not log it either). */
	a->auth_used = conn->authenticator && strcmp(conn->authenticator, "(continued)") != 0
		? sv_cstr(conn->authenticator) : SV_NULL;
}

static void clear_host_fields(address_item *a)
{
	a->host_used_name = a->host_used_address = SV_NULL;
	a->host_used_port = 0;
	a->host_used_mx = -1;
	a->sending_address = a->smtp_greeting = a->helo_response = SV_NULL;
	a->sending_port = 0;
	a->chunking_used = false;
	a->auth_used = SV_NULL;
	a->tcp_fastopen = TFO_NOT_USED;
}

static void record(batch *b, size_t i, const smtpc_rcpt *r, smtpc_conn *conn, bool with_host)
{
	address_item *a = b->addr[i];
	a->result = r->status == SMTPC_OK ? ADDR_OK : r->status == SMTPC_FAIL ? ADDR_FAIL : ADDR_DEFER;
	a->basic_errno = r->basic_errno;
	a->more_errno = r->code;
	a->retry_skipped = false;
	sv text = sv_copy(b->c->a, xbuf_sv(&r->message));
	a->message = a->confirmation = a->smtp_response = SV_NULL;
	if (a->result == ADDR_OK)
		a->confirmation = text;
	else {
		/* Without a connection Exim has no text beyond the errno's ("defer (111): Connection
		 * refused"). */
		if (!(r->basic_errno > 0 && sv_eq_cstr(text, strerror(r->basic_errno))))
			a->message = text;
		a->smtp_response = reply_part(text, r->code);
	}
	if (with_host)
		set_host_fields(b, a, conn);
	else
		clear_host_fields(a);
	a->prdr_used = r->prdr && a->result == ADDR_OK;
	/* Observed: Exim 4.96 shows the A-label form for the first address of the batch only. */
	a->utf8_downconverted = r->downconverted && i == 0;
	if (a->result != ADDR_DEFER)
		b->open[i] = false;
}

static bool contains(sv s, const char *what)
{
	size_t k = strlen(what);
	for (size_t i = 0; i + k <= s.len; i++)
		if (memcmp(s.p + i, what, k) == 0)
			return true;
	return false;
}

/* Exim 4.96 calls a RCPT "pipelined" when the connection was lost or the reply malformed at it
 * under PIPELINING, but not in its 4xx/5xx and timeout texts; the engine never does. Make the
 * engine's text (in place) say what Exim says. */
static void pipelined_rcpt_wording(const smtpc_conn *conn, xbuf *text)
{
	static const char *const lead[] = {
		"Remote host closed connection in response to ",
		"Malformed SMTP reply in response to ",
	};
	if (!(conn->offered & SMTPC_OFFER_PIPELINING))
		return;
	for (size_t i = 0; i < sizeof lead / sizeof lead[0]; i++) {
		size_t k = strlen(lead[i]);
		sv t = xbuf_sv(text);
		if (!sv_starts(t, lead[i]) || !sv_starts(sv_sub(t, k, t.len), "RCPT TO:"))
			continue;
		xbuf fixed;
		xbuf_init(&fixed, conn->a);
		xbuf_put(&fixed, t.p, k);
		xbuf_puts(&fixed, "pipelined ");
		xbuf_putsv(&fixed, sv_sub(t, k, t.len));
		xbuf_reset(text);
		xbuf_putsv(text, xbuf_sv(&fixed));
		return;
	}
}

/* After smtpc_send, for a connection that was established: what kind of failure ended the
 * conversation. The engine's texts are Exim's, so the command they name tells the phase. */
static failure_kind classify(const smtpc_conn *conn)
{
	if (conn->status == SMTPC_OK)
		return FK_NONE;
	sv m = xbuf_sv(&conn->message);
	if (conn->basic_errno == ETIMEDOUT) {
		if (sv_starts(m, "SMTP timeout after MAIL FROM:") || sv_starts(m, "SMTP timeout after pipelined MAIL FROM:"))
			return FK_MESSAGE;
		if (sv_starts(m, "SMTP timeout after RCPT TO:"))
			return FK_RCPT_TIMEOUT;
	}
	if (conn->basic_errno == SMTPC_ERRNO_SMTPCLOSED && (contains(m, "in response to end of data")
		|| contains(m, "in response to pipelined end of data")))
		return FK_MESSAGE;
	return FK_HOST;
}

/* ---- one host ---- */

typedef enum try_rc { TRY_SKIPPED, TRY_DONE, TRY_STOP } try_rc;

static bool any_open(const batch *b);

/* Defer every open address; a configuration problem is ADDR_PANIC, which the delivery process
 * logs to the panic log as well (as Exim does for these). */
static void defer_open(batch *b, int err, sv text, bool config_problem)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->open[i]) {
			address_item *a = b->addr[i];
			a->result = config_problem ? ADDR_PANIC : ADDR_DEFER;
			a->basic_errno = err;
			a->more_errno = 0;
			a->message = sv_copy(b->c->a, text);
		}
}

static const address_item *first_open(const batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->open[i])
			return b->addr[i];
	return b->addr[0];
}

/* The recipient as Exim sends it: without prefix and suffix unless rcpt_include_affixes. */
static sv rcpt_address(batch *b, const address_item *a)
{
	if ((a->prefix.len == 0 && a->suffix.len == 0) || tp_opt_bool(b->t, "rcpt_include_affixes"))
		return a->address;
	xbuf t;
	xbuf_init(&t, b->c->a);
	xbuf_printf(&t, SV_FMT "@" SV_FMT, SV_ARG(a->local_part), SV_ARG(a->domain));
	return xbuf_sv(&t);
}

/* A 4xx to RCPT: events, the host line when another host follows, the address's retry item. */
static void rcpt_deferred(batch *b, address_item *a, const smtpc_rcpt *r, bool more_hosts)
{
	int enc = encoded_more(b->host, r->code);
	sv text = a->message;
	raise(b, a, "msg:rcpt:host:defer", text, enc, text);
	if (more_hosts)
		log_host_line(b, text, 0, NULL);
	else
		raise(b, a, "msg:rcpt:defer", text, enc, text);
	add_retry(b, a, address_key(b, a, b->ob->address_retry_include_sender), SMTPC_ERRNO_RCPT4XX, enc,
		retry_text(b, 0, text, true), false, false);
}

/* smtpc_message.quit_after: nothing can follow on this connection (smtp_cont_may_follow). */
typedef struct quit_ctx {
	tp_ctx *c;
	const driver_instance *t;
	smtpc_conn *const *conn;
	sv host_name;
	const int *sequence;
} quit_ctx;

static bool quit_after(void *ctx)
{
	quit_ctx *q = ctx;
	return !smtp_cont_may_follow(q->c, q->t, *q->conn, q->host_name, *q->sequence);
}

/* smtpc_message.txn_done: journal the delivered recipients of each transaction before anything
 * more is sent (observed with Exim 4.96: a transport process killed in the second max_rcpt
 * transaction, or waiting for the reply to QUIT, leaves the recipients the server took
 * delivered in -H, though all are logged "=="). */
typedef struct txn_journal {
	batch *b;
	const smtpc_rcpt *r0;         /* r[0] of the whole send */
	const size_t *idx;            /* r[j] is b->addr[idx[j]] */
} txn_journal;

static void txn_done(void *ctx, const smtpc_rcpt *r, size_t n)
{
	txn_journal *j = ctx;
	tp_ctx *c = j->b->c;
	if (!c->journal)
		return;
	const address_item **ok = arena_alloc(c->a, (n ? n : 1) * sizeof *ok);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (r[i].status == SMTPC_OK)
			ok[k++] = j->b->addr[j->idx[(size_t)(r + i - j->r0)]];
	if (k)
		(void)c->journal(c->journal_ctx, ok, k);   /* a failure is logged; the batch's own
		                                             * journal record follows at its end */
}

static try_rc try_host(batch *b, const route_host *h, bool *timed_out)
{
	tp_ctx *c = b->c;
	b->host = h;
	b->sh = (smtpc_host){ .name = h->name.len ? h->name : h->address, .address = h->address,
		.port = h->port > 0 ? h->port : 0 };
	b->local_address = SV_NULL;
	b->local_port = 0;
	*timed_out = false;
	smtpc_options o;
	xbuf err;
	xbuf_init(&err, c->a);
	if (!smtp_transport_client_options(b->t, c->env, &b->sh, &o, &err)) {
		defer_open(b, ADDR_ERRNO_UNKNOWN, xbuf_sv(&err), true);
		return TRY_STOP;
	}

	/* The host's retry records: its own, and this message's at this host. */
	sv hkey = retry_host_key(c->a, b->sh.name, b->sh.address, b->sh.port, NULL);
	sv mkey = retry_host_key(c->a, b->sh.name, b->sh.address, b->sh.port, c->m->id);
	retry_record rec;
	/* A connection passed on for this host shows it is up: its host record does not hold
	 * the message back (the message's own record still does). */
	bool passed_here = smtp_cont_offers(c, b->t, &b->sh);
	retry_reads_begin();          /* one open of the database for both */
	retry_due dh = retry_check(c->sc->directory, hkey, b->now, c->forced || passed_here, &rec, c->a);
	retry_due dm = retry_check(c->sc->directory, mkey, b->now, c->forced, &rec, c->a);
	retry_reads_end();
	if (dh == RETRY_NOT_DUE || dm == RETRY_NOT_DUE) {
		b->any_skipped = true;
		/* Observed: Exim records the message as waiting for a host it skips. */
		smtp_cont_note_waiting(c, b->t, b->sh.name);
		return TRY_SKIPPED;
	}
	/* serialize_hosts: another process connected to the host skips it, and the message waits
	 * for that connection (observed: Exim's first process then carries it). A passed
	 * connection is already the one. */
	sv skey = SV_NULL;
	if (!passed_here) {
		int sr = smtp_serialize_start(c, b->t, &b->sh, &skey, &err);
		if (sr < 0) {
			defer_open(b, ADDR_ERRNO_UNKNOWN, xbuf_sv(&err), true);
			return TRY_STOP;
		}
		if (sr == 0) {
			b->any_serialized = true;
			smtp_cont_note_waiting(c, b->t, b->sh.name);
			return TRY_SKIPPED;
		}
	}
	*timed_out = dh == RETRY_TIMED_OUT || dm == RETRY_TIMED_OUT;
	b->any_attempt = true;

	/* The message as the transport writes it (headers_add/remove/rewrite, return_path_add ...)
	 * in the spool's LF form; the engine adds CR and the dots. SIZE= and the envelope come
	 * from the spool. */
	smtpc_message m;
	smtpc_spool_source unused;
	smtpc_message_from_spool(&m, &unused, c->m, c->data_fd);
	m.sender = b->sender;
	tp_write_opts wo = { .m = c->m, .data_fd = c->data_fd, .t = b->t, .addrs = first_open(b),
		.env = c->env };
	tp_reader *rd = tp_reader_open(c->a, &wo, &err);
	if (rd == NULL) {
		smtp_serialize_end(c, skey);
		defer_open(b, TPW_ERRNO_HEADERS, xbuf_sv(&err), false);
		return TRY_STOP;
	}
	m.read = tp_reader_read;
	m.rewind = tp_reader_rewind;
	m.read_ctx = rd;

	if (o.utf8_downconvert == SMTPC_UTF8_UNSET)
		o.utf8_downconvert = c->m->utf8_downcvt ? SMTPC_UTF8_ALWAYS
			: c->m->utf8_optdowncvt ? SMTPC_UTF8_IF_NEEDED : SMTPC_UTF8_NEVER;
	o.event = engine_event;
	o.event_ctx = b;
	o.auth_failed = log_auth_failed;
	o.auth_failed_ctx = b;
	smtp_ehlo_cache ehlo_cache;
	smtp_ehlo_cache_attach(&ehlo_cache, c->a, c->sc->directory, &b->sh, &o);
	size_t k = 0;
	size_t *idx = arena_alloc(c->a, sizeof *idx * b->n);
	smtpc_rcpt *r = arena_calloc(c->a, b->n, sizeof *r);
	for (size_t i = 0; i < b->n; i++)
		if (b->open[i]) {
			const address_item *a = b->addr[i];
			r[k].address = rcpt_address(b, a);
			r[k].orcpt = a->orcpt;
			r[k].dsn_flags = a->dsn_flags;
			idx[k++] = i;
		}
	txn_journal tj = { .b = b, .r0 = r, .idx = idx };
	m.txn_done = txn_done;
	m.txn_ctx = &tj;
	int sequence = 1;
	smtpc_conn *conn = NULL;
	quit_ctx qc = { c, b->t, &conn, b->sh.name, &sequence };
	m.quit_after = quit_after;
	m.quit_ctx = &qc;
	conn = smtp_cont_adopt(c, b->t, &o, &b->sh, &sequence);
	bool continued = conn != NULL;
	/* A connection this worker kept from an earlier message to the same place (beyond Exim:
	 * smtp_conn_cache.c); it counts as a continued one, as after -MC. */
	bool cached = !continued && (conn = smtp_cache_take(c, b->t, &o, &b->sh, &sequence)) != NULL;
	continued = continued || cached;
	bool tls_retried = false, connect_ok, connected;
	for (;;) {
		if (!continued)
			conn = smtpc_connect(c->a, &o, &b->sh);
#if SUPPORT_TLS
		/* tls_tempfail_tryclear: the same host again in clear. Observed: the host stays in the
		 * addresses' lines even when that second connection fails. */
		if (!continued && smtp_tls_tryclear(conn, &o)) {
			tls_retried = true;
			conn = smtpc_connect(c->a, &o, &b->sh);
		}
#endif
		connect_ok = conn->status == SMTPC_OK;
		connected = conn->local_address.len > 0 || tls_retried;
		b->local_address = conn->local_address;
		b->local_port = conn->local_port;
		smtpc_send(conn, &m, r, k);
		if (!cached || !smtp_cache_went_stale(conn) || !m.rewind(m.read_ctx))
			break;
		/* The kept connection had died while idle (closed, reset, 421 or another 4xx to
		 * MAIL): nothing of the message went out. A new connection in the same attempt, as
		 * if there had been no kept one: no log line, retry record or event for it. */
		smtpc_release(conn);
		cached = continued = false;
		sequence = 1;
	}
	size_t per_txn = o.max_rcpt > 0 ? (size_t)o.max_rcpt : 0;
	tp_reader_close(rd);
	pipelined_rcpt_wording(conn, &conn->message);
	for (size_t j = 0; j < k; j++)
		pipelined_rcpt_wording(conn, &r[j].message);

	failure_kind fk = connect_ok ? classify(conn) : FK_HOST;
	b->defer_pending = false;
	bool timeout_seen = false;
	address_item *message_error = NULL;
	const smtpc_rcpt *message_error_r = NULL;
	for (size_t j = 0; j < k; j++) {
		address_item *a = b->addr[idx[j]];
		/* Observed: an smtp:connect event's refusal leaves the host out of the line too. */
		/* Observed: required authentication that failed leaves the host out too ("defer
		 * (-42): authentication required but ..."). */
		bool with_host = connected && r[j].basic_errno != SMTPC_ERRNO_EXPANDFAIL
			&& r[j].basic_errno != SMTPC_ERRNO_AUTHFAIL;
		if (fk == FK_RCPT_TIMEOUT && r[j].basic_errno == ETIMEDOUT) {
			if (timeout_seen)
				with_host = false;
			else
				add_retry(b, a, address_key(b, a, false), ETIMEDOUT, encoded_more(h, 0),
					sv_cstr(strerror(ETIMEDOUT)), false, false);
			timeout_seen = true;
		}
		record(b, idx[j], &r[j], conn, with_host);
		/* Exim 4.96 (remote_max_parallel 1): the recipients beyond max_rcpt go in further
		 * transactions on the same connection, each starting with "=>" again and marked as
		 * a continued connection ('*'). */
		bool later_txn = per_txn > 0 && j >= per_txn;
		a->txn_first = later_txn && j % per_txn == 0;
		a->host_used_continued = (continued || later_txn) && with_host;
		/* Fast Open is a fact of the connection this process opened (a handed-over one is
		 * not known here). */
		a->tcp_fastopen = with_host && !continued ? conn->tcp_fastopen : TFO_NOT_USED;
		/* Proxied TLS (-MCt): the cipher is all this process knows of the session. */
		if (a->host_used_continued && smtp_cont_proxy_cipher()) {
			a->tls_used = true;
			a->tls_cipher = sv_cstr(smtp_cont_proxy_cipher());
		}
		if (r[j].status == SMTPC_OK) {
			add_retry(b, a, hkey, 0, 0, SV_NULL, true, true);
			/* Observed: Exim deletes the address's record without the sender; a 4xx record
			 * with the sender stays until it expires. */
			add_retry(b, a, address_key(b, a, false), 0, 0, SV_NULL, false, true);
		} else if (r[j].status == SMTPC_DEFER && r[j].basic_errno == SMTPC_ERRNO_RCPT4XX)
			rcpt_deferred(b, a, &r[j], h->next != NULL);
		else if (r[j].status == SMTPC_DEFER && (o.lmtp || (r[j].prdr && r[j].basic_errno == 0))
			&& r[j].code / 100 == 4 && fk == FK_NONE)
			/* An LMTP or PRDR 4xx after the data is the address's, kept without the sender
			 * (Exim handles both in the same way). */
			add_retry(b, a, address_key(b, a, false), 0, encoded_more(h, r[j].code),
				retry_text(b, 0, a->message, true), false, false);
		else if (message_error == NULL && (r[j].basic_errno == SMTPC_ERRNO_MAIL4XX
			|| r[j].basic_errno == SMTPC_ERRNO_DATA4XX || (fk == FK_MESSAGE && r[j].status == SMTPC_DEFER))) {
			message_error = a;
			message_error_r = &r[j];
		}
	}
	/* Observed: Exim 4.96 writes a host line when the message needs SMTPUTF8 the host lacks. */
	for (size_t j = 0; j < k; j++)
		if (r[j].basic_errno == SMTPC_ERRNO_UTF8) {
			log_host_line(b, xbuf_sv(&r[j].message), 0, NULL);
			break;
		}
	/* A message error: logged at once (before the connection closes), retried per message. */
	if (message_error) {
		log_host_line(b, message_error->message, message_error_r->basic_errno, NULL);
		b->defer_pending = true;
		b->defer_data = message_error->message;
		b->defer_errno = message_error_r->basic_errno;
		int more = message_error_r->code ? encoded_more(h, message_error_r->code) : encoded_more(h, 0);
		add_retry(b, message_error, mkey, message_error_r->basic_errno, more,
			retry_text(b, message_error_r->basic_errno, message_error->message, true), true, false);
		if (b->nmsg_keys < (int)(sizeof b->msg_keys / sizeof b->msg_keys[0]))
			b->msg_keys[b->nmsg_keys++] = mkey;
	}
	/* Still waiting for this host after a failure that is not the message's own: listed in
	 * wait-<transport> so a later connection to it can carry the message. */
	if (fk != FK_MESSAGE && any_open(b))
		smtp_cont_note_waiting(c, b->t, b->sh.name);
	if (fk == FK_NONE && connect_ok)
		smtp_cont_finish(c, b->t, conn, sequence);
	else
		smtpc_close(conn);
	smtp_serialize_end(c, skey);

	/* A host error: logged after the connection is closed, then msg:host:defer. A host DANE
	 * refused for good before connecting is no host error: the addresses just fail (Exim's
	 * set_errno_nohost with FAIL writes no host line and no host retry record). */
	if (fk == FK_HOST && !(conn->status == SMTPC_FAIL && conn->basic_errno == SMTPC_ERRNO_DNSDEFER)) {
		int e = conn->basic_errno;
		sv text = xbuf_sv(&conn->message);
		sv et = errno_text(e, conn);
		if (et.len && sv_eq(text, et))
			text = SV_NULL;
		/* Observed: Exim 4.96 writes no host line for a failed TLS handshake, nor for
		 * required authentication that failed. */
		if (e != SMTPC_ERRNO_TLSFAILURE && e != SMTPC_ERRNO_AUTHFAIL)
			log_host_line(b, text, e, conn);
		xbuf data;
		xbuf_init(&data, c->a);
		xbuf_putsv(&data, text);
		if (et.len)
			xbuf_printf(&data, "%s" SV_FMT, text.len ? ": " : "", SV_ARG(et));
		raise(b, NULL, "msg:host:defer", xbuf_sv(&data), e, text);
		b->defer_pending = true;
		b->defer_data = xbuf_sv(&data);
		b->defer_errno = e;
		/* Exim records the host even when its greeting failed the message (5xx), and keeps
		 * no reply code in a host record. */
		if (k > 0)
			add_retry(b, b->addr[idx[0]], hkey, e, encoded_more(h, 0),
				retry_text(b, e, text, b->addr[idx[0]]->host_used_address.len > 0), true, false);
	}
	return TRY_DONE;
}

/* ---- the host list ---- */

static bool any_open(const batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->open[i])
			return true;
	return false;
}

/* Try the hosts in order while addresses are open, within hosts_max_try (one host of each
 * higher MX value is still tried, uncounted) and hosts_max_try_hardlimit. Hosts skipped for
 * their retry time do not count, nor do hosts past their retry cutoff. */
static bool run_hosts(batch *b, const route_host *list)
{
	int max_try = b->ob->hosts_max_try > 0 ? b->ob->hosts_max_try : 1;
	int hard = b->ob->hosts_max_try_hardlimit > 0 ? b->ob->hosts_max_try_hardlimit : max_try;
	for (const route_host *h = list; h && any_open(b); h = h->next) {
		if (h->address.len == 0 || h->unusable)
			continue;
		if (b->attempts >= hard)
			break;
		bool count = true;
		if (b->counted >= max_try) {
			if (h->mx < 0 || h->mx <= b->last_mx)
				continue;
			count = false;
		}
		bool timed_out;
		try_rc rc = try_host(b, h, &timed_out);
		if (rc == TRY_STOP)
			return false;
		if (rc == TRY_SKIPPED)
			continue;
		b->attempts++;
		if (count && !timed_out)
			b->counted++;
		b->last_mx = h->mx;
	}
	b->host = NULL;
	return true;
}

/* The transport's port, which Exim resolves before any host (a host's own port then wins):
 * unset means the service named after the protocol. */
static bool transport_port(batch *b, xbuf *err)
{
	xbuf v, e;
	xbuf_init(&v, b->c->a);
	xbuf_init(&e, b->c->a);
	const char *opt = b->ob->port;
	const char *proto = b->ob->protocol && strcmp(b->ob->protocol, "lmtp") == 0 ? "lmtp" : "smtp";
	if (opt && xp_expand(b->c->env, sv_cstr(opt), &v, &e) != XP_OK) {
		xbuf_printf(err, "failed to expand port \"%s\" in %s transport: " SV_FMT, opt, b->t->name,
			SV_ARG(xbuf_sv(&e)));
		return false;
	}
	sv p = v.len ? xbuf_sv(&v) : sv_cstr(proto);
	long long n;
	if (sv_to_long(p, &n) && n > 0 && n < 65536)
		return true;
	char *name = sv_dup(b->c->a, p);
	if (getservbyname(name, "tcp") == NULL) {
		xbuf_printf(err, "TCP port \"%s\" is not defined for %s transport", name, b->t->name);
		return false;
	}
	return true;
}

/* The envelope sender: the router's errors_to, else the message's; return_path overrides. */
static bool envelope_sender(batch *b, xbuf *err)
{
	const address_item *a = b->addr[0];
	b->sender = a->errors_address.len ? a->errors_address : b->c->m->sender;
	const char *rp = tp_opt_str(b->t, "return_path");
	if (rp == NULL)
		return true;
	xbuf v, e;
	xbuf_init(&v, b->c->a);
	xbuf_init(&e, b->c->a);
	int rc = xp_expand(b->c->env, sv_cstr(rp), &v, &e);
	if (rc == XP_FORCEFAIL)
		return true;
	if (rc != XP_OK) {
		xbuf_printf(err, "Failed to expand return path \"%s\" in %s transport: " SV_FMT, rp, b->t->name,
			SV_ARG(xbuf_sv(&e)));
		return false;
	}
	b->sender = xbuf_sv(&v);
	return true;
}

static void smtp_deliver(const driver_instance *t, tp_ctx *c, address_item *addrs)
{
	batch b = { .t = t, .ob = t->priv, .c = c, .last_mx = -1 };
	for (address_item *a = addrs; a; a = a->next)
		b.n++;
	if (b.n == 0)
		return;
	b.addr = arena_alloc(c->a, sizeof *b.addr * b.n);
	b.open = arena_alloc(c->a, b.n);
	size_t i = 0;
	for (address_item *a = addrs; a; a = a->next, i++) {
		b.addr[i] = a;
		b.open[i] = true;
		a->result = ADDR_PENDING;
		a->host_used_mx = -1;
	}
	if (c->dont_deliver) {
		/* -N: every address counts as delivered, nothing is sent. */
		for (i = 0; i < b.n; i++)
			b.addr[i]->result = ADDR_OK;
		return;
	}
	b.now = time(NULL);
	xbuf err, lookup_err;
	xbuf_init(&err, c->a);
	xbuf_init(&lookup_err, c->a);
	xp_provider *saved = c->env->providers;
	b.host_vars = (xp_provider){ .get = host_var, .ctx = &b };
	xp_env_push_provider(c->env, &b.host_vars);
	route_host *hosts = NULL;
	if (!transport_port(&b, &err) || !envelope_sender(&b, &err) || !smtp_hosts_for_batch(t, c, addrs, &hosts, &lookup_err, &err)) {
		defer_open(&b, ADDR_ERRNO_UNKNOWN, xbuf_sv(&err), true);
		goto done;
	}
	/* message_size_limit fails the batch before any host is tried, as Exim checks it before
	 * running a transport (an option that does not expand defers). */
	switch (tp_message_size_check(t, c->env, c->m, &err)) {
	case 1:
		for (i = 0; i < b.n; i++) {
			b.addr[i]->result = ADDR_FAIL;
			b.addr[i]->basic_errno = EFBIG;
			b.addr[i]->message = xbuf_sv(&err);
		}
		goto done;
	case -1:
		defer_open(&b, ADDR_ERRNO_UNKNOWN, xbuf_sv(&err), true);
		goto done;
	default:
		break;
	}
	/* message_linelength_limit: a message received with a longer line fails before any host is
	 * tried (observed with Exim 4.96: no connection, no host in the "**" lines; any limit, 0 or
	 * negative too, is compared with the longest line without its newline). */
	if (c->m->max_received_linelength > b.ob->message_linelength_limit) {
		for (i = 0; i < b.n; i++) {
			b.addr[i]->result = ADDR_FAIL;
			b.addr[i]->basic_errno = 0;
			b.addr[i]->message = SV_LIT("message has lines too long for transport");
		}
		goto done;
	}
	if (run_hosts(&b, hosts) && any_open(&b)) {
		/* Addresses no host took, for a reason that is not permanent: the fallback hosts. */
		route_host *fb = smtp_hosts_fallback(t, c, addrs, &lookup_err);
		if (fb) {
			b.counted = b.attempts = 0;
			b.last_mx = -1;
			run_hosts(&b, fb);
		}
	}
	/* Observed with Exim 4.96: after the last host, addresses left deferred by a host or message
	 * error raise one msg:defer (the error's text and errno, the last host, the first open
	 * address's variables) before the delivery process logs the "==" lines. */
	if (b.defer_pending && any_open(&b))
		raise(&b, NULL, "msg:defer", b.defer_data, b.defer_errno, b.defer_data);
	/* Nothing left for a later attempt: the message-specific host records of this attempt go
	 * (Exim keeps none for a message that is finished). */
	if (!any_open(&b))
		for (int k = 0; k < b.nmsg_keys; k++)
			add_retry(&b, b.addr[0], b.msg_keys[k], 0, 0, SV_NULL, true, true);
	for (i = 0; i < b.n; i++) {
		address_item *a = b.addr[i];
		if (a->result != ADDR_PENDING)
			continue;
		a->result = ADDR_DEFER;
		if (b.any_serialized && !b.any_attempt) {
			/* Observed with Exim 4.96: logged (not a "retry time" deferral). */
			a->basic_errno = SMTPTP_ERRNO_HRETRY;
			xbuf_init(&err, c->a);
			xbuf_printf(&err, "connection limit reached for all hosts for '" SV_FMT "'", SV_ARG(a->domain));
			a->message = xbuf_sv(&err);
		} else if (b.any_skipped && !b.any_attempt) {
			a->basic_errno = SMTPTP_ERRNO_HRETRY;
			a->retry_skipped = true;
			xbuf_init(&err, c->a);
			xbuf_printf(&err, "retry time not reached for any host for '" SV_FMT "'", SV_ARG(a->domain));
			a->message = xbuf_sv(&err);
		} else if (lookup_err.len) {
			a->basic_errno = SMTPTP_ERRNO_UNKNOWNHOST;
			a->message = xbuf_sv(&lookup_err);
		} else {
			a->basic_errno = ADDR_ERRNO_UNKNOWN;
			a->message = SV_LIT("no usable host address");
		}
	}
done:
	smtp_cont_drop_unused(c);
	c->env->providers = saved;
}

const transport_ops smtp_transport_ops = {
	.remote = true,
	.deliver = smtp_deliver,
};
