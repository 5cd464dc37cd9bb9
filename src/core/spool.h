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
#include <sys/time.h>
#include <sys/types.h>

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
/* The same, also giving the clock reading the id encodes (a message's received time must be
 * the id's time, as in Exim). */
void spool_new_message_id_time(char out[MSG_ID_LEN + 1], struct timeval *when);
/* The id for given values (lhn: localhost_number, -1 when unset). */
void spool_format_message_id(char out[MSG_ID_LEN + 1], time_t sec, long usec, long pid, int lhn);
/* The time (seconds) and sub-second part an id encodes; false if not a valid id. */
bool spool_id_time(sv id, time_t *sec, int *frac);
/* Whether s is a well-formed 16-character message id. */
bool spool_valid_id(sv s);

/* Paths: "<dir>/input/[<c>/]<id>-H" etc. Returned in arena a. */
const char *spool_path(arena *a, const spool_config *sc, const char *subdir, const char *id, const char *suffix);
/* mkdir -p with mode 0750 (and the spool's owner) for the parts of path that are missing. */
bool spool_make_dirs(const char *path, const spool_config *sc, xbuf *err);

/* Reception: open a new -D file (created exclusively, write-locked, first line "<id>-D\n"),
 * write the body into it, then commit the header. The handle is the unit of "not yet
 * acknowledged": spool_abort() removes everything it created. */
typedef struct spool_txn spool_txn;
spool_txn *spool_begin(const spool_config *sc, const char *id, xbuf *err);
/* Give m a new id (and received time from the id's clock reading) and begin it; a collision
 * with an existing -D file (a pid reused within 5 ms) takes the next id. */
spool_txn *spool_begin_message(const spool_config *sc, message *m, xbuf *err);
/* Body bytes as the -D file stores them (LF line ends, no dot-stuffing; or wire format). */
bool spool_write_body(spool_txn *t, const void *p, size_t n, xbuf *err);
/* Write -H from the message, fsync both files and the directory. The -D lock is kept until
 * spool_end() (so a delivery started by this process can continue to hold it). */
bool spool_commit(spool_txn *t, const message *m, xbuf *err);
void spool_abort(spool_txn *t);
/* Release the lock and close (after commit). */
void spool_end(spool_txn *t);
/* Write out what spool_write_body has buffered (it buffers 64 KB). */
bool spool_flush(spool_txn *t, xbuf *err);
/* The -D file descriptor (open for reading and writing, positioned after what was written);
 * flushes the buffer first; -1 if that write failed. The body starts at offset MSG_ID_LEN + 3. */
int spool_data_fd(const spool_txn *t);

/* For delivery and queue runs: open <id>-D read-write and take its lock without waiting.
 * Returns the fd (close it to unlock) or -1: errno ENOENT (no such message) or EAGAIN (another
 * process holds it), with Exim's wording in err. */
int spool_open_locked(const spool_config *sc, const char *id, xbuf *err);
/* Replace -H durably (temporary file, fsync, rename, directory fsync) after a delivery attempt
 * changed the message; the caller holds the -D lock. */
bool spool_rewrite_header(const spool_config *sc, const message *m, xbuf *err);
/* Remove a finished message: -H first (then it no longer exists), -D, -J and its msglog. */
bool spool_remove_message(const spool_config *sc, const char *id, xbuf *err);
/* Only the first step: unlink -H, so the message no longer exists (a -H already gone is fine).
 * The delivery process logs "Completed" right after it, then calls spool_remove_message for the
 * rest, so a kill cannot fall between the message ending and its log line for long. */
bool spool_remove_header(const spool_config *sc, const char *id, xbuf *err);

/* The -H text for a message (exactly as spool_commit writes it). */
void spool_format_header(const message *m, xbuf *out);

/* Read a -H file. Accepts everything Exim 4.96 writes (and the older forms facts §1 lists).
 * On a malformed file returns false with a precise message ("<file>: line N: ...") in err. */
bool spool_parse_header(arena *a, const char *id, sv text, message *out, msg_origin *origin, xbuf *err);
bool spool_read_header(arena *a, const spool_config *sc, const char *id, message *out,
	msg_origin *origin, xbuf *err);

/* What a read got to, for callers that report damaged files as Exim does (-bp). */
typedef struct spool_parse_info {
	bool envelope_read;     /* everything up to and including the recipients was read */
	long long header_bytes; /* header lengths as declared (deleted '*' headers excluded) */
	long long file_size;    /* of -H */
	long long data_size;    /* of -D; -1 if it could not be stat'ed */
	int errnum;             /* errno when -H could not be read at all; 0 otherwise */
	sv text;                /* the -H text as read (in the caller's arena) */
	/* The integrity line (core/spool_integrity.h), if there was one: where it starts in text
	 * and its length with the newline, and its value (after "-postern_sum "). */
	size_t sum_off, sum_len;
	sv sum;
} spool_parse_info;
#define SPOOL_MAX_HEADER_FILE ((size_t)64 << 20)
/* name: the file name used in error messages; id: the expected id (NULL: any). */
bool spool_parse_header_ex(arena *a, const char *name, const char *id, sv text, message *out,
	msg_origin *origin, spool_parse_info *info, xbuf *err);
/* As spool_read_header; also sets out->size to headers + body + 1 (Exim's message size). */
bool spool_read_header_ex(arena *a, const spool_config *sc, const char *id, message *out,
	msg_origin *origin, spool_parse_info *info, xbuf *err);
/* Add the addresses of <id>-J (the journal of a delivery that was interrupted before it could
 * update -H) to m's non-recipients, as Exim does before delivering or listing. false: no journal. */
bool spool_read_journal(arena *a, const spool_config *sc, const char *id, message *m);
/* Read a whole regular file of at most max bytes; false with *errnum set. */
bool spool_read_file(const char *path, size_t max, xbuf *out, int *errnum);

/* Message ids in the queue (input/ and its split subdirectories), sorted by id (arrival order). */
size_t spool_list_ids(arena *a, const spool_config *sc, char (**ids)[MSG_ID_LEN + 1], xbuf *err);
/* The same; unsorted (directory order, as -bpr) when sorted is false. */
size_t spool_list_ids_ordered(arena *a, const spool_config *sc, bool sorted,
	char (**ids)[MSG_ID_LEN + 1], xbuf *err);

/* Append a line to msglog/<id>, with Exim's timestamp prefix. */
void spool_msglog(const spool_config *sc, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
