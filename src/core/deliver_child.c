/* A transport child's work once it runs (deliver_child.h). The forked and the cloned child used
 * to carry a copy each; one copy keeps their results and journal records alike. */
#include "core/deliver_child.h"

#include <errno.h>
#include <unistd.h>

#include "core/deliver_internal.h"
#include "core/priv.h"
#include "core/transport.h"
#include "lib/log.h"

void dchild_defer_all(dbatch *b, int err, const char *text)
{
	for (address_item *a = b->addrs; a; a = a->next) {
		a->result = ADDR_DEFER;
		a->basic_errno = err;
		a->message = sv_copy(pool_msg, sv_cstr(text));
	}
}

/* tp_ctx.journal: addresses the transport delivered before it is done with the batch. */
static bool journal_early(void *ctx, const address_item *const *addrs, size_t n)
{
	dctx *d = ctx;
	if (d->journal_fd < 0 || d->dont_deliver || n == 0)
		return true;
	sv *done = arena_alloc(pool_msg, n * sizeof *done);
	for (size_t i = 0; i < n; i++) {
		done[i] = addrs[i]->unique.len ? addrs[i]->unique : addrs[i]->address;
		((address_item *)addrs[i])->journaled = true;   /* journal_delivered leaves it out */
	}
	xbuf err;
	xbuf_init(&err, pool_msg);
	if (!djournal_write_sealed(d->journal_fd, d->m->id, done, n, &err)) {
		log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(&err));
		return false;
	}
	return true;
}

/* Journal what was delivered before the child reports or exits: if the delivery process is
 * killed meanwhile, the next attempt still knows. */
static bool journal_delivered(dctx *d, dbatch *b, xbuf *err)
{
	if (d->journal_fd < 0 || d->dont_deliver)
		return true;
	size_t nok = 0;
	for (address_item *a = b->addrs; a; a = a->next)
		nok += a->result == ADDR_OK && !a->journaled;
	if (!nok)
		return true;
	sv *done = arena_alloc(pool_msg, nok * sizeof *done);
	size_t k = 0;
	for (address_item *a = b->addrs; a; a = a->next)
		if (a->result == ADDR_OK && !a->journaled)
			done[k++] = a->unique.len ? a->unique : a->address;
	xbuf_reset(err);
	if (!djournal_write_sealed(d->journal_fd, d->m->id, done, k, err)) {
		log_write(LOG_MAIN | LOG_PANIC, "%s", xbuf_cstr(err));
		return false;
	}
	return true;
}

bool dchild_deliver(dctx *d, dbatch *b, bool remote, uid_t uid, gid_t gid, const char *name, const char *dir)
{
	xbuf err;
	xbuf_init(&err, pool_msg);
	bool ok = true;
	const char *groups_of = remote ? NULL : (tp_opt_bool(b->t, "initgroups") ? name : NULL);
	if (!remote && !priv_can_become(uid, gid)) {
		/* Without root (the exim user's delivery after -C, or any other caller) the change
		 * fails: Exim's child logs this and ends without a result, so the parent defers the
		 * addresses with its "failed to read delivery status" lines. Only a forked child gets
		 * here (deliver_local.c keeps this case out of the in-process path). */
		/* The address itself, not its top-level ancestor (observed with 4.96: "local delivery
		 * to x1 <x1@vm>" for x1@vm redirected from one@vm). */
		xbuf who;
		xbuf_init(&who, pool_msg);
		xbuf_printf(&who, SV_FMT " <" SV_FMT ">", SV_ARG(b->addrs->local_part), SV_ARG(b->addrs->address));
		log_write(LOG_MAIN | LOG_PANIC, "unable to set gid=%lu or uid=%lu (euid=%lu): local delivery to %s transport=%s",
			(unsigned long)gid, (unsigned long)uid, (unsigned long)geteuid(), xbuf_cstr(&who), b->t->name);
		_exit(1);
	}
	if (!priv_become_user(uid, gid, groups_of, &err)) {
		ok = false;
		dchild_defer_all(b, DERR_UID_GID, xbuf_cstr(&err));
	} else if (chdir(dir) != 0 && chdir("/") != 0) {
		/* Exim carries on from "/" when the home directory is not there. */
		ok = false;
		dchild_defer_all(b, errno, "cannot change to the working directory");
	}
	if (ok) {
		xp_provider p;
		route_vars_push(d->env, &p, b->addrs);
		tp_ctx c = {
			.a = pool_msg, .env = d->env, .m = d->m, .sc = d->sc, .data_fd = d->data_fd,
			.dont_deliver = d->dont_deliver, .cont = d->o->cont, .uid_name = name,
			.forced = d->o->forced,
			.journal = d->journal_fd >= 0 && !d->dont_deliver ? journal_early : NULL, .journal_ctx = d,
		};
		const transport_ops *ops = b->t->info->ops;
		ops->deliver(b->t, &c, b->addrs);
		d->env->providers = p.next;
	}
	for (address_item *a = b->addrs; a; a = a->next) {
		if (a->result == ADDR_PENDING) {
			a->result = ADDR_DEFER;
			a->basic_errno = ADDR_ERRNO_UNKNOWN;
			a->message = SV_LIT("transport did not set a result");
		}
	}
	return journal_delivered(d, b, &err);
}
