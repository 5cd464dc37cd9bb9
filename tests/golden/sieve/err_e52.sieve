# Sieve filter
require "relational";
