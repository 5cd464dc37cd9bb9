/* See proc_argv.h. One reader: the daemon and the died-child path had a copy each. */
#include "lib/proc_argv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMDLINE_MAX 65536

char **proc_self_argv(void)
{
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char *text = malloc(CMDLINE_MAX);
	if (!text) {
		close(fd);
		return NULL;
	}
	size_t n = 0;
	while (n < CMDLINE_MAX) {
		ssize_t r = read(fd, text + n, CMDLINE_MAX - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n == 0 || n == CMDLINE_MAX) {
		free(text);
		return NULL;
	}
	/* Each argument ends with a NUL; a process that rewrote its title may have lost the last. */
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		count += text[i] == 0;
	if (text[n - 1] != 0)
		count++;
	size_t vec = (count + 1) * sizeof(char *);
	char **argv = malloc(vec + n + 1);
	if (!argv) {
		free(text);
		return NULL;
	}
	char *strings = (char *)argv + vec;
	memcpy(strings, text, n);
	strings[n] = 0;
	free(text);
	size_t k = 0;
	for (char *p = strings; p < strings + n && k < count; p += strlen(p) + 1)
		argv[k++] = p;
	argv[k] = NULL;
	return argv;
}
