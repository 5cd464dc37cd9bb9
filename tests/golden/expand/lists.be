# List syntax as seen through expansion: separators, <c changes, doubled separators, empty items,
# white space trimming, nested lists, named lists, and the list items and conditions.
${listcount:a:b:c}
${listcount:a : b : c}
${listcount:  a  :  b  }
${listcount:a::b}
${listcount:a::::b}
${listcount:a:::b}
${listcount::a}
${listcount:a: :b}
${listcount:<;a;b;c}
${listcount:<; a;b ; c}
${listcount:<;a:b;c}
${listcount:<;}
${listcount:<}
${listcount:<a}
${listcount:< a}
${listcount:<,}
${listcount:<, a,,b}
${listcount:<\n a\nb}
${listcount:<|a|b|c}
${listcount:<.a.b}
${listcount:<<a<b}
${listcount:<1a1b}
${listcount: <;a;b}
${listcount:<;a;;b;c}
${map{a:b:c}{<$item>}}
${map{a : b : c}{<$item>}}
${map{ a:b }{<$item>}}
${map{a::b:c}{<$item>}}
${map{a:::b}{<$item>}}
${map{a: :b}{<$item>}}
${map{:a}{<$item>}}
${map{a:}{<$item>}}
${map{<;a;b;c}{<$item>}}
${map{<; a ; b }{<$item>}}
${map{<;a:b;c}{<$item>}}
${map{<;a;;b}{<$item>}}
${map{<,a,b}{<$item>}}
${map{<, a , b }{<$item>}}
${map{<|a|b}{<$item>}}
${map{<-a-b}{<$item>}}
${map{<;}{<$item>}}
${map{<}{<$item>}}
${map{< ;a;b}{<$item>}}
${map{<:a:b}{<$item>}}
${map{<::a}{<$item>}}
${listextract{1}{<;a;b}}
${listextract{2}{<; a ; b }}
${listextract{-1}{<,a,b,c}}
${listextract{2}{a::b:c}}
${listextract{1}{ : }}
${filter{<;a;b;c}{!eq{$item}{b}}}
${filter{<,a,b,c}{!eq{$item}{b}}}
${filter{a::b:c}{eq{$item}{a:b}}}
${reduce{<,1,2,3}{0}{${eval:$value+$item}}}
${reduce{<;a;;b}{}{$value[$item]}}
${sort{<,c,a,b}{lt}{$item}}
${sort{<;c;a::x;b}{lt}{$item}}
${sort{a::x:b}{lt}{$item}}
${if inlist{a:b}{a::b:c}}
${if inlist{a}{<;a;b}}
${if inlist{a;b}{<;a;;b}}
${if forany{<,a,b}{eq{$item}{b}}}
${if forall{<|a|a}{eq{$item}{a}}}
# --- nested lists: a list of lists with different separators
${map{<;a:b;c:d}{${listcount:$item}}}
${map{<;a:b;c:d}{${map{$item}{[$item]}}}}
${map{<;1,2;3,4}{${reduce{<,$item}{0}{${eval:$value+$item}}}}}
${reduce{<;a:b;c}{}{$value${listcount:$item}}}
${map{a::b:c}{${listcount:$item}}}
${listcount:${map{a:b}{$item}}}
${listcount:${map{a::b:c}{$item}}}
${listquote{:}{a:b}}
${listcount:${listquote{:}{a:b}}:c}
${map{${listquote{:}{a:b}}:c}{<$item>}}
${map{<;${listquote{;}{x;y}};z}{<$item>}}
${listquote{,}{a,,b}}
${listquote{|}{}}
${map{${listquote{:}{}}:x}{<$item>}}
# --- named lists and +name references
${listnamed:local_domains}
${listcount:${listnamed:local_domains}}
${map{${listnamed:local_domains}}{<$item>}}
${listnamed:admins}
${listnamed_l:admins}
${listnamed_a:admins}
${listnamed_d:relay_hosts}
${listnamed:specials}
${if match_domain{example.com}{+local_domains}}
${if match_domain{example.net}{+local_domains}}
${if match_domain{example.net}{!+local_domains}}
${if match_domain{example.net}{example.net : +local_domains}}
${if match_domain{x.local.example}{+local_domains}{$value}}
${if match_ip{192.168.5.5}{+relay_hosts}}
${if match_ip{10.0.0.1}{!+relay_hosts : *}}
${if match_address{root@example.org}{+admins}}
${if match_local_part{abuse}{+specials}}
${if match_local_part{ABUSE}{+specials}}
${if match_domain{a}{+local_domains : +relay_domains}}
${if inlist{example.com}{${listnamed:local_domains}}}
# --- matching list items of every kind
${if match_domain{a.b}{a.b}}
${if match_domain{A.B}{a.b}}
${if match_domain{a.b}{^a\\.b\$}}
${if match_domain{a.b}{\N^a\.b$\N}}
${if match_domain{a.b}{*}}
${if match_domain{a.b}{*.b}}
${if match_domain{b}{*.b}}
${if match_domain{xb}{*b}}
${if match_domain{a.b}{!a.b}}
${if match_domain{a.b}{!*.b : a.b}}
${if match_domain{a.b}{a.b : !a.b}}
${if match_domain{a.b}{}}
${if match_domain{}{}}
${if match_domain{}{:}}
${if match_domain{mail.example.org}{@}}
${if match_domain{other}{@}}
${if match_domain{mail.example.org}{@[]}}
${if match_domain{[127.0.0.1]}{@[]}}
${if match_domain{a.b}{<; a.b ; c.d}}
${if match_ip{1.2.3.4}{1.2.3.0/24}}
${if match_ip{1.2.3.4}{1.2.4.0/24}}
${if match_ip{1.2.3.4}{1.2.3.4}}
${if match_ip{1.2.3.4}{<; 1.2.3.4}}
${if match_ip{::1}{::1}}
${if match_ip{::1}{<; ::1}}
${if match_ip{2001:db8::1}{<; 2001:db8::/48}}
${if match_ip{2001:db8::1}{2001:db8::/48}}
${if match_ip{1.2.3.4}{@[]}}
${if match_ip{1.2.3.4}{!1.2.3.0/24 : 1.2.3.4}}
${if match_ip{1.2.3.4}{0.0.0.0/0}}
${if match_ip{1.2.3.4}{1.2.3.4/32}}
${if match_ip{1.2.3.4}{1.2.3.5/31}}
${if match_ip{1.2.3.4}{1.2.3.4/abc}}
${if match_local_part{abc}{abc}}
${if match_local_part{abc}{ABC}}
${if match_local_part{abc}{^A}}
${if match_local_part{a.b}{*.b}}
${if match_local_part{abc}{!^a : *}}
${if match_address{a@b.c}{a@b.c}}
${if match_address{a@b.c}{A@b.c}}
${if match_address{a@b.c}{a@B.C}}
${if match_address{a@b.c}{*@b.c}}
${if match_address{a@b.c}{a@*}}
${if match_address{a@b.c}{@b.c}}
${if match_address{a@b.c}{b.c}}
${if match_address{a@b.c}{*b.c}}
${if match_address{a@b.c}{a@*.c}}
${if match_address{a@b.c}{^a@}}
${if match_address{a@b.c}{@@lsearch;@DATA@/lsearch.txt}}
${if match_address{a@b.c}{!a@b.c : *}}
${if match_address{a@b.c}{<; a@b.c ; x@y}}
${if match_address{a@b.c}{a@b.c:x@y}}
${if match_address{a@b.c}{a@[1.2.3.4]}}
${if match_address{a@b.c}{}}
${if match_address{<>}{<>}}
${if match_address{}{:}}
