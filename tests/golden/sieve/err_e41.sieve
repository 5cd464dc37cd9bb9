# Sieve filter
if header :contains "subject" text:
hello
.
{ keep; }
