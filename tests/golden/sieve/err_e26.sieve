# Sieve filter
if address :all :localpart "from" "x" { keep; }
