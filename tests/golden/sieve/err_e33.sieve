# Sieve filter
require "vacation";
vacation;
