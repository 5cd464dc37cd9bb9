# Sieve filter
redirect :copy "a@b.c";
