# Sieve filter
if allof() { keep; }
