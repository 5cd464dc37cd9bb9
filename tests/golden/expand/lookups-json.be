# json lookups.  NOTE: Debian's exim 4.96 is built without LOOKUP_JSON, so the recorded answers are
# its "unknown lookup type" errors; goldenlib.REFERENCE_GAPS keeps these cases out of the pass rate.
${lookup{name}json{@DATA@/test.json}}
${lookup{version}json{@DATA@/test.json}}
${lookup{tags}json{@DATA@/test.json}}
${lookup{tags:1}json{@DATA@/test.json}}
${lookup{nested:a:b}json{@DATA@/test.json}}
${lookup{flag}json{@DATA@/test.json}}
${lookup{nothing}json{@DATA@/test.json}{[$value]}{nf}}
${lookup{count}json{@DATA@/test.json}}
${lookup{missing}json{@DATA@/test.json}{$value}{nf}}
${lookup{name}json{@DATA@/nonexistent.json}}
${lookup{name}json{@DATA@/plain.txt}}
${lookup{name}jsons{@DATA@/test.json}}
