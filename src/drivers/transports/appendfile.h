/* appendfile transport: private options (Exim 4.96 "The appendfile transport"). */
#ifndef POSTERN_DRIVERS_TRANSPORTS_APPENDFILE_H
#define POSTERN_DRIVERS_TRANSPORTS_APPENDFILE_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct appendfile_transport_options {
	const char *expand_maildir_use_size_file;  /* Exim shows this twin: the expansion, if any (driver_instance_init) */
	bool allow_fifo;
	bool allow_symlink;
	const char *batch_id;
	int batch_max;
	bool check_group;
	bool check_owner;
	const char *check_string;  /* unset: derived from the mailbox format (driver_instance_init) */
	bool create_directory;
	const char *create_file;
	const char *directory;
	const char *directory_file;
	int directory_mode;
	const char *escape_string;  /* unset: derived from the mailbox format (driver_instance_init) */
	const char *file;
	const char *file_format;
	bool file_must_exist;
	int lock_fcntl_timeout;
	int lock_flock_timeout;
	int lock_interval;
	int lock_retries;
	int lockfile_mode;
	int lockfile_timeout;
	const char *mailbox_filecount;
	const char *mailbox_size;
	bool maildir_format;
	const char *maildir_quota_directory_regex;
	int maildir_retries;
	const char *maildir_tag;
	const char *maildir_use_size_file;  /* expanded bool: "true"/"false" or an expansion */
	const char *maildirfolder_create_regex;
	bool mailstore_format;
	const char *mailstore_prefix;
	const char *mailstore_suffix;
	bool mbx_format;
	const char *message_prefix;  /* unset: mbox "From " line for plain files (driver_instance_init) */
	const char *message_suffix;  /* unset: newline for plain files (driver_instance_init) */
	int mode;
	bool mode_fail_narrower;
	bool notify_comsat;
	const char *quota;  /* expanded size: OPT_STRING */
	const char *quota_directory;
	const char *quota_filecount;
	bool quota_is_inclusive;
	const char *quota_size_regex;
	const char *quota_warn_message;
	const char *quota_warn_threshold;
	bool use_bsmtp;
	bool use_crlf;
	bool use_fcntl_lock;
	bool use_flock_lock;
	bool use_lockfile;
	bool use_mbx_lock;
};

extern const driver_info appendfile_transport_info;

#endif
