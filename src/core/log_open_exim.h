/* Opening log files as the exim user.
 *
 * Exim 4.96 never creates a log file or log directory as root: a root process opens each log in
 * a short-lived child that has become the exim user, and receives the descriptor from it. Log
 * files and the directories made for them therefore belong to the exim user and group (0640 and
 * 0750), so the exim-user processes that come later (SMTP sessions, -bs, queue runners after
 * their drop) can open them too; and a log file that root owns is refused ("Permission denied")
 * exactly as it would be for those later processes, instead of working only while root.
 */
#ifndef POSTERN_CORE_LOG_OPEN_EXIM_H
#define POSTERN_CORE_LOG_OPEN_EXIM_H

/* The opener for log_set_opener(): when running with effective uid root and the exim user is
 * not root, the open (and any directory creation) happens in a child that dropped to the exim
 * user and group (priv_drop_to_exim); otherwise the calling process opens the file itself.
 * Returns a descriptor, or -1 with errno (the child's errno when it could not open). */
int log_open_as_exim(const char *name);

#endif
