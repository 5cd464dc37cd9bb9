# A scripted SMTP server for recording the bounce goldens: PORT MODE (rcpt550, rcpt450,
# connect550, data550, ok).
import socket, sys, threading
port=int(sys.argv[1]); mode=sys.argv[2] if len(sys.argv)>2 else 'rcpt550'
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR,1); s.bind(('127.0.0.1',port)); s.listen(5)
def h(c):
    f=c.makefile('rb')
    def w(x): c.sendall(x.encode()+b'\r\n')
    w('220 sink.example ESMTP scripted' if mode!='connect550' else '550 Go away')
    if mode=='connect550': c.close(); return
    while True:
        l=f.readline()
        if not l: break
        u=l.decode().strip().upper()
        if u.startswith('EHLO'): w('250-sink.example hello there'); w('250 PIPELINING')
        elif u.startswith('HELO'): w('250 sink.example')
        elif u.startswith('MAIL'): w('250 OK')
        elif u.startswith('RCPT'):
            if mode=='rcpt550': w('550-5.1.1 no such user here'); w('550 5.1.1 really')
            elif mode=='rcpt450': w('450 4.2.0 greylisted')
            else: w('250 OK')
        elif u=='DATA':
            w('354 go')
            while True:
                l=f.readline()
                if l in (b'.\r\n',b'.\n',b''): break
            w('250 OK id=xyz' if mode!='data550' else '550 5.7.1 content rejected')
        elif u=='QUIT': w('221 bye'); break
        else: w('500 what')
    c.close()
while True:
    c,_=s.accept(); threading.Thread(target=h,args=(c,),daemon=True).start()
