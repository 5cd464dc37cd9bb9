# Sieve filter
foo;
