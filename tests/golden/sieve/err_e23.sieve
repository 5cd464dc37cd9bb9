# Sieve filter
if anyof(true, false { keep; }
