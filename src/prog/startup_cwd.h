/* The working directory after start-up, as Exim 4.96 has it. */
#ifndef POSTERN_PROG_STARTUP_CWD_H
#define POSTERN_PROG_STARTUP_CWD_H

/* Once the configuration is loaded, move to the (expanded) spool directory, or to "/" when that
 * cannot be entered. $initial_cwd keeps the directory the process started in. */
void startup_chdir(void);

#endif
