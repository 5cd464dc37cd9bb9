# Sieve filter
fileinto "x";
