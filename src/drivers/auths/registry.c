/* The authenticator class: generic option table plus every authenticator driver Postern knows. */
#include <stddef.h>

#include "drivers/driver_check.h"
#include "drivers/driver_init.h"
#include "drivers/auths/auth.h"
#include "drivers/auths/cram_md5.h"
#include "drivers/auths/cyrus_sasl.h"
#include "drivers/auths/dovecot.h"
#include "drivers/auths/external.h"
#include "drivers/auths/gsasl.h"
#include "drivers/auths/heimdal_gssapi.h"
#include "drivers/auths/plaintext.h"
#include "drivers/auths/spa.h"
#include "drivers/auths/tls.h"

static const driver_info *const auth_drivers[] = {
	&cram_md5_auth_info,
	&cyrus_sasl_auth_info,
	&dovecot_auth_info,
	&external_auth_info,
	&gsasl_auth_info,
	&heimdal_gssapi_auth_info,
	&plaintext_auth_info,
	&spa_auth_info,
	&tls_auth_info,
	NULL,
};

const driver_class auth_class = {
	.section = "authenticators",
	.kind = "authenticator",
	.generic = auth_generic_options,
	.ngeneric = AUTH_GENERIC_NOPTIONS,
	.generic_size = sizeof(struct auth_generic),
	.generic_defaults = &auth_generic_defaults,
	.driver_name_offset = offsetof(struct auth_generic, driver),
	.instance_init = driver_instance_init,
	.instance_check = driver_instance_check,
	.drivers = auth_drivers,
};
