/* The directory the process started in. Exim works from "/" (so relative lookup file names fail
 * as they do for Exim) but reports where it was started as $initial_cwd and builds $config_dir
 * from it; both need the directory as it was before the change. */
#ifndef POSTERN_LIB_INITIAL_CWD_H
#define POSTERN_LIB_INITIAL_CWD_H

/* Record the current directory; call once at startup, before any chdir. */
void initial_cwd_save(void);
/* The recorded directory, or "" if it could not be determined. */
const char *initial_cwd(void);

#endif
