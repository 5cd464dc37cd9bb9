# Sieve filter
if header :contains "subject" "\x" { keep; }
