# Sieve filter
require ["fileinto","envelope","subaddress","comparator-i;ascii-numeric","encoded-character","copy"];
if anyof(false, false) { discard; } else { fileinto "x"; }
