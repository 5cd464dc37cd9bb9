# Syntax and runtime errors: wording of every "Failed:" message matters.  Also forced failure,
# skipped branches (errors inside untaken branches are not reported) and deep nesting.
${
${}
${ }
${{}
${}}
$}
${uc
${uc:
${uc:x
${uc:x}}
${uc:{x}
${uc:${lc:X}
${uc:${lc:X}}}
${unknown}
${unknown:x}
${unknown{x}}
${unknown x}
${if
${if eq
${if eq{a
${if eq{a}
${if eq{a}{b
${if eq{a}{b}
${if eq{a}{b}{
${if eq{a}{b}{c
${if eq{a}{b}{c}
${if eq{a}{b}{c}{
${if eq{a}{b}{c}{d
${if eq{a}{b}{c}{d}
${if eq{a}{b}{c}{d}}
${if eq{a}{b} {c} {d} }
${if eq{a}{b}{c}fail}
${if eq{a}{b}{c} fail}
${if eq{a}{b}{c} failx }
${if eq{a}{b}{c} FAIL }
${if eq{a}{b}{c} fail x}
${if eq{a}{a}{c} fail}
${if eq{a}{b}fail}
${if eq{a}{b} fail }
${lookup{a}lsearch{/dev/null}{x} fail }
${lookup{a}lsearch{/dev/null} fail }
${extract{a}{b=1}{x} fail }
${if eq{a}{b}{${if eq{1}{1}{x} fail }}{not taken}}
${if eq{a}{a}{${if eq{1}{2}{x} fail }}{not taken}}
${if eq{a}{b}{${unknown:x}}{ok}}
${if eq{a}{a}{ok}{${unknown:x}}}
${if eq{a}{a}{ok}{${if}}}
${if eq{a}{b}{${lookup{x}nosuchtype{/x}}}{ok}}
${if eq{a}{b}{${readfile{/nonexistent}}}{ok}}
${if eq{a}{b}{${run{/nonexistent}}}{ok}}
${if eq{a}{b}{$nosuchvar}{ok}}
${if eq{a}{b}{${eval:1/0}}{ok}}
${if eq{a}{a}{${eval:1/0}}{ok}}
${if eq{a}{b}{${sg{a}{(}{x}}}{ok}}
${if eq{a}{b}{${if match{a}{(}}}{ok}}
${if or{{eq{a}{a}}{match{a}{(}}}{ok}{no}}
${if and{{eq{a}{b}}{match{a}{(}}}{ok}{no}}
${if and{{eq{a}{a}}{match{a}{(}}}{ok}{no}}
${map{}{${unknown:x}}}
${filter{}{eq{${unknown:x}}{}}}
${reduce{}{x}{${unknown:x}}}
${sort{}{<}{${unknown:x}}}
${if forall{}{eq{${unknown:x}}{}}}
${if forany{a}{eq{${unknown:x}}{}}}
${lookup{a}lsearch{/dev/null}{${unknown:x}}{nf}}
${lookup{a}lsearch{/dev/null}{found}{${unknown:x}}}
${sg{abc}{b}{${unknown:x}}}
${tr{abc}{${unknown:x}}{b}}
${substr{${unknown:x}}{1}{abc}}
${length_${unknown:x}:abc}
${hash{1}{2}{${unknown:x}}}
${md5:${unknown:x}}
${lc:${if eq{a}{b}{x} fail }}
${uc:${lc:${if eq{a}{b}{x} fail }}}
${if eq{${if eq{a}{b}{x} fail }}{}{e}{n}}
${if def:nosuch}
${if def:h_}
${if def:header_}
${if eq{}}
${if eq{a}{b}{c}{d}{e}}
${if inlist{a}}
${if match{a}}
${if match_domain{a}}
${if crypteq{a}}
${if exists}
${if exists{}
${if isip}
${if isip{}
${if bool}
${if bool{}
${if and}
${if and{}
${if or{{}}}
${if and{{eq{a}{a}}{}}}
${if forall}
${if forall{a}}
${if forall{a}{}}
${lookup{a}}
${lookup{a}lsearch}
${lookup{a}lsearch{}
${lookup{a}lsearch{/dev/null}{}{}{}}
${lookup{a}lsearch{/dev/null}{x}{y}{z}}
${lookup{a}lsearch{/dev/null}x}
${lookup{a}{lsearch}{/dev/null}}
${lookup lsearch{/dev/null}}
${lookup{a}partial-nosuch{/dev/null}}
${lookup{a}nosuch*{/dev/null}}
${lookup{a}lsearch*@*{/dev/null}}
${readfile{/dev/null}{}{}}
${readfile{/dev/null}
${sg{a}{b}{c}
${sg{a}{b}}
${sg{a}}
${tr}
${extract}
${extract{}}
${extract{1}{2}{3}{4}{5}{6}{7}}
${substr}
${substr{}}
${substr{1}{2}{3}{4}}
${hash{1}{2}{3}{4}}
${nhash{1}{2}{3}{4}}
${hmac}
${hmac{md5}}
${hmac{nosuch}{k}{t}}
${prvs}
${prvscheck}
${prvscheck{a}}
${map}
${map{a}}
${filter}
${reduce}
${reduce{a}}
${reduce{a}{b}}
${sort}
${sort{a}}
${sort{a}{<}}
${listextract}
${listquote}
${listquote{:}}
${env}
${run}
${readsocket}
${dlfunc}
${perl}
${acl}
${certextract}
${srs_encode}
${imapfolder}
${imapfolder{a}{b}{c}{d}}
${length}
${length{1}{a}{b}}
$nosuch
${nosuch}
${nosuch:}
\${escaped}
$$primary_hostname
$1
$99
${99}
${0}
${$primary_hostname}
${${uc:x}}
${uc:}x}
{${uc:x}}
$primary_hostname}
${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:${uc:deep}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}
${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{x}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}
${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{${if eq{a}{a}{x}}}}}}}}
