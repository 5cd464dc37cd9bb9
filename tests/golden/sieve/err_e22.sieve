# Sieve filter
"string";
