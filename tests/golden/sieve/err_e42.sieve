# Sieve filter
if true { keep; } /* unterminated
