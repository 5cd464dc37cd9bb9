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
def gen():
    n = random.randint(1, 14)
    out = ['# Exim filter\n']
    for i in range(n):
        out.append(random.choice(words))
        out.append(random.choice([' ', ' ', '\n', '  ']))
    return ''.join(out)
def run(cmd, f, mode):
    with open(G + "/message.eml", "rb") as m:
        p = subprocess.run([cmd, "-C", CONF, mode, f], stdin=m, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    return p.stdout + b"rc=%d" % p.returncode
nd = 0
for i in range(int(sys.argv[2]) if len(sys.argv) > 2 else 200):
    t = gen()
    f = os.path.join(TMP, "f")
    open(f, "w").write(t)
    mode = random.choice(['-bf', '-bF'])
    a = run("exim", f, mode); b = run(P, f, mode)
    if a != b:
        nd += 1
        keep = os.path.join(TMP, "d%d" % nd)
        open(keep, "w").write(t)
        print("=== DIFF", keep, mode); print(t); print("exim:", a.decode(errors='replace')[-300:]); print("post:", b.decode(errors='replace')[-300:])
        if nd > 8: break
print("diffs", nd)
