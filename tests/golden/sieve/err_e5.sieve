# Sieve filter
require ["fileinto", "bogus"];
