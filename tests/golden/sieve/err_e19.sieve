# Sieve filter
keep "x";
