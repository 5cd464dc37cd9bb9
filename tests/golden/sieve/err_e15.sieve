# Sieve filter
if size 10 { keep; }
