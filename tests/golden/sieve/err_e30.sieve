# Sieve filter
elsif true { keep; }
