"""--gaps mode of scripts/bhgen.py: what the plain, --wide and --extra generators never produce.

Expansion items in ACL texts (and their forced failures and errors), multi-line texts, header
changes in every ACL, acl_c/acl_m variables across transactions, nested ACLs with arguments,
odd condition values, named and looked-up lists, CIDR masks, drop in every ACL, the SMTP limits,
HELP/NOOP/VRFY/EXPN/ETRN with and without their ACLs, controls, header verification on crafted
headers, SIZE= against message_size_limit, odd BDAT chunks, long lines and 8-bit data.

Everything is drawn from the generator's fourth random stream (Gen.g), so the other modes' cases
of a seed stay what they were.
"""
import base64

F = "SPOOL/../gaps.txt"

# ACL texts with expansion items; some fail (forced or with an error)
TEXTS = [
    "${if eq{$sender_host_address}{1.2.3.4}{listed host}{other host $sender_host_address}}",
    "${lookup{$local_part}lsearch{%s}{found [$value]}{not found}}" % F,
    "${lookup{$sender_helo_name}lsearch{%s}}" % F,
    "${lookup{$sender_address}lsearch*@{%s}{s=$value}{none}}" % F,
    "${lookup{$domain}partial-lsearch{%s}{p=$value}fail}" % F,
    "${acl{acl_g_arg}{msg}{$local_part}}",
    "${acl{acl_g_arg}{deny}{why}}",
    "${acl{acl_g_missing}{x}}",
    "${sg{$sender_address}{@}{ at }}",
    "${sg{$sender_helo_name}{[}{x}}",
    "${extract{2}{:}{a:b:c}}-${extract{key}{key=val other=x}}",
    "${extract{9}{:}{a:b}{yes}{no:$value}}",
    "${reduce{a:b:c}{x}{$value-$item}}",
    "${map{a:b:$local_part}{<$item>}}",
    "${if eq{1}{2}{x}fail}",
    "${if bogus{1}{2}}",
    "${lookup{x}nosuchlookup{y}}",
    "${substr_1_2:$sender_helo_name} ${hash_3:$sender_address}",
    "${length_2:${lc:$local_part}} ${eval:3*$rcpt_count}",
    "${eval:1/0}",
    "${tr{$sender_helo_name}{.}{_}} ${quote:a b}",
    "${listcount:a:b:c} ${listextract{2}{a:b:c}}",
    "${filter{a:bb:c}{eq{$item}{bb}}} ${sort{c:a:b}{<}{$item}}",
    "line one\\nline two\\nline three",
    "550-not a code\\n550 second",
    "550 5.7.1 first\\nsecond without code",
    "451 4.7.1 ${if def:acl_c_cnt{cnt=$acl_c_cnt}{no cnt}}",
    "count c=$acl_c_cnt m=$acl_m_cnt",
    "\\ttab and   spaces  ",
    "text with \\\\n literal and ${uc:\\n}",
    "${if match{$sender_address}{^(.*)@(.*)\\$}{user=\\$1 dom=\\$2}{nomatch}}",
]

CONDITIONS = ["yes", "no", "1", "0", "false", "true", "", " yes", "YES", "TRUE", "2", "-1",
              "00", "y", "${if eq{1}{1}}", "${if eq{1}{2}}", "${if eq{1}{2}{x}fail}",
              "$acl_c_cnt", "${lookup{$local_part}lsearch{%s}{yes}{no}}" % F,
              "${acl{acl_g_arg}{one}}", "${acl{acl_g_arg}{deny}}", "${bad_item{x}}",
              "${if >{$acl_c_cnt}{1}}", "${if ={$rcpt_count}{2}}", "maybe"]

HOSTS = ["1.2.3.4/32", "1.2.3.0/28", "1.2.3.4/0", "0.0.0.0/0", "192.0.2.0/25", "192.0.2.128/25",
         "<; ::/0", "<; 2001:db8::/64 ; 1.2.3.4", "<; 2001:0db8:0:0::5", "net-lsearch;" + F,
         "net16-lsearch;" + F, "net24-lsearch;" + F, "iplsearch;" + F, "net32-iplsearch;" + F,
         "!net-iplsearch;" + F, "+g_hosts", "!+g_hosts", "lsearch;" + F, "1.2.3.4/33",
         "1.2.3.0/24 : !1.2.3.4", "!1.2.3.4 : 1.2.3.0/24", "*.example", "192.0.2.7/255"]

DOMAINS = ["+g_domains", "!+g_domains", "partial-lsearch;" + F, "partial2-lsearch;" + F,
           "!partial-lsearch;" + F, "lsearch;" + F, "*.example : !other.example",
           "!other.example : *.example", "+local_domains : +g_domains", "^[a-z]+\\\\.example\\$",
           "@mx_any", "lsearch*;" + F]

ADDRS = ["+g_senders", "!+g_senders", "lsearch;" + F, "lsearch*@;" + F, "@@lsearch;" + F,
         "!@@lsearch;" + F, "partial-lsearch;" + F, "*@+g_domains", "user@+local_domains",
         "^[a-z]+@example\\\\.com\\$", "*@*.example", "<>", ": user@example.com", "USER@EXAMPLE.COM",
         "*@partial-lsearch;" + F]

CONTROLS = ["no_multiline_responses", "no_pipelining", "queue", "queue/first_pass_route", "freeze",
            "freeze/no_tell", "fakereject", "fakereject/fake ${uc:reject}", "fakedefer",
            "fakedefer/later $acl_c_cnt", "fakereject/multi\\nline", "no_enforce_sync",
            "enforce_sync", "queue_only", "no_multiline_responses/x", "fakedefer/"]

HEADER_SETS = [
    ["To: user@example.com", "From: a@b.example"],
    ["To: other@x.example", "Cc: user@example.com"],
    ["To: undisclosed-recipients:;", "From: a@b.example"],
    ["Bcc: user@example.com", "From: a@b.example"],
    ["To: a@b.example, <bad", "From: a@b.example"],
    ["To: \"unterminated <x@y.example>", "From: a@b.example"],
    ["From: a@b.example (comment", "To: user@example.com"],
    ["From: <>", "Sender: ", "Reply-To: a@@b"],
    ["X-\xe9t\xe9: eight-bit name", "From: a@b.example"],
    ["X-Ok: fine", "X-Na\xefve: 1", "To: user@example.com"],
    ["Resent-To: user@example.com", "Resent-From: r@b.example", "To: x@y.example"],
    ["To: group: user@example.com, x@y.example;", "From: a@b.example"],
    ["To: User <USER@EXAMPLE.COM>", "From: a@b.example"],
    ["To: a@b.example,", " user@example.com", "From: a@b.example"],
    ["To: a@b.example\xe9", "From: \xe9@b.example"],
    ["Subject: " + "long " * 250, "From: a@b.example"],
    ["From: a@b.example", "To:", "Cc: ,"],
    ["From: a@b.example", "Bad Name: x", "To: user@example.com"],
    [],
]


class Gaps:
    def __init__(self, gen):
        self.gen = gen
        self.r = gen.g

    def pick(self, seq):
        return self.r.choice(seq)

    def chance(self, p):
        return self.r.random() < p

    # ---------------------------------------------------------------- configuration
    def main_options(self, main):
        opts = {
            "smtp_max_unknown_commands": ["0", "1", "2", "3"],
            "smtp_max_synprot_errors": ["0", "1", "2", "3"],
            "recipients_max": ["1", "2", "3"],
            "recipients_max_reject": ["true"],
            "smtp_accept_max_nonmail": ["1", "2", "3", "5"],
            "smtp_accept_max_nonmail_hosts": ["*", ":", "1.2.3.4 : 192.0.2.0/24", "!1.2.3.4 : *"],
            "message_size_limit": ["50", "100", "1k", "200"],
            "pipelining_advertise_hosts": ["*", ":"],
            "chunking_advertise_hosts": ["*"],
            "accept_8bitmime": ["true", "false"],
            "smtp_enforce_sync": ["true", "false"],
            "smtp_etrn_command": ["/bin/true", "/bin/false $domain"],
            "smtp_etrn_serialize": ["false"],
            "smtp_return_error_details": ["true"],
            "helo_accept_junk_hosts": ["*"],
            "header_maxsize": ["300", "1000"],
            "smtp_accept_max_per_connection": ["1", "2"],
        }
        add = []
        for k, vals in opts.items():
            if self.chance(0.2) and not any(m.startswith(k + " ") for m in main):
                add.append(k + " = " + self.pick(vals))
        add += ["hostlist g_hosts = <; 1.2.3.0/24 ; 2001:db8::/48",
                "domainlist g_domains = other.example : *.example.com : lsearch;" + F,
                "addresslist g_senders = user@example.com : *@other.example : ^x\\\\+"]
        return add

    def helper_acls(self):
        return ["acl_g_arg:",
                "  accept condition = ${if eq{$acl_arg1}{one}}",
                "         message = arg1=$acl_arg1 arg2=$acl_arg2 n=$acl_narg",
                "  deny condition = ${if eq{$acl_arg1}{deny}}",
                "       message = denied because $acl_arg2",
                "  accept condition = ${if eq{$acl_arg1}{msg}}",
                "         message = msg:$acl_arg2",
                "  " + self.pick(["accept", "deny", "defer message = deferred $acl_arg1",
                                  "drop message = dropped $acl_arg1", "discard",
                                  "warn set acl_m_nest = $acl_arg1"]),
                "acl_g_nest:",
                "  " + self.pick(["accept", "deny", "require"]) + " acl = acl_g_arg $acl_arg1 nested",
                "       message = nest($acl_arg1) says $acl_verify_message",
                "  " + self.pick(["accept", "deny message = nest end", "defer"])]

    def more_acls(self):
        """ACLs the other modes seldom set together: the non-message verbs and their limits."""
        return [w for w in ("vrfy", "expn", "etrn", "predata", "quit", "notquit", "data", "mail")
                if self.chance(0.2)]

    def verb(self, where):
        v = self.pick(["drop", "drop", "deny", "defer", "discard", "require", "accept", "warn"])
        if v == "discard" and where in ("connect", "helo", "vrfy", "expn", "etrn", "quit",
                                        "notquit", "predata", "auth"):
            v = self.pick(["discard", "drop"])
        return v

    def item(self, where, acl_names):
        neg = "!" if self.chance(0.15) else ""
        k = self.pick(["message", "message", "log_message", "condition", "condition", "hosts",
                       "domains", "senders", "recipients", "set", "set", "acl", "add_header",
                       "remove_header", "control", "verify", "endpass_msg", "logwrite", "delay"])
        if k == "message":
            return "message = " + self.pick(TEXTS)
        if k == "log_message":
            return "log_message = " + self.pick(TEXTS)
        if k == "condition":
            return "%scondition = %s" % (neg, self.pick(CONDITIONS))
        if k == "hosts":
            return "%shosts = %s" % (neg, self.pick(HOSTS))
        if k == "domains":
            return "%sdomains = %s" % (neg, self.pick(DOMAINS))
        if k == "senders":
            return "%ssenders = %s" % (neg, self.pick(ADDRS))
        if k == "recipients":
            return "%srecipients = %s" % (neg, self.pick(ADDRS))
        if k == "set":
            return self.pick(["set acl_c_cnt = ${eval:0$acl_c_cnt+1}",
                              "set acl_m_cnt = ${eval:0$acl_m_cnt+1}",
                              "set acl_c_last = $smtp_command",
                              "set acl_m_cnt = ${if eq{1}{2}{x}fail}",
                              "set acl_c_cnt = ${eval:x+1}",
                              "set acl_m0 = $acl_c_cnt/$acl_m_cnt"])
        if k == "acl":
            return "%sacl = %s" % (neg, self.pick(["acl_g_arg one two", "acl_g_arg deny $local_part",
                                                   "acl_g_arg msg \"two words\"", "acl_g_nest one",
                                                   "acl_g_nest deny", "acl_g_nest x", "acl_g_arg",
                                                   "acl_g_arg a b c d e f g h i j",
                                                   "${if eq{1}{1}{acl_g_arg}{x}} one"]))
        if k == "add_header":
            return "add_header = " + self.pick([":at_start:X-G1: $acl_c_cnt", ":after_received:X-G2: ar",
                                                ":at_start_rfc:X-G3: rfc", "X-G4: a\\nX-G5: b",
                                                "X-G6: ${if eq{1}{2}{x}fail}", "X-G7: ${bogus}",
                                                ":bogus:X-G8: b", "X-G9: " + "v" * 200, "no colon here"])
        if k == "remove_header":
            return "remove_header = " + self.pick(["x-g1 : x-g4", "subject", "${if eq{1}{2}{x}fail}",
                                                   "received : from"])
        if k == "control":
            return "control = " + self.pick(CONTROLS)
        if k == "verify":
            return "%sverify = %s" % (neg, self.pick(["header_syntax", "not_blind", "header_names_ascii",
                                                      "not_blind/case_insensitive", "header_sender",
                                                      "header_syntax/x", "not_blind/bogus"]))
        if k == "endpass_msg":
            return "endpass" if self.chance(0.2) else "condition = ${if eq{1}{1}}"
        if k == "logwrite":
            return "logwrite = " + self.pick(TEXTS)
        return "delay = " + self.pick(["0s", "0", "1s"])

    # ---------------------------------------------------------------- conversation
    def message(self):
        hs = list(self.pick(HEADER_SETS))
        if self.chance(0.3):
            hs += list(self.pick(HEADER_SETS))
        body = self.pick([["body"], ["8-bit \xe9\xe8 body"], ["x" * self.r.randint(990, 1010)],
                          ["y" * 5000], ["line"] * self.r.randint(1, 40), [], ["..", ".x", " ."],
                          ["z" * 70] * 3])
        lines = hs + ([""] if hs or self.chance(0.5) else []) + body
        lines.append(".")
        return lines

    def helo(self):
        return self.pick(["EHLO client.test", "EHLO client.test", "HELO client.test", "EHLO [1.2.3.4]",
                          "EHLO x"])

    def nonmail(self):
        return self.pick(["HELP", "HELP MAIL", "NOOP", "NOOP x", "VRFY user", "VRFY user@example.com",
                          "VRFY fail@example.com", "VRFY", "EXPN list", "EXPN list@example.com", "EXPN",
                          "ETRN example.com", "ETRN #x", "ETRN", "ETRN @example.com", "XYZZY", "FOO bar",
                          "MAIL", "RCPT TO:<user@example.com>", "DATA", "BDAT 5", "VRFY <user@example.com>",
                          "EHLO", "HELO", "STARTTLS", "AUTH PLAIN"])

    def transaction(self, out):
        size = self.pick(["", "", " SIZE=10", " SIZE=99", " SIZE=1000", " SIZE=100000", " SIZE=0",
                          " SIZE=1k", " SIZE=200"])
        body8 = self.pick(["", "", " BODY=8BITMIME", " BODY=7BIT"])
        out.append("MAIL FROM:" + self.pick(["<user@example.com>", "<a@other.example>", "<>",
                                              "<x+y@example.com>", "<USER@EXAMPLE.COM>",
                                              "<a@sub.example.com>"]) + size + body8)
        for _ in range(self.r.randint(0, 4)):
            out.append("RCPT TO:" + self.pick(["<user@example.com>", "<postmaster@example.com>",
                                               "<x@other.example>", "<a@relay.example>", "<fail@example.com>",
                                               "<USER@EXAMPLE.COM>", "<u@sub.example.com>", "<list@example.com>"]))
        w = self.r.random()
        if w < 0.55:
            out.append("DATA")
            if self.chance(0.95):
                out += self.message()
        elif w < 0.75:
            self.bdat(out)
        elif w < 0.9:
            out.append("RSET")

    def bdat(self, out):
        text = self.pick(["To: user@example.com\r\n\r\nbody\r\n", "Subject: s\r\n\r\n\xe9\r\n",
                          "X: " + "x" * 1500 + "\r\n\r\nb\r\n", "\r\n", "no crlf at end",
                          "a\r\n.\r\nb\r\n", "Subject: c\r\n\r\n" + "line\r\n" * 30])
        cuts = sorted(self.r.sample(range(len(text) + 1), min(len(text) + 1, self.r.randint(0, 3))))
        pieces, last = [], 0
        for c in cuts + [len(text)]:
            pieces.append(text[last:c])
            last = c
        for i, p in enumerate(pieces):
            lastword = " LAST" if i == len(pieces) - 1 else ""
            out.append(("BDAT %d%s" % (len(p), lastword), p))
        if self.chance(0.15):
            out.append(("BDAT 0 LAST", ""))

    def conversation(self):
        out = []
        if self.chance(0.95):
            out.append(self.helo())
        for _ in range(self.r.randint(0, 4)):
            out.append(self.nonmail())
        for _ in range(self.r.randint(1, 3)):
            self.transaction(out)
            if self.chance(0.4):
                out.append(self.pick(["RSET", "NOOP", "HELP", "VRFY user", self.helo()]))
            for _ in range(self.r.randint(0, 2)):
                out.append(self.nonmail())
        if self.chance(0.2):
            out.append("AUTH PLAIN " + base64.b64encode(b"\0user\0secret").decode())
        if self.chance(0.8):
            out.append("QUIT")
        return out
