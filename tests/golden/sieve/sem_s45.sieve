# Sieve filter
require ["fileinto","envelope","subaddress","comparator-i;ascii-numeric","encoded-character","copy"];
if header :is "subject" "${hex:43 61}fé meeting 42 items" { discard; }
