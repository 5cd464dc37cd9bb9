# Sieve filter
stop; bogus;
