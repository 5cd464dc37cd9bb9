# Sieve filter
if envelope "from" "x" { keep; }
