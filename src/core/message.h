/* The message model: one message's envelope, headers and reception facts, as the SMTP server and
 * local submission build it, the spool writes and reads it (Exim 4.96 -H format, facts §1), the
 * ACL engine inspects it, and the expansion engine shows it as variables.
 *
 * Everything hangs off one arena (normally pool_msg), so a message is freed in O(1). Strings are
 * sv views so they keep their taint bit: anything that came from the network is tainted.
 */
#ifndef POSTERN_CORE_MESSAGE_H
#define POSTERN_CORE_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/str.h"

/* Message ids: Exim 4.96's 16-character form TTTTTT-PPPPPP-SS. */
#define MSG_ID_LEN 16

/* DSN flag bits as the -H file stores them (facts §1). */
enum {
	MSG_DSN_LASTHOP = 0x01,
	MSG_DSN_NEVER = 0x02,
	MSG_DSN_SUCCESS = 0x04,
	MSG_DSN_FAILURE = 0x08,
	MSG_DSN_DELAY = 0x10,
};

/* RET= on MAIL: what a DSN returns (the -dsn_ret value). */
enum { MSG_DSN_RET_NONE = 0, MSG_DSN_RET_FULL = 1, MSG_DSN_RET_HDRS = 2 };

/* One header line as the -H file keeps it: the whole "Name: value\n" text with LF line ends
 * (folded continuation lines included), and Exim's type letter. */
typedef struct msg_header {
	struct msg_header *next;
	char type;        /* ' ' ordinary, B C F I P R S T as facts §1, '*' deleted (kept, not sent) */
	bool qualified;   /* made by reception's qualification: a rewrite replaces it in place, so
	                   * the spool keeps only the original, as Exim's one pass does */
	sv text;          /* length = the number the -H file writes before the type letter */
} msg_header;

typedef struct msg_recipient {
	sv address;
	sv orcpt;         /* ORCPT as "rfc822;..." (xtext decoded); empty: none */
	unsigned dsn_flags;  /* MSG_DSN_* */
	sv errors_to;     /* empty: none */
	int pno;          /* one_time parent number; -1: none */
} msg_recipient;

/* A node of an Exim-style balanced (AVL) tree, ordered by strcmp of name. Exim keeps the
 * non-recipients and the ACL variables in such trees and writes them to -H in pre-order, so the
 * byte layout of a -H file depends on the tree shape; these trees reproduce it. */
typedef struct msg_tree {
	struct msg_tree *left, *right;
	int balance;      /* height(right) - height(left) */
	sv name;
} msg_tree;
/* Insert name (copied into a) unless present; true if inserted. */
bool msg_tree_insert(arena *a, msg_tree **root, sv name);
bool msg_tree_find(const msg_tree *root, sv name);
/* Recompute every balance field from subtree heights (after building a tree from a file).
 * Returns the height. */
int msg_tree_rebalance_info(msg_tree *root);

/* An ACL variable: name is the full name ("acl_c0", "acl_m_foo"). */
typedef struct msg_aclvar {
	struct msg_aclvar *next;
	sv name;
	sv value;
} msg_aclvar;

/* Facts about the connection the message came in on. The SMTP server owns one per connection
 * and points each message at it; local submission fills one with the -oM* values. */
typedef struct msg_origin {
	/* Taint as Exim 4.96 records it (observed): HELO name, host name, auth_id/auth_sender tainted;
	 * host and interface addresses untainted when from accept(), tainted when given by -oMa/-oMi. */
	sv host_address;        /* $sender_host_address; empty for local submission */
	int host_port;
	sv host_name;           /* $sender_host_name (after a successful reverse lookup) */
	bool host_lookup_deferred, host_lookup_failed;
	/* Why host_lookup_failed, as Exim words it for the "host lookup failed for reverse lookup
	 * check" and "unqualified ... rejected" lines: " (failed to find host name from IP address)"
	 * or " (<ip> does not match any IP address for <name>)". */
	sv host_lookup_reason;
	sv helo_name;           /* $sender_helo_name */
	/* Batched SMTP (-bS) with -oMa: Exim makes its host texts ($sender_fullhost, $sender_rcvhost,
	 * H=) before the HELO and does not make them again, so they never show the HELO name (it is
	 * still $sender_helo_name and in the -H file). Observed, tests/scenario/test_bsmtp_host_exim.py. */
	bool host_texts_before_helo;
	/* A refused HELO/EHLO forgets $sender_helo_name, but Exim 4.96 keeps the host texts made
	 * with the name before it ($sender_fullhost, $sender_rcvhost in Received:, H= on the "<="
	 * line; observed): texts_helo_name is that name while texts_helo_set. */
	bool texts_helo_set;
	sv texts_helo_name;
	sv interface_address;   /* $received_ip_address */
	int interface_port;     /* $received_port */
	sv active_hostname;     /* smtp_active_hostname result when it differs from primary_hostname */
	sv ident;               /* $sender_ident */
	sv protocol;            /* $received_protocol: smtp esmtp esmtps esmtpa esmtpsa local ... */
	/* AUTH */
	sv auth_driver;         /* -host_auth: the authenticator's instance name */
	sv auth_pubname;        /* -host_auth_pubname: its public name */
	sv auth_id;             /* $authenticated_id */
	sv auth_sender;         /* $authenticated_sender (AUTH= on MAIL) */
	/* TLS (filled by the TLS issue; written to the spool when set). Certificates are PEM text with
	 * real newlines (the -H file escapes them as "\n"). Exim taints the peer's DN and certificate
	 * (--tls_peerdn, --tls_peercert), not the cipher, version or our certificate. */
	sv tls_cipher, tls_peerdn, tls_sni, tls_ver, tls_ourcert, tls_peercert;
	bool tls_certificate_verified;
	int tls_ocsp;
	unsigned tls_resumption;
	/* PROXY protocol (facts §14) */
	bool proxy_session;
	sv proxy_local_address;   /* the proxy's inside address (the TCP peer) */
	int proxy_local_port;
	sv proxy_external_address;/* the header's destination address */
	int proxy_external_port;
	/* Login, uid, gid of the submitting process (-H line 2). */
	sv login;
	uid_t uid;
	gid_t gid;
	/* Added (rcvleft): the host name lookup (PTR and the forward confirmation) gave DNSSEC
	 * authenticated answers: $sender_host_dnssec, DS on the <= line under +dnssec. */
	bool host_dnssec;
	/* Added (tfo): a tfo_state (core/tfo_state.h) of the connection; " TFO"/" TFO*" on the
	 * first "<=" line of the connection only (the session clears it after that line). */
	int tcp_fastopen;
} msg_origin;

/* The origin as the host texts see it: tmp holds a copy when their HELO name differs from
 * $sender_helo_name (-bS with -oMa: none; after a refused HELO: the one before it). */
static inline const msg_origin *msg_origin_for_texts(const msg_origin *o, msg_origin *tmp)
{
	if (!o->host_texts_before_helo && !o->texts_helo_set)
		return o;
	*tmp = *o;
	tmp->helo_name = o->host_texts_before_helo ? SV_NULL : o->texts_helo_name;
	return tmp;
}

typedef struct message {
	arena *a;                   /* everything below is allocated here */
	char id[MSG_ID_LEN + 1];
	const msg_origin *origin;   /* not owned */
	sv sender;                  /* envelope sender without <>; empty for <> */
	time_t received_time;
	int received_usec;
	time_t received_complete;   /* when the 250 was about to be sent */
	int received_complete_usec;
	int warning_count;
	/* Recipients in arrival order. */
	msg_recipient *rcpt;
	size_t nrcpt, rcpt_cap;
	/* Non-recipients (already delivered / never deliver), stored as a flat list; the spool writes
	 * the balanced tree Exim expects. */
	sv *nonrcpt;
	size_t nnonrcpt, nonrcpt_cap;
	msg_tree *nonrcpt_tree;     /* the same addresses as the tree Exim writes (and its shape) */
	msg_header *headers, *headers_tail;
	msg_aclvar *aclvars;        /* acl_c* and acl_m* in the order they were first set (Exim's
	                             * trees are built in that order, which fixes the -H order) */
	/* Body facts */
	long long size;             /* $message_size and the <= line's S=: non-deleted header bytes
	                             * + 1 (the blank line) + body bytes as spooled (LF line ends), as
	                             * Exim counts it (S=283 for 269 + 1 + 13); spool_read_header sets it */
	long long body_linecount, body_zerocount, max_received_linelength;
	bool spool_wireformat;      /* -D holds CRLF wire format (CHUNKING); no -body_linecount */
	/* DSN */
	sv dsn_envid;
	int dsn_ret;                /* MSG_DSN_RET_* */
	/* Flags (-H option lines) */
	bool allow_unqualified_recipient, allow_unqualified_sender;
	bool deliver_firsttime, dont_deliver /* -N */, local, localerror, manual_thaw;
	bool sender_set_untrusted, smtputf8, utf8_downcvt, utf8_optdowncvt;
	time_t frozen;              /* 0: not frozen */
	sv local_scan, spam_bar, spam_score, spam_score_int, bmi_verdicts;
	sv debuglog_name;
	unsigned long debug_selector; /* written only when non-zero */
	/* Option lines read from a spool file that this version does not interpret, kept verbatim
	 * (without the newline) so a rewrite of -H preserves them. */
	sv *unknown_lines;
	size_t nunknown, unknown_cap;
} message;

/* A new empty message in arena a (sets pno defaults, received time = now). */
message *message_new(arena *a);
void message_add_recipient(message *m, sv address);
msg_recipient *message_last_recipient(message *m);
/* Adds to the non-recipients (no-op if already there). */
void message_add_nonrecipient(message *m, sv address);
bool message_is_nonrecipient(const message *m, sv address);
/* Append a header (text must end with "\n"); type ' ' unless the caller knows better. */
msg_header *message_add_header(message *m, char type, sv text);
/* Insert before `before` (NULL: at the start). */
msg_header *message_insert_header(message *m, msg_header *before, char type, sv text);
/* First header with this name (case-insensitive, not deleted), or NULL. */
msg_header *message_find_header(const message *m, sv name);
/* Exim's type letter for a header name (From -> 'F', Received -> 'P', ...); ' ' otherwise. */
char message_header_type(sv name);
void message_set_aclvar(message *m, sv name, sv value);
/* The current value of an ACL variable, or NULL. */
const msg_aclvar *message_get_aclvar(const message *m, sv name);
/* Exim's header size rule: bytes of all headers not marked deleted ('*'). */
long long message_header_size(const message *m);

/* The xp_message view the expansion engine reads ($h_*, $message_body...); body may be empty. */
void message_to_xp(const message *m, sv body, xp_message *out, arena *a);

/* A variable provider for everything the message and its origin define: $message_id,
 * $sender_address, $sender_host_address, $received_protocol, $authenticated_id, $recipients,
 * $recipients_count, $message_size, $body_linecount, $proxy_*, $dsn_*, $tls_in_* ... The
 * provider reads the structures live, so later changes show. Either pointer may be NULL. */
typedef struct message_vars {
	xp_provider p;
	const message *m;
	const msg_origin *o;        /* NULL: m->origin */
	bool allow_recipients;      /* $recipients has its value (DATA/MIME/not-SMTP ACLs, filters) */
} message_vars;
void message_vars_init(message_vars *v, const message *m, const msg_origin *o);

/* $sender_fullhost and $sender_rcvhost in Exim's formats (for log lines and Received:). */
void message_sender_fullhost(const msg_origin *o, xbuf *out);
void message_sender_rcvhost(const msg_origin *o, xbuf *out);

#endif
