# Sieve filter
if header :is "sub:ject" "x" { keep; }
