# Sieve filter
require ["fileinto","envelope","subaddress","comparator-i;ascii-numeric","encoded-character","copy"];
discard; stop; keep;
