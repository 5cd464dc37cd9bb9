# Sieve filter
require "fileinto";
fileinto "";
