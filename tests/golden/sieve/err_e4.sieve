# Sieve filter
require "bogus";
