/* See detach.h: one copy for both daemons (they had one each). */
#include "prog/detach.h"

#include <fcntl.h>
#include <unistd.h>

bool detach_from_terminal(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid > 0)
		_exit(0);
	setsid();
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return true;
}
