# Sieve filter
redirect "user";
