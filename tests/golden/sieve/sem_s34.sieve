# Sieve filter
require ["fileinto","envelope","subaddress","comparator-i;ascii-numeric","encoded-character","copy"];
if size :over 100 { discard; }
