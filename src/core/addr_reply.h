/* An autoreply set up by a filter's mail or vacation command (Exim filter) or by a Sieve
 * vacation or notify, carried with the ADDR_REPLY address to the router's reply_transport (or
 * the system filter's system_filter_reply_transport). As in Exim, the autoreply transport then
 * builds the message from these values only ("never from a mixture of options"); its
 * file_optional, mode and return_message still apply. Values are final (already expanded);
 * only the file's lines are expanded, when file_expand is set. Unset fields are SV_NULL. */
#ifndef POSTERN_CORE_ADDR_REPLY_H
#define POSTERN_CORE_ADDR_REPLY_H

#include <stdbool.h>

#include "lib/str.h"

typedef struct addr_reply {
	sv from, reply_to, to, cc, bcc, subject, headers, text, file, log, once, once_repeat;
	bool file_expand;
	bool return_message;
} addr_reply;

#endif
