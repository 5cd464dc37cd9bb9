# Sieve filter
require ["fileinto","envelope","subaddress","comparator-i;ascii-numeric","encoded-character","copy"];
if address :is :domain "from" "EXAMPLE.org" { discard; }
