# Expansion conditions inside ${if ...}.  ${if cond} yields "true" or "" which shows the value.
# --- numeric comparisons
${if <{1}{2}}
${if <{2}{1}}
${if <{-1}{0}}
${if <={2}{2}}
${if <={3}{2}}
${if ={2}{2}}
${if ={2}{02}}
${if =={2}{2}}
${if =={2}{3}}
${if >{10M}{9999999}}
${if >{1K}{1023}}
${if ={1K}{1024}}
${if ={1M}{1048576}}
${if ={1G}{1073741824}}
${if ={1k}{1024}}
${if >={5}{5}}
${if >={4}{5}}
${if ={0x10}{16}}
${if ={010}{8}}
${if ={}{0}}
${if <{abc}{1}}
${if <{1}{2x}}
${if <{1}}
${if <{1}{2}{3}}
${if ={9223372036854775807}{9223372036854775807}}
${if ={9223372036854775808}{0}}
${if < {1} {2} {y}{n}}
${if <{ 1}{2 }}
# --- bool / bool_lax
${if bool{true}}
${if bool{yes}}
${if bool{TRUE}}
${if bool{false}}
${if bool{no}}
${if bool{1}}
${if bool{0}}
${if bool{42}}
${if bool{-1}}
${if bool{}}
${if bool{ true }}
${if bool{maybe}}
${if bool_lax{true}}
${if bool_lax{false}}
${if bool_lax{no}}
${if bool_lax{maybe}}
${if bool_lax{}}
${if bool_lax{0}}
${if bool_lax{00}}
${if bool_lax{ }}
# --- crypteq
${if crypteq{test}{\{md5\}CY9rzUYh03PK3k6DJie09g==}{yes}{no}}
${if crypteq{test}{\{md5\}098f6bcd4621d373cade4e832627b4f6}{yes}{no}}
${if crypteq{wrong}{\{md5\}CY9rzUYh03PK3k6DJie09g==}{yes}{no}}
${if crypteq{test}{\{sha1\}qUqP5cyxm6YcTAhz05Hph5gvu9M=}{yes}{no}}
${if crypteq{test}{\{sha1\}a94a8fe5ccb19ba61c4c0873d391e987982fbbd3}{yes}{no}}
${if crypteq{test}{\{crypt\}aaqPiZY5xR5l.}{yes}{no}}
${if crypteq{test}{aaqPiZY5xR5l.}{yes}{no}}
${if crypteq{test}{\{crypt16\}aaqPiZY5xR5l.}{yes}{no}}
${if crypteq{test}{\{nosuch\}xyz}{yes}{no}}
${if crypteq{test}{\{md5\}short}{yes}{no}}
${if crypteq{test}{}{yes}{no}}
${if crypteq{test}{\$1\$abcdefgh\$LwDVJFkRMmlO57HdaR91u0}{yes}{no}}
${if crypteq{test}{\N$1$abcdefgh$LwDVJFkRMmlO57HdaR91u0\N}{yes}{no}}
# --- def
${if def:primary_hostname}
${if def:qualify_recipient}
${if def:sender_host_address}
${if def:nosuchvariable}
${if def:header_from:}
${if def:h_subject:}
${if def:authenticated_id}
${if def:acl_m0}
${if def:}
${if def:$primary_hostname}
${if def: primary_hostname}
# --- eq / eqi / ge / gei / gt / gti / le / lei / lt / lti (string comparisons)
${if eq{abc}{abc}}
${if eq{abc}{ABC}}
${if eq{}{}}
${if eq{a }{a}}
${if eqi{abc}{ABC}}
${if eqi{abc}{abd}}
${if ge{b}{a}}
${if ge{a}{a}}
${if ge{a}{b}}
${if gei{B}{a}}
${if gt{b}{a}}
${if gt{a}{a}}
${if gti{B}{a}}
${if gti{a}{A}}
${if le{a}{b}}
${if le{b}{b}}
${if lei{A}{b}}
${if lt{a}{b}}
${if lt{B}{a}}
${if lti{B}{a}}
${if lt{10}{9}}
${if eq{caf\xc3\xa9}{caf\xc3\xa9}}
${if eqi{CAF\xc3\x89}{caf\xc3\xa9}}
${if eq{a}}
${if eq{a}{b}{c}{d}{e}}
${if eq a b}
# --- exists
${if exists{@DATA@/plain.txt}}
${if exists{@DATA@/dsearch}}
${if exists{@DATA@/nonexistent}}
${if exists{}}
${if exists{relative}}
# --- first_delivery / queue_running (no message in -be)
${if first_delivery}
${if queue_running}
${if first_delivery{yes}{no}}
# --- forall / forany
${if forall{a:b:c}{match{$item}{^[a-c]\$}}}
${if forall{a:b:x}{match{$item}{^[a-c]\$}}}
${if forany{a:b:x}{eq{$item}{x}}}
${if forany{a:b:c}{eq{$item}{x}}}
${if forall{}{eq{$item}{x}}}
${if forany{}{eq{$item}{x}}}
${if forall{<; a;b}{!eq{$item}{c}}}
${if forany{1:2:3}{>{$item}{2}}}
${if forany{a:b}}
${if forany{a:b}{nosuchcond{x}}}
${if forall{a:b}{eq{$item}{a}}{yes}{no}}
${if forany{a::b:c}{eq{$item}{a:b}}}
# --- forall_json / forany_json / forall_jsons / forany_jsons
${if forany_json{[1,2,3]}{eq{$item}{2}}}
${if forall_json{[1,2,3]}{<{$item}{4}}}
${if forany_json{["a","b"]}{eq{$item}{"a"}}}
${if forany_jsons{["a","b"]}{eq{$item}{a}}}
${if forall_jsons{["a","b"]}{eq{$item}{a}}}
${if forany_json{[]}{eq{$item}{1}}}
# --- inbound_srs
${if inbound_srs{SRS0=abcd=ab=example.com=user}{secret}}
${if inbound_srs{plainuser}{secret}}
${if inbound_srs{SRS0=abcd=ab=example.com=user}{}}
# --- inlist / inlisti
${if inlist{needle}{foo:needle:bar}}
${if inlisti{Needle}{fOo:NeeDLE:bAr}}
${if inlist{Needle}{foo:needle:bar}}
${if inlist{x}{}}
${if inlist{}{a::b}}
${if inlist{a:b}{a::b:c}}
${if inlist{b}{<; a;b;c}}
${if inlist {42} {0 : 1 : 42} {$value}}
${if inlist{*}{a:b}}
${if inlist{a}{*}}
# --- isip / isip4 / isip6
${if isip{192.168.1.1}}
${if isip{::1}}
${if isip{2001:db8::1}}
${if isip{256.1.1.1}}
${if isip{1.2.3}}
${if isip{}}
${if isip{abc}}
${if isip4{192.168.1.1}}
${if isip4{::1}}
${if isip4{01.02.03.04}}
${if isip6{::1}}
${if isip6{192.168.1.1}}
${if isip6{::ffff:1.2.3.4}}
${if isip6{1:2:3:4:5:6:7:8:9}}
${if isip{1.2.3.4/24}}
# --- match
${if match{abc}{b}}
${if match{abc}{^b}}
${if match{abc}{^a(b)c\$}{$1}}
${if match{abc}{^(a)(b)(c)\$}{$3$2$1}}
${if match{abc}{\N^\w+$\N}}
${if match{abc}{[}}
${if match{}{^\$}}
${if match{abc}{}}
${if match{ABC}{(?i)abc}}
${if match{caf\xc3\xa9}{\N^caf.$\N}}
${if match{a.b}{a\\.b}}
${if match{axb}{a\\.b}}
${if match{abc}{(b)}{$0}}
${if match{abc}{b}{$1}}
# --- match_address / match_domain / match_ip / match_local_part
${if match_address{user@example.org}{*@example.org}}
${if match_address{user@example.org}{user@*}}
${if match_address{user@example.org}{+admins}}
${if match_address{postmaster@example.org}{+admins}}
${if match_address{user@example.org}{!user@example.org : *}}
${if match_address{User@Example.ORG}{user@example.org}}
${if match_address{user@example.org}{^us.*@example\\.org\$}}
${if match_address{notanaddress}{*}}
${if match_address{user@example.org}{+nosuchlist}}
${if match_domain{a.b.c}{x.y.z:a.b.c:p.q.r}{yes}{no}}
${if match_domain{a.b.c}{x.y.z:p.q.r}{yes}{no}}
${if match_domain{example.org}{+local_domains}{$value}{no}}
${if match_domain{sub.local.example}{+local_domains}}
${if match_domain{other.example}{+relay_domains}}
${if match_domain{x.wild.example}{+relay_domains}}
${if match_domain{unlisted.example}{+relay_domains}}
${if match_domain{EXAMPLE.ORG}{example.org}}
${if match_domain{a.example.com}{*.example.com}}
${if match_domain{example.com}{*.example.com}}
${if match_domain{example.com}{*example.com}}
${if match_domain{abc.example}{^a.c\\.example\$}}
${if match_domain{mail.example.org}{@}}
${if match_domain{x.example}{!x.example : *}}
${if match_domain{x.example}{lsearch;@DATA@/domains.txt}}
${if match_domain{listed.example}{lsearch;@DATA@/domains.txt}}
${if match_domain{listed.example}{partial-lsearch;@DATA@/domains.txt}}
${if match_domain{a.b.wild.example}{partial-lsearch;@DATA@/domains.txt}}
${if match_domain{x}{+nosuchlist}}
${if match_ip{192.168.1.1}{192.168.0.0/16}}
${if match_ip{192.168.1.1}{10.0.0.0/8}}
${if match_ip{192.168.1.1}{1.2.3.4:5.6.7.8}{yes}{no}}
${if match_ip{192.168.1.1}{+relay_hosts}}
${if match_ip{::1}{+relay_hosts}}
${if match_ip{::1}{<; ::1}}
${if match_ip{2001:db8::5}{<; 2001:db8::/32}}
${if match_ip{1.2.3.4}{*}}
${if match_ip{1.2.3.4}{!1.2.3.4 : *}}
${if match_ip{notanip}{1.2.3.4}}
${if match_ip{1.2.3.4}{1.2.3.4/33}}
${if match_ip{10.0.0.1}{iplsearch;@DATA@/ip.txt}}
${if match_ip{10.9.9.9}{net8-iplsearch;@DATA@/ip.txt}}
${if match_ip{1.2.3.4}{}}
${if match_local_part{alice}{alice : bill : charlotte : dave}{$value}}
${if match_local_part{Alice}{alice : bill}}
${if match_local_part{postmaster}{+specials}}
${if match_local_part{nobody}{+specials}}
${if match_local_part{abc}{^a}}
${if match_local_part{abc}{*c}}
${if match_local_part{abc}{!abc : *}}
# --- and / or
${if and{{eq{a}{a}}{eq{b}{b}}}}
${if and{{eq{a}{a}}{eq{b}{c}}}}
${if and{}}
${if or{{eq{a}{b}}{eq{b}{b}}}}
${if or{{eq{a}{b}}{eq{b}{c}}}}
${if or{}}
${if or {{eq{$local_part}{spqr}}{eq{$domain}{testing.com}}}{yes}{no}}
${if and{{eq{a}{a}}{nosuch{x}}}}
${if or{{eq{a}{a}}{${nosuchop:x}}}}
${if and{{eq{a}{b}}{eq{${nosuchop:x}}{y}}}}
${if or{{eq{a}{a}}{eq{$nosuchvar}{y}}}}
${if and{eq{a}{a}}}
${if and{{eq{a}{a}}}
${if !and{{eq{a}{a}}{eq{a}{b}}}}
${if and{{or{{eq{1}{2}}{eq{2}{2}}}}{!eq{3}{4}}}}
# --- acl condition (ACLs from default.conf)
${if acl{{golden_accept}}{yes}{no}}
${if acl{{golden_accept}{a}{b}}{yes:$value}{no}}
${if acl{{golden_deny}{a}}{yes}{no:$value}}
${if acl{{golden_defer}}{yes}{no}}
${if acl{{golden_cond}{yes}}}
${if !acl{{golden_cond}{no}}}
${if acl{{nosuch}}}
${if acl{{nosuch}{arg1}}{yes}{no}}
${if acl{nosuch}{yes}{no}}
${if acl{}}
# --- authentication conditions that need external services (errors are deterministic)
${if pam{user:password}}
${if saslauthd{{user}{password}}}
${if pwcheck{user:password}}
${if radius{user password}}
${if ldapauth{ldap:///nosuch}}
# --- negation and malformed conditions
${if !{a}}
${if !}
${if eq{a}{a}{yes}{no}}}
# --- more condition edge cases
${if isip{1.2.3.04}}
${if isip{01.2.3.4}}
${if isip{1.2.3.4.}}
${if isip{ 1.2.3.4}}
${if isip{1.2.3.4 }}
${if isip{0.0.0.0}}
${if isip{255.255.255.255}}
${if isip{1.2.3.256}}
${if isip{::}}
${if isip{:::}}
${if isip{::1::}}
${if isip{fe80::1%eth0}}
${if isip{[1.2.3.4]}}
${if isip{1:2:3:4:5:6:1.2.3.4}}
${if isip{1:2:3:4:5:6:7:1.2.3.4}}
${if isip6{::1.2.3.4}}
${if isip4{::ffff:1.2.3.4}}
${if isip6{ABCD::EF01}}
${if isip6{g::1}}
${if isip6{12345::1}}
${if inlisti{\xc3\xa9}{\xc3\x89}}
${if inlisti{ABC}{abc}}
${if inlist{ a }{a}}
${if inlist{a}{ a }}
${if inlist{a:}{a::}}
${if inlist{}{}}
${if inlist{}{:}}
${if inlist{x}{<, x , y}}
${if eq{${if inlist{b}{a:b:c}{$value}}}{b}{value set}{value not set}}
${if match{aXbXc}{X(.)X}{$1}}
${if match{abc}{\N^(?<first>a)\N}{$1}}
${if match{abc}{\N(.)(.)(.)(.)?\N}{[$1$2$3$4]}}
${if match{abc}{a}{$0}}
${if match{line1\nline2}{^line2}{m}{nm}}
${if match{line1\nline2}{(?m)^line2}{m}{nm}}
${if match{a.b}{\N\.\N}}
${if match{a}{\N(\N}}
${if match{caf\xc3\xa9}{\N^caf\x{e9}$\N}}
${if match{caf\xc3\xa9}{\N(*UTF)^caf\x{e9}$\N}}
${if eq{1}{01}}
${if ={1}{01}}
${if ={ 1 }{1}}
${if ={1 }{1}}
${if ={-1}{-01}}
${if ={1024}{1k}}
${if =={ }{0}}
${if <{-9223372036854775807}{9223372036854775807}}
${if bool{ yes }}
${if bool{YES}}
${if bool{no }}
${if bool{1 }}
${if bool{ 0}}
${if bool{00}}
${if bool{0x0}}
${if bool{-0}}
${if bool{ }}
${if bool_lax{FALSE}}
${if bool_lax{ false }}
${if bool_lax{ no}}
${if bool_lax{yes}}
${if bool_lax{-0}}
${if def:tod_log}
${if def:tod_epoch}
${if def:pid}
${if def:compile_date}
${if def:exim_version}
${if def:value}
${if def:item}
${if def:domain}
${if def:local_part}
${if def:runrc}
${if def:acl_c0}
${if def:recipients}
${if def:message_body}
${if def:tls_in_cipher}
${if def:spool_directory}
${if def:header_x}
${if def:rheader_subject:}
${if def:bheader_subject:}
${if def:lheader_subject:}
${if def:h_subject}
${if def:sender_address}
${if def:sender_rate_xyz}
${if def:auth1}
${if def:acl_narg}
${if def:config_dir}
${if exists{@DATA@/}}
${if exists{@DATA@/dsearch/alpha}}
${if exists{@DATA@/dsearch/alpha/}}
${if exists{@DATA@/../data/plain.txt}}
${if exists{/}}
${if exists{@DATA@/plain.txt}{exists}{missing}}
${if first_delivery{y}{n}}
${if queue_running{y}{n}}
${if and{{bool{yes}}{bool{true}}{bool{1}}}}
${if or{{bool{no}}{bool{false}}{bool{0}}}}
${if and{{eq{1}{1}}{eq{2}{2}}{eq{3}{3}}{eq{4}{4}}{eq{5}{5}}}}
${if or{{eq{1}{2}}{eq{2}{3}}{eq{3}{4}}{eq{4}{5}}{eq{5}{5}}}}
${if and{ {eq{a}{a}} {eq{b}{b}} }}
${if and {{eq{a}{a}}}}
${if or{{!eq{a}{a}}{!!eq{a}{a}}}}
${if !or{{eq{a}{b}}}}
${if and{{match{abc}{(b)}}{eq{$1}{b}}}{captured $1}{no}}
${if or{{match{abc}{(x)}}{match{abc}{(c)}}}{captured $1}{no}}
${if forany{a:b:c}{match{$item}{(b)}}{got $1}{no}}
${if forall{a:b:c}{match{$item}{^(.)\$}}{last $1}{no}}
${if forall{1:2:3}{>{$item}{0}}{all positive}{not all}}
${if forany{<; 1;2;3}{={$item}{2}}{$item}{no}}
${if forall_json{[]}{eq{$item}{1}}}
${if forany_json{[\{"a":1\},\{"a":2\}]}{eq{${extract json{a}{$item}}}{2}}}
${if forall_jsons{["x","x"]}{eq{$item}{x}}}
${if forany_jsons{[1,2]}{eq{$item}{1}}}
${if forany_json{["a\\"b"]}{eq{$item}{"a\\"b"}}}
${if crypteq{}{}{y}{n}}
${if crypteq{test}{\{md5\}}{y}{n}}
${if crypteq{test}{\{MD5\}CY9rzUYh03PK3k6DJie09g==}{y}{n}}
${if crypteq{test}{\{SHA1\}qUqP5cyxm6YcTAhz05Hph5gvu9M=}{y}{n}}
${if crypteq{test}{\{crypt\}}{y}{n}}
${if crypteq{test}{\{crypt\}\$6\$salt\$}{y}{n}}
${if crypteq{abc}{\{md5\}900150983cd24fb0d6963f7d28e17f72}{y}{n}}
${if crypteq{abc}{\{md5\}900150983CD24FB0D6963F7D28E17F72}{y}{n}}
${if crypteq{abc}{\{sha1\}A9993E364706816ABA3E25717850C26C9CD0D89D}{y}{n}}
${if crypteq{abc}{\{sha1\}a9993e364706816aba3e25717850c26c9cd0d89d}{y}{n}}
