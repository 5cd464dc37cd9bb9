/* TCP Fast Open (RFC 7413): what a connection made of it, as Exim 4.96 logs it. Shared by the
 * receiving side (msg_origin.tcp_fastopen, the "<=" line) and the delivery side
 * (address_item.tcp_fastopen, the "=>", "==" and "**" lines); src/smtp/tfo.c finds it out. */
#ifndef POSTERN_CORE_TFO_STATE_H
#define POSTERN_CORE_TFO_STATE_H

typedef enum {
	TFO_NOT_USED = 0,    /* an ordinary three-way handshake: nothing is logged */
	TFO_USED = 1,        /* the connection was opened with a Fast Open cookie, no data on the SYN:
	                      * " TFO" */
	TFO_USED_DATA = 2,   /* data rode on the SYN and was acknowledged: " TFO*" */
} tfo_state;

/* The log element for a state (" TFO", " TFO*" or ""), as Exim writes it after H= and I=. */
static inline const char *tfo_log_element(int state)
{
	return state == TFO_USED_DATA ? " TFO*" : state == TFO_USED ? " TFO" : "";
}

#endif
