/* TCP Fast Open (RFC 7413) for the SMTP server and client: detection on accepted connections
 * and the Fast Open connect, with the tests Exim 4.96 uses so that the same connections are
 * logged " TFO" / " TFO*" (observed with a live Exim daemon and smtp transport in a private
 * network namespace; docs/tfo.md). */
#include "smtp/tfo.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "lib/debug.h"

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

tfo_state tfo_in_check(int fd)
{
#if defined(__linux__) && defined(TCPI_OPT_SYN_DATA)
	struct tcp_info ti;
	socklen_t len = sizeof ti;
	memset(&ti, 0, sizeof ti);
	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
		return TFO_NOT_USED;
	/* The kernel took data from the SYN (a valid cookie came with it). */
	if (ti.tcpi_options & TCPI_OPT_SYN_DATA) {
		DEBUG(D_RECEIVE) debug_printf("TFO mode connection (ACKd data-on-SYN)\n");
		return TFO_USED_DATA;
	}
	/* A Fast Open child socket is queued for accept() at the SYN; a normal one only once the
	 * handshake is complete. Still in SYN_RECV here means the cookie was good. */
	if (ti.tcpi_state == TCP_SYN_RECV) {
		DEBUG(D_RECEIVE) debug_printf("TFO mode connection (state TCP_SYN_RECV)\n");
		return TFO_USED;
	}
#else
	(void)fd;
#endif
	return TFO_NOT_USED;
}

int tfo_out_connect(int fd, const struct sockaddr *sa, socklen_t len, tfo_out_attempt *attempt)
{
	*attempt = TFO_OUT_NONE;
#ifdef __linux__
	/* No data goes with the SYN: SMTP is server-first, so the gain is the server's banner
	 * coming right after its SYN-ACK (hosts_try_fastopen in ch-the_smtp_transport). */
	ssize_t r = sendto(fd, "", 0, MSG_FASTOPEN, sa, len);
	int e = r == 0 ? 0 : errno;
	if (r == 0 || e == EINPROGRESS) {
		DEBUG(D_TRANSPORT) debug_printf(" TFO mode sendto, no data: %s\n", r == 0 ? "connected" : "EINPROGRESS");
		*attempt = TFO_OUT_TRIED_NODATA;
		errno = e;
		return r == 0 ? 0 : -1;
	}
	if (e == EOPNOTSUPP) {
		DEBUG(D_TRANSPORT) debug_printf("Tried TCP Fast Open but apparently not enabled by sysctl\n");
	} else if (e == EPIPE || e == EINVAL || e == ENOTCONN) {
		DEBUG(D_TRANSPORT) debug_printf("Tried TCP Fast Open but kernel too old to support it\n");
	} else {
		errno = e;   /* a real failure (refused at once, unreachable): report it as connect would */
		return -1;
	}
#endif
	return connect(fd, sa, len);
}

tfo_state tfo_out_check(int fd, tfo_out_attempt attempt)
{
#ifdef __linux__
	if (attempt != TFO_OUT_TRIED_NODATA)
		return TFO_NOT_USED;
	struct tcp_info ti;
	socklen_t len = sizeof ti;
	memset(&ti, 0, sizeof ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state == TCP_SYN_SENT
		&& ti.tcpi_unacked > 1) {
		DEBUG(D_TRANSPORT) debug_printf("TCP_FASTOPEN tcpi_unacked %u\n", ti.tcpi_unacked);
		return TFO_USED;
	}
#else
	(void)fd;
	(void)attempt;
#endif
	return TFO_NOT_USED;
}
