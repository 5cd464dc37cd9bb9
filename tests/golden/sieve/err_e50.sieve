# Sieve filter
require "comparator-i;ascii-numeric";
if header :value "gt" :comparator "i;ascii-numeric" "x" "1" { keep; }
