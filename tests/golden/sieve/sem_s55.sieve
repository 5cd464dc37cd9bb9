# Sieve filter
require ["fileinto","envelope","subaddress","comparator-i;ascii-numeric","encoded-character","copy"];
if header :is ["subject","to"] ["x","bob@test.example, \"Carol\" <carol@Other.Example>"] { discard; }
