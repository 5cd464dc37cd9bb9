# Sieve filter
if true { }
