# Numbers: ${eval} arithmetic, bases, overflow, division, suffixes; numeric arguments of items.
${eval:0}
${eval:-0}
${eval:42}
${eval:-42}
${eval:+42}
${eval:--42}
${eval:- -42}
${eval: 1 + 2 }
${eval:1 +2* 3}
${eval:10/3}
${eval:-10/3}
${eval:10%3}
${eval:-10%3}
${eval:10%-3}
${eval:1/0}
${eval:1%0}
${eval:0/0}
${eval:9223372036854775807}
${eval:9223372036854775807+1}
${eval:-9223372036854775807-1}
${eval:-9223372036854775808}
${eval:9223372036854775808}
${eval:99999999999999999999}
${eval:4611686018427387904*2}
${eval:3037000500*3037000500}
${eval:-9223372036854775807-1/-1}
${eval:(-9223372036854775807-1)/-1}
${eval:(-9223372036854775807-1)%-1}
${eval:0x7fffffffffffffff}
${eval:0x8000000000000000}
${eval:0xffffffffffffffff}
${eval:0x}
${eval:0xg}
${eval:0XFF}
${eval:0xFF}
${eval:017}
${eval:08}
${eval:09}
${eval10:08}
${eval10:09}
${eval10:0x10}
${eval10:010+010}
${eval:1K}
${eval:1k}
${eval:1M}
${eval:1m}
${eval:1G}
${eval:1g}
${eval:2K*2}
${eval:1T}
${eval:8796093022208G}
${eval:1KK}
${eval:1<<62}
${eval:1<<63}
${eval:1<<64}
${eval:1<<-1}
${eval:-1>>1}
${eval:-8>>1}
${eval:256>>8}
${eval:~0}
${eval:~-1}
${eval:~~5}
${eval:5&3}
${eval:5|3}
${eval:5^3}
${eval:1+2&3}
${eval:1|2^3&4}
${eval:2*3+4*5}
${eval:2*(3+4)*5}
${eval:((((1))))}
${eval:(1}
${eval:1)}
${eval:()}
${eval:1 2}
${eval:1++2}
${eval:1+-2}
${eval:1-+2}
${eval:2**3}
${eval:1.5}
${eval:1,5}
${eval: }
${eval:abc+1}
${eval:1+abc}
${eval:${strlen:hello}*2}
${eval:${eval:2*3}+1}
${eval:$tod_epoch-$tod_epoch}
${eval:((((((((((((((((((((1))))))))))))))))))))}
${eval:-(-(-(-1)))}
${eval:7/-2}
${eval:-7/2}
${eval:-7%2}
# --- numeric comparisons with suffixes and bases
${if ={1k}{1K}}
${if >{1M}{1023K}}
${if <{-1K}{-1000}}
${if ={0}{-0}}
${if ={ 5 }{5}}
${if ={5 }{5}}
${if ={+5}{5}}
${if ={--5}{5}}
${if ={5.0}{5}}
${if ={1e3}{1000}}
${if ={08}{8}}
${if ={09}{9}}
${if ={9223372036854775807}{9223372036854775807}}
${if ={-9223372036854775808}{0}}
${if ={1T}{1}}
${if >{99999999999999999999}{1}}
# --- numeric arguments of items and operators
${substr{1}{2}{abcdef}}
${substr{+1}{2}{abcdef}}
${substr{ 1}{2}{abcdef}}
${substr{1 }{2}{abcdef}}
${substr{0x1}{2}{abcdef}}
${substr{99999999999999999999}{2}{abcdef}}
${substr{-99999999999999999999}{2}{abcdef}}
${length{99999999999}{abc}}
${length{2147483648}{abc}}
${length{4294967297}{abc}}
${hash{2147483647}{abc}}
${nhash{2147483647}{abc}}
${listextract{99999999999}{a:b}}
${listextract{-99999999999}{a:b}}
${extract{99999999999}{:}{a:b}}
${randint:9223372036854775807}
${time_interval:9223372036854775807}
${time_interval:9223372036854775808}
${time_eval:9999999999w}
${time_eval:1s1s}
${time_eval:1h1m1h}
${base62:9223372036854775807}
${base62:9223372036854775808}
${base62d:AzL8n0Y58m7}
${base62d:zzzzzzzzzzzz}
${base32:9223372036854775807}
${base32d:zzzzzzzzzzzzz}
${mask:10.0.0.1/-1}
${mask:10.0.0.1/08}
${mask:10.0.0.1/99999999999}
${ipv6norm:::ffff:255.255.255.255}
${ipv6norm:::ffff:256.255.255.255}
${reverse_ip:255.255.255.255}
${reverse_ip:0.0.0.0}
