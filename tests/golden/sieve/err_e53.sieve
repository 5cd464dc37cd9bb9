# Sieve filter
require "notify";
