/* The "exim user lost privilege" log line (Exim 4.96, observed live). */
#ifndef POSTERN_PROG_PRIVILEGE_NOTE_H
#define POSTERN_PROG_PRIVILEGE_NOTE_H

#include "prog/cmdline.h"

/* Call once the configuration is loaded. When the caller is the exim user, uses -C with a file
 * other than the built-in configuration list (or -D with it), and deliver_drop_privilege is
 * off, writes "exim user lost privilege for using -C option" ("-D option" when only -D was
 * used) to the main and panic logs, as Exim does in every mode. */
void privilege_note_lost(const cmdline *cl);

#endif
