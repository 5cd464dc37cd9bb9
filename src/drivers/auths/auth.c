/* Generic authenticator options (Exim 4.96 "SMTP authentication") and their defaults. */
#include "drivers/auths/auth.h"

#define ROW(name, type, flags, field) OPT_ROW(name, type, flags, struct auth_generic, field)

const opt_row auth_generic_options[] = {
	ROW("client_condition",           OPT_STRING,      OPTF_PUBLIC, client_condition),
	ROW("client_set_id",              OPT_STRING,      OPTF_PUBLIC, client_set_id),
	ROW("driver",                     OPT_STRING,      OPTF_PUBLIC, driver),
	ROW("public_name",                OPT_STRING,      OPTF_PUBLIC, public_name),
	ROW("server_advertise_condition", OPT_STRING,      OPTF_PUBLIC, server_advertise_condition),
	ROW("server_condition",           OPT_STRING,      OPTF_PUBLIC, server_condition),
	ROW("server_debug_print",         OPT_STRING,      OPTF_PUBLIC, server_debug_print),
	ROW("server_mail_auth_condition", OPT_STRING,      OPTF_PUBLIC, server_mail_auth_condition),
	ROW("server_set_id",              OPT_STRING,      OPTF_PUBLIC, server_set_id),
};
_Static_assert(sizeof auth_generic_options / sizeof auth_generic_options[0] == AUTH_GENERIC_NOPTIONS, "AUTH_GENERIC_NOPTIONS out of date");

const struct auth_generic auth_generic_defaults = {
};
