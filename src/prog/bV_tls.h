/* -bV's validation of TLS library settings (bV_tls.c). */
#ifndef POSTERN_PROG_BV_TLS_H
#define POSTERN_PROG_BV_TLS_H

#include <stdbool.h>

#include "lib/str.h"

/* false with Exim's two-line configuration error in err when a TLS setting is unusable. */
bool bV_check_tls(xbuf *err);

#endif
