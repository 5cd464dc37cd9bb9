# Sieve filter
if header :regex "subject" "x" { keep; }
