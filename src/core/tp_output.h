/* Text a transport produced for the sender: the output of a pipe command under return_output or
 * return_fail_output, which Exim includes in the bounce after "The following text was generated
 * during the delivery attempt:". The transport child writes it to a file next to the message's
 * msglog (msglog/<id>-R<hash of the address>), as Exim keeps it in a file, so it needs no room
 * in the result records the child sends to the delivery process; the bounce reads it from there
 * and the delivery process removes it when the message is done.
 */
#ifndef POSTERN_CORE_TP_OUTPUT_H
#define POSTERN_CORE_TP_OUTPUT_H

#include <stdbool.h>

#include "core/addr.h"
#include "core/spool.h"
#include "lib/str.h"

/* The file's path for this address of message id. */
const char *tp_output_path(arena *a, const spool_config *sc, const char *id, const address_item *addr);
/* Replace the file with text (created with the spool mode, fsync'd). false: err says why. */
bool tp_output_save(arena *a, const spool_config *sc, const char *id, const address_item *addr,
	sv text, xbuf *err);
/* The saved text (tainted: it came from a command), at most max bytes; false when there is none. */
bool tp_output_load(arena *a, const spool_config *sc, const char *id, const address_item *addr,
	size_t max, xbuf *out);
/* Create the file empty and keep it open in this process (a transport child, before it gives up
 * root, as Exim opens its return files): tp_output_save then writes through that descriptor,
 * since the user cannot reach the msglog directory. a must live as long as the process.
 * false: err says why. */
bool tp_output_prepare(arena *a, const spool_config *sc, const char *id, const address_item *addr,
	xbuf *err);
/* Remove it (no error when there is none). */
void tp_output_remove(arena *a, const spool_config *sc, const char *id, const address_item *addr);

#endif
