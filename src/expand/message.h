/* Reading a message file into an xp_message (for -bem and tests). */
#ifndef POSTERN_EXPAND_MESSAGE_H
#define POSTERN_EXPAND_MESSAGE_H

#include "expand/expand.h"

/* Split data into headers and body; views point into data (which must outlive m). */
void xp_message_parse(arena *a, sv data, xp_message *m);
/* Append a header (text is everything after the colon, e.g. " value\n"). */
void xp_message_add_header(arena *a, xp_message *m, const char *name, const char *text);
const xp_header *xp_message_find(const xp_message *m, const char *name);

#endif
