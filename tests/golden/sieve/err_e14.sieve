# Sieve filter
if size :over 10x { keep; }
