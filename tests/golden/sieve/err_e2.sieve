# Sieve filter
keep
