# Sieve filter
if not { keep; }
