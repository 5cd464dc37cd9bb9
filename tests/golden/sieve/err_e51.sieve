# Sieve filter
if header :count "gt" "x" "1" { keep; }
