#!/usr/bin/env python3
"""Generate docs/options.md: every main option and every driver option Postern accepts.

Names, types and flags come from the option tables in the source (src/conf/main_options.h, the
generic tables in src/drivers/{routers/router.c,transports/transport.c,auths/auth.c} and each
driver's private table); defaults come from the built binary (`postern -bP` on an empty
configuration, `postern -bP router|transport|authenticator NAME` on one instance per driver), so
the document shows what the program really prints, not what someone remembered.

Usage: scripts/gen-options-doc.py [--postern build/postern] [--out docs/options.md]
tests/scenario/test_docs.py regenerates into a temporary file and fails if docs/options.md differs.
"""
import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]

TYPE_NAMES = {
    "OPT_STRING": "string",
    "OPT_BOOL": "boolean",
    "OPT_BOOL_VERIFY": "boolean",
    "OPT_BOOL_SET": "boolean",
    "OPT_EXPAND_BOOL": "boolean (expanded)",
    "OPT_INT": "integer",
    "OPT_MKINT": "integer (K/M)",
    "OPT_KINT": "integer (K units)",
    "OPT_OCTINT": "octal integer",
    "OPT_FIXED": "fixed-point",
    "OPT_TIME": "time",
    "OPT_TIMELIST": "time list",
    "OPT_UID": "user",
    "OPT_GID": "group",
    "OPT_UIDLIST": "user list",
    "OPT_GIDLIST": "group list",
    "OPT_EXPAND_UID": "user (expanded)",
    "OPT_EXPAND_GID": "group (expanded)",
    "OPT_REWRITE": "rewrite rules",
    "OPT_FUNC": "string",
}

# Main options whose value Postern already uses, and what for. Everything else is parsed,
# type-checked and shown by -bP, and gets its behaviour with the area it is grouped under.
IN_EFFECT = {
    "add_environment": "`-bP environment`, `${env}` in `-be`",
    "keep_environment": "`-bP environment`, `${env}` in `-be`",
    "admin_groups": "who counts as an administrator for `-bP` (hidden values, macros)",
    "exim_user": "who counts as an administrator for `-bP`",
    "primary_hostname": "`$primary_hostname`; default of `qualify_domain`",
    "qualify_domain": "`$qualify_domain`, `$sender_address` in `-be`",
    "qualify_recipient": "`$qualify_recipient`",
    "smtp_active_hostname": "`$smtp_active_hostname`",
    "spool_directory": "`$spool_directory`, `$spool_space`, `$spool_inodes`",
    "queue_run_in_order": "queue runs take messages in arrival order (docs/queue.md)",
    "queue_run_max": "how many queue runs a daemon with `-q<time>` runs at once (docs/queue.md)",
    "print_topbitchars": "`-bP` output and `${escape:}`",
    "headers_charset": "character set of `${rfc2047:}`, `${rfc2047d:}` and decoded `$h_` headers",
    "check_rfc2047_length": "whether `${rfc2047d:}` and `$h_` decoding accept over-long encoded words",
    "lookup_open_max": "number of lookup files kept open",
    "sqlite_dbfile": "default database of `sqlite` lookups",
    "sqlite_lock_timeout": "`sqlite` busy timeout",
    "redis_servers": "`redis` lookups",
    "pgsql_servers": "`pgsql` lookups",
    "bounce_return_size_limit": "`$bounce_return_size_limit`; what a bounce returns",
    "return_size_limit": "`$bounce_return_size_limit` (obsolete synonym)",
    "log_selector": "checked at load; builtin `_LOG_*` macros",
    "syslog_facility": "checked at load",
    "smtp_ratelimit_mail": "checked at load (`malformed ratelimit data`)",
    "smtp_ratelimit_rcpt": "checked at load (`malformed ratelimit data`)",
    "dns_servers": "DNS servers of every lookup (beyond Exim; see docs/dns.md)",
    "queue_run_parallel": "deliveries in flight at once in one queue run (beyond Exim; see docs/queue.md)",
    "smtp_accept_process_reuse": "connections one daemon session process serves before it exits (beyond Exim; see docs/daemon.md)",
    "notifier_socket": "the daemon's abstract datagram socket, `$queue_size` (docs/daemon.md)",
    "dsn_extra_information": "DSN extra information in bounces (beyond Exim; see docs/bounces.md)",
    "dsn_from": "From: of bounces, warnings and DSNs",
    "errors_reply_to": "Reply-To: of bounces and warnings",
    "bounce_message_file": "bounce texts", "bounce_message_text": "bounce texts",
    "bounce_return_body": "what a bounce returns", "bounce_return_linesize_limit": "what a bounce returns",
    "warn_message_file": "delay warning texts", "delay_warning": "delay warnings", "delay_warning_condition": "delay warnings",
    "dns_retrans": "seconds per DNS try (`dnsdb`, dnslists, host lookups)",
    "dns_retry": "DNS tries per server",
    "dns_use_edns0": "EDNS0 in DNS queries",
    "dns_dnssec_ok": "the DO bit in DNS queries",
    "dns_cname_loops": "re-queries of CNAME targets",
    "dns_ipv4_lookup": "domains whose hosts get no AAAA lookup",
    "dns_trust_aa": "authoritative answers counted as DNSSEC-authenticated",
    "dns_csa_use_reverse": "`dnsdb` `csa=` with an IP address",
    "host_lookup_order": "how a client's host name is found (bydns, byaddr)",
    "callout_domain_negative_expire": "callout cache (docs/acl.md)",
    "callout_domain_positive_expire": "callout cache (docs/acl.md)",
    "callout_negative_expire": "callout cache (docs/acl.md)",
    "callout_positive_expire": "callout cache (docs/acl.md)",
    "callout_random_local_part": "`verify = .../callout=random` (docs/acl.md)",
    "gecos_pattern": "the caller's full name in local submissions (docs/submission.md)",
    "gecos_name": "the caller's full name in local submissions (docs/submission.md)",
    "tls_ocsp_file": "OCSP staples the server sends (docs/tls.md)",
    "tls_ocsp_refresh": "the daemon keeps OCSP staples fresh (beyond Exim; see docs/tls.md)",
    "check_spool_space": "free space on the spool disk at each MAIL and before a local submission (docs/spool.md)",
    "check_spool_inodes": "free inodes on the spool disk at each MAIL and before a local submission (docs/spool.md)",
    "check_log_space": "free space on the log disk at each MAIL and before a local submission (docs/spool.md)",
    "check_log_inodes": "free inodes on the log disk at each MAIL and before a local submission (docs/spool.md)",
    "smtp_check_spool_space": "nothing to change: the checks at MAIL are made either way, as in Exim 4.96 (docs/spool.md)",
}

# Options of lookup types Postern does not build (ldap, mysql, oracle, ibase).
NOT_BUILT = ("ldap_", "mysql_servers", "oracle_servers", "ibase_servers")

# Grouping of the main options: first matching rule wins. The group is also the area whose
# implementation gives a not-yet-used option its behaviour.
MAIN_GROUPS = [
    ("Lookups", r"^(lookup_open_max|sqlite_|redis_servers|pgsql_servers|mysql_servers|oracle_servers|ibase_servers|ldap_)"),
    ("Host identity and qualification", r"^(primary_hostname|qualify_domain|qualify_recipient|smtp_active_hostname|localhost_number|"
     r"extra_local_interfaces|local_interfaces|hosts_treat_as_local|timezone)$"),
    ("Privileges, users and environment", r"^(exim_user|exim_group|exim_path|exim_version|admin_groups|trusted_|never_users|"
     r"commandline_checks_require_admin|prod_requires_admin|queue_list_requires_admin|deliver_drop_privilege|"
     r"keep_environment|add_environment|unknown_|gecos_|finduser_retries|max_username_length|untrusted_set_sender|"
     r"local_from_|local_sender_retain|perl_|debug_store|panic_coredump|bi_command)"),
    ("Logging", r"^(log_|syslog_|message_logs|preserve_message_logs|write_rejectlog|slow_lookup_log|process_log_path|"
     r"hosts_connection_nolog|pid_file_path|check_log_)"),
    ("TLS", r"^(tls_|openssl_options|hosts_require_alpn)"),
    ("ACLs", r"^(acl_|strict_acl_vars)"),
    ("Content scanning and message authentication", r"^(av_scanner|spamd_address|dkim_|dmarc_|spf_|srs_|bmi_|dcc|arc_)"),
    ("Queue and spool", r"^(queue_|spool_|split_spool_directory|check_spool_|auto_thaw|timeout_frozen_after|"
     r"move_frozen_messages|freeze_tell|hold_domains|deliver_queue_load_max|remote_max_parallel|remote_sort_domains|"
     r"disable_fsync|smtp_check_spool_space)"),
    ("SMTP server", r"^(smtp_|daemon_|helo_|hosts_require_helo|host_reject_connection|host_lookup|rfc1413_|"
     r"\w+_advertise_hosts$|prdr_enable|accept_8bitmime|tls_on_connect_ports|hosts_proxy|proxy_protocol_timeout|"
     r"sender_unqualified_hosts|recipient_unqualified_hosts|tcp_nodelay|notifier_socket|pipelining_)"),
    ("Message reception", r"^(received_|message_|header_|headers_charset|check_rfc2047_length|recipients_max|"
     r"receive_timeout|drop_cr|ignore_fromline_|strip_|percent_hack_domains|envelope_to_remove|return_path_remove|"
     r"delivery_date_remove|uucp_from_|extract_addresses_remove_arguments|allow_utf8_domains|allow_domain_literals|"
     r"keep_malformed|local_scan_|mua_wrapper|print_topbitchars|event_action)"),
    ("DNS", r"^(dns_|disable_ipv6|allow_mx_to_ip)"),
    ("Delivery, routing and bounces", r"."),
]

DRIVER_AREAS = {
    "router": "routing",
    "transport": "delivery",
    "authenticator": "SMTP authentication",
}

# What a -bP of one instance needs beyond "driver =" to load (each is a private or generic option
# without a default that Exim requires); these options are documented as "must be set".
REQUIRED = {
    ("router", "accept"): {"transport": "t"},
    ("router", "dnslookup"): {"transport": "t"},
    ("router", "ipliteral"): {"transport": "t"},
    ("router", "iplookup"): {"port": "25", "hosts": "localhost"},
    ("router", "manualroute"): {"route_list": "* localhost"},
    ("router", "queryprogram"): {"command": "/bin/true", "command_user": "root"},
    ("router", "redirect"): {"data": "postmaster"},
    ("transport", "lmtp"): {"command": "/bin/true"},
    ("transport", "queuefile"): {"directory": "/tmp"},
    ("authenticator", "cram_md5"): {"public_name": "X"},
}
# How to describe a required option when "must be set" alone would mislead.
REQUIRED_NOTE = {
    ("router", "manualroute", "route_list"): "*one of `route_list` / `route_data` must be set*",
    ("router", "redirect", "data"): "*one of `data` / `file` must be set*",
    ("transport", "lmtp", "command"): "*one of `command` / `socket` must be set*",
}
INSTANCE = "inst_name"  # instance name used for -bP; a default equal to it is "the instance name"

# Options whose shown value depends on the machine the generator runs on.
HOST_DEPENDENT = {"primary_hostname", "qualify_domain", "qualify_recipient", "smtp_active_hostname"}

ROW_RE = re.compile(r'ROW\("([^"]+)",\s*(OPT_\w+),\s*([\w| ]+),')


def parse_main_options():
    text = (ROOT / "src/conf/main_options.h").read_text()
    rows, aliases = {}, {}
    for m in re.finditer(r"^\s*X\((\w+),\s*(OPT_\w+),", text, re.M):
        rows[m.group(1)] = m.group(2)
    for m in re.finditer(r"^\s*ALIAS\((\w+),\s*(\w+),\s*(OPT_\w+)\)", text, re.M):
        aliases[m.group(1)] = m.group(2)
    return rows, aliases


def parse_rows(path):
    rows = []
    for m in ROW_RE.finditer(path.read_text()):
        name, typ, flags = m.group(1), m.group(2), m.group(3)
        if name.startswith("*"):
            continue  # internal companion of another option, not settable
        rows.append((name, typ, "OPTF_HIDDEN" in flags))
    return rows


def driver_files(kind_dir, generic_file):
    """(driver name, rows) for every driver file in a class directory."""
    out = []
    for path in sorted((ROOT / "src/drivers" / kind_dir).glob("*.c")):
        if path.name in (generic_file, "registry.c"):
            continue
        text = path.read_text()
        m = re.search(r'\.name\s*=\s*"(\w+)"', text)
        if not m:
            continue
        out.append((m.group(1), parse_rows(path)))
    return out


def run(postern, args):
    r = subprocess.run([postern] + args, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        sys.exit(f"gen-options-doc: {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def parse_bp(text):
    """-bP lines to {name: value}; booleans become 'true'/'false', unset strings ''."""
    vals = {}
    for line in text.splitlines():
        if " = " in line or line.endswith(" ="):
            name, _, value = line.partition(" =")
            vals[name] = value[1:] if value.startswith(" ") else value
        elif line.startswith("no_"):
            vals[line[3:]] = "false"
        elif line:
            vals[line] = "true"
    return vals


def show(value):
    if value == INSTANCE:
        return "*the instance name*"
    if value == "":
        return "*unset*"
    return "`" + value.replace("|", "\\|").replace("`", "'") + "`"


def main_section(postern, tmp):
    rows, aliases = parse_main_options()
    empty = tmp / "empty.conf"
    empty.write_text("")
    vals = parse_bp(run(postern, ["-C", str(empty), "-bP"]))
    missing = [n for n in rows if n not in vals]
    if missing:
        sys.exit(f"gen-options-doc: -bP does not print {missing}")
    groups = {}
    for name in sorted(rows):
        group = next(g for g, rx in MAIN_GROUPS if re.search(rx, name))
        groups.setdefault(group, []).append(name)
    out = ["## Main configuration options", "",
           f"{len(rows)} options (plus {len(aliases)} obsolete synonyms). Defaults are `postern -bP` on an "
           "empty configuration. *Status* says whether Postern already acts on the value; every option is "
           "parsed and type-checked at load and shown by `-bP` either way.", ""]
    for group, _ in MAIN_GROUPS:
        names = groups.get(group, [])
        if not names:
            continue
        out += [f"### {group}", "", "| option | type | default | status |", "|---|---|---|---|"]
        for name in names:
            default = "*this host's name*" if name in HOST_DEPENDENT and name != "smtp_active_hostname" \
                else show(vals[name])
            if name.startswith(NOT_BUILT):
                status = "accepted; the lookup it configures is not built into Postern"
            elif name in IN_EFFECT:
                status = "in effect: " + IN_EFFECT[name]
            else:
                status = f"accepted; takes effect with {group[0].lower() + group[1:]}" \
                    if not group.startswith(("ACLs", "TLS", "SMTP", "DNS")) \
                    else f"accepted; takes effect with {group}"
            out.append(f"| `{name}` | {TYPE_NAMES[rows[name]]} | {default} | {status} |")
        out.append("")
    out += ["### Obsolete synonyms", "",
            "Settable and printable by name (`-bP NAME`), hidden from `-bP` without arguments, as in Exim.", "",
            "| synonym | same as |", "|---|---|"]
    out += [f"| `{a}` | `{t}` |" for a, t in sorted(aliases.items())]
    out.append("")
    return out


def instance_values(postern, tmp, kind, driver):
    section = {"router": "routers", "transport": "transports", "authenticator": "authenticators"}[kind]
    req = REQUIRED.get((kind, driver), {})
    lines = [f"begin {section}", f"{INSTANCE}:", f"  driver = {driver}"] + [f"  {k} = {v}" for k, v in req.items()]
    if kind == "router" and "transport" in req:
        lines = ["begin transports", "t:", "  driver = smtp"] + lines
    conf = tmp / f"{kind}-{driver}.conf"
    conf.write_text("\n".join(lines) + "\n")
    vals = parse_bp(run(postern, ["-C", str(conf), "-bP", kind, INSTANCE]))
    for k in req:
        vals[k] = None  # required: no default
    return vals


def driver_section(postern, tmp, kind, kind_dir, generic_file, title):
    generic = parse_rows(ROOT / "src/drivers" / kind_dir / generic_file)
    drivers = driver_files(kind_dir, generic_file)
    values = {d: instance_values(postern, tmp, kind, d) for d, _ in drivers}
    area = DRIVER_AREAS[kind]
    out = [f"## {title}", "",
           f"Drivers: {', '.join('`' + d + '`' for d, _ in drivers)}. All {kind} options are parsed, "
           f"checked at load (including each driver's required options) and shown by `-bP {kind} NAME`; "
           f"none has behaviour yet: every one is **accepted; takes effect with {area}**.", "",
           f"### Generic {kind} options", "", "| option | type | default |", "|---|---|---|"]
    # Older option names kept for configurations written for them (docs/events.md).
    OLDER_NAMES = {
        "delivery_event_action": "same setting as `event_action`",
        "tpda_event_action": "same setting as `event_action`",
        "tpda_delivery_action": "`event_action` for msg:delivery only (TPDA)",
    }
    for name, typ, hidden in generic:
        if name == "driver":
            continue
        seen = {}
        for d, _ in drivers:
            v = values[d].get(name)
            if v is not None or name in REQUIRED.get((kind, d), {}):
                seen.setdefault(v, []).append(d)
        if hidden and name in OLDER_NAMES:
            default = f"*(hidden from `-bP`; {OLDER_NAMES[name]})*"
        elif hidden:
            default = f"*(hidden from `-bP`; sets `{name}_sender` and `{name}_recipient`)*"
        elif len(seen) == 1:
            v = next(iter(seen))
            default = "*must be set*" if v is None else show(v)
        else:
            common = max(seen, key=lambda v: len(seen[v]))
            others = "; ".join(f"{'*must be set*' if v is None else show(v)} for {', '.join(ds)}"
                               for v, ds in seen.items() if v != common)
            default = f"{'*must be set*' if common is None else show(common)} ({others})"
        out.append(f"| `{name}` | {TYPE_NAMES[typ]} | {default} |")
    out.append("")
    for d, rows in drivers:
        out += [f"### {d} {kind}", ""]
        if not rows:
            out += ["No private options.", ""]
            continue
        out += ["| option | type | default |", "|---|---|---|"]
        for name, typ, hidden in rows:
            v = values[d].get(name)
            if hidden:
                default = "*(hidden from `-bP`)*"
            elif v is None and name in REQUIRED.get((kind, d), {}):
                default = REQUIRED_NOTE.get((kind, d, name), "*must be set*")
            elif v is None:
                sys.exit(f"gen-options-doc: -bP {kind} ({d}) does not print {name}")
            else:
                default = show(v)
            out.append(f"| `{name}` | {TYPE_NAMES[typ]} | {default} |")
        out.append("")
    return out


def generate(postern):
    with tempfile.TemporaryDirectory() as t:
        tmp = pathlib.Path(t)
        out = ["# Postern options reference", "",
               "<!-- GENERATED by scripts/gen-options-doc.py from the option tables and `postern -bP`; "
               "do not edit. tests/scenario/test_docs.py fails when this file is stale. -->", "",
               "Every option Postern's configuration reader accepts, with its type and compiled-in default. "
               "Postern reads all Exim 4.96 options, including those of features Debian's Exim build leaves "
               "out (Brightmail, DCC, Redis, DMARC, ARC, the queuefile transport...), so a working Exim "
               "configuration loads unchanged. The value syntax of each type is described in "
               "[configuration.md](configuration.md#option-values).", "",
               "**What \"accepted\" means.** This release implements the configuration reader, the expansion "
               "language, lookups and the command-line modes `-bV`, `-bP`, `-be`/`-bem`. Options that belong to "
               "the SMTP server, TLS, routing, delivery, queue running or logging are parsed, checked and "
               "printed exactly as Exim does, but do nothing yet; they are marked "
               "\"accepted; takes effect with *area*\".", "",
               "Types: *string* values are expanded or not at use as the Exim specification says for each "
               "option; *integer (K/M)* accepts and prints K/M suffixes; *integer (K units)* holds kilobytes; "
               "*time* is `1w2d3h4m5s` form; *boolean (expanded)* may be an expansion string; "
               "*must be set* marks driver options that Exim requires and that have no default.", ""]
        out += main_section(postern, tmp)
        out += driver_section(postern, tmp, "router", "routers", "router.c", "Router options")
        out += driver_section(postern, tmp, "transport", "transports", "transport.c", "Transport options")
        out += driver_section(postern, tmp, "authenticator", "auths", "auth.c", "Authenticator options")
    return "\n".join(out).rstrip("\n") + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--postern", default=os.environ.get("POSTERN", str(ROOT / "build" / "postern")))
    ap.add_argument("--out", default=str(ROOT / "docs" / "options.md"))
    a = ap.parse_args()
    text = generate(a.postern)
    pathlib.Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
