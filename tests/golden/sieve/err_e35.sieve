# Sieve filter
require "vacation";
vacation :days 0 "r";
