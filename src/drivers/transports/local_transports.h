/* The behaviour of the pipe, lmtp, autoreply and queuefile transports (transport_ops, see
 * src/core/transport.h); each driver_info in <name>.c points its .ops at one of these. */
#ifndef POSTERN_DRIVERS_TRANSPORTS_LOCAL_TRANSPORTS_H
#define POSTERN_DRIVERS_TRANSPORTS_LOCAL_TRANSPORTS_H

#include "core/transport.h"

extern const transport_ops pipe_transport_ops;
extern const transport_ops lmtp_transport_ops;
extern const transport_ops autoreply_transport_ops;
extern const transport_ops queuefile_transport_ops;

#endif
