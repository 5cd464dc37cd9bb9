# Sieve filter
require "vacation";
vacation "r"; vacation "s";
