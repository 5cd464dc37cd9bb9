# Sieve filter
if false { bogus; }
