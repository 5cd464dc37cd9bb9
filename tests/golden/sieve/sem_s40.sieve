# Sieve filter
require ["fileinto","envelope","subaddress","comparator-i;ascii-numeric","encoded-character","copy"];
if anyof(false, true) { discard; } elsif true { fileinto "y"; }
