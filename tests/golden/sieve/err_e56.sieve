# Sieve filter
require "reject";
