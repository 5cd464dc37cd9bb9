# Backslash escapes, \N...\N protection, literal text, white space, unicode and 8-bit data.
plain text
  leading spaces kept
trailing spaces kept   |
tab	inside
\t\n\r
a\tb
a\nb
a\rb
\\
\$
\{\}
\x
\q
\0
\1
\12
\101
\1011
\x41
\x4
\x4142
\xg
\u00e9
\N
\N\N
\Nliteral $x ${uc:y} \\ \N
\Nunterminated $x
a\Nb\Nc
${uc:\N$x\N}
${uc:\N}\N}
${if eq{\N$\N}{\$}{same}{diff}}
${sg{a.b}{\N\.\N}{\N-\N}}
${sg{a1b22}{\N\d+\N}{<\$0>}}
${sg{a1b22}{\\d+}{<\$0>}}
${length_2:\N\N\N}
$\N
\$primary_hostname
$primary_hostname\
x
\
y
# --- continuation lines (a trailing backslash joins the next line, stripping its leading space)
one \
  two
one\
two
one \
   \
  three
${uc:con\
  tinued}
${if eq{a}\
      {a}\
      {yes}\
      {no}}
ends with two backslashes \\
next line
# --- braces and dollars in literal text
a { b } c
}
{
{}
a}b
{$primary_hostname}
$primary_hostname{x}
# --- unicode and 8-bit
caf\xc3\xa9
café
日本語
${uc:café}
${lc:CAFÉ}
${strlen:日本語}
${length_1:日本語}
${substr_0_3:日本語}
${hash_2:日本語}
${md5:café}
${sha1:日本語}
${base64:日本語}
${escape:日本語}
${hexquote:日本語}
${utf8clean:日本語}
${rfc2047:日本語}
${rfc2047d:=?UTF-8?B?5pel5pys6Kqe?=}
${if eq{café}{caf\xc3\xa9}{same}{diff}}
${if match{日本語}{\N^.{3}$\N}{three chars}{not three}}
${if match{日本語}{\N(*UTF)^.{3}$\N}{three chars}{not three}}
${tr{café}{é}{e}}
${sg{naïve}{ï}{i}}
${quote:café}
${quote_local_part:café}
${address:café@example.com}
${domain:user@bücher.example}
${utf8_domain_to_alabel:日本語.example}
${utf8_domain_from_alabel:xn--wgv71a119e.example}
${listcount:é:ü:ö}
${map{é:ü}{[$item]}}
\xff\xfe
${utf8clean:\xff\xfe}
${from_utf8:日本語}
