# Sieve filter
require "vacation";
vacation :days "x" "r";
