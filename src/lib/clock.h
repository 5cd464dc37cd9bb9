/* The monotonic clock, for deadlines and durations: time-outs on reads, on children, on whole
 * exchanges. It is not moved by changes of the wall clock (date, NTP steps), so a deadline taken
 * from it neither fires early nor hangs when the date jumps. Timestamps that are shown or stored
 * (log lines, message ids, spool times, $tod_*) come from the wall clock instead, not from here. */
#ifndef POSTERN_LIB_CLOCK_H
#define POSTERN_LIB_CLOCK_H

/* Milliseconds on CLOCK_MONOTONIC (from an arbitrary start: only differences mean anything). */
long long monotonic_ms(void);

/* Milliseconds from now until deadline (a monotonic_ms() value), as a poll() timeout: 0 when the
 * deadline has passed, at most INT_MAX. */
int ms_until(long long deadline);

/* Wait until fd has one of events (POLLIN, POLLOUT) or the deadline passes; an interrupted wait
 * goes on. 1: ready (or an error/hang-up condition to read); 0: deadline passed; -1: poll failed
 * (errno set). */
int wait_fd_until(int fd, short events, long long deadline);

#endif
