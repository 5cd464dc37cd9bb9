# Sieve filter
if true keep;
