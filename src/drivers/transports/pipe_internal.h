/* The pipe transport's parts: building the command and its environment (pipe_command.c) and
 * running it (pipe_deliver.c). */
#ifndef POSTERN_DRIVERS_TRANSPORTS_PIPE_INTERNAL_H
#define POSTERN_DRIVERS_TRANSPORTS_PIPE_INTERNAL_H

#include "core/transport.h"
#include "drivers/transports/pipe.h"

/* Exim accepts at most this many words in a pipe command (observed with 4.96: 61 words run, 62
 * give "Too many arguments"). */
#define PIPE_MAX_ARGS 61
/* Variables the environment option may add. */
#define PIPE_MAX_ENV 256

typedef struct pipe_cmd {
	char **argv;           /* NULL-terminated, argv[0] searched for in the path when relative */
	const char *argv0;     /* argv[0] as the command gave it (for messages) */
	const char *raw;       /* the command text before expansion (for messages) */
	char **envp;           /* NULL-terminated */
} pipe_cmd;

/* What went wrong while building: the outcome for every address of the batch. */
typedef struct pipe_err {
	addr_result r;
	const char *text;
} pipe_err;

/* Exim's splitting of a command into words (white space separates; "..." with backslash
 * escapes; '...' verbatim). At most max words; false when there are more. */
bool pipe_split(arena *a, sv cmd, int max, sv *words, int *nwords);

/* Build argv (split, expand each word, $pipe_addresses, $address_pipe with force_command,
 * use_shell, taint, allow_commands, restrict_to_path, path search). */
bool pipe_build_command(const driver_instance *t, tp_ctx *c, address_item *addrs, pipe_cmd *out,
	pipe_err *e);
/* The environment (Exim's variables in Exim's order, then the environment option). */
bool pipe_build_env(const driver_instance *t, tp_ctx *c, address_item *addrs, pipe_cmd *out,
	pipe_err *e);

#endif
