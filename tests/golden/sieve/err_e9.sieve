# Sieve filter
if header "subject" { keep; }
