# ${lookup} on single-key and query-style lookups, using the files under data/ (binary databases
# are built from their text sources before each run).  Also lookup-based list matching.
# --- lsearch
${lookup{alpha}lsearch{@DATA@/lsearch.txt}}
${lookup{alpha}lsearch{@DATA@/lsearch.txt}{$value}}
${lookup{alpha}lsearch{@DATA@/lsearch.txt}{found: $value}{not found}}
${lookup{nosuchkey}lsearch{@DATA@/lsearch.txt}{found: $value}{not found}}
${lookup{nosuchkey}lsearch{@DATA@/lsearch.txt}}
${lookup{nosuchkey}lsearch{@DATA@/lsearch.txt}{$value} fail }
${lookup{beta}lsearch{@DATA@/lsearch.txt}}
${lookup{gamma}lsearch{@DATA@/lsearch.txt}}
${lookup{Delta}lsearch{@DATA@/lsearch.txt}}
${lookup{delta}lsearch{@DATA@/lsearch.txt}}
${lookup{DELTA}lsearch{@DATA@/lsearch.txt}{y}{n}}
${lookup{quoted key}lsearch{@DATA@/lsearch.txt}}
${lookup{with"escape}lsearch{@DATA@/lsearch.txt}}
${lookup{colon:key}lsearch{@DATA@/lsearch.txt}}
${lookup{empty}lsearch{@DATA@/lsearch.txt}{[$value]}{not found}}
${lookup{multi}lsearch{@DATA@/lsearch.txt}}
${lookup{dup}lsearch{@DATA@/lsearch.txt}}
${lookup{tab}lsearch{@DATA@/lsearch.txt}}
${lookup{}lsearch{@DATA@/lsearch.txt}{[$value]}{not found}}
${lookup{user@example.com}lsearch{@DATA@/lsearch.txt}}
${lookup{other@example.com}lsearch{@DATA@/lsearch.txt}{$value}{not found}}
${lookup{#}lsearch{@DATA@/lsearch.txt}{$value}{not found}}
${lookup{alpha}lsearch{@DATA@/nonexistent.txt}}
${lookup{alpha}lsearch{@DATA@/nonexistent.txt}{y}{n}}
${lookup{alpha}lsearch{relative.txt}}
${lookup{alpha}lsearch{}}
${lookup{alpha}lsearch{@DATA@/dsearch}}
${lookup{alpha}lsearch}
${lookup{alpha}{@DATA@/lsearch.txt}}
${lookup{alpha}nosuchtype{@DATA@/lsearch.txt}}
${lookup{alpha}lsearch{@DATA@/lsearch.txt}{$value}{nf}{extra}}
${lookup{alpha}lsearch{@DATA@/lsearch.txt}
${lookup{al${uc:p}ha}lsearch{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{${lc:ALPHA}}lsearch{@DATA@/lsearch.txt}}
${lookup{alpha}lsearch{@DATA@/lsearch.txt}{${uc:$value}}}
${lookup{alpha}lsearch{@DATA@/lsearch.txt}{${lookup{beta}lsearch{@DATA@/lsearch.txt}}}}
${lookup{alpha}lsearch{@DATA@/lsearch.txt}{$value/${lookup{beta}lsearch{@DATA@/lsearch.txt}}/$value}}
${lookup{nosuchkey}lsearch{@DATA@/lsearch.txt}{$value}{${lookup{alpha}lsearch{@DATA@/lsearch.txt}}}}
${lookup {alpha} lsearch {@DATA@/lsearch.txt} {$value} {nf}}
# --- lsearch* and lsearch*@ defaults, partial matching, ret=key
${lookup{nosuchkey}lsearch*{@DATA@/lsearch.txt}}
${lookup{alpha}lsearch*{@DATA@/lsearch.txt}}
${lookup{someone@example.com}lsearch*@{@DATA@/lsearch.txt}}
${lookup{someone@elsewhere.org}lsearch*@{@DATA@/lsearch.txt}}
${lookup{user@example.com}lsearch*@{@DATA@/lsearch.txt}}
${lookup{a.b.example.net}partial-lsearch{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{example.net}partial-lsearch{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{x.example.com}partial-lsearch{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{x.example.com}partial0-lsearch{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{a.b.c.example.com}partial2-lsearch{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{x.example.com}partial(+)-lsearch{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{alpha}lsearch,ret=key{@DATA@/lsearch.txt}}
${lookup{Delta}lsearch,ret=key{@DATA@/lsearch.txt}}
${lookup{alpha}lsearch,nosuchopt{@DATA@/lsearch.txt}}
${lookup{alpha}partial-lsearch*{@DATA@/lsearch.txt}}
# --- wildlsearch / nwildlsearch
${lookup{a.example.com}wildlsearch{@DATA@/wild.txt}}
${lookup{123.example.org}wildlsearch{@DATA@/wild.txt}}
${lookup{abc.example.org}wildlsearch{@DATA@/wild.txt}}
${lookup{user42@anything}wildlsearch{@DATA@/wild.txt}}
${lookup{exact.example.org}wildlsearch{@DATA@/wild.txt}}
${lookup{EXACT.example.org}wildlsearch{@DATA@/wild.txt}}
${lookup{x.quoted.test}wildlsearch{@DATA@/wild.txt}}
${lookup{x.quoted.test}nwildlsearch{@DATA@/wild.txt}}
${lookup{*.quoted.test}nwildlsearch{@DATA@/wild.txt}}
${lookup{unmatched}wildlsearch{@DATA@/wild.txt}}
${lookup{a.example.com}nwildlsearch{@DATA@/wild.txt}}
# --- iplsearch
${lookup{192.168.1.77}iplsearch{@DATA@/ip.txt}}
${lookup{10.0.0.1}iplsearch{@DATA@/ip.txt}}
${lookup{10.2.3.4}iplsearch{@DATA@/ip.txt}}
${lookup{2001:db8::1}iplsearch{@DATA@/ip.txt}}
${lookup{::1}iplsearch{@DATA@/ip.txt}}
${lookup{8.8.8.8}iplsearch{@DATA@/ip.txt}}
${lookup{notanip}iplsearch{@DATA@/ip.txt}}
${lookup{192.168.1.0/24}iplsearch{@DATA@/ip.txt}}
# --- dsearch
${lookup{alpha}dsearch{@DATA@/dsearch}}
${lookup{alpha}dsearch{@DATA@/dsearch}{found $value}{nf}}
${lookup{nosuch}dsearch{@DATA@/dsearch}{found $value}{nf}}
${lookup{gamma.txt}dsearch{@DATA@/dsearch}}
${lookup{Mixed.Case}dsearch{@DATA@/dsearch}}
${lookup{mixed.case}dsearch{@DATA@/dsearch}{y}{n}}
${lookup{alpha}dsearch,ret=full{@DATA@/dsearch}}
${lookup{alpha}dsearch,filter=file{@DATA@/dsearch}}
${lookup{alpha}dsearch,filter=dir{@DATA@/dsearch}{y}{n}}
${lookup{../dsearch/alpha}dsearch{@DATA@/dsearch}}
${lookup{a/b}dsearch{@DATA@/dsearch}}
${lookup{alpha}dsearch{@DATA@/nonexistent}}
${lookup{alpha}dsearch{@DATA@/plain.txt}}
${lookup{}dsearch{@DATA@/dsearch}{y}{n}}
# --- cdb
${lookup{alpha}cdb{@DATA@/test.cdb}}
${lookup{beta}cdb{@DATA@/test.cdb}}
${lookup{empty}cdb{@DATA@/test.cdb}{[$value]}{nf}}
${lookup{dup}cdb{@DATA@/test.cdb}}
${lookup{long}cdb{@DATA@/test.cdb}}
${lookup{mixed}cdb{@DATA@/test.cdb}}
${lookup{Mixed}cdb{@DATA@/test.cdb}{y}{n}}
${lookup{nosuch}cdb{@DATA@/test.cdb}{y}{n}}
${lookup{}cdb{@DATA@/test.cdb}{y}{n}}
${lookup{alpha}cdb{@DATA@/nonexistent.cdb}}
${lookup{alpha}cdb{@DATA@/plain.txt}}
${lookup{nosuch}cdb*{@DATA@/test.cdb}{$value}{nf}}
${lookup{x.alpha}partial-cdb{@DATA@/test.cdb}{$value}{nf}}
# --- dbm / dbmnz
${lookup{alpha}dbm{@DATA@/test.dbm}}
${lookup{beta}dbm{@DATA@/test.dbm}}
${lookup{empty}dbm{@DATA@/test.dbm}{[$value]}{nf}}
${lookup{nosuch}dbm{@DATA@/test.dbm}{y}{n}}
${lookup{mixed}dbm{@DATA@/test.dbm}}
${lookup{alpha}dbmnz{@DATA@/test-nz.dbm}}
${lookup{alpha}dbmnz{@DATA@/test.dbm}{y}{n}}
${lookup{alpha}dbm{@DATA@/test-nz.dbm}{y}{n}}
${lookup{alpha}dbm{@DATA@/nonexistent.dbm}}
# --- sqlite
${lookup sqlite{@DATA@/test.sqlite select uid from users where name='alice'}}
${lookup sqlite{@DATA@/test.sqlite select name from users order by uid}}
${lookup sqlite{@DATA@/test.sqlite select name, uid from users where name='bob'}}
${lookup sqlite{@DATA@/test.sqlite select * from users where name='bob'}}
${lookup sqlite{@DATA@/test.sqlite select * from users order by uid}}
${lookup sqlite{@DATA@/test.sqlite select shell from users where name='carol'}{[$value]}{nf}}
${lookup sqlite{@DATA@/test.sqlite select uid from users where name='nobody'}{$value}{nf}}
${lookup sqlite{@DATA@/test.sqlite select uid from users where name='${quote_sqlite:o'brien}'}}
${lookup sqlite{@DATA@/test.sqlite select v from kv where k='greeting'}}
${lookup sqlite{@DATA@/test.sqlite select v from kv where k='empty'}{[$value]}{nf}}
${lookup sqlite{@DATA@/test.sqlite select v from kv where k='multi'}}
${lookup sqlite{@DATA@/test.sqlite select count(*) from users}}
${lookup sqlite{@DATA@/test.sqlite select 1+1}}
${lookup sqlite{@DATA@/test.sqlite select nosuchcolumn from users}}
${lookup sqlite{@DATA@/test.sqlite this is not sql}}
${lookup sqlite{@DATA@/nonexistent.sqlite select 1}}
${lookup sqlite{select 1}}
${lookup sqlite{}}
${lookup sqlite {@DATA@/test.sqlite select 'a:b'}}
${lookup sqlite,file=@DATA@/test.sqlite{select uid from users where name='alice'}}
${lookup{alice}sqlite{@DATA@/test.sqlite}}
# --- passwd (only keys whose answer is the same on every Unix system)
${lookup{root}passwd{$value}{nf}}
${lookup passwd{root}{found}{nf}}
${extract{2}{:}{${lookup passwd{root}}}}
${extract{3}{:}{${lookup passwd{root}}}}
${extract{4}{:}{${lookup passwd{root}}}}
${lookup passwd{postern-golden-no-such-user}{$value}{nf}}
${lookup passwd{}{$value}{nf}}
${lookup passwd{0}{$value}{nf}}
# --- query-style lookups given a key, and vice versa
${lookup{x}dnsdb{a=localhost}}
${lookup dnsdb}
${lookup lsearch{@DATA@/lsearch.txt}}
${lookup{alpha}lsearch{@DATA@/lsearch.txt alpha}}
# --- lookups inside list matching and $value
${if match_domain{example.com}{lsearch;@DATA@/lsearch.txt}{$value}{no}}
${if match_domain{nosuch.example}{lsearch;@DATA@/lsearch.txt}{$value}{no}}
${if match_domain{alpha}{cdb;@DATA@/test.cdb}{$value}{no}}
${if match_domain{x.example.com}{partial-lsearch;@DATA@/lsearch.txt}{$value}{no}}
${if match_domain{a.example.com}{wildlsearch;@DATA@/wild.txt}{$value}{no}}
${if match_domain{alpha}{dsearch;@DATA@/dsearch}{$value}{no}}
${if match_address{user@example.com}{lsearch;@DATA@/lsearch.txt}{$value}{no}}
${if match_address{x@example.com}{lsearch*@;@DATA@/lsearch.txt}{$value}{no}}
${if match_local_part{alpha}{lsearch;@DATA@/lsearch.txt}{$value}{no}}
${if inlist{alpha}{${lookup{nosuch}lsearch{@DATA@/lsearch.txt}{$value}{alpha:beta}}}}
${if match_domain{alice}{sqlite;@DATA@/test.sqlite select 1 from users where name='alice'}{yes}{no}}
${if match_domain{alice}{sqlite;@DATA@/test.sqlite select 1 from users where name='$domain'}{yes}{no}}
${if match_domain{zed}{sqlite;@DATA@/test.sqlite select 1 from users where name='$domain'}{yes}{no}}
# --- caching: the same lookup twice in one expansion
${lookup{alpha}lsearch{@DATA@/lsearch.txt}}-${lookup{alpha}lsearch{@DATA@/lsearch.txt}}
${lookup{alpha}lsearch{@DATA@/lsearch.txt}}-${lookup{alpha}lsearch,ret=key{@DATA@/lsearch.txt}}
# --- more lookup edge cases: options, affixes, quoting of multi-column results
${lookup sqlite{@DATA@/test.sqlite select 'a b' as x, 'c' as y}}
${lookup sqlite{@DATA@/test.sqlite select 'a"b' as x}}
${lookup sqlite{@DATA@/test.sqlite select 'a"b' as x, 1 as y}}
${lookup sqlite{@DATA@/test.sqlite select '' as x, 1 as y}}
${lookup sqlite{@DATA@/test.sqlite select 'a=b' as x, 1 as y}}
${lookup sqlite{@DATA@/test.sqlite select 'a\\b' as x, 1 as y}}
${lookup sqlite{@DATA@/test.sqlite select NULL}}
${lookup sqlite{@DATA@/test.sqlite select 1.5}}
${lookup sqlite{@DATA@/test.sqlite select x'414243'}}
${lookup sqlite{@DATA@/test.sqlite select name from users where uid > 5000}{$value}{none}}
${lookup sqlite{@DATA@/test.sqlite select name from users where uid > 5000}{$value} fail }
${lookup sqlite,file=@DATA@/test.sqlite{select count(*) from kv}}
${lookup sqlite,file=@DATA@/nonexistent-dir/x.sqlite{select 1}}
${lookup sqlite,file=relative.sqlite{select 1}}
${lookup sqlite{@DATA@/test.sqlite select 1; select 2}}
${lookup sqlite{@DATA@/test.sqlite   select 3}}
${lookup{alpha}lsearch,ret=key{@DATA@/lsearch.txt}{[$value]}{nf}}
${lookup{nosuch}lsearch,ret=key{@DATA@/lsearch.txt}{[$value]}{nf}}
${lookup{nosuch}lsearch*,ret=key{@DATA@/lsearch.txt}{[$value]}{nf}}
${lookup{x.example.net}partial-lsearch,ret=key{@DATA@/lsearch.txt}{[$value]}{nf}}
${lookup{alpha}lsearch,cache=no_rd{@DATA@/lsearch.txt}}
${lookup{alpha}lsearch,cache=nosuch{@DATA@/lsearch.txt}}
${lookup{alpha}lsearch,ret=nosuch{@DATA@/lsearch.txt}}
${lookup{alpha}lsearch,{@DATA@/lsearch.txt}}
${lookup{alpha}lsearch ,ret=key{@DATA@/lsearch.txt}}
${lookup{alpha}partial1-lsearch{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{a.b.c.d.example.net}partial3-lsearch{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{b.example.net}partial(*.)lsearch{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{b.example.net}partial()lsearch{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{b.example.net}partial-lsearch*{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{zz.zz}partial-lsearch*{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{u@zz.zz}partial-lsearch*@{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{User@Example.Com}lsearch{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{USER@example.com}lsearch*@{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{@example.com}lsearch*@{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{noat}lsearch*@{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{^user1@x}wildlsearch{@DATA@/wild.txt}{$value}{nf}}
${lookup{user1@x}wildlsearch{@DATA@/wild.txt}{$value}{nf}}
${lookup{USER1@x}wildlsearch{@DATA@/wild.txt}{$value}{nf}}
${lookup{example.com}wildlsearch{@DATA@/wild.txt}{$value}{nf}}
${lookup{9.example.org}nwildlsearch{@DATA@/wild.txt}{$value}{nf}}
${lookup{1.2.3.4}iplsearch{@DATA@/ip.txt}{$value}{nf}}
${lookup{192.168.1.1}iplsearch{@DATA@/ip.txt}{$value}{nf}}
${lookup{192.168.2.1}iplsearch{@DATA@/ip.txt}{$value}{nf}}
${lookup{2001:db8:ffff::1}iplsearch{@DATA@/ip.txt}{$value}{nf}}
${lookup{2001:db9::1}iplsearch{@DATA@/ip.txt}{$value}{nf}}
${lookup{::ffff:10.0.0.1}iplsearch{@DATA@/ip.txt}{$value}{nf}}
${lookup{}iplsearch{@DATA@/ip.txt}{$value}{nf}}
${lookup{alpha}dsearch,ret=full{@DATA@/dsearch}{$value}{nf}}
${lookup{nosuch}dsearch,ret=full{@DATA@/dsearch}{$value}{nf}}
${lookup{alpha}dsearch,filter=nodots{@DATA@/dsearch}{$value}{nf}}
${lookup{gamma.txt}dsearch,filter=nodots{@DATA@/dsearch}{$value}{nf}}
${lookup{.}dsearch{@DATA@/dsearch}{$value}{nf}}
${lookup{..}dsearch{@DATA@/dsearch}{$value}{nf}}
${lookup{.}dsearch,filter=nodots{@DATA@/dsearch}{$value}{nf}}
${lookup{.}dsearch,filter=dir{@DATA@/dsearch}{$value}{nf}}
${lookup{alpha}dsearch,filter=subdir{@DATA@/dsearch}{$value}{nf}}
${lookup{alpha}dsearch,filter=nosuch{@DATA@/dsearch}{$value}{nf}}
${lookup{alpha}dsearch,ret=nosuch{@DATA@/dsearch}{$value}{nf}}
${lookup{alpha}cdb,ret=key{@DATA@/test.cdb}{$value}{nf}}
${lookup{alpha}dbm,ret=key{@DATA@/test.dbm}{$value}{nf}}
${lookup{alpha}dbmjz{@DATA@/test.dbm}{$value}{nf}}
${lookup{al:pha}dbmjz{@DATA@/test.dbm}{$value}{nf}}
${lookup{alpha}lsearch{@DATA@/lsearch.txt}{${quote_lsearch:$value}}}
${lookup{${quote_lsearch:alpha}}lsearch{@DATA@/lsearch.txt}}
${lookup sqlite{@DATA@/test.sqlite select '${quote_sqlite:it's}'}}
${lookup sqlite{@DATA@/test.sqlite select '${quote_sqlite:a''b}'}}
${lookup{alpha}lsearch{@DATA@/lsearch.txt}{$value}{nf}}${lookup{nosuch}lsearch{@DATA@/lsearch.txt}{$value}{nf}}
${lookup{alpha}lsearch{@DATA@/lsearch.txt}{${lookup{nosuch}lsearch{@DATA@/lsearch.txt}{in:$value}{out:$value}}}}
${if eq{${lookup{alpha}lsearch{@DATA@/lsearch.txt}}}{one}{yes}{no}}
${lookup{${lookup{beta}cdb{@DATA@/test.cdb}{alpha}}}lsearch{@DATA@/lsearch.txt}}
${lookup{alpha}lsearch{@DATA@/lsearch.txt}{$value} fail}
${lookup{nosuch}lsearch{@DATA@/lsearch.txt}{$value} fail}
${lookup{nosuch}lsearch{@DATA@/lsearch.txt}{$value}{${if eq{a}{b}{x} fail }}}
