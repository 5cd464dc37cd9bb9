# Sieve filter
if exists [] { keep; }
