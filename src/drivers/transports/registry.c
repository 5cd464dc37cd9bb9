/* The transport class: generic option table plus every transport driver Postern knows. */
#include <stddef.h>

#include "drivers/driver_check.h"
#include "drivers/driver_init.h"
#include "drivers/transports/transport.h"
#include "drivers/transports/appendfile.h"
#include "drivers/transports/autoreply.h"
#include "drivers/transports/lmtp.h"
#include "drivers/transports/pipe.h"
#include "drivers/transports/queuefile.h"
#include "drivers/transports/smtp.h"

static const driver_info *const transport_drivers[] = {
	&appendfile_transport_info,
	&autoreply_transport_info,
	&lmtp_transport_info,
	&pipe_transport_info,
	&queuefile_transport_info,
	&smtp_transport_info,
	NULL,
};

const driver_class transport_class = {
	.section = "transports",
	.kind = "transport",
	.generic = transport_generic_options,
	.ngeneric = TRANSPORT_GENERIC_NOPTIONS,
	.generic_size = sizeof(struct transport_generic),
	.generic_defaults = &transport_generic_defaults,
	.driver_name_offset = offsetof(struct transport_generic, driver),
	.instance_init = driver_instance_init,
	.instance_check = driver_instance_check,
	.drivers = transport_drivers,
};
