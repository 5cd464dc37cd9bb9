# Sieve filter
require "copy";
redirect :copy;
