#!/bin/sh
# Re-records the Exim 4.96 goldens in this directory (run as root on a machine with Debian's
# exim4 and python3). Each case: the original message is spooled with -odq (orig-H, orig-D),
# delivered with -M; Exim's bounce (or warning / DSN) is held in the spool by the :defer:
# router for example.org and recorded as <case>-H, <case>-D; mainlog lines as <case>.log.
# Port SINK answers 550 (two lines) to RCPT, port DELAY answers 450, port OK accepts (no DSN).
set -e
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/bounce-record.XXXXXX); chmod 755 "$work"
SINK=${SINK:-2526}; DELAY=${DELAY:-2527}; OK=${OK:-2528}
python3 "$here/script_server.py" $SINK rcpt550 & p1=$!
python3 "$here/script_server.py" $DELAY rcpt450 & p2=$!
python3 "$here/script_server.py" $OK ok & p3=$!
trap 'kill $p1 $p2 $p3; rm -rf "$work"' EXIT
sleep 3

# case NAME EXTRA-OPTIONS MODE(local|smtp) [ARGS...] < input
case_() {
	name=$1; extra=$2; mode=$3; shift 3
	rm -rf "$work/spool"; mkdir -p "$work/spool"; chown Debian-exim:Debian-exim "$work/spool"
	sed -e "s|SPOOL|$work/spool|g" -e "s|SINKPORT|$SINK|" -e "s|DELAYPORT|$DELAY|" -e "s|OKPORT|$OK|" \
		-e "s|^# EXTRA|$extra|" "$here/exim.conf" > "$work/conf"
	if [ "$mode" = smtp ]; then
		exim -C "$work/conf" -bs -oMa 10.0.0.1 -odq > /dev/null 2>&1
	else
		exim -C "$work/conf" -odq "$@" 2>/dev/null
	fi
	id=$(ls "$work/spool/input" | sed -n 's/-H$//p' | head -1)
	cp "$work/spool/input/$id-H" "$here/$name.orig-H"; cp "$work/spool/input/$id-D" "$here/$name.orig-D"
	exim -C "$work/conf" -M "$id" 2>/dev/null || true
	if [ -n "$WARN_AFTER" ]; then sleep "$WARN_AFTER"; exim -C "$work/conf" -M "$id" 2>/dev/null || true; fi
	sleep 1
	new=$(ls "$work/spool/input" | sed -n 's/-H$//p' | grep -v "$id" | head -1)
	new=${new:-none}; cp "$work/spool/input/$new-H" "$here/$name-H"; cp "$work/spool/input/$new-D" "$here/$name-D"
	grep -v 'lost privilege\|purging\|Suggested' "$work/spool/log/mainlog" | cut -c21- > "$here/$name.log"
}

printf 'From: a@example.org\nTo: bob@short.example\nSubject: test one\nMessage-ID: <m1@example.org>\nReferences: <r1@x> <r2@x>\n\tc<r3@x>\nIn-Reply-To: <r3@x>\n\nhello body\n' |
	case_ short "" local -f alice@example.org bob@short.example
printf 'EHLO client.example\r\nMAIL FROM:<alice@example.org> RET=HDRS ENVID=env+2Bid123\r\nRCPT TO:<bob@fail.example> ORCPT=rfc822;Bob+40Fail.example\r\nRCPT TO:<carol@nomsg.example>\r\nRCPT TO:<dan@unknown.example> NOTIFY=FAILURE\r\nRCPT TO:<erin@remote.example> ORCPT=rfc822;erin@remote.example\r\nRCPT TO:<fay@ok.example>\r\nDATA\r\nFrom: a@example.org\r\nSubject: multi\r\nMessage-ID: <m2@example.org>\r\n\r\nbody line\r\n.\r\nQUIT\r\n' |
	case_ multi "" smtp
printf 'From: a@example.org\nTo: bob@errto.example\nSubject: errors to\n\nbody\n' |
	case_ errto "errors_reply_to = help@example.org\ndsn_from = Bounce Bot <bb@\$primary_hostname>\nbounce_message_text = Custom text line one." local -f alice@example.org bob@errto.example
{ printf 'From: a@example.org\nTo: bob@short.example\nSubject: big\n\n'; python3 -c "
for i in range(400): print('body line %04d of a message that is long enough to be cut' % i)"; } |
	case_ big "bounce_return_size_limit = 10K" local -f alice@example.org bob@short.example
printf 'From: a@example.org\nTo: bob@short.example\nSubject: no body\n\nbody\n' |
	case_ nobody "bounce_return_body = false" local -f alice@example.org bob@short.example
printf 'From: a@example.org\nTo: bob@short.example\nSubject: no message\n\nbody\n' |
	case_ nomessage "bounce_return_message = false" local -f alice@example.org bob@short.example
printf '%s\n' 'Subject: Custom failure for $bounce_recipient' 'X-Limit: $bounce_return_size_limit' '****' 'Intro paragraph for $bounce_recipient.' '****' 'Pipe text intro.' '****' '****' > "$work/bmf"
printf 'From: a@example.org\nTo: bob@short.example\nSubject: file\n\nbody\n' |
	case_ bmfile "bounce_message_file = $work/bmf" local -f alice@example.org bob@short.example
printf 'EHLO client.example\r\nMAIL FROM:<alice@example.org> ENVID=xyz\r\nRCPT TO:<fay@ok.example> NOTIFY=SUCCESS ORCPT=rfc822;Fay@OK.example\r\nDATA\r\nFrom: a@example.org\r\nSubject: success please\r\n\r\nbody line\r\n.\r\nQUIT\r\n' |
	case_ success "" smtp
printf 'From: a@example.org\nTo: gus@delay.example\nSubject: slow one\nDate: Sat, 21 Nov 2026 10:00:00 +0000\n\nbody\n' |
	WARN_AFTER=3 case_ warning "delay_warning = 2s" local -f alice@example.org gus@delay.example
printf 'EHLO c.example\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<gus@delay.example>\r\nRCPT TO:<hal@delay.example>\r\nDATA\r\nFrom: a@example.org\r\n\r\nbody\r\n.\r\nQUIT\r\n' |
	WARN_AFTER=3 case_ warning2 "delay_warning = 2s\nerrors_reply_to = help@example.org" smtp
printf 'EHLO c.example\r\nMAIL FROM:<alice@example.org> RET=FULL\r\nRCPT TO:<ivy@relay.example> NOTIFY=SUCCESS\r\nDATA\r\nFrom: a@example.org\r\n\r\nbody\r\n.\r\nQUIT\r\n' |
	case_ success2 "" smtp
printf 'From: a@example.org\nTo: bob@short.example\nSubject: copies\n\nbody\n' |
	case_ copy "errors_copy = nomatch@x other@pm.example : *@example.org copy@pm.example,\$local_part@pm.example\nbounce_sender_authentication = mailer-daemon@example.org" local -f alice@example.org bob@short.example
printf 'From: a@example.org\nTo: bob@pipe.example\nSubject: pipe output\n\nbody\n' |
	case_ pipe "" local -f alice@example.org bob@pipe.example
echo recorded in "$here"
