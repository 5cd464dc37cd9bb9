/* SMTP on standard input and output:
 *   -bs        an SMTP session from a local process (or, for trusted callers, with the remote
 *              origin given by -oMa/-oMi/-oMr/-oMs/-oMt/-oMaa/-oMai)
 *   -bh IP     host checking: a conversation as if from IP[.port]; nothing is kept, log lines
 *              go to stderr as "LOG: ..."
 *   -bhc IP    the same, with callouts really done
 *   -bS        batched SMTP: commands without replies
 * The session itself is src/smtp/session.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "core/callout.h"
#include "core/deliver.h"
#include "core/priv.h"
#include "core/priv_receive.h"
#include "core/priv_reexec.h"
#include "core/receive_space.h"
#include "expand/expand.h"
#include "lib/ip.h"
#include "lib/log.h"
#include "lib/logsel.h"
#include "prog/cmdline.h"
#include "smtp/session.h"

/* "1.2.3.4", "1.2.3.4.25", "::1", "::1.25": an address with an optional ".port" (Exim's
 * -bh and -oMa syntax). */
static bool split_address(const char *text, sv *addr, int *port)
{
	sv t = sv_cstr(text);
	ip_addr ip;
	*port = 0;
	if (ip_parse(t, &ip)) { *addr = t; return true; }
	const char *dot = strrchr(text, '.');
	if (!dot || !dot[1]) return false;
	char *end;
	long p = strtol(dot + 1, &end, 10);
	if (*end || p < 0 || p > 65535) return false;
	sv a = sv_make(text, (size_t)(dot - text));
	if (!ip_parse(a, &ip)) return false;
	*addr = a;
	*port = (int)p;
	return true;
}

static const char *expand_option(const char *v)
{
	if (!v || !strchr(v, '$')) return v;
	xp_env env;
	xp_env_init(&env, pool_perm);
	xbuf out, err;
	xbuf_init(&out, pool_perm);
	xbuf_init(&err, pool_perm);
	return xp_expand(&env, sv_cstr(v), &out, &err) == XP_OK ? xbuf_cstr(&out) : NULL;
}

/* -bh writes no log files: Exim shows every log line on stderr as "LOG: <text>". The
 * session does that for its own lines; lines other modules write through log_write() (the
 * "<=" line, ACL logwrite and warn) go to a private temporary main log, which the session
 * pumps to stderr in order (before each of its own LOG: lines and each flush of replies). */
typedef struct bh_log {
	char dir[64];
	char path[96];
	long long offset;
	xbuf partial;
} bh_log;

static void bh_log_pump(void *ctx)
{
	bh_log *l = ctx;
	FILE *f = fopen(l->path, "r");
	if (!f) return;
	if (fseeko(f, (off_t)l->offset, SEEK_SET) == 0) {
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
			l->offset += (long long)n;
			xbuf_put(&l->partial, buf, n);
		}
	}
	fclose(f);
	/* Whole lines only; each starts with the 19-character timestamp and a space. */
	size_t start = 0;
	for (;;) {
		const char *nl = memchr(l->partial.p + start, '\n', l->partial.len - start);
		if (!nl) break;
		size_t end = (size_t)(nl - l->partial.p);
		size_t skip = end - start > 20 ? 20 : end - start;
		fprintf(stderr, "LOG: %.*s\n", (int)(end - start - skip), l->partial.p + start + skip);
		start = end + 1;
	}
	memmove(l->partial.p, l->partial.p + start, l->partial.len - start);
	xbuf_truncate(&l->partial, l->partial.len - start);
	fflush(stderr);
}

static void bh_log_remove(bh_log *l)
{
	static const char *const kinds[] = { "main", "reject", "panic" };
	for (size_t i = 0; i < 3; i++) {
		char p[128];
		snprintf(p, sizeof p, "%s/%slog", l->dir, kinds[i]);
		unlink(p);
	}
	rmdir(l->dir);
}

/* The log files as the configuration names them (the session writes to them, except -bh). */
static void configure_logging(bh_log *bh)
{
	log_config lc;
	log_config_default(&lc);
	lc.file_path = expand_option(conf_main.log_file_path);
	lc.spool_directory = expand_option(conf_main.spool_directory);
	if (conf_main.log_selector) {
		xbuf err;
		xbuf_init(&err, pool_perm);
		logsel sel;
		if (logsel_parse(sv_cstr(conf_main.log_selector), &sel, &err)) lc.selector = sel;
	}
	lc.timezone = conf_main.log_timezone;
	lc.write_rejectlog = conf_main.write_rejectlog;
	lc.syslog_facility = conf_main.syslog_facility;
	lc.syslog_processname = conf_main.syslog_processname;
	lc.syslog_pid = conf_main.syslog_pid;
	lc.syslog_duplication = conf_main.syslog_duplication;
	if (bh) {
		/* Timestamps in the plain form the pump strips (20 characters, as Exim does: what pid
		 * and millisec add after them stays on the LOG: line). */
		snprintf(bh->dir, sizeof bh->dir, "/tmp/postern-bh-XXXXXX");
		if (mkdtemp(bh->dir)) {
			char tmpl[128];
			snprintf(tmpl, sizeof tmpl, "%s/%%slog", bh->dir);
			snprintf(bh->path, sizeof bh->path, "%s/mainlog", bh->dir);
			lc.file_path = arena_strdup(pool_perm, tmpl);
			lc.timezone = false;
			lc.write_rejectlog = false;
		} else {
			bh->dir[0] = '\0';
		}
	}
	xbuf err;
	xbuf_init(&err, pool_perm);
	if (!log_configure(&lc, &err)) fprintf(stderr, "exim: %s\n", xbuf_cstr(&err));
}

int bs_main(const cmdline *cl)
{
	smtp_conn_params p;
	memset(&p, 0, sizeof p);
	p.in_fd = STDIN_FILENO;
	p.out_fd = STDOUT_FILENO;
	switch (cl->mode) {
	case MODE_BH: p.mode = SMTP_MODE_BH; break;
	case MODE_BHC: p.mode = SMTP_MODE_BHC; break;
	case MODE_BSB: p.mode = SMTP_MODE_BATCH; break;
	default: p.mode = SMTP_MODE_BS; break;
	}
	static bh_log bh;
	callout_set_skip(p.mode == SMTP_MODE_BH);   /* -bh skips callouts, -bhc does them */
	bool host_checking = p.mode == SMTP_MODE_BH || p.mode == SMTP_MODE_BHC;
	xbuf_init(&bh.partial, NULL);
	configure_logging(host_checking ? &bh : NULL);
	if (host_checking && bh.dir[0]) {
		p.log_pump = bh_log_pump;
		p.log_pump_ctx = &bh;
	}
	/* -oM* options are for trusted callers (Exim ignores them from others). */
	p.trusted_caller = priv_caller_is_trusted();
	bool trusted = p.trusted_caller;

	if (p.mode == SMTP_MODE_BH || p.mode == SMTP_MODE_BHC) {
		if (!cl->bh_address || !split_address(cl->bh_address, &p.host_address, &p.host_port)) {
			fprintf(stderr, "exim abandoned: \"%s\" is not an IP address\n", cl->bh_address ? cl->bh_address : "");
			return 1;
		}
		/* Exim shows an IPv6 -bh address in its full form (eight groups of four lowercase
		 * hex digits), in the banner, replies and log lines alike. */
		ip_addr ip;
		if (ip_parse(p.host_address, &ip) && ip_max_bits(&ip) == 128) {
			xbuf full;
			xbuf_init(&full, pool_perm);
			ip_format_full(&ip, &full);
			p.host_address = sv_make(xbuf_cstr(&full), full.len);
		}
	} else if (cl->oMa && trusted) {
		if (!split_address(cl->oMa, &p.host_address, &p.host_port)) {
			fprintf(stderr, "exim abandoned: \"%s\" is not an IP address\n", cl->oMa);
			return 1;
		}
		p.host_address = sv_tainted(p.host_address);
	}
	if (trusted) {
		if (cl->oMi && !split_address(cl->oMi, &p.interface_address, &p.interface_port)) {
			fprintf(stderr, "exim abandoned: \"%s\" is not an IP address\n", cl->oMi);
			return 1;
		}
		/* -oMr is ignored by -bs and -bh (the SMTP session names the protocol), as in Exim. */
		if (cl->oMr && p.mode == SMTP_MODE_BATCH) p.protocol = sv_tainted(sv_cstr(cl->oMr));
		if (cl->oMs) p.host_name = sv_tainted(sv_cstr(cl->oMs));
		if (cl->oMt) p.ident = sv_tainted(sv_cstr(cl->oMt));
		if (cl->oMaa) p.auth_driver = sv_tainted(sv_cstr(cl->oMaa));
		if (cl->oMai) p.auth_id = sv_tainted(sv_cstr(cl->oMai));
		if (p.interface_address.len) p.interface_address = sv_tainted(p.interface_address);
	}
	/* Batched SMTP is "local-bsmtp" whatever HELO, EHLO or -oMa says, as Exim 4.96 logs it. */
	if (p.mode == SMTP_MODE_BATCH && !p.protocol.len)
		p.protocol = sv_cstr("local-bsmtp");
	/* -bs and -bS start deliveries as local submission does (-odi: in this process). */
	deliver_set_after_reception(cl->deliver == DELIVER_QUEUE ? DELIVER_AFTER_QUEUE
		: cl->deliver == DELIVER_QUEUE_SMTP ? DELIVER_AFTER_QUEUE_SMTP
		: cl->deliver == DELIVER_FOREGROUND ? DELIVER_AFTER_FOREGROUND : DELIVER_AFTER_BACKGROUND,
		cl->deliver != DELIVER_DEFAULT);
	/* A session by root with an untrusted -C or -D runs as the exim user, as Exim's does
	 * (-bh and -bhc too: ${run} in an ACL says uid=Debian-exim). The -bh log directory is
	 * given to the exim user first; root can still use it when it stays root. */
	if (host_checking && bh.dir[0])
		priv_give_to_exim(bh.dir);
	if (host_checking && !priv_host_check_as_exim())
		return 1;
	if (!priv_reexec_receive_as_exim())
		return 1;
	/* -bs and -bS by root with a trusted configuration: received as the exim user in a child,
	 * delivered by this root process (core/priv_receive.h). -bh has given root up already. */
	if (!host_checking) {
		int split = priv_receive_split();
		if (split >= 0)
			return split;
	}
	/* Batched SMTP checks the room on the disks before it reads anything, as a local
	 * submission does (then at each MAIL too, as every SMTP session does). */
	if (p.mode == SMTP_MODE_BATCH && !receive_space_ok()) {
		fprintf(stderr, "exim: insufficient disk space\n");
		return 1;
	}
	int rc = smtp_session_run(&p);
	if (p.log_pump) {
		bh_log_pump(&bh);
		bh_log_remove(&bh);
	}
	return rc;
}
