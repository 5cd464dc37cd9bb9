/* queue_fast_ramp's request to the daemon (see fast_ramp.h for what and why). */
#include "core/fast_ramp.h"

#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "conf/main_options.h"
#include "core/message.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/log.h"

bool fast_ramp_active;

bool notifier_address(struct sockaddr_un *sa, socklen_t *len, const char **name_out)
{
	const char *opt = conf_main.notifier_socket;
	if (!opt || !*opt)
		return false;
	xp_env env;
	xp_env_init(&env, pool_scratch);
	xbuf out, err;
	xbuf_init(&out, pool_perm);
	xbuf_init(&err, pool_scratch);
	int rc = xp_expand(&env, sv_cstr(opt), &out, &err);
	xp_env_release(&env);
	if (rc != XP_OK) {
		log_write(LOG_MAIN | LOG_PANIC, "failed to expand notifier_socket \"%s\": %s", opt, xbuf_cstr(&err));
		return false;
	}
	if (out.len == 0 || out.len + 1 > sizeof sa->sun_path)
		return false;
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path + 1, out.p, out.len);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + out.len);
	if (name_out)
		*name_out = xbuf_cstr(&out);
	return true;
}

static char pending[MSG_ID_LEN + 1];

void fast_ramp_notify(const char *id)
{
	if (fast_ramp_active && id && strlen(id) == MSG_ID_LEN)
		memcpy(pending, id, MSG_ID_LEN + 1);
}

void fast_ramp_flush(void)
{
	if (!pending[0])
		return;
	char id[MSG_ID_LEN + 1];
	memcpy(id, pending, sizeof id);
	pending[0] = 0;
	struct sockaddr_un sa;
	socklen_t len;
	if (!notifier_address(&sa, &len, NULL))
		return;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	char buf[1 + MSG_ID_LEN + 1];
	buf[0] = 1; /* NOTIFY_MSG_QRUN */
	memcpy(buf + 1, id, MSG_ID_LEN + 1);
	/* No daemon (ECONNREFUSED) or a full queue: the second phase delivers it anyway. */
	(void)sendto(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&sa, len);
	close(fd);
}
