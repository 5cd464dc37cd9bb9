/* Every main configuration option of Exim 4.96, declared once.
 *
 * MAIN_OPTIONS(X, ALIAS) lists the options sorted by name (strcmp order; a unit test checks it):
 *   X(name, opt_type, C type, flags, default)  a real option, stored in struct main_config.name
 *   ALIAS(name, target, opt_type)              an obsolete synonym sharing target's storage; hidden
 *                                              from "-bP" (all) as Exim hides it, but settable and
 *                                              printable by name.
 * From it come the fields of struct main_config, the defaults, the sorted option table and the
 * builtin _OPT_MAIN_* macros. Types and defaults follow `exim -bP` of Debian's 4.96 build, plus the
 * options of features that build lacks (OpenSSL instead of GnuTLS, BMI, DCC, Redis, DMARC, the
 * libsrs_alt srs_* family, ibase/oracle servers, disable_fsync, panic_coredump).
 * Unset strings are NULL; unset fixed-point values are -1; unset users/groups are POSTERN_UNSET_ID.
 */
#ifndef POSTERN_CONF_MAIN_OPTIONS_H
#define POSTERN_CONF_MAIN_OPTIONS_H

#include <stdbool.h>
#include <sys/types.h>

#include "build_config.h"
#include "conf/build_paths.h"
#include "conf/option.h"

#define POSTERN_UNSET_ID ((uid_t)-1)

#define MAIN_OPTIONS(X, ALIAS) \
	X(accept_8bitmime, OPT_BOOL, bool, 0, true) \
	X(acl_not_smtp, OPT_STRING, const char *, 0, NULL) \
	X(acl_not_smtp_mime, OPT_STRING, const char *, 0, NULL) \
	X(acl_not_smtp_start, OPT_STRING, const char *, 0, NULL) \
	X(acl_smtp_auth, OPT_STRING, const char *, 0, NULL) \
	X(acl_smtp_connect, OPT_STRING, const char *, 0, NULL) \
	X(acl_smtp_data, OPT_STRING, const char *, 0, NULL) \
	X(acl_smtp_data_prdr, OPT_STRING, const char *, 0, "accept") \
	X(acl_smtp_dkim, OPT_STRING, const char *, 0, NULL) \
	X(acl_smtp_etrn, OPT_STRING, const char *, 0, NULL) \
	X(acl_smtp_expn, OPT_STRING, const char *, 0, NULL) \
	X(acl_smtp_helo, OPT_STRING, const char *, 0, NULL) \
	X(acl_smtp_mail, OPT_STRING, const char *, 0, NULL) \
	X(acl_smtp_mailauth, OPT_STRING, const char *, 0, NULL) \
	X(acl_smtp_mime, OPT_STRING, const char *, 0, NULL) \
	X(acl_smtp_notquit, OPT_STRING, const char *, 0, NULL) \
	X(acl_smtp_predata, OPT_STRING, const char *, 0, NULL) \
	X(acl_smtp_quit, OPT_STRING, const char *, 0, NULL) \
	X(acl_smtp_rcpt, OPT_STRING, const char *, 0, NULL) \
	X(acl_smtp_starttls, OPT_STRING, const char *, 0, NULL) \
	X(acl_smtp_vrfy, OPT_STRING, const char *, 0, NULL) \
	X(add_environment, OPT_STRING, const char *, 0, NULL) \
	X(admin_groups, OPT_GIDLIST, const char *, 0, NULL) \
	X(allow_domain_literals, OPT_BOOL, bool, 0, false) \
	X(allow_mx_to_ip, OPT_BOOL, bool, 0, false) \
	X(allow_utf8_domains, OPT_BOOL, bool, 0, false) \
	X(auth_advertise_hosts, OPT_STRING, const char *, 0, "*") \
	X(auto_thaw, OPT_TIME, int, 0, 0) \
	X(av_scanner, OPT_STRING, const char *, 0, "sophie:/var/run/sophie") \
	X(bi_command, OPT_STRING, const char *, 0, NULL) \
	X(bmi_config_file, OPT_STRING, const char *, 0, "/opt/brightmail/etc/brightmail.cfg") \
	X(bounce_message_file, OPT_STRING, const char *, 0, NULL) \
	X(bounce_message_text, OPT_STRING, const char *, 0, NULL) \
	X(bounce_return_body, OPT_BOOL, bool, 0, true) \
	X(bounce_return_linesize_limit, OPT_MKINT, int, 0, 998) \
	X(bounce_return_message, OPT_BOOL, bool, 0, true) \
	X(bounce_return_size_limit, OPT_MKINT, int, 0, 102400) \
	X(bounce_sender_authentication, OPT_STRING, const char *, 0, NULL) \
	X(callout_domain_negative_expire, OPT_TIME, int, 0, 10800) \
	X(callout_domain_positive_expire, OPT_TIME, int, 0, 604800) \
	X(callout_negative_expire, OPT_TIME, int, 0, 7200) \
	X(callout_positive_expire, OPT_TIME, int, 0, 86400) \
	X(callout_random_local_part, OPT_STRING, const char *, 0, "$primary_hostname-$tod_epoch-testing") \
	X(check_log_inodes, OPT_INT, int, 0, 100) \
	X(check_log_space, OPT_KINT, long long, 0, 10240) \
	X(check_rfc2047_length, OPT_BOOL, bool, 0, true) \
	X(check_spool_inodes, OPT_INT, int, 0, 100) \
	X(check_spool_space, OPT_KINT, long long, 0, 10240) \
	X(chunking_advertise_hosts, OPT_STRING, const char *, 0, "*") \
	X(commandline_checks_require_admin, OPT_BOOL, bool, 0, false) \
	ALIAS(daemon_smtp_port, daemon_smtp_ports, OPT_STRING) \
	X(daemon_smtp_ports, OPT_STRING, const char *, 0, "smtp") \
	X(daemon_startup_retries, OPT_INT, int, 0, 9) \
	X(daemon_startup_sleep, OPT_TIME, int, 0, 30) \
	X(dcc_direct_add_header, OPT_BOOL, bool, 0, false) \
	X(dccifd_address, OPT_STRING, const char *, 0, "/usr/local/dcc/var/dccifd") \
	X(dccifd_options, OPT_STRING, const char *, 0, "header") \
	X(debug_store, OPT_BOOL, bool, 0, false) \
	X(delay_warning, OPT_TIMELIST, const char *, 0, "1d") \
	X(delay_warning_condition, OPT_STRING, const char *, 0, "${if or {{ !eq{$h_list-id:$h_list-post:$h_list-subscribe:}{} }{ match{$h_precedence:}{(?i)bulk|list|junk} }{ match{$h_auto-submitted:}{(?i)auto-generated|auto-replied} }} {no}{yes}}") \
	X(deliver_drop_privilege, OPT_BOOL, bool, 0, false) \
	X(deliver_queue_load_max, OPT_FIXED, int, 0, -1) \
	X(delivery_date_remove, OPT_BOOL, bool, 0, true) \
	ALIAS(delivery_event_action, event_action, OPT_STRING) \
	X(disable_fsync, OPT_BOOL, bool, 0, false) \
	X(disable_ipv6, OPT_BOOL, bool, 0, false) \
	X(dkim_verify_hashes, OPT_STRING, const char *, 0, "sha256:sha512") \
	X(dkim_verify_keytypes, OPT_STRING, const char *, 0, "ed25519:rsa") \
	X(dkim_verify_min_keysizes, OPT_STRING, const char *, 0, "rsa=1024 ed25519=250") \
	X(dkim_verify_minimal, OPT_BOOL, bool, 0, false) \
	X(dkim_verify_signers, OPT_STRING, const char *, 0, "$dkim_signers") \
	X(dmarc_forensic_sender, OPT_STRING, const char *, 0, NULL) \
	X(dmarc_history_file, OPT_STRING, const char *, 0, NULL) \
	X(dmarc_tld_file, OPT_STRING, const char *, 0, NULL) \
	X(dns_again_means_nonexist, OPT_STRING, const char *, 0, NULL) \
	X(dns_check_names_pattern, OPT_STRING, const char *, 0, "(?i)^(?>(?(1)\\.|())[^\\W](?>[a-z0-9/_-]*[^\\W])?)+(\\.?)$") \
	X(dns_cname_loops, OPT_INT, int, 0, 1) \
	X(dns_csa_search_limit, OPT_INT, int, 0, 5) \
	X(dns_csa_use_reverse, OPT_BOOL, bool, 0, true) \
	X(dns_dnssec_ok, OPT_INT, int, 0, -1) \
	X(dns_ipv4_lookup, OPT_STRING, const char *, 0, NULL) \
	X(dns_retrans, OPT_TIME, int, 0, 0) \
	X(dns_retry, OPT_INT, int, 0, 0) \
	X(dns_servers, OPT_STRING, const char *, 0, NULL) \
	X(dns_trust_aa, OPT_STRING, const char *, 0, NULL) \
	X(dns_use_edns0, OPT_INT, int, 0, -1) \
	X(drop_cr, OPT_BOOL, bool, 0, false) \
	X(dsn_advertise_hosts, OPT_STRING, const char *, 0, NULL) \
	X(dsn_extra_information, OPT_BOOL, bool, 0, true) \
	X(dsn_from, OPT_STRING, const char *, 0, "Mail Delivery System <Mailer-Daemon@$qualify_domain>") \
	X(envelope_to_remove, OPT_BOOL, bool, 0, true) \
	X(errors_copy, OPT_STRING, const char *, 0, NULL) \
	X(errors_reply_to, OPT_STRING, const char *, 0, NULL) \
	X(event_action, OPT_STRING, const char *, 0, NULL) \
	X(exim_group, OPT_GID, gid_t, 0, POSTERN_UNSET_ID) \
	X(exim_path, OPT_STRING, const char *, 0, POSTERN_EXIM_PATH) \
	X(exim_user, OPT_UID, uid_t, 0, POSTERN_UNSET_ID) \
	X(exim_version, OPT_STRING, const char *, 0, EXIM_COMPAT_VERSION) \
	X(extra_local_interfaces, OPT_STRING, const char *, 0, NULL) \
	X(extract_addresses_remove_arguments, OPT_BOOL, bool, 0, true) \
	X(finduser_retries, OPT_INT, int, 0, 0) \
	X(freeze_tell, OPT_STRING, const char *, 0, NULL) \
	X(gecos_name, OPT_STRING, const char *, 0, NULL) \
	X(gecos_pattern, OPT_STRING, const char *, 0, NULL) \
	X(header_line_maxsize, OPT_INT, int, 0, 0) \
	X(header_maxsize, OPT_INT, int, 0, 1048576) \
	X(headers_charset, OPT_STRING, const char *, 0, "UTF-8") \
	X(helo_accept_junk_hosts, OPT_STRING, const char *, 0, NULL) \
	X(helo_allow_chars, OPT_STRING, const char *, 0, NULL) \
	X(helo_lookup_domains, OPT_STRING, const char *, 0, "@ : @[]") \
	X(helo_try_verify_hosts, OPT_STRING, const char *, 0, NULL) \
	X(helo_verify_hosts, OPT_STRING, const char *, 0, NULL) \
	X(hold_domains, OPT_STRING, const char *, 0, NULL) \
	X(host_lookup, OPT_STRING, const char *, 0, NULL) \
	X(host_lookup_order, OPT_STRING, const char *, 0, "bydns:byaddr") \
	X(host_reject_connection, OPT_STRING, const char *, 0, NULL) \
	X(hosts_connection_nolog, OPT_STRING, const char *, 0, NULL) \
	X(hosts_proxy, OPT_STRING, const char *, 0, NULL) \
	X(hosts_require_alpn, OPT_STRING, const char *, 0, NULL) \
	X(hosts_require_helo, OPT_STRING, const char *, 0, "*") \
	X(hosts_treat_as_local, OPT_STRING, const char *, 0, NULL) \
	X(ibase_servers, OPT_STRING, const char *, 0, NULL) \
	X(ignore_bounce_errors_after, OPT_TIME, int, 0, 6048000) \
	X(ignore_fromline_hosts, OPT_STRING, const char *, 0, NULL) \
	X(ignore_fromline_local, OPT_BOOL, bool, 0, false) \
	X(keep_environment, OPT_STRING, const char *, 0, NULL) \
	X(keep_malformed, OPT_TIME, int, 0, 345600) \
	X(ldap_ca_cert_dir, OPT_STRING, const char *, 0, NULL) \
	X(ldap_ca_cert_file, OPT_STRING, const char *, 0, NULL) \
	X(ldap_cert_file, OPT_STRING, const char *, 0, NULL) \
	X(ldap_cert_key, OPT_STRING, const char *, 0, NULL) \
	X(ldap_cipher_suite, OPT_STRING, const char *, 0, NULL) \
	X(ldap_default_servers, OPT_STRING, const char *, 0, NULL) \
	X(ldap_require_cert, OPT_STRING, const char *, 0, NULL) \
	X(ldap_start_tls, OPT_BOOL, bool, 0, false) \
	X(ldap_version, OPT_INT, int, 0, -1) \
	X(local_from_check, OPT_BOOL, bool, 0, true) \
	X(local_from_prefix, OPT_STRING, const char *, 0, NULL) \
	X(local_from_suffix, OPT_STRING, const char *, 0, NULL) \
	X(local_interfaces, OPT_STRING, const char *, 0, "<; ::0 ; 0.0.0.0") \
	X(local_scan_path, OPT_STRING, const char *, 0, NULL) \
	X(local_scan_timeout, OPT_TIME, int, 0, 300) \
	X(local_sender_retain, OPT_BOOL, bool, 0, false) \
	X(localhost_number, OPT_STRING, const char *, 0, NULL) \
	X(log_file_path, OPT_STRING, const char *, 0, POSTERN_LOG_FILE_PATH) \
	X(log_selector, OPT_STRING, const char *, 0, NULL) \
	X(log_timezone, OPT_BOOL, bool, 0, false) \
	X(lookup_open_max, OPT_INT, int, 0, 25) \
	X(max_username_length, OPT_INT, int, 0, 0) \
	X(message_body_newlines, OPT_BOOL, bool, 0, false) \
	X(message_body_visible, OPT_MKINT, int, 0, 500) \
	X(message_id_header_domain, OPT_STRING, const char *, 0, NULL) \
	X(message_id_header_text, OPT_STRING, const char *, 0, NULL) \
	X(message_logs, OPT_BOOL, bool, 0, true) \
	X(message_size_limit, OPT_STRING, const char *, 0, "50M") \
	X(move_frozen_messages, OPT_BOOL, bool, 0, false) \
	X(mua_wrapper, OPT_BOOL, bool, 0, false) \
	X(mysql_servers, OPT_STRING, const char *, 0, NULL) \
	X(never_users, OPT_UIDLIST, const char *, 0, NULL) \
	X(notifier_socket, OPT_STRING, const char *, 0, "$spool_directory/exim_daemon_notify") \
	X(openssl_options, OPT_STRING, const char *, 0, NULL) \
	X(oracle_servers, OPT_STRING, const char *, 0, NULL) \
	X(panic_coredump, OPT_BOOL, bool, 0, false) \
	X(percent_hack_domains, OPT_STRING, const char *, 0, NULL) \
	X(perl_at_start, OPT_BOOL, bool, 0, false) \
	X(perl_startup, OPT_STRING, const char *, 0, NULL) \
	X(perl_taintmode, OPT_BOOL, bool, 0, false) \
	X(pgsql_servers, OPT_STRING, const char *, 0, NULL) \
	X(pid_file_path, OPT_STRING, const char *, 0, NULL) \
	X(pipelining_advertise_hosts, OPT_STRING, const char *, 0, "*") \
	X(pipelining_connect_advertise_hosts, OPT_STRING, const char *, 0, "*") \
	X(prdr_enable, OPT_BOOL, bool, 0, false) \
	X(preserve_message_logs, OPT_BOOL, bool, 0, false) \
	X(primary_hostname, OPT_STRING, const char *, 0, NULL) \
	X(print_topbitchars, OPT_BOOL, bool, 0, false) \
	X(process_log_path, OPT_STRING, const char *, 0, NULL) \
	X(prod_requires_admin, OPT_BOOL, bool, 0, true) \
	X(proxy_protocol_timeout, OPT_TIME, int, 0, 3) \
	ALIAS(proxy_required_hosts, hosts_proxy, OPT_STRING) \
	X(qualify_domain, OPT_STRING, const char *, 0, NULL) \
	X(qualify_recipient, OPT_STRING, const char *, 0, NULL) \
	X(queue_domains, OPT_STRING, const char *, 0, NULL) \
	X(queue_fast_ramp, OPT_BOOL, bool, 0, false) \
	X(queue_list_requires_admin, OPT_BOOL, bool, 0, true) \
	X(queue_only, OPT_BOOL, bool, 0, false) \
	X(queue_only_file, OPT_STRING, const char *, 0, NULL) \
	X(queue_only_load, OPT_FIXED, int, 0, -1) \
	X(queue_only_load_latch, OPT_BOOL, bool, 0, true) \
	X(queue_only_override, OPT_BOOL, bool, 0, true) \
	X(queue_run_in_order, OPT_BOOL, bool, 0, false) \
	X(queue_run_max, OPT_STRING, const char *, 0, "5") \
	X(queue_run_parallel, OPT_INT, int, 0, 1) \
	X(queue_smtp_domains, OPT_STRING, const char *, 0, NULL) \
	X(receive_timeout, OPT_TIME, int, 0, 0) \
	X(received_header_text, OPT_STRING, const char *, 0, "Received: ${if def:sender_rcvhost {from $sender_rcvhost\\n\\t}{${if def:sender_ident {from ${quote_local_part:$sender_ident} }}${if def:sender_helo_name {(helo=$sender_helo_name)\\n\\t}}}}by $primary_hostname ${if def:received_protocol {with $received_protocol }}${if def:tls_in_ver        { ($tls_in_ver)}}${if def:tls_in_cipher_std { tls $tls_in_cipher_std\\n\\t}}(Exim $version_number)\\n\\t${if def:sender_address {(envelope-from <$sender_address>)\\n\\t}}id $message_exim_id${if def:received_for {\\n\\tfor $received_for}}") \
	X(received_headers_max, OPT_INT, int, 0, 30) \
	X(recipient_unqualified_hosts, OPT_STRING, const char *, 0, NULL) \
	X(recipients_max, OPT_INT, int, 0, 50000) \
	X(recipients_max_reject, OPT_BOOL, bool, 0, false) \
	X(redis_servers, OPT_STRING, const char *, 0, NULL) \
	X(remote_max_parallel, OPT_INT, int, 0, 2) \
	X(remote_sort_domains, OPT_STRING, const char *, 0, NULL) \
	X(retry_data_expire, OPT_TIME, int, 0, 604800) \
	X(retry_interval_max, OPT_TIME, int, 0, 86400) \
	X(return_path_remove, OPT_BOOL, bool, 0, true) \
	ALIAS(return_size_limit, bounce_return_size_limit, OPT_MKINT) \
	X(rfc1413_hosts, OPT_STRING, const char *, 0, "@[]") \
	X(rfc1413_query_timeout, OPT_TIME, int, 0, 0) \
	X(sender_unqualified_hosts, OPT_STRING, const char *, 0, NULL) \
	X(slow_lookup_log, OPT_INT, int, 0, 0) \
	X(smtp_accept_keepalive, OPT_BOOL, bool, 0, true) \
	X(smtp_accept_max, OPT_INT, int, 0, 20) \
	X(smtp_accept_max_nonmail, OPT_INT, int, 0, 10) \
	X(smtp_accept_max_nonmail_hosts, OPT_STRING, const char *, 0, "*") \
	X(smtp_accept_max_per_connection, OPT_STRING, const char *, 0, "1000") \
	X(smtp_accept_max_per_host, OPT_STRING, const char *, 0, NULL) \
	X(smtp_accept_process_reuse, OPT_INT, int, 0, 100) \
	X(smtp_accept_queue, OPT_INT, int, 0, 0) \
	X(smtp_accept_queue_per_connection, OPT_INT, int, 0, 10) \
	X(smtp_accept_reserve, OPT_INT, int, 0, 0) \
	X(smtp_active_hostname, OPT_STRING, const char *, 0, NULL) \
	X(smtp_backlog_monitor, OPT_INT, int, 0, 0) \
	X(smtp_banner, OPT_STRING, const char *, 0, "$smtp_active_hostname ESMTP Exim $version_number $tod_full") \
	X(smtp_check_spool_space, OPT_BOOL, bool, 0, true) \
	X(smtp_connect_backlog, OPT_INT, int, 0, 20) \
	X(smtp_enforce_sync, OPT_BOOL, bool, 0, true) \
	X(smtp_etrn_command, OPT_STRING, const char *, 0, NULL) \
	X(smtp_etrn_serialize, OPT_BOOL, bool, 0, true) \
	X(smtp_load_reserve, OPT_FIXED, int, 0, -1) \
	X(smtp_max_synprot_errors, OPT_INT, int, 0, 3) \
	X(smtp_max_unknown_commands, OPT_INT, int, 0, 3) \
	X(smtp_ratelimit_hosts, OPT_STRING, const char *, 0, NULL) \
	X(smtp_ratelimit_mail, OPT_STRING, const char *, 0, NULL) \
	X(smtp_ratelimit_rcpt, OPT_STRING, const char *, 0, NULL) \
	X(smtp_receive_timeout, OPT_FUNC, const char *, 0, "5m") \
	X(smtp_reserve_hosts, OPT_STRING, const char *, 0, NULL) \
	X(smtp_return_error_details, OPT_BOOL, bool, 0, false) \
	X(smtputf8_advertise_hosts, OPT_STRING, const char *, 0, "*") \
	X(spamd_address, OPT_STRING, const char *, 0, "127.0.0.1 783") \
	X(spf_guess, OPT_STRING, const char *, 0, "v=spf1 a/24 mx/24 ptr ?all") \
	X(spf_smtp_comment_template, OPT_STRING, const char *, 0, "Please%_see%_http://www.open-spf.org/Why") \
	X(split_spool_directory, OPT_BOOL, bool, 0, false) \
	X(spool_directory, OPT_STRING, const char *, 0, POSTERN_SPOOL_DIRECTORY) \
	X(spool_wireformat, OPT_BOOL, bool, 0, false) \
	X(sqlite_dbfile, OPT_STRING, const char *, 0, NULL) \
	X(sqlite_lock_timeout, OPT_INT, int, 0, 5) \
	X(srs_config, OPT_STRING, const char *, 0, NULL) \
	X(srs_hashlength, OPT_INT, int, 0, 6) \
	X(srs_hashmin, OPT_INT, int, 0, -1) \
	X(srs_maxage, OPT_INT, int, 0, 31) \
	X(srs_secrets, OPT_STRING, const char *, 0, NULL) \
	X(srs_usehash, OPT_BOOL, bool, 0, true) \
	X(srs_usetimestamp, OPT_BOOL, bool, 0, true) \
	X(strict_acl_vars, OPT_BOOL, bool, 0, false) \
	X(strip_excess_angle_brackets, OPT_BOOL, bool, 0, false) \
	X(strip_trailing_dot, OPT_BOOL, bool, 0, false) \
	X(syslog_duplication, OPT_BOOL, bool, 0, true) \
	X(syslog_facility, OPT_STRING, const char *, 0, NULL) \
	X(syslog_pid, OPT_BOOL, bool, 0, true) \
	X(syslog_processname, OPT_STRING, const char *, 0, "exim") \
	X(syslog_timestamp, OPT_BOOL, bool, 0, true) \
	X(system_filter, OPT_STRING, const char *, 0, NULL) \
	X(system_filter_directory_transport, OPT_STRING, const char *, 0, NULL) \
	X(system_filter_file_transport, OPT_STRING, const char *, 0, NULL) \
	X(system_filter_group, OPT_GID, gid_t, 0, POSTERN_UNSET_ID) \
	X(system_filter_pipe_transport, OPT_STRING, const char *, 0, NULL) \
	X(system_filter_reply_transport, OPT_STRING, const char *, 0, NULL) \
	X(system_filter_user, OPT_UID, uid_t, 0, POSTERN_UNSET_ID) \
	X(tcp_nodelay, OPT_BOOL, bool, 0, true) \
	X(timeout_frozen_after, OPT_TIME, int, 0, 0) \
	X(timezone, OPT_STRING, const char *, 0, NULL) \
	X(tls_advertise_hosts, OPT_STRING, const char *, 0, "*") \
	X(tls_alpn, OPT_STRING, const char *, 0, "smtp:esmtp") \
	X(tls_certificate, OPT_STRING, const char *, 0, NULL) \
	X(tls_crl, OPT_STRING, const char *, 0, NULL) \
	X(tls_dh_max_bits, OPT_INT, int, 0, 2236) \
	X(tls_dhparam, OPT_STRING, const char *, 0, NULL) \
	X(tls_eccurve, OPT_STRING, const char *, 0, "auto") \
	X(tls_ocsp_file, OPT_STRING, const char *, 0, NULL) \
	X(tls_ocsp_refresh, OPT_BOOL, bool, 0, true) \
	X(tls_on_connect_ports, OPT_STRING, const char *, 0, NULL) \
	X(tls_privatekey, OPT_STRING, const char *, 0, NULL) \
	X(tls_remember_esmtp, OPT_BOOL, bool, 0, false) \
	X(tls_require_ciphers, OPT_STRING, const char *, 0, NULL) \
	X(tls_resumption_hosts, OPT_STRING, const char *, 0, NULL) \
	X(tls_ticket_key_file, OPT_STRING, const char *, 0, NULL) \
	X(tls_try_verify_hosts, OPT_STRING, const char *, 0, NULL) \
	X(tls_verify_certificates, OPT_STRING, const char *, 0, "system") \
	X(tls_verify_hosts, OPT_STRING, const char *, 0, NULL) \
	ALIAS(tpda_event_action, event_action, OPT_STRING) \
	X(trusted_groups, OPT_GIDLIST, const char *, 0, NULL) \
	X(trusted_users, OPT_UIDLIST, const char *, 0, NULL) \
	X(unknown_login, OPT_STRING, const char *, 0, NULL) \
	X(unknown_username, OPT_STRING, const char *, 0, NULL) \
	X(untrusted_set_sender, OPT_STRING, const char *, 0, NULL) \
	X(uucp_from_pattern, OPT_STRING, const char *, 0, "^From\\s+(\\S+)\\s+(?:[a-zA-Z]{3},?\\s+)?(?:[a-zA-Z]{3}\\s+\\d?\\d|\\d?\\d\\s+[a-zA-Z]{3}\\s+\\d\\d(?:\\d\\d)?)\\s+\\d\\d?:\\d\\d?") \
	X(uucp_from_sender, OPT_STRING, const char *, 0, "$1") \
	X(warn_message_file, OPT_STRING, const char *, 0, NULL) \
	X(write_rejectlog, OPT_BOOL, bool, 0, true)

#define MAIN_OPT__FIELD(name, type, ctype, flags, def) ctype name;
#define MAIN_OPT__NOFIELD(name, target, type)
struct main_config {
	MAIN_OPTIONS(MAIN_OPT__FIELD, MAIN_OPT__NOFIELD)
};

/* The loaded main options (defaults until conf_load succeeds). */
extern struct main_config conf_main;
/* The compiled-in defaults. */
extern const struct main_config main_config_defaults;

/* The sorted option table of struct main_config. */
extern const opt_row main_option_rows[];
extern const size_t main_option_count;

#endif
