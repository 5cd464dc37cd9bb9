# Sieve filter
require "encoded-character";
if header :contains "subject" "${hex:41}" { keep; }
