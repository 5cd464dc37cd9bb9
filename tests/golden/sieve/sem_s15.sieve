# Sieve filter
require ["fileinto","envelope","subaddress","comparator-i;ascii-numeric","encoded-character","copy"];
if address :is "from" "alice+lists@example.org" { discard; }
