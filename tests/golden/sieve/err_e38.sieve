# Sieve filter
require "fileinto";
fileinto "../x";
