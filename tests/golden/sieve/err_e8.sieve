# Sieve filter
if { keep; }
