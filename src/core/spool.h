/* The spool, compatible with Exim 4.96 (facts §1): input/<id>-H and <id>-D (or input/<c>/ with
 * split_spool_directory), msglog/<id>, the data file's fcntl write lock, and message ids.
 *
 * Durability rule: spool_commit() returns true only when both files are written, fsync'd and
 * their directory entries are durable. Only then may anyone send 250 for the message.
 */
#ifndef POSTERN_CORE_SPOOL_H
#define POSTERN_CORE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/message.h"
#include "lib/str.h"

/* Where the spool is and how it is laid out (from the main options normally). */
typedef struct spool_config {
	const char *directory;        /* spool_directory, expanded */
	bool split;                   /* split_spool_directory */
	const char *queue_name;       /* named queue ("" or NULL: the default queue) */
	int mode;                     /* file mode, 0640 */
	uid_t uid; gid_t gid;         /* owner to set when running as root; (uid_t)-1: leave */
} spool_config;

/* Fill from the loaded main options (spool_directory expanded, split_spool_directory...). */
bool spool_config_from_main(spool_config *sc, xbuf *err);

/* A new message id (Exim 4.96 format, unique per host: time, pid, sub-second fraction; with
 * localhost_number when set). Waits out the clock tick when needed, as Exim does. */
void spool_new_message_id(char out[MSG_ID_LEN + 1]);
/* Whether s is a well-formed 16-character message id. */
bool spool_valid_id(sv s);

/* Paths: "<dir>/input/[<c>/]<id>-H" etc. Returned in arena a. */
const char *spool_path(arena *a, const spool_config *sc, const char *subdir, const char *id, const char *suffix);

/* Reception: open a new -D file (created exclusively, write-locked, first line "<id>-D\n"),
 * write the body into it, then commit the header. The handle is the unit of "not yet
 * acknowledged": spool_abort() removes everything it created. */
typedef struct spool_txn spool_txn;
spool_txn *spool_begin(const spool_config *sc, const char *id, xbuf *err);
/* Body bytes as the -D file stores them (LF line ends, no dot-stuffing; or wire format). */
bool spool_write_body(spool_txn *t, const void *p, size_t n, xbuf *err);
/* Write -H from the message, fsync both files and the directory. The -D lock is kept until
 * spool_end() (so a delivery started by this process can continue to hold it). */
bool spool_commit(spool_txn *t, const message *m, xbuf *err);
void spool_abort(spool_txn *t);
/* Release the lock and close (after commit). */
void spool_end(spool_txn *t);
/* The -D file descriptor (open for reading and writing, positioned after what was written). */
int spool_data_fd(const spool_txn *t);

/* The -H text for a message (exactly as spool_commit writes it). */
void spool_format_header(const message *m, xbuf *out);

/* Read a -H file. Accepts everything Exim 4.96 writes (and the older forms facts §1 lists).
 * On a malformed file returns false with a precise message ("<file>: line N: ...") in err. */
bool spool_parse_header(arena *a, const char *id, sv text, message *out, msg_origin *origin, xbuf *err);
bool spool_read_header(arena *a, const spool_config *sc, const char *id, message *out,
	msg_origin *origin, xbuf *err);

/* Message ids in the queue (input/ and its split subdirectories), sorted by id (arrival order). */
size_t spool_list_ids(arena *a, const spool_config *sc, char (**ids)[MSG_ID_LEN + 1], xbuf *err);

/* Append a line to msglog/<id>, with Exim's timestamp prefix. */
void spool_msglog(const spool_config *sc, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
