# Sieve filter
require ["fileinto","envelope","subaddress","comparator-i;ascii-numeric","encoded-character","copy"];
if header :comparator "i;octet" :contains "Subject" "meeting" { discard; }
