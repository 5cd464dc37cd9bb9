# Sieve filter
redirect "";
