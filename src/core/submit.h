/* Messages Postern makes itself (bounces, delay warnings, DSNs, autoreplies, errors_to reports):
 * build, spool durably, log the arrival ("<= <> R=<id> U=... P=local S=..."), and start their
 * delivery as Exim does for the messages it generates. */
#ifndef POSTERN_CORE_SUBMIT_H
#define POSTERN_CORE_SUBMIT_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/message.h"
#include "core/spool.h"
#include "lib/str.h"

typedef struct submit_request {
	sv sender;                    /* envelope sender ("" for <>) */
	const sv *recipients;
	size_t nrecipients;
	sv text;                      /* headers, blank line, body: LF line ends */
	sv reference_id;              /* the message this one is about: the <= line's R= */
	bool extract_recipients;      /* -t semantics: recipients also from To/Cc/Bcc (autoreply) */
	bool queue_only;              /* spool it but do not start a delivery */
	sv auth_sender;               /* $authenticated_sender of the new message (-oMas); empty:
	                               * bounce_sender_authentication when the sender is <> */
	bool by_exim_user;            /* made by the MTA itself (bounces, warnings, DSNs): the
	                               * arrival's U= is exim_user's name (Exim 4.96 on Debian:
	                               * "U=Debian-exim"), not the calling process's */
	bool by_uid;                  /* made for a user (a Sieve notify: Exim's submission runs as
	                               * the filter's user): U= is uid's name */
	uid_t uid;
	gid_t gid;
	size_t nbad_recipients;       /* recipient-list items the caller dropped because they do not
	                               * parse (an autoreply's "to"): logged as Exim's -t reception
	                               * logs them, "<id> bad addresses found in headers" ... */
	sv first_bad_recipient;       /* ... and the first, "<item> - <why>" */
} submit_request;

/* true: spooled durably (id_out set), "<=" logged, delivery started in the background unless
 * r->queue_only or the main option queue_only. false: err says why; nothing is left in the
 * spool. With extract_recipients the recipients come from the headers only (-t), and
 * r->recipients are ignored. Afterwards the log id is r->reference_id (the caller is normally
 * delivering that message). The message goes through local reception: Received, Message-Id and
 * Date are added, the -H file has -localerror, as Exim's "exim -t -oem -oi -f <> -E<id>". */
bool submit_message(const spool_config *sc, const submit_request *r, char id_out[MSG_ID_LEN + 1],
	xbuf *err);

#endif
