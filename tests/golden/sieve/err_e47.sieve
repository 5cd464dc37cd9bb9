# Sieve filter
discard;
