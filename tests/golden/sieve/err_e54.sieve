# Sieve filter
require "enotify";
