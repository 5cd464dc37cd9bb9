# Sieve filter
if address :user "to" "x" { keep; }
