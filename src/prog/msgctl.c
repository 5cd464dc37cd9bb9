/* The -M family (Exim 4.96 "Message control options"), for admin users only:
 *   -M id...    forced delivery (frozen messages are thawed for it)   -Mc id...  delivery respecting retry times
 *   -Mf / -Mt   freeze / thaw            -Mrm  remove (events msg:fail:internal per undelivered
 *   recipient, then msg:complete)        -Mg   give up: bounce what is undelivered
 *   -Mar id addr...  add recipients      -Mmd id addr...  mark recipients delivered
 *   -Mmad id...      mark every recipient delivered (the next delivery attempt completes it)
 *   -Mes id addr     change the sender   -Mvh/-Mvb/-Mvl/-Mvc  show -H, -D, msglog, whole message
 * Messages, log lines and exit codes are the ones Exim 4.96 gives (observed with a private spool):
 * "Message <id> is locked" (exit 1) when another process holds the message, "Spool data file for
 * <id> does not exist" for unknown ids, "... has been modified", "<id> frozen by <user>" etc.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/addr.h"
#include "core/bounce.h"
#include "core/deliver.h"
#include "core/deliver_continue.h"
#include "core/event.h"
#include "core/priv.h"
#include "core/queue.h"
#include "core/queue_named.h"
#include "core/queue_named_move.h"
#include "core/spool.h"
#include "lib/log.h"
#include "prog/cmdline.h"
#include "prog/log_setup.h"

static const char *caller_name(void)
{
	static char name[64];
	if (!name[0]) {
		struct passwd *pw = getpwuid(getuid());
		snprintf(name, sizeof name, "%s", pw ? pw->pw_name : "unknown");
	}
	return name;
}

/* Exim's line for an id with no -D, naming a named queue ("Spool Q=quar file <id>-D not found"). */
static void log_not_found(const spool_config *sc, const char *id)
{
	const char *q = sc->queue_name && *sc->queue_name ? sc->queue_name : NULL;
	log_write(LOG_MAIN, "Spool%s%s file %s-D not found", q ? " Q=" : "", q ? q : "", id);
}

/* A message opened for changing: locked, -H read. */
typedef struct held {
	int fd;
	message m;
	msg_origin origin;
} held;

/* 0: held; 1: reported (locked / missing / unreadable). */
static int hold(const spool_config *sc, const char *id, held *h)
{
	xbuf err;
	xbuf_init(&err, pool_msg);
	h->fd = spool_valid_id(sv_cstr(id)) ? spool_open_locked(sc, id, &err) : -1;
	if (h->fd < 0) {
		if (spool_valid_id(sv_cstr(id)) && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EACCES)) {
			printf("Message %s is locked\n", id);
		} else {
			log_not_found(sc, id);
			printf("Spool data file for %s does not exist\n", id);
		}
		return 1;
	}
	if (!spool_read_header(pool_msg, sc, id, &h->m, &h->origin, &err)) {
		printf("Spool read error for %s-H: %s\n", id, xbuf_cstr(&err));
		close(h->fd);
		return 1;
	}
	h->m.origin = &h->origin;
	spool_read_journal(pool_msg, sc, id, &h->m);
	return 0;
}

static bool rewrite(const spool_config *sc, held *h)
{
	xbuf err;
	xbuf_init(&err, pool_msg);
	if (!spool_rewrite_header(sc, &h->m, &err)) {
		printf("Message %s: failed to update spool file: %s\n", h->m.id, xbuf_cstr(&err));
		return false;
	}
	return true;
}

static int do_deliver(const spool_config *sc, const char *id, bool forced)
{
	deliver_opts d = { .forced = forced, .thaw = forced, .manual = true };
	int chain = dcont_chain_begin();
	deliver_rc rc = deliver_message(sc, id, &d);
	dcont_chain_wait(chain);
	arena_mark mk = arena_getmark(pool_msg);
	const char *hp = spool_path(pool_msg, sc, "input", id, "-H");
	if (access(hp, F_OK) == 0 && rc != DELIVER_NOT_ATTEMPTED)
		deliver_note_schedule(sc, id);
	arena_reset(pool_msg, mk);
	return 0;
}

static int do_freeze(const spool_config *sc, const char *id, bool freeze)
{
	held h;
	if (hold(sc, id, &h))
		return 1;
	int rc = 0;
	if (freeze && h.m.frozen) {
		printf("Message %s is already frozen\n", id);
		rc = 1;
	} else if (!freeze && !h.m.frozen) {
		printf("Message %s is not frozen\n", id);
		rc = 1;
	} else {
		h.m.frozen = freeze ? time(NULL) : 0;
		if (!freeze)
			h.m.manual_thaw = true;
		if (rewrite(sc, &h)) {
			log_write(LOG_MAIN, "%s by %s", freeze ? "frozen" : "unfrozen", caller_name());
			queue_schedule_note(sc, id, 0, freeze);
			printf("Message %s %s\n", id, freeze ? "is now frozen" : "is no longer frozen");
		} else {
			rc = 1;
		}
	}
	close(h.fd);
	return rc;
}

/* An address_item for recipient i of m, as events and bounces see it. */
static address_item *rcpt_item(const message *m, size_t i, sv text)
{
	address_item *a = arena_alloc(pool_msg, sizeof *a);
	memset(a, 0, sizeof *a);
	a->address = m->rcpt[i].address;
	a->unique = a->address;
	const char *at = memchr(a->address.p, '@', a->address.len);
	size_t lp = at ? (size_t)(at - a->address.p) : a->address.len;
	a->local_part = a->cc_local_part = a->lc_local_part = sv_make(a->address.p, lp);
	if (at)
		a->domain = sv_make(at + 1, a->address.len - lp - 1);
	a->rcpt_index = (int)i;
	a->dsn_flags = m->rcpt[i].dsn_flags;
	a->orcpt = m->rcpt[i].orcpt;
	a->result = ADDR_FAIL;
	a->basic_errno = ADDR_ERRNO_UNKNOWN;
	a->message = text;
	a->host_used_mx = -1;
	return a;
}

static int do_remove(const spool_config *sc, const char *id)
{
	held h;
	xbuf err;
	xbuf_init(&err, pool_msg);
	if (spool_valid_id(sv_cstr(id))) {
		h.fd = spool_open_locked(sc, id, &err);
		if (h.fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EACCES)) {
			printf("Message %s is locked\n", id);
			return 1;
		}
	} else {
		h.fd = -1;
	}
	if (h.fd < 0) {
		/* Exim goes on removing whatever is left of the message. */
		log_not_found(sc, id);
		printf("Spool data file for %s does not exist\nContinuing, to ensure all files removed\n", id);
		printf("Spool read error for %s-H: %s\nContinuing to ensure all files removed\n", id, strerror(ENOENT));
		if (spool_valid_id(sv_cstr(id))) {
			xbuf_reset(&err);
			spool_remove_message(sc, id, &err);
		}
		printf("Message %s has been removed or did not exist\n", id);
		return 1; /* Exim's status for a message that was not there */
	}
	bool have_header = spool_read_header(pool_msg, sc, id, &h.m, &h.origin, &err);
	log_write(LOG_MAIN, "removed by %s", caller_name());
	if (have_header) {
		h.m.origin = &h.origin;
		spool_read_journal(pool_msg, sc, id, &h.m);
		const char *data = arena_printf(pool_msg, "message removed by %s", caller_name());
		xbuf result;
		xbuf_init(&result, pool_msg);
		for (size_t i = 0; i < h.m.nrcpt; i++) {
			if (message_is_nonrecipient(&h.m, h.m.rcpt[i].address))
				continue;
			event_vars v = { .m = &h.m, .addr = rcpt_item(&h.m, i, sv_cstr(data)) };
			event_raise_for(NULL, "msg:fail:internal", sv_cstr(data), &v, NULL, &result);
		}
		event_vars v = { .m = &h.m };
		event_raise_for(NULL, "msg:complete", SV_NULL, &v, NULL, &result);
	}
	xbuf_reset(&err);
	if (!spool_remove_message(sc, id, &err))
		log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&err));
	log_write(LOG_MAIN, "Completed");
	close(h.fd);
	printf("Message %s has been removed\n", id);
	return 0;
}

static int do_give_up(const spool_config *sc, const char *id)
{
	held h;
	if (!spool_valid_id(sv_cstr(id))) {
		log_not_found(sc, id);
		return 0;
	}
	xbuf err;
	xbuf_init(&err, pool_msg);
	h.fd = spool_open_locked(sc, id, &err);
	if (h.fd < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EACCES)
			log_write(LOG_MAIN, "Spool file for %s is locked (another process is handling this message)", id);
		else
			log_not_found(sc, id);
		return 0;
	}
	if (!spool_read_header(pool_msg, sc, id, &h.m, &h.origin, &err)) {
		log_write(LOG_MAIN, "Spool read error for %s-H: %s", id, xbuf_cstr(&err));
		close(h.fd);
		return 1;
	}
	h.m.origin = &h.origin;
	spool_read_journal(pool_msg, sc, id, &h.m);
	log_write(LOG_MAIN, "cancelled by %s", caller_name());
	address_item *failed = NULL, **tail = &failed;
	sv text = sv_cstr("delivery cancelled by administrator");
	for (size_t i = 0; i < h.m.nrcpt; i++) {
		if (message_is_nonrecipient(&h.m, h.m.rcpt[i].address))
			continue;
		*tail = rcpt_item(&h.m, i, text);
		tail = &(*tail)->next;
	}
	int rc = 0;
	if (failed && h.m.sender.len) {
		char bid[MSG_ID_LEN + 1];
		xbuf_reset(&err);
		if (!bounce_send_failure(sc, &h.m, h.fd, failed, h.m.sender, bid, &err)) {
			/* Exim freezes a message whose bounce cannot be sent; it stays for the admin. */
			log_write(LOG_MAIN, "Error message for %s could not be sent: %s", id, xbuf_cstr(&err));
			h.m.frozen = time(NULL);
			spool_rewrite_header(sc, &h.m, &err);
			queue_schedule_note(sc, id, 0, true);
			close(h.fd);
			return 1;
		}
	}
	xbuf_reset(&err);
	if (!spool_remove_message(sc, id, &err))
		log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&err));
	log_write(LOG_MAIN, "Completed");
	close(h.fd);
	return rc;
}

static bool is_recipient(const message *m, sv a, size_t *idx)
{
	for (size_t i = 0; i < m->nrcpt; i++)
		if (sv_eq(m->rcpt[i].address, a)) {
			*idx = i;
			return true;
		}
	return false;
}

static int do_edit(const spool_config *sc, const cmdline *cl, char what)
{
	const char *id = cl->args[0];
	held h;
	if (hold(sc, id, &h))
		return 1;
	size_t naddr = cl->nargs - 1;
	char **addrs = cl->args + 1;
	int rc = 0;
	if (what == 'a') { /* -Mar */
		if (!naddr) {
			printf("Message %s - error while adding recipient: no address given\n", id);
			rc = 1;
		} else {
			for (size_t i = 0; i < naddr; i++)
				message_add_recipient(&h.m, sv_copy(pool_msg, sv_cstr(addrs[i])));
			if (rewrite(sc, &h)) {
				for (size_t i = 0; i < naddr; i++)
					log_write(LOG_MAIN, "recipient <%s> added by %s", addrs[i], caller_name());
				queue_schedule_note(sc, id, 0, h.m.frozen != 0);
				printf("Message %s has been modified\n", id);
			} else {
				rc = 1;
			}
		}
	} else if (what == 'm') { /* -Mmd: every address must be a recipient, else nothing changes */
		bool ok = naddr > 0;
		if (!naddr)
			printf("Message %s - error while marking as delivered: no address given\n", id);
		bool first = true;
		for (size_t i = 0; i < naddr; i++) {
			size_t k;
			if (!is_recipient(&h.m, sv_cstr(addrs[i]), &k)) {
				printf("%s- error while marking as delivered:\n  %s is not a recipient: message not updated\n",
					first ? arena_printf(pool_msg, "Message %s ", id) : "", addrs[i]);
				first = false;
				ok = false;
			}
		}
		if (ok) {
			for (size_t i = 0; i < naddr; i++)
				message_add_nonrecipient(&h.m, sv_copy(pool_msg, sv_cstr(addrs[i])));
			if (rewrite(sc, &h)) {
				for (size_t i = 0; i < naddr; i++)
					log_write(LOG_MAIN, "address <%s> marked delivered by %s", addrs[i], caller_name());
				printf("Message %s has been modified\n", id);
			} else {
				ok = false;
			}
		}
		rc = ok ? 0 : 1;
	} else { /* -Mes */
		if (naddr != 1) {
			printf("Message %s - error while editing sender: %s\n", id,
				naddr ? "too many addresses given" : "no address given");
			rc = 1;
		} else {
			const char *s = addrs[0];
			if (strcmp(s, "<>") == 0)
				s = "";
			h.m.sender = sv_copy(pool_msg, sv_cstr(s));
			if (rewrite(sc, &h)) {
				log_write(LOG_MAIN, "sender address changed to <%s> by %s", s, caller_name());
				printf("Message %s has been modified\n", id);
			} else {
				rc = 1;
			}
		}
	}
	close(h.fd);
	return rc;
}

/* -Mmad: every recipient is marked delivered and logged as -Mmd logs it (as in Exim, also
 * those marked before; the non-recipients tree gets each address once). */
static int do_mark_all(const spool_config *sc, const char *id)
{
	held h;
	if (hold(sc, id, &h))
		return 1;
	size_t n = h.m.nrcpt;
	for (size_t i = 0; i < n; i++)
		if (!message_is_nonrecipient(&h.m, h.m.rcpt[i].address))
			message_add_nonrecipient(&h.m, h.m.rcpt[i].address);
	int rc = 1;
	if (rewrite(sc, &h)) {
		for (size_t i = 0; i < n; i++)
			log_write(LOG_MAIN, "address <%.*s> marked delivered by %s", SV_ARG(h.m.rcpt[i].address),
				caller_name());
		printf("Message %s has been modified\n", id);
		rc = 0;
	}
	close(h.fd);
	return rc;
}

/* -Mvh, -Mvb, -Mvl: copy a spool file to stdout. */
static int show_file(const spool_config *sc, const char *id, char which)
{
	const char *path;
	if (!spool_valid_id(sv_cstr(id)))
		path = NULL;
	else if (which == 'l')
		path = spool_path(pool_msg, sc, "msglog", id, "");
	else
		path = spool_path(pool_msg, sc, "input", id, which == 'h' ? "-H" : "-D");
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		int e = path ? errno : ENOENT;
		if (which == 'l')
			printf("Failed to open msglog file for %s: %s\n", id, strerror(e));
		else
			printf("Failed to open input file for %s-%c: %s\n", id, which == 'h' ? 'H' : 'D', strerror(e));
		return 1;
	}
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	return 0;
}

/* -Mvc: the message as it would be sent: the headers not marked deleted, a blank line, the body. */
static int show_copy(const spool_config *sc, const char *id)
{
	message m;
	msg_origin o;
	xbuf err;
	xbuf_init(&err, pool_msg);
	const char *dpath = spool_valid_id(sv_cstr(id)) ? spool_path(pool_msg, sc, "input", id, "-D") : NULL;
	int fd = dpath ? open(dpath, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0 || !spool_read_header(pool_msg, sc, id, &m, &o, &err)) {
		if (fd >= 0)
			close(fd);
		log_not_found(sc, id);
		printf("Spool data file for %s does not exist\n", id);
		return 1;
	}
	for (const msg_header *hd = m.headers; hd; hd = hd->next)
		if (hd->type != '*')
			fwrite(hd->text.p, 1, hd->text.len, stdout);
	fputc('\n', stdout);
	char buf[65536];
	ssize_t n;
	if (lseek(fd, MSG_ID_LEN + 3, SEEK_SET) >= 0)
		while ((n = read(fd, buf, sizeof buf)) > 0)
			fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	return 0;
}

/* -MG <queue> <id>...: Exim prints "Message <id> " for each message it found (also when the
 * move itself failed: that is logged), a line for each it did not, and one newline at the end. */
static int do_move_all(const spool_config *sc, const cmdline *cl)
{
	int rc = 0;
	for (size_t i = 1; i < cl->nargs; i++) {
		const char *id = cl->args[i];
		log_set_id(id);
		switch (queue_named_move(sc, cl->args[0], id)) {
		case QMOVE_MOVED:
			printf("Message %s ", id);
			break;
		case QMOVE_LOCKED:
			printf("Message %s is locked\n", id);
			rc = 1;
			break;
		case QMOVE_MISSING:
			printf("Spool data file for %s does not exist\n", id);
			rc = 1;
			break;
		}
		log_set_id(NULL);
	}
	printf("\n");
	return rc;
}

int msgctl_main(const cmdline *cl)
{
	const char *act = cl->msg_action ? cl->msg_action : "";
	if (!priv_caller_is_admin()) {
		fprintf(stderr, "exim: permission denied\n");
		return 1;
	}
	/* -MG: the first argument is the target queue ("" the default), then the ids. */
	bool move = !strcmp(act, "G");
	if (cl->nargs <= (move ? 1u : 0u)) {
		fprintf(stderr, "exim: no message ids given after -M%s option\n", act);
		return 1;
	}
	if (move) {
		xbuf qerr;
		xbuf_init(&qerr, pool_perm);
		if (!queue_named_check(sv_cstr(cl->args[0]), &qerr)) {
			fprintf(stderr, "exim: %s\n", xbuf_cstr(&qerr));
			return 1;
		}
	}
	/* Exim checks the ids' syntax before acting on any: the editing actions take one id and
	 * then addresses, the others only ids. */
	bool one_id = !strcmp(act, "ar") || !strcmp(act, "md") || !strcmp(act, "es");
	for (size_t i = move ? 1 : 0; i < (one_id ? 1 : cl->nargs); i++)
		if (!spool_valid_id(sv_cstr(cl->args[i]))) {
			fprintf(stderr, "exim: malformed message id %s after -M%s option\n", cl->args[i], act);
			return 1;
		}
	xbuf err;
	xbuf_init(&err, NULL);
	if (!log_setup_from_config(LOG_ECHO_PANIC, NULL, &err)) {
		fprintf(stderr, "%s: %s\n", cl->called_as, xbuf_cstr(&err));
		return 1;
	}
	spool_config sc;
	if (!spool_config_from_main(&sc, &err)) {
		fprintf(stderr, "%s: %s\n", cl->called_as, xbuf_cstr(&err));
		return 1;
	}
	if (move) {
		int rc = do_move_all(&sc, cl);
		fflush(stdout);
		return rc;
	}
	/* -Mar, -Mmd, -Mes: one id, then addresses. */
	if (!strcmp(act, "ar") || !strcmp(act, "md") || !strcmp(act, "es")) {
		log_set_id(cl->args[0]);
		int rc = do_edit(&sc, cl, act[0]);
		log_set_id(NULL);
		fflush(stdout);
		return rc;
	}
	int rc = 0;
	for (size_t i = 0; i < cl->nargs; i++) {
		const char *id = cl->args[i];
		arena_mark mk = arena_getmark(pool_msg);
		log_set_id(spool_valid_id(sv_cstr(id)) ? id : NULL);
		int r = 0;
		if (!strcmp(act, ""))
			r = do_deliver(&sc, id, true);
		else if (!strcmp(act, "c"))
			r = do_deliver(&sc, id, false);
		else if (!strcmp(act, "f") || !strcmp(act, "t"))
			r = do_freeze(&sc, id, act[0] == 'f');
		else if (!strcmp(act, "mad"))
			r = do_mark_all(&sc, id);
		else if (!strcmp(act, "rm"))
			r = do_remove(&sc, id);
		else if (!strcmp(act, "g"))
			r = do_give_up(&sc, id);
		else if (!strcmp(act, "vh") || !strcmp(act, "vb") || !strcmp(act, "vl"))
			r = show_file(&sc, id, act[1]);
		else if (!strcmp(act, "vc"))
			r = show_copy(&sc, id);
		log_set_id(NULL);
		fflush(stdout);
		if (r)
			rc = r;
		arena_reset(pool_msg, mk);
	}
	if (!strcmp(act, "mad"))
		printf("\n"); /* Exim ends -Mmad's report with an empty line */
	return rc;
}
