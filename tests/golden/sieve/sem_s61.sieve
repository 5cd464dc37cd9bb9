# Sieve filter
require ["fileinto","envelope","subaddress","comparator-i;ascii-numeric","encoded-character","copy"];
if header :comparator "i;ascii-numeric" :is "from" "x" { discard; }
