# Sieve filter
require "imap4flags";
