# Sieve filter
require ["fileinto","fileinto"];
fileinto "a";
