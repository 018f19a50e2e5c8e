/* internal.h: what the harness's own files share and tests do not use. */
#ifndef ZKT_INTERNAL_H
#define ZKT_INTERNAL_H

/* The run's temp dir path or "" (for signal handlers: no allocation, no locking). */
const char *zkt__tmpdir_peek(void);

struct sockaddr_in;
/* A close-on-exec TCP socket, and *sa set to 127.0.0.1:port (0: any port). Returns the
 * socket or -1. */
int zkt__loopback_socket(int port, struct sockaddr_in *sa);

#endif
