/* The appendfile transport's parts (Exim 4.96 "The appendfile transport"), shared between
 * appendfile_deliver.c (options, dispatch, outcomes), appendfile_mbox.c (appending to one file
 * with Exim's locking), appendfile_maildir.c (one new file per message: maildir and plain
 * directory deliveries) and appendfile_quota.c (quotas, maildirsize, the warning message).
 */
#ifndef POSTERN_DRIVERS_TRANSPORTS_APPENDFILE_INTERNAL_H
#define POSTERN_DRIVERS_TRANSPORTS_APPENDFILE_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "core/tp_write.h"
#include "core/transport.h"
#include "drivers/transports/appendfile.h"

/* Exim's negative error numbers for appendfile failures (as its log lines show them). */
enum {
	AF_ERRNO_EXISTRACE = -3,    /* the file kept appearing and disappearing */
	AF_ERRNO_NOTREGULAR = -4,   /* not a regular file, too many links */
	AF_ERRNO_NOTDIRECTORY = -5,
	AF_ERRNO_BADUGID = -6,      /* wrong owner or group */
	AF_ERRNO_BADMODE = -7,      /* narrower mode than configured */
	AF_ERRNO_INODECHANGED = -8, /* the file changed between the checks and the open */
	AF_ERRNO_LOCKFAILED = -9,   /* lock file or fcntl/flock lock not obtained */
	AF_ERRNO_NOTABSOLUTE = -21, /* file or directory name not absolute */
	AF_ERRNO_EXIMQUOTA = -22,   /* the transport's own quota */
	AF_ERRNO_EXPANDFAIL = -27,
	AF_ERRNO_BADCREATE = -34,   /* create_file does not allow creating it */
};

extern const transport_ops appendfile_transport_ops;

/* One delivery (one batch of addresses to one file or directory). */
typedef struct af_ctx {
	const driver_instance *t;
	const struct appendfile_transport_options *o;
	tp_ctx *c;
	address_item *addrs;
	arena *a;
	xp_env *env;
	const char *path;            /* the file, or the delivery directory */
	bool is_directory;
	tp_write_opts w;             /* how the message is written (prefix etc. expanded) */

	/* quotas (appendfile_quota.c fills them; 0: none) */
	long long quota;
	bool quota_no_check;
	long long quota_filecount;
	bool filecount_no_check;
	long long quota_warn_threshold;
	const char *quota_directory; /* expanded quota_directory, or NULL */
	long long mailbox_size;      /* from mailbox_size; -1: compute */
	long long mailbox_filecount; /* from mailbox_filecount; -1: compute */
	bool use_size_file;          /* maildir_use_size_file */

	/* the outcome of the delivery */
	addr_result result;
	int basic_errno, more_errno;
	const char *message;
	bool freeze;
	long long written;           /* bytes written for this message */
	time_t last_read;            /* the mailbox's access time (0: unknown): a quota deferral's
	                              * more_errno is the time since, for quota_<time> retry rules */

	/* variables this transport shows to its expansions ($address_file, $inode, $message_size
	 * after writing, $return_path when the transport sets one) */
	xp_provider vars;
	const char *address_file;
	long long inode;             /* -1: $inode not available */
	long long size_written;      /* -1: $message_size is the message's */
	sv return_path;              /* empty: the sender */
	const char *mailstore_basename;

	/* use_mbx_lock (appendfile_mbxlock.c): the lock file held, -1 none */
	int mbx_lockfd;
	const char *mbx_lockname;
} af_ctx;

/* use_mbx_lock: a shared lock on the mailbox and the exclusive one on /tmp/.<dev>.<ino>. */
typedef enum { AF_MBX_LOCKED, AF_MBX_BUSY, AF_MBX_FAILED /* outcome recorded */ } af_mbx_lock_rc;
af_mbx_lock_rc af_mbx_lock(af_ctx *x, int mailbox_fd);
/* One fcntl (when with_fcntl) and/or flock (use_flock_lock) lock on fd, within the configured
 * timeouts (appendfile_mbox.c). */
bool af_lock_fd(const struct appendfile_transport_options *o, int fd, bool exclusive, bool with_fcntl);
/* After writing (mailbox_fd still open, or -1): remove the lock file when no reader holds the
 * mailbox, and let go of it. Nothing when no MBX lock is held. */
void af_mbx_unlock(af_ctx *x, int mailbox_fd);

/* Record the outcome (printf-style text, copied into the arena). */
void af_fail(af_ctx *x, addr_result r, int basic_errno, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Expand an option for this delivery. XP_OK (out set), XP_FORCEFAIL, XP_ERROR (err set). */
int af_expand(af_ctx *x, const char *src, sv *out, xbuf *err);

/* Create the directories above path (not path itself) with directory_mode, or the whole of
 * path when whole is set. false: outcome recorded. */
bool af_make_dirs(af_ctx *x, const char *path, bool whole);
/* create_file: may path be created? false: not (outcome recorded when record is set). */
bool af_create_allowed(af_ctx *x, const char *path, bool record);

/* Write the message (prefix, envelope for BSMTP, the message, suffix) to fd. false: the
 * writer's errno in *errnum (0 when none applies) and its text in err. */
bool af_write_message(af_ctx *x, int fd, xbuf *err, int *errnum);
/* appendfile_mbx.c: append the message in MBX format to fd (existing: the file's size before;
 * 0 writes the file header first). */
bool af_mbx_write(af_ctx *x, int fd, long long existing, xbuf *err, int *errnum);
/* The outcome for a failed write (dataname: the file the texts name). */
void af_write_failed(af_ctx *x, int errnum, const xbuf *err, const char *dataname);

/* appendfile_mbox.c: append to x->path. */
void af_deliver_file(af_ctx *x);
/* appendfile_maildir.c: a new file in x->path (maildir, mailstore or plain directory). */
void af_deliver_directory(af_ctx *x);

/* appendfile_quota.c */
/* Expand quota, quota_filecount, quota_warn_threshold, quota_directory, mailbox_size,
 * mailbox_filecount, maildir_use_size_file. false: outcome recorded (defer). */
bool af_quota_setup(af_ctx *x);
/* Parse a size "<n>[.<frac>][K|M|G][/no_check]" or with allow_percent "<n>%" (a percentage of
 * of_quota). false on junk. */
bool af_parse_size(sv s, bool allow_percent, long long of_quota, long long *out, bool *no_check);
/* Size and file count of a directory tree for quota purposes (quota_size_regex applies to
 * file names; only subdirectories matching dir_regex at the top level when it is not NULL). */
bool af_dir_usage(af_ctx *x, const char *dir, const char *dir_regex, long long *size, long long *count);
/* maildirsize: read (or build) the file in dir for the current quotas; *size and *count are
 * the totals it records. fd_out: the open file for af_maildirsize_add (-1: none). */
bool af_maildirsize_read(af_ctx *x, const char *dir, long long *size, long long *count, int *fd_out);
void af_maildirsize_add(int fd, long long size, long long count);
/* Sum the lines of a maildirsize text (n bytes); false if a line is malformed or incomplete, or
 * the first line is not quota_line (the file is then recounted). */
bool af_maildirsize_parse(const char *text, size_t n, const char *quota_line, long long *size, long long *count);
/* Checks before writing: true if the delivery may go on (outcome recorded otherwise).
 * dataname: the file named in the "mailbox is full" text. */
bool af_quota_check(af_ctx *x, long long size, long long count, const char *dataname);
/* The "mailbox is full" outcome for a quota exceeded while writing. */
void af_quota_exceeded(af_ctx *x, bool filecount, const char *dataname);
/* After a successful delivery: send quota_warn_message if the threshold was crossed. */
void af_quota_warn(af_ctx *x, long long before, long long after);

#endif
