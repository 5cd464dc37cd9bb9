"""--auth mode of scripts/bhdiff.py: AUTH and what hangs on it, which the other modes touch only
in passing. A random stream of its own (the seed alone decides a case):

- authenticators: plaintext PLAIN and LOGIN (server_prompts), cram_md5, with server_condition
  on $auth1..$auth3 (true, false, forced failure, expansion error, odd values),
  server_set_id, server_advertise_condition, server_mail_auth_condition;
- main options: auth_advertise_hosts, acl_smtp_auth, acl_smtp_mailauth, dsn_advertise_hosts,
  message_size_limit, smtp_return_error_details;
- ACLs (connect, helo, auth, mailauth, mail, rcpt, predata, data, quit, notquit) using
  authenticated, $authenticated_id, $sender_host_authenticated, $authenticated_sender,
  $auth1..3, control = allow_auth_unadvertised/submission/fakedefer/fakereject/freeze/queue,
  warn with log_message and logwrite, delay = 0s;
- conversations: AUTH before EHLO, after HELO, twice, in a transaction, cancelled with "*",
  bad base64, "=" as the initial response, unknown mechanisms, LOGIN and CRAM-MD5 exchanges;
  MAIL with AUTH= (xtext, <>, malformed), SIZE, BODY, RET, ENVID, SMTPUTF8 and unknown
  parameters; RCPT with NOTIFY/ORCPT; DATA with a message.
With --msg (class MsgGen) the message checks are added on top, from a stream of their own.
"""
import base64
import random

HOSTS = ["1.2.3.4", "192.0.2.7", "198.51.100.20", "127.0.0.1"]


def b64(s):
    return base64.b64encode(s.encode("latin-1")).decode()


class AuthGen:
    def __init__(self, seed):
        self.r = random.Random(seed * 7919 + 1299709)

    def pick(self, seq):
        return self.r.choice(seq)

    def chance(self, p):
        return self.r.random() < p

    # ------------------------------------------------------------ configuration
    def authenticators(self):
        cond_plain = self.pick(["${if eq{$auth3}{secret}}", "${if and{{eq{$auth2}{user}}{eq{$auth3}{secret}}}}",
                                "yes", "no", "${if eq{$auth1}{}{yes}{no}}", "${if eq{1}{2}{x}fail}",
                                "${bogus}", "1", "0", "${if eq{$auth3}{secret}{yes}{maybe}}"])
        set_id = self.pick(["$auth2", "$auth1", "${uc:$auth2}", "$auth2@example.com", ""])
        a = ["begin authenticators", "plain:", "  driver = plaintext", "  public_name = PLAIN",
             "  server_condition = " + cond_plain]
        if set_id:
            a.append("  server_set_id = " + set_id)
        if self.chance(0.3):
            a.append("  server_advertise_condition = " + self.pick(
                ["${if eq{$sender_helo_name}{client.test}}", "false", "${if eq{1}{2}}",
                 "${if def:tls_in_cipher}", "yes", "${if eq{1}{2}{x}fail}"]))
        if self.chance(0.2):
            a.append("  server_mail_auth_condition = " + self.pick(
                ["${if eq{$auth2}{user}}", "no", "yes"]))
        if self.chance(0.8):
            a += ["login:", "  driver = plaintext", "  public_name = LOGIN",
                  "  server_prompts = " + self.pick(["Username:: : Password::", "User:", "<| a|b"]),
                  "  server_condition = " + self.pick(["${if eq{$auth2}{secret}}", "yes",
                                                       "${if eq{$auth1}{user}}"]),
                  "  server_set_id = $auth1"]
        if self.chance(0.5):
            a += ["cram:", "  driver = cram_md5", "  public_name = CRAM-MD5",
                  "  server_secret = " + self.pick(["${if eq{$auth1}{user}{secret}fail}", "secret",
                                                    "${if eq{$auth1}{user}{secret}{}}"]),
                  "  server_set_id = $auth1"]
        return a

    def cond(self):
        return self.pick([
            "authenticated = *", "!authenticated = *", "authenticated = plain", "authenticated = login : cram",
            "authenticated = :", "condition = ${if def:authenticated_id}",
            "condition = ${if eq{$authenticated_id}{user}}", "condition = ${if eq{$sender_host_authenticated}{plain}}",
            "condition = ${if def:authenticated_sender}", "hosts = 1.2.3.4 : 192.0.2.0/24",
            "senders = user@example.com", "condition = ${if eq{$auth2}{user}}",
            "condition = ${if >{$message_size}{100}}", "condition = ${if eq{$smtp_command}{}}"])

    def modifier(self, where):
        mods = ["message = id=<$authenticated_id> via=<$sender_host_authenticated> as=<$authenticated_sender>",
                "log_message = auth $authenticated_id $auth1/$auth2/$auth3",
                "logwrite = lw $authenticated_id ${if def:authenticated_sender{as=$authenticated_sender}}",
                "delay = 0s", "set acl_m_a = $authenticated_id", "message = m=$acl_m_a c=$acl_c_a",
                "set acl_c_a = ${eval:0$acl_c_a+1}"]
        if where in ("connect", "helo", "mail", "rcpt", "auth"):
            mods.append("control = allow_auth_unadvertised")
        if where in ("mail", "rcpt", "predata", "data"):
            mods += ["control = submission", "control = submission/sender_retain",
                     "control = fakereject", "control = fakedefer/try again $authenticated_id",
                     "control = freeze", "control = queue", "control = fakereject/no thanks"]
        return self.pick(mods)

    def acl(self, name, where):
        out = [name + ":"]
        for _ in range(self.r.randint(1, 4)):
            verb = self.pick(["accept", "deny", "warn", "warn", "defer", "require", "drop", "discard"])
            if where in ("quit", "notquit", "auth", "mailauth", "connect", "helo", "predata") and verb == "discard":
                verb = "warn"
            if where == "mailauth" and verb not in ("accept", "deny", "warn", "defer", "require", "drop"):
                verb = "accept"
            items = []
            for _ in range(self.r.randint(0, 2)):
                items.append(self.cond())
            for _ in range(self.r.randint(0, 2)):
                items.append(self.modifier(where))
            if verb == "warn" and self.chance(0.5):
                items.append("log_message = warned $authenticated_id")
            if not items:
                out.append("  " + verb)
                continue
            out.append("  %s %s" % (verb, items[0]))
            out += ["       " + i for i in items[1:]]
        out.append("  " + self.pick(["accept", "accept", "deny", "defer"]))
        return out

    def config(self):
        main = ["spool_directory = SPOOL", "exim_user = root", "exim_group = root",
                "primary_hostname = mail.example.com", "tls_advertise_hosts =",
                "domainlist local_domains = example.com", "qualify_domain = example.com",
                "rfc1413_hosts = :", "no_smtp_check_spool_space", "helo_lookup_domains = :"]
        opts = {"auth_advertise_hosts": ["*", ":", "1.2.3.4", "!1.2.3.4 : *"],
                "dsn_advertise_hosts": ["*"], "message_size_limit": ["100", "1k", "50"],
                "smtp_return_error_details": ["true"], "smtp_max_synprot_errors": ["2", "3", "5"],
                "smtp_accept_max_nonmail": ["3", "5"], "smtp_accept_max_nonmail_hosts": ["*"],
                "smtputf8_advertise_hosts": [":", "*"], "smtp_max_unknown_commands": ["2", "5"]}
        for k, vals in opts.items():
            if self.chance(0.25):
                main.append(k + " = " + self.pick(vals))
        wheres = [w for w in ("connect", "helo", "auth", "mailauth", "mail", "rcpt", "predata", "data",
                              "quit", "notquit") if self.chance(0.45)]
        if "rcpt" not in wheres:
            main.append("acl_smtp_rcpt = accept")
        acls = []
        for w in wheres:
            main.append("acl_smtp_%s = acl_%s" % (w, w))
            acls += self.acl("acl_" + w, w)
        routers = [
            "begin routers",
            "r_local:", "  driver = accept", "  domains = +local_domains",
            "  local_parts = user : postmaster", "  transport = t_null",
            "r_relay:", "  driver = accept", "  domains = relay.example : other.example",
            "  transport = t_null",
            "begin transports", "t_null:", "  driver = appendfile", "  file = /dev/null", "  user = root"]
        return "\n".join(main + ["", "begin acl"] + acls + [""] + routers + [""] + self.authenticators()) + "\n"

    # ------------------------------------------------------------ conversation
    def auth(self, out):
        ok = b64("\0user\0secret")
        kind = self.pick(["plain_ok", "plain_ok", "plain_bad", "plain_prompt", "plain_cancel", "plain_b64",
                          "plain_eq", "login", "login_cancel", "cram", "unknown", "bare", "plain_extra",
                          "plain_authzid", "login_initial"])
        if kind == "plain_ok":
            out.append("AUTH PLAIN " + ok)
        elif kind == "plain_bad":
            out.append("AUTH PLAIN " + b64("\0user\0wrong"))
        elif kind == "plain_prompt":
            out += ["AUTH PLAIN", self.pick([ok, b64("\0user\0wrong"), "", "*", "!!notb64"])]
        elif kind == "plain_cancel":
            out += ["AUTH PLAIN", "*"]
        elif kind == "plain_b64":
            out.append("AUTH PLAIN " + self.pick(["!!!", "dXNlcg", "AHVzZXI=", "====", "AA=="]))
        elif kind == "plain_eq":
            out.append("AUTH PLAIN =")
        elif kind == "login":
            out += ["AUTH LOGIN", b64("user"), self.pick([b64("secret"), b64("wrong"), "", "*"])]
        elif kind == "login_cancel":
            out += ["AUTH LOGIN", "*"]
        elif kind == "login_initial":
            out += ["AUTH LOGIN " + b64("user"), b64("secret")]
        elif kind == "cram":
            out += ["AUTH CRAM-MD5", self.pick(["*", b64("user 0123456789abcdef0123456789abcdef"), "", "!!"])]
        elif kind == "unknown":
            out.append("AUTH " + self.pick(["XOAUTH2 abc", "plain " + ok, "DIGEST-MD5"]))
        elif kind == "bare":
            out.append("AUTH")
        elif kind == "plain_extra":
            out.append("AUTH PLAIN " + ok + " extra")
        elif kind == "plain_authzid":
            out.append("AUTH PLAIN " + b64(self.pick(["other\0user\0secret", "user\0user\0secret", "\0\0",
                                                      "\0user", "\0user\0secret\0more"])))

    def mail(self):
        params = []
        for _ in range(self.r.randint(0, 3)):
            params.append(self.pick(["AUTH=<>", "AUTH=user@example.com", "AUTH=u+2Bx@example.com",
                                     "AUTH=bad+zz", "AUTH=", "SIZE=10", "SIZE=5000", "SIZE=x",
                                     "BODY=8BITMIME", "BODY=BINARYMIME", "RET=HDRS", "RET=FULL",
                                     "ENVID=abc+2B", "SMTPUTF8", "FOO=bar", "XYZ"]))
        return "MAIL FROM:" + self.pick(["<user@example.com>", "<a@other.example>", "<>"]) + \
            ("" if not params else " " + " ".join(params))

    def rcpt(self):
        p = self.pick(["", "", "", " NOTIFY=SUCCESS,FAILURE", " NOTIFY=NEVER", " ORCPT=rfc822;a@b.example",
                       " NOTIFY=bogus", " FOO=1"])
        return "RCPT TO:" + self.pick(["<user@example.com>", "<postmaster@example.com>", "<x@other.example>",
                                       "<nobody@example.com>"]) + p

    def message(self):
        lines = ["From: a@b.example", "Subject: test"]
        if self.chance(0.3):
            lines.append("X-Long: " + "y" * self.pick([50, 200, 1200]))
        return lines + ["", self.pick(["body", "x" * 150, "\xe9t\xe9"]), "."]

    def conversation(self):
        out = []
        if self.chance(0.2):
            self.auth(out)          # before any HELO
        out.append(self.pick(["EHLO client.test", "EHLO client.test", "HELO client.test", "EHLO [1.2.3.4]"]))
        for _ in range(self.r.randint(1, 2)):
            self.auth(out)
        for _ in range(self.r.randint(1, 3)):
            out.append(self.mail())
            if self.chance(0.15):
                self.auth(out)      # in a transaction
            for _ in range(self.r.randint(0, 3)):
                out.append(self.rcpt())
            w = self.r.random()
            if w < 0.6:
                out.append("DATA")
                out += self.message()
            elif w < 0.8:
                out.append("RSET")
            if self.chance(0.2):
                out.append(self.pick(["EHLO client.test", "HELO other.test", "RSET", "NOOP"]))
                if self.chance(0.5):
                    self.auth(out)
        if self.chance(0.85):
            out.append("QUIT")
        return out


class MsgGen:
    """--auth --msg: the message checks on top of an --auth case, from a stream of its own (the
    --auth draws of a seed stay what they were): a DATA ACL with verify = header_syntax,
    header_sender, not_blind and header_names_ascii, $h_*/$message_size/$body_linecount/
    $recipients, add_header/remove_header, fake and queue controls, warn log_message; predata
    and MIME ACLs; message_size_limit; messages with crafted headers in place of the plain one."""

    HEADERS = [
        ["From: a@b.example", "To: user@example.com", "Subject: ok"],
        ["To: user@example.com", "Subject: no from"],
        ["From: <a@b.example", "To: user@example.com"],
        ["From: \"unterminated <a@b.example>", "Subject: q"],
        ["From: a@b.example", "To: group: user@example.com, x@y.example;"],
        ["From: a@b.example", "To: undisclosed:;"],
        ["From: a@b.example", "Bcc: user@example.com"],
        ["From: a@b.example", "Cc: postmaster@example.com", "To: nobody@x.example"],
        ["Sender: bad address", "From: a@b.example, c@d.example", "To: user@example.com"],
        ["From: a@b.example", "Reply-To: @@@", "To: USER@EXAMPLE.COM"],
        ["From: a@b.example", "Subject: folded", "\tcontinued line", "To: user@example.com"],
        ["From: a@b.example", "X-\xe9t\xe9: eight bit name", "To: user@example.com"],
        ["From: a@b.example", "To: user@example.com", "X-Long: " + "z" * 1100],
        ["From: user@example.com (comment)", "To: Name <user@example.com>"],
        ["Resent-From: a@b.example", "From: c@d.example", "To: user@example.com"],
        ["From: a@b.example", "MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=\"BB\"",
         "To: user@example.com"],
        [],
    ]

    def __init__(self, seed):
        self.r = random.Random(seed * 104729 + 17)

    def pick(self, seq):
        return self.r.choice(seq)

    def chance(self, p):
        return self.r.random() < p

    def data_item(self):
        return self.pick([
            "verify = header_syntax", "!verify = header_syntax", "verify = header_sender",
            "verify = header_sender/defer_ok", "verify = not_blind", "verify = not_blind/case_insensitive",
            "verify = header_names_ascii", "condition = ${if def:h_subject:}",
            "condition = ${if >{$message_size}{300}}", "condition = ${if >{$body_linecount}{2}}",
            "condition = ${if eq{$recipients_count}{1}}", "condition = ${if match{$h_to:}{user}}",
            "message = from=<$h_from:> rcpts=<$recipients> size=$message_size lines=$body_linecount",
            "log_message = vm=$acl_verify_message", "add_header = X-Checked: $recipients_count",
            "remove_header = subject", "control = fakereject", "control = fakedefer/later",
            "control = freeze", "control = queue", "control = submission",
            "logwrite = h=$h_subject: a=$authenticated_id", "delay = 0s",
            "authenticated = *", "!authenticated = *", "control = fakereject/bye $authenticated_id"])

    def acl(self, name, items):
        out = [name + ":"]
        for _ in range(self.r.randint(1, 4)):
            verb = self.pick(["accept", "deny", "warn", "warn", "defer", "require", "discard", "drop"])
            its = [items() for _ in range(self.r.randint(1, 3))]
            if verb == "warn" and self.chance(0.5):
                its.append("log_message = warned $acl_verify_message")
            out.append("  %s %s" % (verb, its[0]))
            out += ["       " + i for i in its[1:]]
        out.append("  " + self.pick(["accept", "accept", "deny", "defer"]))
        return out

    def config(self, cfg):
        main, _, rest = cfg.partition("\nbegin acl\n")
        lines = [l for l in main.split("\n") if not l.startswith("acl_smtp_data =")
                 and not l.startswith("acl_smtp_predata =")]
        if self.chance(0.6):
            # most --auth cases refuse before DATA: let the message through more often
            lines = [l for l in lines if not l.startswith(("acl_smtp_connect =", "acl_smtp_helo =",
                                                           "acl_smtp_mail =", "acl_smtp_rcpt ="))]
            lines.append("acl_smtp_rcpt = accept")
        acls = []
        lines.append("acl_smtp_data = acl_xdata")
        acls += self.acl("acl_xdata", self.data_item)
        if self.chance(0.4):
            lines.append("acl_smtp_predata = acl_xpredata")
            acls += self.acl("acl_xpredata", lambda: self.pick([
                "control = fakereject", "control = freeze", "control = queue", "control = submission",
                "authenticated = *", "condition = ${if eq{$recipients_count}{2}}",
                "message = pre $recipients", "log_message = pre $authenticated_id", "delay = 0s"]))
        if self.chance(0.3):
            lines.append("acl_smtp_mime = acl_xmime")
            acls += ["acl_xmime:", "  warn log_message = mime $mime_content_type $mime_part_count",
                     "  " + self.pick(["accept", "deny message = no mime", "accept"])]
        if self.chance(0.3) and not any(l.startswith("message_size_limit") for l in lines):
            lines.append("message_size_limit = " + self.pick(["200", "400", "1k"]))
        return "\n".join(lines) + "\nbegin acl\n" + "\n".join(acls) + "\n" + rest

    def message(self):
        hs = list(self.pick(self.HEADERS))
        body = self.pick([["body"], ["line %d" % i for i in range(5)], ["--BB", "Content-Type: text/plain",
                          "", "part", "--BB--"], ["x" * 300]])
        return hs + [""] + body + ["."]

    def conversation(self, conv):
        out, i = [], 0
        while i < len(conv):
            item = conv[i]
            out.append(item)
            i += 1
            if item == "DATA":
                # the --auth message runs to its "."; a crafted one replaces it
                while i < len(conv) and conv[i] != ".":
                    i += 1
                i += 1
                out += self.message()
        return out


def gen_case(seed, msg=False):
    g = AuthGen(seed)
    cfg = g.config()
    host = g.pick(HOSTS)
    conv = g.conversation()
    if msg:
        m = MsgGen(seed)
        cfg, conv = m.config(cfg), m.conversation(conv)
    return cfg, host, conv
