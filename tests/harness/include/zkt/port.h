/* port.h: free loopback TCP ports for the processes a test starts. */
#ifndef ZKT_PORT_H
#define ZKT_PORT_H

/* Binds 127.0.0.1:0, reads the port the kernel chose, closes the socket. Never returns
 * the same port twice in one process. Returns the port, or -1. */
int zkt_free_port(void);

#endif
