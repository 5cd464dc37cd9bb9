# Sieve filter
require ["fileinto","envelope","subaddress","comparator-i;ascii-numeric","encoded-character","copy"];
if address :is ["to","cc"] "dave+work@test.example" { discard; }
