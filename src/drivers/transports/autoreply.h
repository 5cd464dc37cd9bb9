/* autoreply transport: private options (Exim 4.96 "The autoreply transport"). */
#ifndef POSTERN_DRIVERS_TRANSPORTS_AUTOREPLY_H
#define POSTERN_DRIVERS_TRANSPORTS_AUTOREPLY_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/driver.h"

struct autoreply_transport_options {
	const char *bcc;
	const char *cc;
	const char *file;
	bool file_expand;
	bool file_optional;
	const char *from;
	const char *headers;
	const char *log;
	int mode;
	const char *never_mail;
	const char *once;
	int once_file_size;
	const char *once_repeat;  /* expanded time: OPT_STRING */
	const char *reply_to;
	bool return_message;
	const char *subject;
	const char *text;
	const char *to;
};

extern const driver_info autoreply_transport_info;

#endif
