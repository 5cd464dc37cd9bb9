"""Seeded generator of Exim configurations and SMTP conversations for the -bh differential test.

gen_case(seed) returns (config_text, host_ip, conversation_lines). The same seed always gives the
same case, so a difference found by scripts/bhdiff.py can be reproduced from its number alone.
The configuration uses `spool_directory = SPOOL` (set with -DSPOOL=dir by the runner), no DNS and
no network: host names are never looked up, verify = sender/recipient routes through a redirect
and an accept router only.
"""
import base64
import random

import bhgen_gaps

HOSTS = ["1.2.3.4", "192.0.2.7", "198.51.100.20", "127.0.0.1", "2001:db8::5"]

LOCAL_DOMAIN = "example.com"
DOMAINS = ["example.com", "other.example", "relay.example", "EXAMPLE.COM", "sub.example.com",
           "[192.0.2.1]", "nodots", "a-b.example"]
LOCALS = ["user", "postmaster", "alias", "fail", "defer", "x+tag", "first.last", "Upper",
          "a%b", "list", "abc"]

BAD_ADDRS = ["<a@b", "a@", "@b.example", "<@route.example:u@example.com>", "<a b@example.com>",
             "<a@b..example>", "a@example.com>", "user", "<user>", "<\"quoted lp\"@example.com>",
             "<a@[192.0.2.1]>", "<a@[IPv6:2001:db8::1]>", "<a@[300.1.1.1]>", "<.a@example.com>",
             "<a.@example.com>", "<a@example.com.>", "<a@-bad.example>", "<a@b_c.example>",
             "<\"unterminated@example.com>", "<a@example.com> junk", "<(comment)a@example.com>",
             "<a@example.com", "<<a@example.com>>", "<>", "<" + "l" * 70 + "@example.com>",
             "<a@" + "d" * 260 + ".example>", "<a@@example.com>", "<a\\@b@example.com>",
             "<a@b.example, c@d.example>", ""]

HELO_NAMES = ["client.test", "x", "[1.2.3.4]", "[192.0.2.7]", "[300.1.1.1]", "bad_name.test",
              "mail.example.com", "localhost", "a..b", "-x.test", "x.test.", "under_score",
              "[IPv6:2001:db8::5]", "1.2.3.4", "has space", ""]

VARS_ANY = ["$sender_host_address", "$sender_helo_name", "$smtp_command", "$received_protocol",
            "$acl_m0", "$acl_c_x", "$tls_in_cipher", "$authenticated_id", "$sender_fullhost",
            "$sender_rcvhost", "$interface_address", "$smtp_command_argument",
            "$sender_host_authenticated", "$host_data", "$acl_verify_message", "$primary_hostname",
            "${length_3:$sender_helo_name}", "${uc:$sender_helo_name}", "$recipients_count",
            "$sender_address", "$sender_address_domain", "$sender_address_local_part"]
VARS_RCPT = ["$local_part", "$domain", "$local_part_prefix", "$local_part_suffix", "$rcpt_count",
             "$address_data", "$domain_data", "$local_part_data", "$recipient_verify_failure",
             "$sender_verify_failure"]
VARS_DATA = ["$h_subject:", "$rh_subject:", "$h_from:", "$message_size", "$body_linecount",
             "$message_linecount", "$recipients", "$h_x-test:", "$bh_to:", "$message_body_size",
             "$header_subject:"]

ACL_NAMES = ["connect", "helo", "mail", "rcpt", "predata", "data", "quit", "notquit", "vrfy",
             "expn", "mime", "etrn", "auth"]


# Wider mode (--wide): more of each kind, in its own random stream so that the plain mode's
# cases stay as they were for the same seed.
WIDE_ADDRS = ["@x.example:user@example.com", "<@x.example,@y.example:user@example.com>",
              "<@x.example:user>", "@x.example", "<@x.example,y:u@example.com>",
              "<@x.example,,@y:u@example.com>", "user@[192.0.2.1]", "user@[300.1.1.1]",
              "<\"a b\"@example.com>", "<a\\b@example.com>", "<\"user\"@example.com>",
              "Name <user@example.com>", "\"Quoted Name\" <x+tag@example.com>",
              "<user@example.com> x", "<user@EXAMPLE.COM>", "<@[192.0.2.1]:user@example.com>",
              "user@example.com.", "<u\xe9@example.com>", "<" + "a." * 40 + "b@example.com>",
              "<user @ example.com>", "<user(c)@example.com>", "<>", ""]

WIDE_ITEMS = [
    "log_reject_target = @LOG@", "verify = sender/defer_ok",
    "verify = recipient/defer_ok", "hosts = +nolist", "domains = +nolist",
    "local_parts = \"a b\" : user", "condition = ${if eq{$local_part}{a b}}",
    "message = 250 2.0.0 fine", "message = 551 5.1.1 wrong class",
    "message = 451 4.7.1 later", "message = 5.7.1 only esc",
    "control = queue/x", "control = freeze/no_tell", "control = freeze/no_cutthrough",
    "control = submission/x", "add_header = :at_start:X-Dup: same",
    "add_header = X-Dup: same", "message = multi\\nline $acl_c_x",
    "logwrite = trail $acl_c_x", "logwrite = :reject: only reject",
    "log_message = lm $acl_c_x", "verify = header_syntax",
    "senders = +nolist", "recipients = +nolist", "set acl_c_x = x ",
]


class Gen:
    def __init__(self, seed, wide=False, extra=False, gaps=False):
        self.r = random.Random(seed)
        self.seed = seed
        self.wide = wide
        self.w = random.Random(seed * 7919 + 17) if wide else None
        # --extra: MIME, regex, PRDR, DSN, SMTPUTF8, ${acl} and more verify/control forms, in a
        # stream of its own (the plain and wide cases of a seed stay what they were).
        self.extra = extra
        self.x = random.Random(seed * 104729 + 29) if extra else None
        # --gaps: what the other modes never generate (bhgen_gaps.py), a fourth stream of its own
        self.gaps = gaps
        self.g = random.Random(seed * 15485863 + 41) if gaps else None
        self.gx = bhgen_gaps.Gaps(self) if gaps else None

    def gchance(self, p):
        return self.gaps and self.g.random() < p

    def xchance(self, p):
        return self.extra and self.x.random() < p

    def xpick(self, seq):
        return self.x.choice(seq)

    def wchance(self, p):
        """In wide mode only, from its own stream."""
        return self.wide and self.w.random() < p

    def wpick(self, seq):
        return self.w.choice(seq)

    def pick(self, seq):
        return self.r.choice(seq)

    def chance(self, p):
        return self.r.random() < p

    # ---------------------------------------------------------------- ACL pieces
    def text(self, where):
        """A message text with a few variables, sometimes a code, sometimes multi-line."""
        words = ["rejected", "policy", "go away", "ok", "nope", "try later", "denied for"]
        parts = [self.pick(words)]
        pool = VARS_ANY + (VARS_RCPT if where == "rcpt" else []) + \
            (VARS_DATA if where in ("data", "mime") else [])
        for _ in range(self.r.randint(0, 2)):
            parts.append(self.pick(pool))
        t = " ".join(parts)
        if self.chance(0.15):
            t = self.pick(["550 5.7.1 ", "551 ", "451 4.3.0 ", "421 ", "552 ", "250 ", "5.1.1 ",
                           "554-", "45 "]) + t
        if self.chance(0.1):
            t += "\\n" + self.pick(["second line", "and more", "$sender_helo_name"])
        if self.chance(0.05):
            t = "a long message text that goes on and on " * 3 + t
        if self.chance(0.04):
            t = "${if eq{1}{2}{x}fail}"
        if self.chance(0.03):
            t = "$bad_variable"
        return t

    def hostlist(self):
        return self.pick(["1.2.3.4", "1.2.3.0/24", "!1.2.3.4 : *", ":", "*", "192.0.2.0/24",
                          "<; 2001:db8::/32", "127.0.0.1 : 192.0.2.7", "!192.0.2.7",
                          "198.51.100.20", "+relay_hosts", "@[]", "net24-lsearch;SPOOL/../hosts.txt"])

    def domainlist(self):
        return self.pick(["example.com", "+local_domains", "!example.com : *", "*.example",
                          "^other", "@", "other.example : relay.example", "@[]", "*",
                          "partial-lsearch;SPOOL/../domains.txt", "nodots"])

    def addrlist(self):
        return self.pick(["user@example.com", "*@other.example", ":", "<>", "^a", "user@*",
                          "*@+local_domains", "!postmaster@* : *", "x+tag@example.com",
                          "@@lsearch;SPOOL/../domains.txt", "first.last@*"])

    def condition(self, where):
        pool = VARS_ANY + (VARS_RCPT if where == "rcpt" else []) + \
            (VARS_DATA if where in ("data", "mime") else [])
        v = self.pick(pool)
        return self.pick([
            "${if eq{%s}{%s}}" % (v, self.pick(["", "x", "user", "1", "example.com", "client.test"])),
            "${if match{%s}{%s}}" % (v, self.pick(["^a", "example", "\\\\d", "^$", "["])),
            "${if def:%s}" % v.lstrip("$") if not v.startswith("${") else "yes",
            self.pick(["yes", "no", "true", "false", "0", "1", "", "maybe", "${if eq{1}{1}{yes}{no}}"]),
            "${if >{$rcpt_count}{%d}}" % self.r.randint(0, 3),
            "${if eq{$acl_m0}{set}}",
            "${lookup{%s}lsearch{SPOOL/../keys.txt}{yes}{no}}" % v,
            "${if eq{1}{2}{x}fail}",
            "$unknown_var_xyz",
            "${if isip{%s}}" % v,
        ])

    def control(self, where):
        c = self.pick(["no_multiline_responses", "no_enforce_sync", "enforce_sync",
                       "no_pipelining", "submission", "submission/sender_retain",
                       "submission/domain=sub.example", "suppress_local_fixups",
                       "caseful_local_part", "caselower_local_part", "allow_auth_unadvertised",
                       "freeze", "freeze/no_tell", "queue", "queue/first_pass_route",
                       "queue_only", "fakedefer/fake it", "fakereject", "fakereject/fake reject",
                       "no_mbox_unspool", "no_delay_flush", "no_callout_flush",
                       "dkim_disable_verify", "dmarc_disable_verify", "utf8_downconvert",
                       "utf8_downconvert=1", "cutthrough_delivery", "bogus_control",
                       "debug/tag=x", "no_pipelining/extra", "enforce_sync/x"])
        return c

    def ratelimit(self, where):
        n = self.r.randint(0, 3)
        opts = []
        per = self.pick(["per_rcpt", "per_mail", "per_conn", "per_cmd", "per_byte", "", "per_addr"])
        if per:
            opts.append(per)
        if self.chance(0.4):
            opts.append(self.pick(["strict", "leaky", "readonly", "noupdate"]))
        if self.chance(0.2):
            opts.append("count=%d" % self.r.randint(1, 3))
        if self.chance(0.2):
            opts.append("unique=$local_part")
        period = self.pick(["1h", "1d", "30s", "0s", "x"])
        s = "%d / %s" % (n, period)
        if opts:
            s += " / " + " / ".join(opts)
        if self.chance(0.3):
            s += " / $sender_host_address"
        return s

    def verify(self, where):
        return self.pick(["helo", "header_syntax", "sender", "recipient", "header_sender",
                          "not_blind", "header_names_ascii", "sender=user@example.com",
                          "recipient/defer_ok", "bogus", "certificate", "csa"] +
                         (["recipient"] * 3 if where == "rcpt" else []) +
                         (["header_syntax"] * 2 if where == "data" else []))

    def extra_item(self, where):
        """--extra: conditions and modifiers the plain generator does not use."""
        pool = ["verify = sender/no_details", "verify = header_sender/defer_ok",
                "verify = recipient/no_details", "verify = helo/defer_ok", "!verify = not_blind",
                "condition = ${acl{acl_x_arg}{%s}{two}}" % self.xpick(["one", "$local_part", "", "deny"]),
                "acl = acl_x_arg %s \"quoted arg\"" % self.xpick(["one", "deny", "$sender_address"]),
                "message = ${acl{acl_x_arg}{msg}} $acl_narg",
                "set acl_m_x = ${acl{acl_x_arg}{set}{$domain}}",
                "control = " + self.xpick(["no_mbox_unspool", "dkim_disable_verify", "queue/first_pass_route",
                                           "submission/domain=", "submission/name=Nobody",
                                           "fakedefer/later $acl_m_x", "fakereject", "freeze/no_tell",
                                           "utf8_downconvert=-1", "no_delay_flush", "allow_auth_unadvertised/x",
                                           "cutthrough_delivery/defer=pass", "enforce_sync"]),
                "condition = ${if eq{$prdr_requested}{1}}", "logwrite = prdr=$prdr_requested smtputf8=$smtputf8",
                "condition = ${if def:dsn_ret}", "add_header = X-Env: $dsn_envid",
                "condition = ${if eq{$message_linecount}{%d}}" % self.x.randint(0, 6),
                "logwrite = size $message_size lines $message_linecount body $body_linecount"]
        if where in ("data", "mime", "prdr"):
            pool += ["regex = %s" % self.xpick(["^Subject:.*hello", "\\d{3}", "(?i)CHUNK", "^\\s*$", "[", "body$"]),
                     "!regex = spam", "condition = ${if eq{$regex1}{}}", "logwrite = regex $regex1 $regex2",
                     "condition = ${if >{$mime_part_count}{0}}"]
        if where == "mime":
            pool += ["mime_regex = %s" % self.xpick(["hello", "^--", "(?i)ATTACH", "["]),
                     "condition = ${if eq{$mime_content_type}{text/plain}}",
                     "condition = ${if def:mime_filename}",
                     "logwrite = mime $mime_part_count $mime_content_type $mime_filename $mime_charset "
                     "$mime_content_transfer_encoding $mime_is_multipart $mime_is_rfc822 $mime_boundary",
                     "message = part $mime_part_count type $mime_content_type",
                     "condition = ${if match{$mime_content_disposition}{attachment}}",
                     "log_message = mime $mime_anomaly_level $mime_anomaly_text"]
        if where == "prdr":
            pool += ["condition = ${if eq{$local_part}{user}}", "message = prdr $local_part@$domain",
                     "logwrite = prdr for $local_part"]
        return self.xpick(pool)

    def item(self, where, acl_names):
        """One condition or modifier line."""
        if self.gchance(0.45):
            return self.gx.item(where, acl_names)
        if self.xchance(0.15):
            return self.extra_item(where)
        if self.wchance(0.12):
            it = self.wpick(WIDE_ITEMS).replace("@LOG@", self.wpick(["reject", "main", "", "panic", "main:reject"]))
            return ("!" if self.wchance(0.1) and it.startswith(("hosts", "domains", "verify")) else "") + it
        k = self.pick(["hosts", "domains", "local_parts", "senders", "sender_domains",
                       "recipients", "condition", "condition", "message", "message",
                       "log_message", "add_header", "set", "set", "verify", "verify",
                       "ratelimit", "control", "delay", "acl", "logwrite", "authenticated",
                       "encrypted", "remove_header", "local_parts", "condition", "dnslists",
                       "endpass_dummy"])
        neg = "!" if self.chance(0.15) else ""
        if k == "hosts":
            return "%shosts = %s" % (neg, self.hostlist())
        if k == "domains":
            return "%sdomains = %s" % (neg, self.domainlist())
        if k == "local_parts":
            return "%slocal_parts = %s" % (neg, self.pick(["user", "^a", "user : postmaster",
                                                           "alias", "*", "fail : defer", "Upper",
                                                           "!user : *", "lsearch;SPOOL/../keys.txt"]))
        if k == "senders":
            return "%ssenders = %s" % (neg, self.addrlist())
        if k == "sender_domains":
            return "%ssender_domains = %s" % (neg, self.domainlist())
        if k == "recipients":
            return "%srecipients = %s" % (neg, self.addrlist())
        if k == "condition":
            return "%scondition = %s" % (neg, self.condition(where))
        if k == "message":
            return "message = " + self.text(where)
        if k == "log_message":
            return "log_message = " + self.text(where)
        if k == "add_header":
            h = self.pick(["X-Added: " + self.text(where), ":at_start:X-Start: s",
                           ":after_received:X-AR: r", ":at_start_rfc:X-SR: q", "X-Multi: a\\nX-Two: b",
                           "not a header", ""])
            return "add_header = " + h
        if k == "remove_header":
            return "remove_header = " + self.pick(["subject", "x-test : from", "received"])
        if k == "set":
            name = self.pick(["acl_m0", "acl_m_x", "acl_c0", "acl_c_x", "acl_m_long_name",
                              "acl_m1"])
            if self.chance(0.02):
                name = self.pick(["acl_z", "acl_mX", "bogus"])
            return "set %s = %s" % (name, self.pick(["set", "", self.text(where), "${eval:1+2}"]))
        if k == "verify":
            return "%sverify = %s" % (neg, self.verify(where))
        if k == "ratelimit":
            return "%sratelimit = %s" % (neg, self.ratelimit(where))
        if k == "control":
            return "control = " + self.control(where)
        if k == "delay":
            return "delay = " + self.pick(["0s", "0s", "x", "0"])
        if k == "acl":
            if acl_names and self.chance(0.8):
                return "%sacl = %s" % (neg, self.pick(acl_names) +
                                       self.pick(["", " arg1", " $local_part two"]))
            return "acl = " + self.pick(["nonexistent_acl", "accept", "deny message = inline"])
        if k == "logwrite":
            return "logwrite = " + self.pick([":main,reject: both ", ":reject: rj ", ":panic: p ", "",
                                              ":bogus: x "]) + self.text(where)
        if k == "authenticated":
            return "%sauthenticated = %s" % (neg, self.pick(["*", "user", ":", "us*"]))
        if k == "encrypted":
            return "%sencrypted = %s" % (neg, self.pick(["*", ":", "AES*"]))
        if k == "dnslists":
            # A zone that only exists in the test environment's imagination: an A lookup of a
            # reversed IP under .invalid fails at once without sending anything.
            return "%sdnslists = %s" % (neg, self.pick(["rbl.invalid", "rbl.invalid=127.0.0.2"]))
        return "condition = ${if eq{1}{1}}"

    def statement(self, where, acl_names):
        verb = self.pick(["accept", "accept", "deny", "deny", "defer", "discard", "drop", "require",
                          "warn", "warn", "endpass_acc"])
        if self.gchance(0.25):
            verb = self.gx.verb(where)
        lines = []
        items = [self.item(where, acl_names) for _ in range(self.r.randint(0, 3))]
        if verb == "endpass_acc":
            verb = "accept"
            items.insert(self.r.randint(0, len(items)), "endpass")
        if verb in ("discard",) and where in ("connect", "helo", "vrfy", "expn", "etrn", "quit",
                                              "notquit", "predata", "auth"):
            if self.chance(0.7):
                verb = "accept"
        lines.append("  %s %s" % (verb, items[0] if items else "")
                     if items else "  " + verb)
        for it in items[1:]:
            lines.append("       " + it)
        return lines

    def acl(self, name, where, acl_names):
        out = [name + ":"]
        for _ in range(self.r.randint(1, 4)):
            out += self.statement(where, acl_names)
        if self.chance(0.6):
            out.append("  " + self.pick(["accept", "deny", "accept", "defer message = end"]))
        return out

    # ---------------------------------------------------------------- configuration
    def config(self):
        main = ["spool_directory = SPOOL", "exim_user = root", "exim_group = root",
                "primary_hostname = mail.example.com", "tls_advertise_hosts =",
                "domainlist local_domains = example.com : sub.example.com",
                "hostlist relay_hosts = 192.0.2.0/24",
                "qualify_domain = example.com"]
        opts = {
            "smtp_banner": ["$smtp_active_hostname ESMTP hello $sender_host_address",
                            "custom banner\\nsecond line", "${if eq{1}{2}{x}fail}", "$bad_var",
                            "mail.example.com"],
            "helo_accept_junk_hosts": ["*", "1.2.3.4", ":"],
            "helo_allow_chars": ["_", "_ ", ""],
            "helo_verify_hosts": ["192.0.2.7", "1.2.3.4"],
            "helo_try_verify_hosts": ["*"],
            "recipients_max": ["1", "2", "0", "3"],
            "recipients_max_reject": ["true", "false"],
            "message_size_limit": ["100", "1k", "0", "${if eq{1}{1}{200}}"],
            "smtp_max_unknown_commands": ["0", "1", "2", "3"],
            "smtp_accept_max_nonmail": ["0", "1", "2", "3"],
            "smtp_accept_max_nonmail_hosts": ["*", ":", "1.2.3.4"],
            "smtp_max_synprot_errors": ["0", "1", "2"],
            "smtp_enforce_sync": ["false", "true"],
            "pipelining_advertise_hosts": [":", "1.2.3.4", "*"],
            "chunking_advertise_hosts": [":", "*"],
            "smtputf8_advertise_hosts": [":", "*"],
            "dsn_advertise_hosts": ["*", ":"],
            "prdr_enable": ["true", "false"],
            "accept_8bitmime": ["false", "true"],
            "sender_unqualified_hosts": ["*", "1.2.3.4"],
            "recipient_unqualified_hosts": ["*", "192.0.2.7"],
            "smtp_return_error_details": ["true", "false"],
            "auth_advertise_hosts": [":", "*", "192.0.2.7"],
            "helo_verify_hosts ": [":"],
            "smtp_etrn_command": ["/bin/true"],
            "smtp_accept_max_per_connection": ["1", "2", "1000"],
            "header_maxsize": ["100", "200"],
            "header_line_maxsize": ["40", "0"],
            "percent_hack_domains": ["*", "example.com"],
            "strip_trailing_dot": ["true"],
            "smtp_active_hostname": ["active.example", "${uc:mail.example.com}"],
            "hosts_treat_as_local": ["other.example"],
            "log_selector": ["+smtp_connection +smtp_protocol_error +smtp_syntax_error",
                             "+all", "-all", "+incoming_interface +received_recipients",
                             "+smtp_no_mail +pipelining", "+smtp_confirmation +sender_on_delivery"],
            "allow_domain_literals": ["true"],
            "rfc1413_hosts": [":"],
            "ignore_fromline_hosts": ["*"],
            "drop_cr": ["true"],
            "no_smtp_check_spool_space": [""],
            "smtp_accept_queue_per_connection": ["1"],
            "helo_lookup_domains": [":"],
        }
        for k, vals in opts.items():
            if self.chance(0.08):
                v = self.pick(vals)
                main.append((k.strip() + " = " + v) if v or not k.startswith("no_") else k)
        if self.wide:
            wide_opts = {
                "log_selector": ["-all", "+smtp_syntax_error +smtp_protocol_error", "+received_recipients",
                                 "-connection_reject -etrn -size_reject", "+smtp_no_mail -lost_incoming_connection",
                                 "-sender_verify_fail -acl_warn_skipped"],
                "recipients_max": ["1", "2"], "smtp_accept_max_nonmail": ["0", "1"],
                "helo_accept_junk_hosts": ["*"], "message_size_limit": ["50", "300"],
                "smtp_max_synprot_errors": ["0", "5"], "smtp_max_unknown_commands": ["0", "5"],
                "smtp_accept_max_per_connection": ["1"], "allow_domain_literals": ["true"],
                "sender_unqualified_hosts": ["*"], "recipient_unqualified_hosts": ["*"],
                "dsn_advertise_hosts": ["*"], "auth_advertise_hosts": ["*"],
            }
            for k, vals in wide_opts.items():
                if self.wchance(0.1) and not any(m.startswith(k + " ") for m in main):
                    main.append(k + " = " + self.wpick(vals))
        extra_acls = []
        if self.extra:
            for k, vals in {"prdr_enable": ["true"], "dsn_advertise_hosts": ["*"],
                            "smtputf8_advertise_hosts": ["*", ":"], "accept_8bitmime": ["true"],
                            "chunking_advertise_hosts": ["*"]}.items():
                if self.xchance(0.35) and not any(m.startswith(k + " ") for m in main):
                    main.append(k + " = " + self.xpick(vals))
            extra_acls += ["acl_x_arg:", "  accept condition = ${if eq{$acl_arg1}{one}}",
                           "         message = arg $acl_arg1 $acl_arg2 n=$acl_narg",
                           "  deny condition = ${if eq{$acl_arg1}{deny}}", "       message = denied $acl_arg2",
                           "  " + self.xpick(["accept", "deny", "defer message = later $acl_arg1"])]
            if self.xchance(0.4):
                main.append("acl_smtp_mime = acl_x_mime")
                extra_acls += self.acl("acl_x_mime", "mime", [])
            if self.xchance(0.3):
                main.append("acl_smtp_data_prdr = acl_x_prdr")
                extra_acls += self.acl("acl_x_prdr", "prdr", [])
        if self.gaps:
            main += self.gx.main_options(main)
            extra_acls += self.gx.helper_acls()
        # ACLs
        n_acls = self.r.randint(1, 5)
        wheres = self.r.sample(ACL_NAMES, min(n_acls, len(ACL_NAMES)))
        if self.gaps:
            wheres += [w for w in self.gx.more_acls() if w not in wheres]
        if "rcpt" not in wheres and self.chance(0.7):
            wheres.append("rcpt")
        helper_names = ["check_%d" % i for i in range(self.r.randint(0, 2))]
        acls = []
        for h in helper_names:
            acls += self.acl(h, "rcpt", [])
        for w in wheres:
            body = self.acl("acl_" + w, w, helper_names)
            if w == "rcpt" and self.chance(0.15):
                # an inline ACL instead of a named one
                main.append("acl_smtp_rcpt = " + self.pick(["accept", "deny message = inline no",
                                                            "accept domains = example.com\\n deny"]))
                continue
            main.append("acl_smtp_%s = acl_%s" % (w, w))
            acls += body
        if self.chance(0.05) and not any(m.startswith("acl_smtp_rcpt") for m in main):
            main.append("acl_smtp_rcpt = missing_acl")
        routers = [
            "begin routers",
            "r_redirect:", "  driver = redirect", "  domains = +local_domains",
            "  local_parts = alias : fail : defer : list",
            "  data = ${if eq{$local_part}{fail}{:fail: no such user here}{${if eq{$local_part}{defer}"
            "{:defer: try later}{${if eq{$local_part}{list}{user@example.com, postmaster}"
            "{user@example.com}}}}}}",
            "r_local:", "  driver = accept", "  domains = +local_domains",
            "  local_parts = user : postmaster : first.last : x+tag : abc",
            "  transport = t_null",
            "r_relay:", "  driver = accept", "  domains = relay.example : other.example",
            "  transport = t_null",
            "begin transports", "t_null:", "  driver = appendfile", "  file = /dev/null",
            "  user = root",
        ]
        auths = ["begin authenticators",
                 "plain:", "  driver = plaintext", "  public_name = PLAIN",
                 "  server_condition = ${if eq{$auth3}{secret}}", "  server_set_id = $auth2",
                 "login:", "  driver = plaintext", "  public_name = LOGIN",
                 "  server_prompts = Username:: : Password::",
                 "  server_condition = ${if eq{$auth2}{secret}}", "  server_set_id = $auth1"]
        if self.wide:
            auths += ["cram:", "  driver = cram_md5", "  public_name = CRAM-MD5",
                      "  server_secret = ${if eq{$auth1}{user}{secret}fail}", "  server_set_id = $auth1"]
        # a plain acl_smtp_mime of the ACL list wins over the extra one (one setting only)
        if sum(1 for m in main if m.startswith("acl_smtp_mime = ")) > 1:
            main = [m for m in main if m != "acl_smtp_mime = acl_x_mime"]
        return "\n".join(main + ["", "begin acl"] + extra_acls + acls + [""] + routers + [""] + auths) + "\n"

    # ---------------------------------------------------------------- conversation
    def address(self):
        if self.xchance(0.1):
            # UTF-8 addresses (SMTPUTF8), as bytes in latin-1 text
            return self.xpick(["<us\xc3\xa9r@example.com>", "<user@\xc3\xa9x.example>",
                               "<\xe2\x82\xac@relay.example>", "<u@b\xc3\xbccher.example>"])
        if self.chance(0.2):
            return self.pick(BAD_ADDRS)
        if self.wchance(0.15):
            return self.wpick(WIDE_ADDRS)
        lp = self.pick(LOCALS)
        d = self.pick(DOMAINS)
        a = "<%s@%s>" % (lp, d)
        if self.chance(0.05):
            a = a.strip("<>")
        return a

    def mail_params(self):
        ps = []
        for _ in range(self.r.randint(0, 2)):
            ps.append(self.pick(["SIZE=100", "SIZE=99999999999", "SIZE=x", "BODY=8BITMIME",
                                 "BODY=7BIT", "BODY=BINARYMIME", "BODY=bogus", "RET=HDRS",
                                 "RET=FULL", "RET=x", "ENVID=abc", "AUTH=<>", "AUTH=user@x",
                                 "SMTPUTF8", "FOO=bar", "PRDR", "SIZE=", "size=50"]))
        if self.xchance(0.4):
            ps.append(self.xpick(["PRDR", "ENVID=a+2Bb+20c", "ENVID=bad+zz", "RET=HDRS ENVID=x",
                                  "SMTPUTF8", "SMTPUTF8 PRDR", "BODY=8BITMIME SMTPUTF8", "ENVID=",
                                  "ENVID=" + "e" * 120, "RET=FULL RET=HDRS", "PRDR=x"]))
        return (" " + " ".join(ps)) if ps else ""

    def rcpt_params(self):
        if self.xchance(0.3):
            return " " + self.xpick(["NOTIFY=SUCCESS", "NOTIFY=FAILURE,DELAY", "NOTIFY=NEVER,SUCCESS",
                                     "NOTIFY=", "ORCPT=rfc822;u+40x@y.example", "ORCPT=utf-8;u\\x{e9}@x",
                                     "ORCPT=rfc822;", "ORCPT=x", "NOTIFY=DELAY NOTIFY=DELAY",
                                     "ORCPT=rfc822;a@b ORCPT=rfc822;c@d", "notify=success"])
        if not self.chance(0.2):
            return ""
        return " " + self.pick(["NOTIFY=NEVER", "NOTIFY=SUCCESS,FAILURE", "NOTIFY=bogus",
                                "ORCPT=rfc822;a@b.example", "ORCPT=bad", "FOO=1",
                                "NOTIFY=DELAY ORCPT=rfc822;x+2By@z"])

    def message(self):
        if self.gchance(0.5):
            return self.gx.message()
        lines = []
        if self.chance(0.9):
            hs = ["From: " + self.pick(["a@b.example", "<user@example.com>", "broken <",
                                        "\"x\" <y@z.example>", "undisclosed", "a@b.example, c@d"]),
                  "To: " + self.pick(["user@example.com", "x@y.example", "\"broken <x@y>",
                                      "group: a@b.example;", ""]),
                  "Subject: " + self.pick(["hello", "", "=?utf-8?q?x?=", "long " * 30]),
                  ]
            if self.chance(0.3):
                hs.append("X-Test: " + self.pick(["yes", "spam", "\xe9t\xe9"]))
            if self.chance(0.2):
                hs.append("Sender: " + self.pick(["s@example.com", "bad@@x"]))
            if self.chance(0.2):
                hs.append("Reply-To: " + self.pick(["r@example.com", "<bad"]))
            if self.chance(0.1):
                hs.append("Message-ID: <abc@example.com>")
            if self.chance(0.1):
                hs.append("Bad Header Name: x")
            if self.chance(0.1):
                hs.append("  continuation line first")
            self.r.shuffle(hs)
            lines += hs
            lines.append("")
        body = self.pick([["body"], ["line 1", "..dotted", "line 3"], [],
                          ["x" * self.r.randint(50, 1200)], ["a"] * 20])
        if self.wchance(0.3):
            body = body + self.wpick([["\xe9t\xe9 8bit"], ["bare\nlf"], ["." * 3], ["x" * 5000],
                                      ["From: in body"], ["\x00nul"]])
            if self.wchance(0.2):
                lines.insert(0, self.wpick(["X-Long: " + "y" * 1500, "X-8bit: \xe9", "Subject:no space",
                                            "X-Empty:", ": no name", "X-Folded: a", " b"]))
        if self.xchance(0.35):
            lines = self.mime_message()
        else:
            lines += body
        lines.append(".")
        return lines

    def mime_message(self):
        """--extra: a MIME message (multipart, attachments, odd boundaries)."""
        b = self.xpick(["XX", "=_b0", "a b", "\"quoted\"", ""])
        ct = self.xpick(["multipart/mixed; boundary=%s" % b, "multipart/alternative; boundary=\"%s\"" % b,
                         "text/plain; charset=utf-8", "multipart/mixed", "message/rfc822",
                         "application/octet-stream; name=\"f.bin\""])
        out = ["From: a@b.example", "Subject: " + self.xpick(["hello", "mime 123", "CHUNK"]),
               "MIME-Version: 1.0", "Content-Type: " + ct]
        if self.xchance(0.3):
            out.append("Content-Transfer-Encoding: " + self.xpick(["base64", "quoted-printable", "7bit", "x-bad"]))
        out.append("")
        bound = b.strip('"')
        for _ in range(self.x.randint(0, 3)):
            out.append("--" + bound)
            out.append("Content-Type: " + self.xpick(["text/plain", "text/html; charset=iso-8859-1",
                                                      "application/pdf; name=\"doc.pdf\"", "image/png",
                                                      "message/rfc822", "multipart/related; boundary=in"]))
            if self.xchance(0.4):
                out.append("Content-Disposition: " + self.xpick(["attachment; filename=\"a.txt\"", "inline",
                                                                 "attachment; filename*=utf-8''%e9.txt"]))
            if self.xchance(0.3):
                out.append("Content-Transfer-Encoding: " + self.xpick(["base64", "quoted-printable"]))
            out.append("")
            out += self.xpick([["hello part 123"], ["aGVsbG8gd29ybGQ="], ["=E9t=E9 soft=", "break"],
                               ["--in", "Content-Type: text/plain", "", "inner", "--in--"], []])
        if bound and self.xchance(0.8):
            out.append("--" + bound + "--")
        if self.xchance(0.3):
            out.append("epilogue text")
        return out

    def bdat(self, out):
        # BDAT chunks: size measured on the CRLF form of the text
        text = "Subject: chunked\r\n\r\nbody\r\n"
        if self.wchance(0.5):
            # sizes that do not match, empty and many chunks, commands between chunks
            n = self.w.randint(1, 4)
            for i in range(n):
                chunk = self.wpick(["", "x", "Subject: s\r\n", "\r\n.\r\n", "a\r\n" * 5,
                                    "\xe9\xe8\r\n", "y" * self.w.randint(1, 300)])
                size = len(chunk) + self.wpick([0, 0, 0, -1, 1, 5])
                last = " LAST" if i == n - 1 and self.wchance(0.7) else self.wpick(["", "", " last", " LASTx"])
                out.append(("BDAT %d%s" % (max(size, 0), last), chunk))
                if self.wchance(0.15):
                    out.append(self.wpick(["NOOP", "RSET", "DATA", "MAIL FROM:<a@b.example>", "BDAT",
                                           "BDAT -1", "BDAT 99999999999999999999"]))
            return
        if self.chance(0.5):
            out.append(("BDAT %d LAST" % len(text), text))
        else:
            a, b = text[:10], text[10:]
            out.append(("BDAT %d" % len(a), a))
            out.append((self.pick(["BDAT %d LAST" % len(b), "BDAT x", "BDAT 0 LAST"]), b))

    def conversation(self):
        if self.gchance(0.5):
            return self.gx.conversation()
        out = []   # list of lines, or (command, raw-chunk) for BDAT
        if self.chance(0.9):
            verb = self.pick(["EHLO", "EHLO", "HELO", "ehlo", "EHLO", "LHLO"])
            out.append("%s %s" % (verb, self.pick(HELO_NAMES)) if self.chance(0.97) else verb)
        n = self.r.randint(1, 4)
        for _ in range(n):
            if self.chance(0.15):
                self.misc(out)
            if self.wchance(0.12):
                self.wide_auth(out)
            if self.chance(0.1):
                ab = self.pick(["AUTH PLAIN " + base64.b64encode(b"\0user\0secret").decode(),
                                "AUTH PLAIN " + base64.b64encode(b"\0user\0wrong").decode(),
                                "AUTH PLAIN", "AUTH LOGIN", "AUTH CRAM-MD5", "AUTH PLAIN !!!",
                                "AUTH"])
                out.append(ab)
                if ab in ("AUTH PLAIN",):
                    out.append(self.pick([base64.b64encode(b"\0user\0secret").decode(), "*"]))
                if ab == "AUTH LOGIN":
                    out.append(base64.b64encode(b"user").decode())
                    out.append(base64.b64encode(self.pick([b"secret", b"no"])).decode())
            mail = "MAIL FROM:" + (self.address() if self.chance(0.85) else self.pick(["<>", "<user>"]))
            if self.chance(0.05):
                mail = self.pick(["MAIL", "MAIL FROM", "MAIL TO:<a@b.example>", "mail from: <a@b.example>",
                                  "MAIL FROM:<a@b.example>" + " " * 3, "MAIL FROM:<>x"])
            out.append(mail + self.mail_params())
            for _ in range(self.r.randint(0, 3)):
                rc = "RCPT TO:" + self.address()
                if self.chance(0.04):
                    rc = self.pick(["RCPT", "RCPT TO", "RCPT FROM:<a@b>", "rcpt to: <user@example.com>",
                                    "RCPT TO:<postmaster>", "RCPT TO:<Postmaster>"])
                out.append(rc + self.rcpt_params())
            if self.chance(0.1):
                self.misc(out)
            w = self.r.random()
            if w < 0.55:
                out.append(self.pick(["DATA", "DATA", "data", "DATA x"]))
                if self.chance(0.93):
                    out += self.message()
            elif w < 0.65:
                self.bdat(out)
            elif w < 0.8:
                out.append("RSET")
        if self.chance(0.75):
            out.append(self.pick(["QUIT", "QUIT", "quit", "QUIT now"]))
        return out

    def wide_auth(self, out):
        ok = base64.b64encode(b"\0user\0secret").decode()
        ab = self.wpick(["AUTH PLAIN =", "AUTH PLAIN " + ok + " extra", "AUTH plain " + ok,
                         "AUTH PLAIN " + base64.b64encode(b"user\0secret").decode(),
                         "AUTH LOGIN " + base64.b64encode(b"user").decode(), "AUTH CRAM-MD5",
                         "AUTH LOGIN", "AUTH PLAIN", "AUTH  PLAIN " + ok, "AUTH XYZ abc"])
        out.append(ab)
        if ab in ("AUTH LOGIN", "AUTH PLAIN", "AUTH CRAM-MD5") or ab.startswith("AUTH LOGIN "):
            for _ in range(self.w.randint(0, 2)):
                out.append(self.wpick(["*", "!!!", "", ok, base64.b64encode(b"secret").decode(),
                                       base64.b64encode(b"user 0123456789abcdef0123456789abcdef").decode()]))

    def misc(self, out):
        if self.wchance(0.3):
            out.append(self.wpick(["MAIL FROM", "RCPT TO", "mail from:<>", "HELO", "EHLO " + "h" * 300,
                                   "NOOP \xe9\xe8", "VRFY \"a b\"@example.com", "VRFY @x:user@example.com",
                                   "EXPN postmaster", "ETRN #queue", "HELP HELO", "\tNOOP", " QUIT",
                                   "NOOP\x00x", "RSET extra", "QUIT" + " " * 3 + "x",
                                   "DATA" + "\n" + "bare lf", "X" * 1100, "a\rb"][:-1] + ["NOOP"]))
            return
        out.append(self.pick(["NOOP", "NOOP arg", "HELP", "HELP MAIL", "RSET", "VRFY user",
                              "VRFY user@example.com", "VRFY", "EXPN list", "EXPN", "ETRN #x",
                              "ETRN example.com", "ETRN", "XYZZY", "FOO bar", "STARTTLS",
                              "EHLO again.test", "HELO", "", "   ", "MAIL FROM:<a@b.example>",
                              "DATA", "RCPT TO:<user@example.com>", "BDAT 10",
                              "X" * 600, "NOOP " + "y" * 1100, "\x01\x02binary", "QUIT"][:-1]))


# Files the lookups above read, written beside the spool directory by the runner.
LOOKUP_FILES = {
    "hosts.txt": "192.0.2.0/24: relay\n1.2.3.0/24: listed\n",
    "domains.txt": "example.com: user : postmaster\nexample: x\nother.example: *\n",
    "keys.txt": "user: yes\nclient.test: helo\n1.2.3.4: ip\nexample.com: d\n",
    # --gaps
    "gaps.txt": "user: found user\npostmaster: pm \"quoted\"\nexample.com: dom\n*.example: wild\n"
                "1.2.3.4: ip4\n192.0.2.0/24: net\nuser@example.com: addr\n*@other.example: anyother\n"
                "client.test: multi\\nline\n",
}


def gen_case(seed, wide=False, extra=False, gaps=False):
    g = Gen(seed, wide, extra, gaps)
    cfg = g.config()
    host = g.pick(HOSTS)
    conv = g.conversation()
    return cfg, host, conv


def conversation_bytes(conv):
    """The client's bytes: each line with CRLF; a BDAT tuple sends the command and its chunk."""
    out = []
    for item in conv:
        if isinstance(item, tuple):
            out.append((item[0] + "\r\n" + item[1]).encode("latin-1"))
        else:
            out.append((item + "\r\n").encode("latin-1"))
    return b"".join(out)
