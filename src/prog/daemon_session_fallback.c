/* Link-time fallback for smtp_session_run() while the SMTP session (src/smtp, another
 * engineer's work) is not on this branch: a weak definition that the real one replaces as soon
 * as it is linked in. It refuses the session honestly with a 421 and then holds the connection
 * until the client closes it (bounded by smtp_receive_timeout), so the daemon's accounting of
 * concurrent connections can be exercised. Delete this file once src/smtp provides the session.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/main_options.h"
#include "smtp/session.h"

__attribute__((weak)) int smtp_session_run(const smtp_conn_params *p)
{
	char line[512];
	snprintf(line, sizeof line, "421 %s SMTP session not available in this build\r\n",
		conf_main.primary_hostname ? conf_main.primary_hostname : "");
	ssize_t w = write(p->out_fd, line, strlen(line));
	(void)w;
	int timeout_ms = 300000;  /* smtp_receive_timeout's default */
	char buf[4096];
	for (;;) {
		struct pollfd pfd = { .fd = p->in_fd, .events = POLLIN };
		if (poll(&pfd, 1, timeout_ms) <= 0)
			break;
		if (read(p->in_fd, buf, sizeof buf) <= 0)
			break;
	}
	return 1;
}
