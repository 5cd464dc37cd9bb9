# Sieve filter
require ["fileinto","envelope","subaddress","comparator-i;ascii-numeric","encoded-character","copy"];
if size :over 1K { discard; }
