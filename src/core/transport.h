/* The transport interface the delivery process drives (Exim 4.96 "Generic options for
 * transports" and the transport driver chapters).
 *
 * A transport driver (src/drivers/transports/<name>_deliver.c) hangs a transport_ops off its
 * driver_info.ops. The delivery process (src/core/deliver*.c) batches addresses per transport,
 * forks a child with the right uid/gid and working directory, and calls ops->deliver in it.
 * The transport sets every address's outcome (addr.h: result, basic_errno, more_errno, message,
 * host_used_*, confirmation, retries ...); the child sends those back to the delivery process
 * over a pipe. A transport never writes the "=>", "==" and "**" log lines itself: the delivery process does,
 * from those fields, so every transport's lines have one format.
 */
#ifndef POSTERN_CORE_TRANSPORT_H
#define POSTERN_CORE_TRANSPORT_H

#include <stdbool.h>

#include "conf/driver.h"
#include "core/addr.h"
#include "core/message.h"
#include "core/spool.h"
#include "expand/expand.h"

struct deliver_continue;

/* What a transport is given for one batch. */
typedef struct tp_ctx {
	arena *a;                     /* scratch for this batch */
	xp_env *env;                  /* message variables, plus the address variables of the first
	                               * address of the batch ($local_part, $domain, $address_data,
	                               * $host ... for remote: the transport updates $host per host) */
	const message *m;             /* as loaded from -H (after the system filter's header changes) */
	const spool_config *sc;
	int data_fd;                  /* the -D file, locked by the delivery process; read it with
	                               * pread (the body starts at offset MSG_ID_LEN + 3) */
	bool dont_deliver;            /* -N: say OK without delivering (facts §9 for queuefile) */
	struct deliver_continue *cont;/* smtp: a connection this process may reuse (NULL: none) */
	const char *uid_name;         /* the user the delivery runs as (for messages), may be NULL */
	bool forced;                  /* -M, -qf, -qff: try hosts whose retry time has not come (the
	                               * records are still updated), as Exim does */
	/* Journal addresses delivered before the transport is done with the batch (the smtp
	 * transport after each transaction, as Exim's does), so a transport process killed later
	 * does not have them delivered again; they are marked journaled and the batch's own record
	 * leaves them out. NULL: no journal (-N). */
	bool (*journal)(void *ctx, const address_item *const *addrs, size_t n);
	void *journal_ctx;
} tp_ctx;

typedef struct transport_ops {
	/* true for smtp (addresses carry hosts; retry records are per host), false for appendfile,
	 * pipe, lmtp, autoreply, queuefile. */
	bool remote;
	/* Deliver to the batch (addresses linked by next, all routed to this transport). Runs in a
	 * child process already running as the delivery's uid/gid (local transports) or the exim
	 * user (remote), in the transport's current_directory. Must leave result != ADDR_PENDING on
	 * every address. */
	void (*deliver)(const driver_instance *t, tp_ctx *c, address_item *addrs);
	/* Local transports: the expanded batch_max (NULL: 1). Addresses batched together must also
	 * give the same batch_id (below). */
	int (*batch_max)(const driver_instance *t, xp_env *env);
	/* Expanded batch_id for the address whose variables env shows (NULL or empty: no rule). */
	const char *(*batch_id)(const driver_instance *t, xp_env *env);
} transport_ops;

/* Generic option readers, by option name (the generic block belongs to the drivers layer). */
const char *tp_opt_str(const driver_instance *t, const char *name);
bool tp_opt_bool(const driver_instance *t, const char *name);
int tp_opt_int(const driver_instance *t, const char *name);
/* The transport instance of that name, or NULL. */
const driver_instance *tp_find(const char *name);

/* A transport's batch_id option expanded for the address env shows (transport_ops.batch_id):
 * NULL when unset or when the expansion fails (no batching rule then). */
const char *tp_expand_batch_id(xp_env *env, const char *batch_id);

/* Set an address's outcome in one call (message is copied into a). */
void tp_set_result(arena *a, address_item *addr, addr_result r, int basic_errno, int more_errno,
	const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
