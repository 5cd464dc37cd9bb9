# Sieve filter
require "subaddress";
if address :user "to" "x" { keep; }
