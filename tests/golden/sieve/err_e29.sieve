# Sieve filter
if header :matches "subject" "x" { keep; } else keep; 
