"""Differential test of -bf/-bF against Exim 4.96 on random filters built from filter words.

Usage: POSTERN=build/postern python3 random_diff.py SEED COUNT  (as root, Exim installed).
Prints each filter whose output differs (up to 9) and keeps it in the temporary directory.
Not part of the test suite (it needs Exim); cases it found are kept as goldens in cases/."""
import os
import random
import subprocess
import sys
import tempfile

random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
G = os.path.dirname(os.path.abspath(__file__))
P = os.environ.get("POSTERN", os.path.join(G, "..", "..", "..", "build", "postern"))
TMP = tempfile.mkdtemp()
CONF = os.path.join(TMP, "exim.conf")
with open(os.path.join(G, "exim.conf")) as src, open(CONF, "w") as dst:
    dst.write(src.read().replace("SPOOL", TMP))
words = ['if','then','elif','else','endif','and','or','not','(',')','is','IS','contains','CONTAINS','matches','begins','ends','does','not','above','below',
 'personal','alias','foranyaddress','delivered','error_message','first_delivery','manually_thawed',
 'deliver','errors_to','save','pipe','mail','vacation','to','subject','text','file','expand','return','message','once_repeat','log','once','cc','from',
 'logfile','logwrite','testprint','finish','seen','unseen','noerror','add','n1','n2','headers','charset','add','remove',
 '$h_subject:','$h_to:','$local_part','"a b"','"$h_from:"','x@y.example','/tmp/f','5','1k','-3','"^H"','"(x)"','""','#c\n','\n','"\\n"','$n1','$sn1','"${lc:AB}"','abc', '"q\\"x"', 'root', '640']
VALUES = ['$h_subject:', '$h_to:', '$h_from:', '"$h_cc:"', '$local_part', '$domain', '$n1', '$sn2',
          '"Hello there"', 'hello', 'HELLO', '""', '5', '1k', '2M', '-3', '"^H"', '"(\\\\w+)@"',
          '"x.example"', 'root@test.example', '$reply_address', '$message_size', '"$1"', '$0',
          '"${if eq{1}{1}{yes}{no}}"', '"a b"', '$thisaddress', '$body_linecount', '"\\N^Hel\\N"']
TESTS = ['is', 'IS', 'contains', 'CONTAINS', 'matches', 'MATCHES', 'begins', 'BEGINS', 'ends', 'ENDS',
         'is not', 'does not contain', 'does not match', 'does not begin', 'does not end',
         'is above', 'is below', 'is not above', 'is not below']


def cond(d=0):
    r = random.random()
    if d < 3 and r < 0.15:
        return '(%s %s %s)' % (cond(d + 1), random.choice(['and', 'or']), cond(d + 1))
    if d < 3 and r < 0.25:
        return 'not ' + cond(d + 1)
    if r < 0.3:
        return random.choice(['delivered', 'error_message', 'first_delivery', 'manually_thawed',
                              'personal', 'personal alias bob@test.example'])
    if d < 3 and r < 0.38:
        return 'foranyaddress %s (%s)' % (random.choice(['$h_to:', '"$h_to:,$h_cc:"', '$h_from:']), cond(d + 1))
    return '%s %s %s' % (random.choice(VALUES), random.choice(TESTS), random.choice(VALUES))


def command(d=0):
    r = random.random()
    if d < 2 and r < 0.2:
        out = 'if %s then\n%s' % (cond(), command(d + 1))
        if random.random() < 0.4:
            out += 'elif %s then\n%s' % (cond(), command(d + 1))
        if random.random() < 0.5:
            out += 'else\n%s' % command(d + 1)
        return out + 'endif\n'
    pfx = random.choice(['', '', '', 'seen ', 'unseen ', 'noerror '])
    c = random.choice([
        'testprint "%s"' % random.choice(VALUES).strip('"'),
        'deliver %s' % random.choice(['x@y.example', 'root', '"N <n@m.example>"', '$reply_address']),
        'save %s %s' % (random.choice(['/tmp/f', 'rel', '$home/x']), random.choice(['', '640'])),
        'pipe "/bin/x $local_part"',
        'add %s to n%d' % (random.choice(['1', '-2', '$n1', '7']), random.randint(0, 9)),
        'mail to %s subject "%s" text "t"' % (random.choice(['a@b', '$reply_address']), random.choice(VALUES).strip('"')),
        'vacation', 'finish', 'logwrite "%s"' % random.choice(VALUES).strip('"'),
        'headers add "%s"' % random.choice(['X-A: 1', 'X-B : 2', 'Subject: new', 'X-C: $h_subject:', 'bad']),
        'headers remove "%s"' % random.choice(['Subject', 'x-a:To', 'cc : from', '']),
        'headers charset UTF-8', 'fail text "%s"' % random.choice(VALUES).strip('"'),
        'freeze', 'defer text later',
        ('%s %s' % (random.choice(['mail', 'vacation']), ' '.join(
            '%s %s' % (random.choice(['to', 'cc', 'bcc', 'from', 'reply_to', 'subject', 'extra_headers',
                                      'text', 'file', 'expand file', 'log', 'once', 'once_repeat']),
                       random.choice(VALUES + ['"a\\nb"', '"X-A: 1\\n X-B"', '"e\\tf"', '5d']))
            for _ in range(random.randint(0, 4))) + random.choice(['', ' return message']))),
    ])
    return pfx + c + '\n'


def gen_structured():
    return '# Exim filter\n' + ''.join(command() for _ in range(random.randint(1, 5)))


def gen():
    n = random.randint(1, 14)
    out = ['# Exim filter\n']
    for i in range(n):
        out.append(random.choice(words))
        out.append(random.choice([' ', ' ', '\n', '  ']))
    return ''.join(out)
MESSAGES = ["message.eml", "personal.eml", "list.eml", "bounce.eml", "personal-prefixed.eml",
            "no-from.eml", "headers-only.eml", "body-cr.eml", "rp.eml", "from.eml"]
EXTRA = [[], [], ["-f", "<>"], ["-f", "friend@else.example"], ["-bfl", "bob"]]


def run(cmd, f, mode, msg="message.eml", extra=()):
    with open(os.path.join(G, msg), "rb") as m:
        p = subprocess.run([cmd, "-C", CONF, mode, f] + list(extra), stdin=m, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    return p.stdout + b"rc=%d" % p.returncode
nd = 0
for i in range(int(sys.argv[2]) if len(sys.argv) > 2 else 200):
    t = gen_structured() if random.random() < 0.7 else gen()
    f = os.path.join(TMP, "f")
    open(f, "w").write(t)
    mode = random.choice(['-bf', '-bF'])
    msg, extra = random.choice(MESSAGES), random.choice(EXTRA)
    a = run("exim", f, mode, msg, extra); b = run(P, f, mode, msg, extra)
    if a != b:
        nd += 1
        keep = os.path.join(TMP, "d%d" % nd)
        open(keep, "w").write(t)
        print("=== DIFF", keep, mode, msg, extra); print(t); print("exim:", a.decode(errors='replace')[-300:]); print("post:", b.decode(errors='replace')[-300:])
        if nd > 8: break
print("diffs", nd)
