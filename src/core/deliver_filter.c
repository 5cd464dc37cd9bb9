/* The system filter (Exim 4.96 "System-wide message filtering"), run at the start of every
 * delivery attempt before routing. Its log lines, recorded from Exim 4.96:
 *   Frozen by the system filter: <text>
 *   cancelled by system filter: <text>          (then the bounce, then Completed)
 *   Delivery deferred by system filter
 *   original recipients ignored (system filter) (a significant deliver/save/pipe)
 * "headers add/remove" change the message's headers, which go back to -H. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/deliver_internal.h"
#include "core/filter.h"
#include "lib/log.h"

#define SYSTEM_FILTER_MAX ((size_t)1 << 20)

static void push_failed(dctx *d, address_item *a)
{
	if (d->nfailed == d->cap_failed) {
		size_t nc = d->cap_failed ? d->cap_failed * 2 : 16;
		address_item **x = arena_alloc(pool_msg, nc * sizeof *x);
		if (d->nfailed)
			memcpy(x, d->failed, d->nfailed * sizeof *x);
		d->failed = x;
		d->cap_failed = nc;
	}
	d->failed[d->nfailed++] = a;
}

static void logfile_write(sv file, sv text)
{
	char *path = sv_dup(pool_scratch, file);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_write(LOG_MAIN | LOG_PANIC, "system filter: failed to open %s for logwrite: %s", path, strerror(errno));
		return;
	}
	if (write(fd, text.p, text.len) != (ssize_t)text.len)
		log_write(LOG_MAIN | LOG_PANIC, "system filter: failed to write %s: %s", path, strerror(errno));
	close(fd);
}

/* A save or pipe item the filter set up: delivered by system_filter_file/pipe_transport. */
static address_item *pfr_item(dctx *d, const filter_action *act)
{
	const char *tp = act->kind == FA_SAVE ? conf_main.system_filter_file_transport
		: conf_main.system_filter_pipe_transport;
	address_item *a = route_new_address(pool_msg, act->arg);
	a->kind = act->kind == FA_SAVE ? ADDR_FILE : ADDR_PIPE;
	if (!tp || !*tp) {
		a->pfr_error = true;
		a->pfr_error_text = sv_cstr(act->kind == FA_SAVE ? "system_filter_file_transport is unset"
			: "system_filter_pipe_transport is unset");
		return a;
	}
	a->transport = tp;
	if (conf_main.system_filter_user != POSTERN_UNSET_ID) {
		a->uid_set = true;
		a->uid = conf_main.system_filter_user;
	}
	if (conf_main.system_filter_group != (gid_t)POSTERN_UNSET_ID) {
		a->gid_set = true;
		a->gid = conf_main.system_filter_group;
	}
	(void)d;
	return a;
}

void dfilter_run(dctx *d, address_item **extra_route, address_item **extra_local)
{
	*extra_route = *extra_local = NULL;
	const char *file = conf_main.system_filter;
	if (!file || !*file)
		return;
	xbuf text, err;
	xbuf_init(&text, pool_msg);
	xbuf_init(&err, pool_msg);
	int e = 0;
	if (!spool_read_file(file, SYSTEM_FILTER_MAX, &text, &e)) {
		log_write(LOG_MAIN | LOG_PANIC, "Failed to read system filter file %s: %s", file, strerror(e));
		d->originals_stop = true;
		return;
	}
	filter *f = filter_parse(pool_msg, xbuf_sv(&text), true, &err);
	if (!f) {
		log_write(LOG_MAIN | LOG_PANIC, "Error in system filter: %s", xbuf_cstr(&err));
		d->originals_stop = true;
		return;
	}
	message *m = d->m;
	const char *qd = conf_main.qualify_recipient && *conf_main.qualify_recipient ? conf_main.qualify_recipient
		: conf_main.qualify_domain ? conf_main.qualify_domain : "";
	filter_ctx ctx = {
		.env = d->env, .msg = (xp_message *)d->env->msg,
		.qualify_domain = sv_cstr(qd), .domain = sv_cstr(qd),
		.error_message = m->sender.len == 0, .null_return_path = m->sender.len == 0,
		.first_delivery = m->deliver_firsttime, .manually_thawed = m->manual_thaw,
	};
	filter_result res;
	filter_run(f, &ctx, pool_msg, &res);
	filter_apply_headers(m, &res);
	address_item **rt = extra_route, **lt = extra_local;
	sv logfile = SV_NULL;
	for (const filter_action *act = res.actions; act; act = act->next) {
		switch (act->kind) {
		case FA_DELIVER: {
			address_item *a = route_new_address(pool_msg, act->arg);
			if (act->errors_to.len)
				a->errors_address = act->errors_to;
			*rt = a;
			rt = &a->next;
			break;
		}
		case FA_SAVE:
		case FA_PIPE: {
			address_item *a = pfr_item(d, act);
			*lt = a;
			lt = &a->next;
			break;
		}
		case FA_LOGFILE:
			logfile = act->arg;
			break;
		case FA_LOGWRITE:
			if (logfile.len)
				logfile_write(logfile, act->arg);
			break;
		case FA_MAIL:
			log_write(LOG_MAIN | LOG_PANIC, "system filter: mail/vacation is not supported yet (ignored)");
			break;
		default:
			break;
		}
	}
	switch (res.outcome) {
	case FILTER_FREEZE:
		if (m->manual_thaw)
			break; /* a manual thaw wins over the filter's freeze */
		log_write(LOG_MAIN, "Frozen by the system filter: %.*s", SV_ARG(res.actions ? res.tail->arg : SV_NULL));
		d->freeze = true;
		d->freeze_logged = true;
		d->originals_stop = true;
		break;
	case FILTER_DEFER:
		log_write(LOG_MAIN, "Delivery deferred by system filter");
		d->originals_stop = true;
		for (size_t i = 0; i < m->nrcpt; i++)
			d->top_pending[i] = true;
		break;
	case FILTER_FAIL: {
		sv why = res.tail ? res.tail->arg : SV_NULL;
		log_write(LOG_MAIN, "cancelled by system filter: %.*s", SV_ARG(why));
		d->originals_stop = true;
		for (size_t i = 0; i < m->nrcpt; i++) {
			if (message_is_nonrecipient(m, m->rcpt[i].address))
				continue;
			address_item *a = route_new_address(pool_msg, m->rcpt[i].address);
			a->rcpt_index = (int)i;
			a->dsn_flags = m->rcpt[i].dsn_flags;
			a->orcpt = m->rcpt[i].orcpt;
			a->result = ADDR_FAIL;
			a->message = why.len ? why : SV_LIT("cancelled by system filter");
			push_failed(d, a);
		}
		break;
	}
	case FILTER_ERROR:
		log_write(LOG_MAIN | LOG_PANIC, "Error in system filter: %.*s", SV_ARG(res.error));
		d->originals_stop = true;
		for (size_t i = 0; i < m->nrcpt; i++)
			d->top_pending[i] = true;
		break;
	default:
		if (res.significant) {
			log_write(LOG_MAIN, "original recipients ignored (system filter)");
			d->originals_stop = true;
			for (size_t i = 0; i < m->nrcpt; i++)
				message_add_nonrecipient(m, m->rcpt[i].address);
		}
		break;
	}
}
