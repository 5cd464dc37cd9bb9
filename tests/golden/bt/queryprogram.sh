#!/bin/sh
case "$1" in
  acc) echo "ACCEPT" ;;
  acch) echo "accept hosts=198.51.100.1:198.51.100.2::2525 data=\"rule 1\"" ;;
  acct) echo "ACCEPT TRANSPORT=t2 HOSTS=198.51.100.3" ;;
  accbad) echo "ACCEPT TRANSPORT=nosuch" ;;
  dec) echo "DECLINE" ;;
  fail) echo "FAIL go away now" ;;
  fail2) echo "FAIL" ;;
  defer) echo "DEFER busy" ;;
  freeze) echo "FREEZE stuck" ;;
  pass) echo "PASS" ;;
  redir) echo "REDIRECT a@x.ex, b" ;;
  junk) echo "WHAT is this" ;;
  empty) ;;
  sleep) sleep 5; echo ACCEPT ;;
  *) echo "DECLINE" ;;
esac
