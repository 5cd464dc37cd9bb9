# Sieve filter
if 
