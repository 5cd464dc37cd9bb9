/* Opening log files for the exim user.
 *
 * Exim 4.96 keeps its logs the exim user's: the log files and the directories made for them
 * belong to the exim user and group (0640 and 0750) even when a root process created them, so
 * the exim-user processes that come later (SMTP sessions, -bs, queue runners after their drop)
 * can open them too. A log file that the exim user may not write (say, one root created with
 * 0640) is refused with "Permission denied", as Exim refuses it, instead of working only while
 * the process is root.
 *
 * Differences, kept on purpose: Exim creates missing log files and directories as the exim
 * user, so it cannot create them where that user may not write; Postern creates them as root
 * and gives them to the exim user, so a log directory under a root-only directory still works.
 * Exim creates every missing directory of the path; Postern only the last one.
 */
#ifndef POSTERN_CORE_LOG_OPEN_EXIM_H
#define POSTERN_CORE_LOG_OPEN_EXIM_H

/* The opener for log_set_opener(): with effective uid root and an exim user that is not root,
 * an existing file is opened only if the exim user could write it (else -1, errno EACCES), and
 * a missing one (and its directory, when only that is missing) is created and chowned to the exim user and
 * group. Otherwise the calling process simply opens the file (log_open_path).
 * Returns a descriptor, or -1 with errno. */
int log_open_as_exim(const char *name);

#endif
