# -bem mode (taint.msg is the message): header and body values are tainted, so using them as file
# names fails; using them as lookup keys is fine.  Also the message header variables.
$h_subject:
[$h_x-key:]
[$h_X-KEY:]
[$header_x-key:]
[$rh_x-multi:]
[$h_x-multi:]
[$bh_x-multi:]
[$lh_x-multi:]
[$h_x-encoded:]
[$rh_x-encoded:]
[$bh_x-encoded:]
[$h_to:]
[$h_cc:]
[$h_reply-to:]
[$h_nosuch:]
${if def:h_subject:{yes}{no}}
${if def:h_nosuch:{yes}{no}}
${addresses:$h_to:}
${address:$h_from:}
${domain:$h_from:}
${local_part:$h_from:}
[$message_body]
[$message_body_end]
[$message_body_size]
[$message_linecount]
[$body_linecount]
[$message_size]
[$sender_address]
[$recipients]
[$recipients_count]
[$message_headers]
${lookup{$h_subject:}lsearch{@DATA@/lsearch.txt}}
${lookup{$h_x-key:}lsearch{@DATA@/lsearch.txt}}
${lookup{$h_x-key:}cdb{@DATA@/test.cdb}}
${lookup{$h_subject:}dsearch{@DATA@/dsearch}{found}{nf}}
${lookup{alpha}lsearch{@DATA@/$h_x-file:}}
${lookup{alpha}lsearch{@DATA@/$h_x-file:}{y}{n}}
${lookup{alpha}dsearch{@DATA@/$h_x-dir:}{y}{n}}
${lookup{alpha}cdb{@DATA@/$h_x-file:}{y}{n}}
${readfile{@DATA@/$h_x-file:}}
${readfile{@DATA@/$h_subject:}}
${if exists{@DATA@/$h_x-file:}}
${extract{size}{${stat:@DATA@/$h_x-file:}}}
${lookup sqlite{@DATA@/test.sqlite select uid from users where name='$h_x-key:'}{$value}{nf}}
${lookup sqlite{@DATA@/test.sqlite select uid from users where name='${quote_sqlite:$h_x-key:}'}{$value}{nf}}
${lookup{alpha}lsearch{${sg{@DATA@/$h_x-file:}{x}{x}}}}
${lookup{alpha}lsearch{@DATA@/lsearch.txt}{$h_subject:-$value}}
${uc:$h_subject:}
${if eq{$h_subject:}{alpha}{untainted compare ok}{no}}
${sg{$h_subject:}{a}{A}}
${run{/bin/echo $h_subject:}}
${perl{x}{$h_subject:}}
${if match_domain{$h_x-key:}{lsearch;@DATA@/lsearch.txt}{$value}{no}}
