# Macros from macros.conf are substituted in -be input lines before expansion.  Substitution is
# textual: a macro name is replaced wherever it appears (even inside words), longest names first
# by definition order rules of the configuration file.
NUM
NUMX
NUM NUMX
xNUMx
NUM_
_NUM
LONG_GREETING
GREETING_X
EMPTY|
[EMPTY]
DOLLAR
\DOLLAR
${uc:DOLLAR}
EXPR
${lc:EXPR}
BACKSLASH
TRAILING_SPACES|
ONE
TWO
M1 M12
M1M12
DEFINED_IF
NOT_DEFINED_CHECK
${if eq{NUM}{42}{yes}{no}}
${eval:NUM+1}
${eval:NUM*NUMX}
${listcount:LIST}
${map{LIST}{[$item]}}
SEP a;b
${listcount:SEP a;b;c}
${if match_domain{NUM.example}{+local_domains}}
${listnamed:local_domains}
${uc:GREETING_X} LONG_GREETING
NUM\
NUM
Num
num
_HAVE_SPF
_OPT_MAIN_PRIMARY_HOSTNAME
_DRIVER_ROUTER_ACCEPT
${if eq{_HAVE_TLS}{1}{tls}{no}}
# --- macro definitions inside -be input (a line "NAME = value" defines a macro)
NEWMAC = defined in be
NEWMAC
[NEWMAC]
${uc:NEWMAC}
NEWMAC2=no spaces
NEWMAC2
NUM == 43
NUM
NEWMAC = redefined?
NEWMAC
