# Sieve filter
require ["fileinto","envelope","subaddress","comparator-i;ascii-numeric","encoded-character","copy"];
if header :comparator "i;ascii-numeric" :is "x-spam-score" "13" { discard; }
