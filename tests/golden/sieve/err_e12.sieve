# Sieve filter
if header :comparator "i;ascii-numeric" "subject" "x" { keep; }
