# Sieve filter
require ["fileinto","envelope","subaddress","comparator-i;ascii-numeric","encoded-character","copy"];
if header :comparator "i;ascii-numeric" :contains "x-spam-score" "1" { discard; }
