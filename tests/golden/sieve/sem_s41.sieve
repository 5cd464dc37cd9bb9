# Sieve filter
require ["fileinto","envelope","subaddress","comparator-i;ascii-numeric","encoded-character","copy"];
if false { discard; } elsif false { fileinto "y"; } else { redirect "a@b.example"; }
