# Sieve filter
require "vacation";
vacation :addresses "x" "r";
