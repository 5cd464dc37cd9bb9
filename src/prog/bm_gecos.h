/* The caller's full name from the passwd "gecos" field (Exim 4.96 main options gecos_pattern and
 * gecos_name), for the From: and Sender: lines of locally submitted messages. */
#ifndef POSTERN_PROG_BM_GECOS_H
#define POSTERN_PROG_BM_GECOS_H

#include "lib/arena.h"

/* Every '&' in gecos becomes the login with its first letter in upper case. Then, when both
 * pattern and name are set and the regular expression pattern matches, name is expanded with
 * $0..$n from the match and is the result; otherwise the whole field is (commas included, as
 * Exim uses it). A pattern that does not compile or an expansion that fails is panic-logged and
 * the field is used. */
const char *bm_gecos_name(arena *a, const char *gecos, const char *login, const char *pattern,
	const char *name);

#endif
