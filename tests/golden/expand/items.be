# Expansion items ${name{arg}...}: normal, edge and error cases.
# --- acl (default.conf defines golden_accept, golden_deny, golden_defer and golden_cond)
${acl{golden_accept}}
${acl{golden_accept}{one}{two}}
${acl{golden_deny}{x}}
${acl{golden_defer}}
${acl{golden_cond}{yes}}
${acl{golden_cond}{no}}
${acl{golden_accept}{1}{2}{3}{4}{5}{6}{7}{8}{9}}
${acl{golden_accept}{1}{2}{3}{4}{5}{6}{7}{8}{9}{10}}
${acl{nosuch}}
${acl{nosuch}{arg1}{arg2}}
${acl}
# --- authresults
${authresults{mail.example.org}}
${authresults}
# --- certextract (no certificate variable is set in -be)
${certextract{subject}{$tls_in_peercert}}
${certextract{subject}{$tls_in_peercert}{yes}{no}}
${certextract{nosuchfield}{$tls_in_peercert}}
# --- dlfunc
${dlfunc{/nonexistent/lib.so}{func}}
${dlfunc{/nonexistent/lib.so}}
# --- env
${env{HOME}{set}{unset}}
${env{POSTERN_GOLDEN_SURELY_UNSET}{$value}{unset}}
${env{POSTERN_GOLDEN_SURELY_UNSET}}
${env{POSTERN_GOLDEN_SURELY_UNSET}{$value} fail }
${env{}{yes}{no}}
${env{PATH}{yes}}
# --- extract: named fields
${extract{gid}{uid=1984 gid=2001}}
${extract{gid}{uid=1984 gid=2001}{$value}}
${extract{gid}{uid=1984 gid=2001}{[$value]}{none}}
${extract{Z}{A=a B=b}{$value}{none}}
${extract{Z}{A=a B=b}{$value} fail }
${extract{GID}{uid=1984 gid=2001}}
${extract{b}{a=1 b = 2 c=3}}
${extract{b}{a=1 b="quoted value" c=3}}
${extract{b}{a=1 b="esc \"q\"" c=3}}
${extract{b}{a=1 b= c=3}}
${extract{a}{a=1 a=2}}
${extract{x}{}}
${extract{}{a=1}}
${extract{a}{a=1,b=2}}
${extract{a}{a:1}}
${extract{a}{a}}
${extract{uid}{${extract{x}{x="uid=5 gid=6"}}}}
# --- extract: numbered fields
${extract{2}{:}{x:42:99:& Mailer::/bin/bash}}
${extract{-4}{:}{x:42:99:& Mailer::/bin/bash}}
${extract{1}{:}{x:42:99}}
${extract{0}{:}{x:42:99}}
${extract{4}{:}{x:42:99}}
${extract{-1}{:}{x:42:99}}
${extract{-4}{:}{x:42:99}}
${extract{2}{:,}{a,b:c}}
${extract{3}{:,}{a,b:c}}
${extract{2}{}{a:b}}
${extract{2}{:}{a:b}{<$value>}{none}}
${extract{5}{:}{a:b}{<$value>}{none}}
${extract{x}{:}{a:b}}
${extract{1}{:}{}}
${extract{2}{:}{a::c}}
${extract{ 2 }{:}{a:b:c}}
# --- extract: argument errors
${extract{a}}
${extract{a}{b}{c}{d}{e}{f}}
${extract{a}{b=1}{c}{d}{e}}
${extract{a}{a=1}
${extract{a}a=1}
# --- extract json / jsons
${extract json{name}{\{"name":"postern","n":42\}}}
${extract jsons{name}{\{"name":"postern","n":42\}}}
${extract json{n}{\{"name":"postern","n":42\}}}
${extract json{missing}{\{"name":"postern"\}}{$value}{none}}
${extract json{2}{[1,"two",3]}}
${extract jsons{2}{[1,"two",3]}}
${extract json{0}{[1,2,3]}}
${extract json{name}{not json}}
${extract json{a}{\{"a":\{"b":1\}\}}}
${extract json{a}{\{"a":[1,2]\}}}
${extract jsons{a}{\{"a":null\}}}
${extract json{a}{\{"a":true\}}}
# --- filter
${filter{a:b:c}{!eq{$item}{b}}}
${filter{a:b:c}{eq{$item}{x}}}
${filter{}{true}}
${filter{<; a;b;c}{!eq{$item}{a}}}
${filter{1:22:333}{>{${strlen:$item}}{1}}}
${filter{a:b}{nosuchcond}}
${filter{a:b}}
${filter{a:b}{eq{$item}{a}}{extra}}
${filter{a::b:c}{true}}
# --- hash / nhash / length / substr (item forms)
${hash{3}{abcdefghijklmnop}}
${hash{3}{10}{abcdefghijklmnop}}
${hash{3}{abc}}
${hash{x}{abc}}
${hash{3}{x}{abc}}
${hash{3}}
${hash{3}{0}{abc}}
${nhash{8}{supercalifragilisticexpialidocious}}
${nhash{8}{64}{supercalifragilisticexpialidocious}}
${nhash{x}{abc}}
${nhash{1}{abc}}
${length{3}{abcdef}}
${length{0}{abc}}
${length{-1}{abc}}
${length{x}{abc}}
${length{3}}
${length{}{abc}}
${substr{3}{2}{abcdefg}}
${substr{-5}{2}{1234567}}
${substr{-5}{2}{12}}
${substr{-3}{2}{12}}
${substr{-1}{abcde}}
${substr{1}{abcde}}
${substr{10}{2}{abc}}
${substr{0}{0}{abc}}
${substr{0}{100}{abc}}
${substr{x}{2}{abc}}
${substr{1}{x}{abc}}
${substr{1}{-1}{abc}}
${substr{}{}{abc}}
${substr{1}}
# --- hmac
${hmac{md5}{somesecret}{some text}}
${hmac{sha1}{somesecret}{some text}}
${hmac{sha256}{somesecret}{some text}}
${hmac{md5}{}{}}
${hmac{sha1}{}{}}
${hmac{sha512}{key}{text}}
${hmac{md5}{key}}
${hmac{md5}{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}{text}}
# --- if
${if eq{a}{a}{yes}{no}}
${if eq{a}{b}{yes}{no}}
${if eq{a}{a}{yes}}
${if eq{a}{b}{yes}}
${if eq{a}{a}}
${if eq{a}{b}}
${if eq {a} {a} {yes} {no} }
${if eq{a}{b}{yes} fail }
${if eq{a}{a}{yes} fail }
${if eq{a}{b}{yes}{no}{extra}}
${if eq{a}{a}{$primary_hostname}{${nosuchop:x}}}
${if eq{a}{b}{${nosuchop:x}}{taken}}
${if eq{a}{b}{${if eq{1}{2}{x}{$nosuchvar}}}{skipped}}
${if eq{a}{a}{${if eq{1}{2}{x}{y}}}{no}}
${if eq{a}{a}{${if eq{1}{1}{${if eq{2}{2}{deep}}}}}}}
${if eq{a}{a}{yes}{no}
${if eq{a}{a}yes}
${if nosuchcond{a}{b}{y}{n}}
${if {y}{n}}
${if}
${if eq{a}{a}{}{no}}
${if !eq{a}{b}{yes}{no}}
${if !!eq{a}{b}{yes}{no}}
${if ! eq{a}{b}{yes}{no}}
# --- imapfolder
${imapfolder{INBOX}}
${imapfolder{Sent Items}}
${imapfolder{Entw\xc3\xbcrfe}}
${imapfolder{a/b.c}}
${imapfolder{a/b}{/}}
${imapfolder{a.b}{.}{}}
${imapfolder{&}}
${imapfolder{}}
# --- listextract
${listextract{2}{x:42:99}}
${listextract{-3}{x:42:99}}
${listextract{4}{x:42:99}}
${listextract{0}{x:42:99}}
${listextract{1}{}}
${listextract{2}{<;a;b;c}}
${listextract{2}{a::b:c}}
${listextract{2}{x:42:99}{<$value>}{none}}
${listextract{9}{x:42:99}{<$value>}{none}}
${listextract{9}{x:42:99}{<$value>} fail }
${listextract{x}{a:b}}
${listextract{1}}
# --- listquote
${listquote{:}{a:b}}
${listquote{,}{a,b}}
${listquote{:}{plain}}
${listquote{:}{}}
${listquote{::}{a}}
${listquote{}{a}}
${listquote{;}{a;;b}}
# --- map
${map{a:b:c}{[$item]}}
${map{<- a-b-c}{${uc:$item}}}
${map{}{x}}
${map{a:b}{$item$item}}
${map{a:b}}
${map{a:b}{${nosuchop:x}}}
${map{1:2:3}{${eval:$item*2}}}
${map{a::b:c}{<$item>}}
${map{<, a,b}{$item}}
# --- perl (no perl_startup in the configuration)
${perl{nosuchsub}}
${perl{nosuchsub}{arg}}
# --- prvs / prvscheck
${prvs{user@example.com}{secret}}
${prvs{user@example.com}{secret}{3}}
${prvs{user@example.com}{secret}{10}}
${prvs{notanaddress}{secret}}
${prvs{user@example.com}}
${prvscheck{prvs=0000000000=user@example.com}{secret}}
${prvscheck{user@example.com}{secret}}
${prvscheck{user@example.com}{secret}{checked}}
${prvscheck{user@example.com}{secret}{$prvscheck_address}}
${prvscheck{prvs=zz}{secret}}
# --- readfile
${readfile{@DATA@/readfile.txt}}
${readfile{@DATA@/readfile.txt}{}}
${readfile{@DATA@/readfile.txt}{ | }}
${readfile{@DATA@/nonl.txt}}
${readfile{@DATA@/nonexistent}}
${readfile{relative/path}}
${readfile{}}
${readfile{@DATA@/readfile.txt}{a}{b}}
${readfile}
# --- readsocket (only to sockets that do not exist)
${readsocket{@TMP@/no-such-socket}{request}}
${readsocket{@TMP@/no-such-socket}{request}{1s}{}{socket failed}}
${readsocket{inet:127.0.0.1}{request}}
${readsocket{inet:127.0.0.1:notaport}{request}{1s}{}{failed}}
${readsocket{}{request}}
${readsocket{@TMP@/no-such-socket}}
# --- reduce
${reduce{1:2:3}{0}{${eval:$value+$item}}}
${reduce {3:0:9:4:6}{0}{${if >{$item}{$value}{$item}{$value}}}}
${reduce{a:b:c}{}{$value$item}}
${reduce{}{start}{$value$item}}
${reduce{a:b}{x}}
${reduce{<; a;b}{>}{$value-$item}}
${reduce{1:2}{0}{${eval:$value+$item}}{extra}}
# --- run
${run{/bin/echo hello}}
${run{/bin/echo hello}{got $value}{failed}}
${run{/bin/sh -c "exit 3"}{ok}{failed $runrc}}
${run{/bin/sh -c "exit 0"}{ok $runrc}{failed}}
${run{/nonexistent/program}{ok}{failed}}
${run{/bin/echo "a b" c}}
${run{/bin/printf %s\\n one two}}
${run{}{ok}{failed}}
${run{/bin/echo x}{ok} fail }
${run{/bin/false}{ok} fail }
# --- sg
${sg{abcdefabcdef}{abc}{xyz}}
${sg{abcdef}{^(...)(...)\$}{\$2\$1}}
${sg{1=A 4=D 3=C}{\N(\d+)=\N}{K\$1=}}
${sg{abc}{x}{y}}
${sg{abc}{}{-}}
${sg{}{a}{b}}
${sg{aaa}{a*}{X}}
${sg{abc}{(b)}{[\$1]}}
${sg{abc}{(b)}{[\$0]}}
${sg{abc}{(b)}{[\$2]}}
${sg{abc}{[}{x}}
${sg{abc}{(}{x}}
${sg{ABC}{(?i)b}{x}}
${sg{a.b.c}{\\.}{-}}
${sg{a.b.c}{\N\.\N}{-}}
${sg{abc}{b}}
${sg{abc}{b}{x}{y}}
${sg{caf\xc3\xa9}{\xc3\xa9}{e}}
# --- sort
${sort{3:2:1:4}{<}{$item}}
${sort{3:2:1:4}{>}{$item}}
${sort{c:A:b}{lt}{$item}}
${sort{c:A:b}{lti}{$item}}
${sort{c:A:b}{gti}{$item}}
${sort{10:9:100}{lt}{$item}}
${sort{10:9:100}{<}{$item}}
${sort{}{<}{$item}}
${sort{a=3:b=1:c=2}{<}{${extract{2}{=}{$item}}}}
${sort{3:1:2}{eq}{$item}}
${sort{3:1:2}{<}}
${sort{3:1:2}{nosuch}{$item}}
${sort{<; 3;1;2}{<}{$item}}
${sort{1:1:1}{<}{$item}}
${sort{3:1:x}{<}{$item}}
# --- srs_encode
${srs_encode{secret}{user@example.com}{forwarder.example}}
${srs_encode{secret}{}{forwarder.example}}
${srs_encode{secret}{user@example.com}}
${srs_encode{secret}{notanaddress}{forwarder.example}}
# --- tr
${tr{abcdea}{ac}{13}}
${tr{abcdea}{abc}{x}}
${tr{abc}{}{xyz}}
${tr{abc}{abc}{}}
${tr{}{a}{b}}
${tr{hello}{a-z}{A-Z}}
${tr{a:b:c}{:}{,}}
${tr{abc}{a}}
${tr{abc}{a}{b}{c}}
# --- unknown items and malformed item syntax
${nosuchitem{a}{b}}
${lookup}
${sg}
${tr{a}
# --- more item edge cases: nesting of $item/$value, regex replacement, sorting, extraction
${map{a:b}{${map{x:y}{$item}}-$item}}
${map{a:b}{${filter{x:$item}{eq{$item}{a}}}/$item}}
${reduce{1:2:3}{}{${if eq{$value}{}{$item}{$value,$item}}}}
${lookup{alpha}lsearch{@DATA@/lsearch.txt}{${map{x:y}{$item$value}}}}
${lookup{alpha}lsearch{@DATA@/lsearch.txt}{${reduce{x:y}{v}{$value$item}}/$value}}
${if match{abc}{(b)}{${sg{xyz}{(y)}{[\$1]}}$1}}
${if match{abc}{(b)}{${if match{xyz}{(z)}{$1}}$1}}
${sg{aaa}{a}{\$0\$0}}
${sg{abc}{(a)(b)(c)}{\$3\$2\$1}}
${sg{abc}{(?<x>b)}{[\$1]}}
${sg{abc}{b}{\\\$}}
${sg{abc}{b}{\N$0\N}}
${sg{a\nb}{\n}{ }}
${sg{abc}{^}{>}}
${sg{abc}{\$}{<}}
${sg{abcabc}{(?=b)}{|}}
${sg{abc}{.}{\$0\$0}}
${sg{ab}{(a)|(b)}{[\$1\$2]}}
${sg{123}{\\d}{<\$0>}}
${sg{x}{x}{${uc:y}}}
${sg{x}{${lc:X}}{y}}
${sg{a+b}{a+b}{x}}
${sg{a+b}{a\\+b}{x}}
${sg{a+b}{\Qa+b\E}{x}}
${sort{b:a:c}{lt}{$item}}
${sort{B:a:C}{lt}{$item}}
${sort{B:a:C}{lti}{$item}}
${sort{2:10:1}{<}{$item}}
${sort{2:10:1}{>=}{$item}}
${sort{2:10:1}{<=}{$item}}
${sort{-1:1:0}{<}{$item}}
${sort{1K:1000:1M}{<}{$item}}
${sort{a::b:c}{lt}{$item}}
${sort{<, b,a}{lt}{$item}}
${sort{x=2 y=1:x=1 y=2}{<}{${extract{y}{$item}}}}
${sort{3:1:2}{<}{${eval:0-$item}}}
${sort{c:b:a}{ge}{$item}}
${sort{c:b:a}{le}{$item}}
${sort{c:b:a}{gei}{$item}}
${sort{c:b:a}{lei}{$item}}
${sort{a:b}{<}{x}}
${extract{1}{,:}{a,b:c}}
${extract{3}{,:}{a,b:c}}
${extract{4}{,:}{a,b:c}}
${extract{2}{ }{a b  c}}
${extract{3}{ }{a b  c}}
${extract{-1}{:}{a:b:}}
${extract{-2}{:}{a:b:}}
${extract{1}{::}{a::b}}
${extract{2}{::}{a::b}}
${extract{x}{x=1}{$value$value}}
${extract{a}{ a = 1 }}
${extract{a}{a="1 2"}}
${extract{a}{a='1 2'}}
${extract{a}{a="unterminated}}
${extract{a}{b=2 a=1}}
${extract{A}{a=1}}
${extract{a_b}{a_b=1 a=2}}
${extract{a}{a_b=1 a=2}}
${extract{a}{xa=1 a=2}}
${extract{a}{a=1\nb=2}}
${extract{b}{a=1\nb=2}}
${extract{b}{a=1,b=2}}
${extract{b}{a=1;b=2}}
${tr{abc}{abc}{x}}
${tr{abc}{aa}{xy}}
${tr{aaa}{a}{bc}}
${tr{a-c}{-}{+}}
${tr{caf\xc3\xa9}{\xc3}{X}}
${tr{hello}{lo}{01}}
${length{0}{}}
${length{1}{\xc3\xa9}}
${substr{0}{1}{\xc3\xa9}}
${substr{-1}{1}{abc}}
${substr{-3}{3}{abc}}
${substr{-4}{3}{abc}}
${substr{3}{0}{abc}}
${substr{3}{}{abc}}
${substr{2}{5}{abc}}
${hmac{md5}{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}{t}}
${hmac{md5}{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}{t}}
${hmac{sha1}{key}{The quick brown fox jumps over the lazy dog}}
${hmac{md5}{key}{The quick brown fox jumps over the lazy dog}}
${hmac{MD5}{key}{t}}
${listextract{-4}{a:b:c}}
${listextract{-1}{}}
${listextract{1}{:}}
${listextract{2}{::}}
${listextract{1}{<;}}
${listextract{+1}{a:b}}
${listextract{01}{a:b}}
${listextract{ 1}{a:b}}
${listquote{:}{a::b}}
${listquote{<}{a<b}}
${listquote{a}{banana}}
${listquote{ }{a b}}
${filter{a:b:c}{inlist{$item}{a:c}}}
${filter{1:2:3:4}{>{$item}{2}}}
${filter{a:b}{!def:item}}
${filter{a:b}{def:item}}
${map{a:b:c}{${if eq{$item}{b}{}{$item}}}}
${map{<\n a\nb}{<$item>}}
${map{a}{${listcount:$item:$item}}}
${reduce{a:b:c}{}{$item$value}}
${reduce{3:5}{1}{${eval:$value*$item}}}
${reduce{}{}{x}}
${if eq{${map{a:b}{x}}}{x:x}{yes}{no}}
${readfile{@DATA@/readfile.txt}{\n}}
${readfile{@DATA@/readfile.txt}{$primary_hostname}}
${readfile{@DATA@/readfile.txt}{\N$x\N}}
${readfile{@DATA@/dsearch}}
${readfile{@DATA@/nonl.txt}{--}}
${env{PATH}{${if def:value{has value}{empty}}}{unset}}
${env{POSTERN_GOLDEN_SURELY_UNSET}{set}{${if def:value{has value}{empty}}}}
${imapfolder{INBOX.Sent}}
${imapfolder{a&b}}
${imapfolder{caf\xc3\xa9/x}{/}}
${imapfolder{\xe6\x97\xa5\xe6\x9c\xac}}
${imapfolder{a b}{.}{INBOX}}
${imapfolder{INBOX/a}{/}{INBOX}}
${imapfolder{~x}}
${run{/bin/sh -c "echo \\"\$HOME\\""}}
${run{/bin/sh -c "printf abc"}}
${run{/bin/sh -c "exit 256"}{ok $runrc}{bad $runrc}}
${run{/bin/sh -c "kill -9 \$\$"}{ok $runrc}{bad $runrc}}
${run{/bin/echo "unterminated}}
${run{/bin/echo 'single quotes'}}
${run{/bin/echo}}
${run{ /bin/echo lead}}
${run,preexpand{/bin/echo pre}}
${run{/bin/echo $primary_hostname}}
