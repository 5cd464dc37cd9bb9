# Inputs on which Debian's Exim 4.96 crashes (SIGFPE, SIGSEGV) or exits, found while recording the
# corpus.  Not recorded (there is no answer to compare with); postern must simply survive them.
# SIGFPE in Exim (hash modulus 0):
${nhash_0:abc}
${nhash{4294967296}{abc}}
# SIGSEGV in Exim (json iteration over a non-JSON string, huge field number):
${if forany_json{not json}{eq{$item}{1}}}
${extract{2147483648}{:}{a:b}}
# Exim exits ("unknown lookup type" in a list is a fatal configuration error for it):
${if match_domain{x}{nosuchlookup;/x}}
# Exim 4.96 returns bytes from freed or uninitialised memory (the outer $value is not restored):
${reduce{a:b}{0}{${reduce{1:2}{$value}{$value+$item}}}}
${map{a:b}{$value}}
