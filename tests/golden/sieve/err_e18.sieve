# Sieve filter
redirect "a@b.c" "d";
