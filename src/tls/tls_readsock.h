/* ${readsocket}'s tls=yes: hands the TLS client to the expansion layer (tls_readsock.c). */
#ifndef POSTERN_TLS_TLS_READSOCK_H
#define POSTERN_TLS_TLS_READSOCK_H

void tls_readsock_register(void);

#endif
