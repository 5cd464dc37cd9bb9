# Expansion operators: ${op:string}.  Normal, edge and error cases for each.
# --- address / addresses / domain / local_part
${address:user@example.com}
${address:Some Name <user@example.com>}
${address:"quoted local"@example.com}
${address:<user@example.com>}
${address:user}
${address:}
${address:@example.com}
${address:user@}
${address:(comment) user@example.com (another)}
${address:Name <user@example.com}
${address:user@[192.168.1.1]}
${address:a@b, c@d}
${addresses:a@b.c, Name <d@e.f>, g@h.i}
${addresses:>& Chief <ceo@up.stairs>, sec@base.ment (dogsbody)}
${addresses:}
${addresses:not an address}
${addresses:>:a@b, c@d}
${addresses:>;a@b, c@d}
${addresses:group: a@b, c@d;, e@f}
${addresses:"x,y"@z.com, w@v.com}
${addresses:a@b:c@d}
${domain:user@example.com}
${domain:Name <user@Example.COM>}
${domain:user}
${domain:}
${domain:user@[1.2.3.4]}
${domain:<>}
${local_part:user@example.com}
${local_part:Name <First.Last@example.com>}
${local_part:"quoted part"@example.com}
${local_part:user}
${local_part:}
${local_part:@example.com}
# --- base32 / base32d / base62 / base62d / base64 / base64d / str2b64 / hex2b64
${base32:0}
${base32:1}
${base32:31}
${base32:32}
${base32:1024}
${base32:18446744073709551615}
${base32:-1}
${base32:abc}
${base32:}
${base32d:a}
${base32d:ba}
${base32d:baaa}
${base32d:zz}
${base32d:A}
${base32d:1}
${base32d:}
${base62:0}
${base62:1}
${base62:61}
${base62:62}
${base62:1234567890}
${base62:18446744073709551615}
${base62:-5}
${base62:12x}
${base62:}
${base62d:0}
${base62d:z}
${base62d:10}
${base62d:1BcD}
${base62d:zzzzzz}
${base62d:a-b}
${base62d:}
${base64:}
${base64:a}
${base64:ab}
${base64:abc}
${base64:abcd}
${base64:hello world}
${base64:\x00\x01\xff}
${base64:caf\xc3\xa9}
${base64d:aGVsbG8gd29ybGQ=}
${base64d:YQ==}
${base64d:YWI=}
${base64d:YWJj}
${base64d:YQ}
${base64d:!!!!}
${base64d:}
${base64d:aGVs bG8=}
${base64d:${base64:round trip}}
${str2b64:hello}
${str2b64:}
${hex2b64:0123456789abcdef}
${hex2b64:ff}
${hex2b64:FF00}
${hex2b64:abc}
${hex2b64:xyz0}
${hex2b64:}
# --- escape / escape8bit / hexquote
${escape:plain}
${escape:tab\there}
${escape:nl\nhere}
${escape:cr\rhere}
${escape:\x01\x7f}
${escape:caf\xc3\xa9}
${escape:back\\slash}
${escape:}
${escape8bit:plain}
${escape8bit:caf\xc3\xa9}
${escape8bit:tab\there}
${escape8bit:nl\nhere}
${escape8bit:\x01}
${hexquote:plain}
${hexquote:tab\there}
${hexquote:caf\xc3\xa9}
${hexquote:\x00}
${hexquote:}
# --- expand
${expand:plain}
${expand:\$primary_hostname}
${expand:\${uc:abc\}}
${expand:${expand:\$qualify_domain}}
${expand:\${if eq{1}{1}{yes}{no}\}}
${expand:\${unknownop:x\}}
${expand:\$nosuchvar}
${expand:}
# --- from_utf8
${from_utf8:abc}
${from_utf8:caf\xc3\xa9}
${from_utf8:\xe2\x82\xac}
${from_utf8:\xff}
${from_utf8:}
# --- hash / nhash / length / substr operator forms
${hash_3:abcdefghijklmnop}
${hash_3_10:abcdefghijklmnop}
${hash_5:ab}
${hash_0:abc}
${hash_3_100:abc}
${hash_x:abc}
${hash:abc}
${nhash_8:supercalifragilisticexpialidocious}
${nhash_8_64:supercalifragilisticexpialidocious}
${nhash_100:}
${nhash_1:abc}
${nhash_x:abc}
${length_3:abcdef}
${length_0:abcdef}
${length_10:abc}
${length_-1:abc}
${length:abc}
${length_x:abc}
${substr_1_3:abcdef}
${substr_2:abcdef}
${substr_-2:abcdef}
${substr_-2_1:abcdef}
${substr_10:abc}
${substr_0_0:abc}
${substr_-10_2:abc}
${substr_a:abc}
# --- ipv6norm / ipv6denorm / mask / mask_n / reverse_ip
${ipv6norm:::1}
${ipv6norm:2001:0db8:0000:0000:0000:0000:0000:0001}
${ipv6norm:2001:db8:0:0:1:0:0:1}
${ipv6norm:0:0:0:0:0:0:0:0}
${ipv6norm:fe80::1:2:3:4}
${ipv6norm:::ffff:192.168.1.1}
${ipv6norm:192.168.1.1}
${ipv6norm:not-an-ip}
${ipv6norm:1::2::3}
${ipv6norm:}
${ipv6denorm:::1}
${ipv6denorm:2001:db8::1}
${ipv6denorm:fe80::}
${ipv6denorm:::ffff:1.2.3.4}
${ipv6denorm:10.0.0.1}
${ipv6denorm:garbage}
${mask:10.111.131.206/28}
${mask:192.168.1.255/24}
${mask:192.168.1.255/0}
${mask:192.168.1.255/32}
${mask:192.168.1.255/33}
${mask:192.168.1.255}
${mask:3ffe:ffff:836f:0a00:000a:0800:200a:c031/99}
${mask:2001:db8::1/64}
${mask:::1/128}
${mask:2001:db8::1/129}
${mask:not.an.ip/8}
${mask:/8}
${mask:}
${mask_n:10.111.131.206/28}
${mask_n:2001:db8:1:2::1/48}
${reverse_ip:192.0.2.4}
${reverse_ip:2001:0db8:c42:9:1:abcd:192.0.2.127}
${reverse_ip:::1}
${reverse_ip:10.0.0.1}
${reverse_ip:not-an-ip}
${reverse_ip:}
# --- lc / uc / strlen
${lc:MiXeD CaSe}
${lc:ALREADY LOWER 123}
${lc:}
${lc:\xc3\x89COLE}
${uc:MiXeD CaSe}
${uc:\xc3\xa9cole}
${uc:}
${strlen:}
${strlen:abc}
${strlen:caf\xc3\xa9}
${strlen:tab\there}
${strlen:${uc:abc}}
# --- listcount / listnamed
${listcount:a:b:c}
${listcount:}
${listcount:a}
${listcount:a::b:c}
${listcount:<;a;b;c}
${listcount:<, a, b ,c,}
${listcount::}
${listcount:a:}
${listcount: a : b }
${listnamed:local_domains}
${listnamed_d:local_domains}
${listnamed_h:relay_hosts}
${listnamed_a:admins}
${listnamed_l:specials}
${listnamed:relay_domains}
${listnamed:nosuchlist}
${listnamed_h:local_domains}
${listnamed_x:local_domains}
# --- md5 / sha1 / sha256 / sha2 / sha3
${md5:}
${md5:abc}
${md5:The quick brown fox jumps over the lazy dog}
${sha1:}
${sha1:abc}
${sha256:}
${sha256:abc}
${sha2:abc}
${sha2_256:abc}
${sha2_384:abc}
${sha2_512:abc}
${sha2_123:abc}
${sha3:abc}
${sha3_224:abc}
${sha3_256:abc}
${sha3_384:abc}
${sha3_512:abc}
${sha3_100:abc}
${sha3:}
# --- quote / quote_local_part / quote_<lookup> / rxquote
${quote:plain}
${quote:ab"*"cd}
${quote:with space}
${quote:}
${quote:back\\slash}
${quote:nl\nx}
${quote:a.b}
${quote:user@dom}
${quote_local_part:plain}
${quote_local_part:with space}
${quote_local_part:a.b}
${quote_local_part:a..b}
${quote_local_part:.start}
${quote_local_part:a"b}
${quote_local_part:}
${quote_ldap:two * two}
${quote_ldap:(a)\\b}
${quote_ldap:}
${quote_ldapdn:cn=a,b}
${quote_ldapdn: leading}
${quote_mysql:it's}
${quote_mysql:back\\slash nl\nx}
${quote_pgsql:it's}
${quote_sqlite:it's}
${quote_sqlite:a''b}
${quote_redis:a b}
${quote_dnsdb:a:b}
${quote_nosuch:x}
${quote_lsearch:x}
${rxquote:a.b*c}
${rxquote:plain_123}
${rxquote:(x)[y]{z}}
${rxquote:}
# --- randint
${randint:1}
${randint:0}
${randint:-5}
${randint:abc}
${randint:10}
${randint:1000000}
# --- rfc2047 / rfc2047d
${rfc2047:plain ascii}
${rfc2047:caf\xc3\xa9}
${rfc2047:a=b?c}
${rfc2047:}
${rfc2047:with_underscore and space}
${rfc2047d:=?utf-8?q?caf=C3=A9?=}
${rfc2047d:=?iso-8859-1?q?caf=E9?=}
${rfc2047d:=?UTF-8?B?Y2Fmw6k=?=}
${rfc2047d:plain text}
${rfc2047d:=?utf-8?q?a_b?= =?utf-8?q?c?=}
${rfc2047d:=?bogus}
${rfc2047d:=?nosuchcharset?q?x?=}
${rfc2047d:}
# --- stat
${stat:/nonexistent/file}
${extract{size}{${stat:@DATA@/plain.txt}}}
${extract{mode}{${stat:@DATA@/plain.txt}}}
${extract{smode}{${stat:@DATA@/plain.txt}}}
${extract{smode}{${stat:@DATA@/dsearch}}}
${extract{nlink}{${stat:@DATA@/plain.txt}}}
${stat:}
# --- time_eval / time_interval
${time_eval:0s}
${time_eval:1m}
${time_eval:1h30m}
${time_eval:2d}
${time_eval:1w}
${time_eval:1w2d3h4m5s}
${time_eval:90}
${time_eval:3x}
${time_eval:}
${time_eval:-1s}
${time_interval:0}
${time_interval:59}
${time_interval:60}
${time_interval:3600}
${time_interval:86400}
${time_interval:90061}
${time_interval:694861}
${time_interval:-1}
${time_interval:abc}
${time_interval:}
${time_interval:99999999999}
# --- utf8clean and IDNA
${utf8clean:plain}
${utf8clean:caf\xc3\xa9}
${utf8clean:bad\xff byte}
${utf8clean:trunc\xc3}
${utf8clean:\xe2\x82}
${utf8clean:}
${utf8_domain_to_alabel:example.com}
${utf8_domain_to_alabel:b\xc3\xbccher.example}
${utf8_domain_to_alabel:}
${utf8_domain_from_alabel:xn--bcher-kva.example}
${utf8_domain_from_alabel:example.com}
${utf8_localpart_to_alabel:user}
${utf8_localpart_to_alabel:j\xc3\xb6rg}
${utf8_localpart_from_alabel:xn--jrg-sna}
# --- eval / eval10 (more in numeric.be)
${eval:1+1}
${eval:1+2*3}
${eval:(1+2)*3}
${eval:2+42%5}
${eval:0xc&5}
${eval:0xc|5}
${eval:0xc^5}
${eval:0xc>>1}
${eval:0xc<<1}
${eval:~255&0x1234}
${eval:-(~255&0x1234)}
${eval10:0012}
${eval:0012}
${eval:}
${eval:1+}
${eval:abc}
# --- unknown and malformed operators
${nosuchop:abc}
${UC:abc}
${uc abc}
${uc:}
${uc:abc
${:abc}
# --- more edge cases: encoded words, quoting, address parsing, IPv6 forms, UTF-8 validity, hashes
${rfc2047:This is a rather long header text with some caf\xc3\xa9 characters that needs more than one encoded word because it is long}
${rfc2047:a?b}
${rfc2047:a_b}
${rfc2047:a=b}
${rfc2047:tab\there}
${rfc2047:(parens)}
${rfc2047:"quotes"}
${rfc2047:\xff}
${rfc2047d:=?utf-8?q?a?==?utf-8?q?b?=}
${rfc2047d:=?utf-8?q?a?=  =?utf-8?q?b?=}
${rfc2047d:x =?utf-8?q?a?= y}
${rfc2047d:=?utf-8?b?!!!?=}
${rfc2047d:=?utf-8?x?abc?=}
${rfc2047d:=?utf-8?q?=ZZ?=}
${rfc2047d:=?utf-8*en?q?abc?=}
${rfc2047d:=?us-ascii?q?plain?=}
${quote_local_part:a@b}
${quote_local_part:a,b}
${quote_local_part:(x)}
${quote_local_part:a\\b}
${quote_local_part:a.}
${quote_local_part:a!#\$%&'*+-/=?^_`{|}~b}
${quote_local_part:<x>}
${quote:a:b}
${quote:a,b}
${quote:a;b}
${quote:(x)}
${quote:a\tb}
${quote:\xc3\xa9}
${addresses:<@route.example:user@example.com>}
${addresses:undisclosed-recipients:;}
${addresses:group: ;}
${addresses:"a \"quoted\" name" <q@example.com>}
${addresses:a@b (comment, with comma), c@d}
${addresses:a@b,,c@d}
${addresses:<a@b>, <c@d>}
${addresses:a@b <c@d>}
${addresses:>}
${addresses:>>a@b}
${addresses:>:}
${addresses:x@y, bad address here, z@w}
${address:"a b"@c}
${address:a.b.c@d.e.f}
${address:<>}
${address:user@example.com (Comment)}
${address:"Name, With Comma" <x@y>}
${address:=?utf-8?q?caf=C3=A9?= <x@y>}
${domain:"x@y"@z}
${local_part:"x@y"@z}
${domain:a@b@c}
${local_part:a@b@c}
${ipv6norm:1:0:0:1:0:0:0:1}
${ipv6norm:1:0:0:0:1:0:0:1}
${ipv6norm:0:0:0:0:0:0:0:1}
${ipv6norm:1:0:0:0:0:0:0:0}
${ipv6norm:1:2:3:4:5:6:7:8}
${ipv6norm:1:2:3:4:5:6:7::}
${ipv6norm:FE80::ABCD}
${ipv6norm:::}
${ipv6norm:::ffff:0:0}
${ipv6norm:1:0:1:0:1:0:1:0}
${ipv6denorm:::}
${ipv6denorm:1:2:3:4:5:6:7:8}
${ipv6denorm:FE80::ABCD}
${mask:::ffff:1.2.3.4/120}
${mask:1.2.3.4/8}
${mask:1.2.3.4/1}
${mask:255.255.255.255/31}
${mask:fe80::1/10}
${mask:fe80::1/0}
${mask:1.2.3/24}
${mask:1.2.3.4/}
${mask:1.2.3.4/ 8}
${mask_n:fe80::1/10}
${mask_n:1.2.3.4/8}
${mask_n:::1/128}
${reverse_ip:::ffff:1.2.3.4}
${reverse_ip:1.2.3}
${reverse_ip:1.2.3.4.5}
${utf8clean:\xc0\x80}
${utf8clean:\xed\xa0\x80}
${utf8clean:\xf0\x9f\x98\x80}
${utf8clean:\xf4\x90\x80\x80}
${utf8clean:\xe0\x80\xaf}
${utf8clean:a\x80b}
${utf8clean:\xc3\xa9\xc3}
${from_utf8:\xc2\xa0}
${from_utf8:\xc3\xbf}
${from_utf8:\xc4\x80}
${from_utf8:\xf0\x9f\x98\x80}
${from_utf8:\xc3}
${lc:\xc3\x80\xc3\x89}
${uc:\xc3\xa0\xc3\xa9}
${lc:ABC\xffDEF}
${hash_1:a}
${hash_2_2:abcdef}
${hash_26:abc}
${hash_62_62:abc}
${hash_1_63:abc}
${nhash_1000:abc}
${nhash_7_7:abc}
${nhash_2_1000:abcdefghijklmnopqrstuvwxyz}
${md5:\xc3\xa9}
${sha1:\xff}
${sha256:${md5:abc}}
${sha3_224:}
${sha2_384:}
${base64:${sha256:x}}
${base64:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}
${base64d:YWFh\nYWFh}
${base64d:====}
${base64d:YQ=}
${base64d:Y===}
${base64d:YWJjZA}
${str2b64:\xff}
${hex2b64:00}
${hex2b64:0}
${hexquote:\xff}
${hexquote:a\\b}
${escape:\x7f\x80}
${escape:a"b}
${escape8bit:\xff}
${time_interval:604800}
${time_interval:604799}
${time_interval:1209600}
${time_interval:3599}
${time_interval:61}
${time_interval:00}
${time_interval:1K}
${time_interval: 5}
${time_eval:1W}
${time_eval:1D}
${time_eval:1s1m}
${time_eval:0}
${time_eval:s}
${time_eval:1}
${time_eval:1ms}
${time_eval:5m 5s}
${strlen:${sha256:x}}
${strlen:${rfc2047:caf\xc3\xa9}}
${listcount:${addresses:a@b, c@d, e@f}}
${listnamed:local_domains}
${listnamed_d:nosuch}
${listnamed:}
${listnamed_:local_domains}
${quote_local_part:${local_part:"a b"@c}}
${local_part:${quote_local_part:a b}@c}
${lc:${uc:${lc:MiXeD}}}
${expand:\${expand:\\\${uc:deep\\\}\}}
${expand:${lc:\$PRIMARY_HOSTNAME}}
${eval:${listcount:a:b:c}*${strlen:abcd}}
${eval10:${hex2b64:00}}
