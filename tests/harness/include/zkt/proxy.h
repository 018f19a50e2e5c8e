/* proxy.h: a loopback TCP proxy run by the test, to cut one process off from another
 * (a network partition without root or nft). Pointed at a target port, it listens on a
 * free port; a process told to connect there reaches the target through it. Blackhole
 * mode stops moving bytes in both directions and accepting connections, without closing
 * anything: the peers see silence and time out, as behind a dropped link. Turned off, the
 * bytes held back flow again (as TCP retransmission would deliver them) and waiting
 * connections are put through. */
#ifndef ZKT_PROXY_H
#define ZKT_PROXY_H
#include <stdbool.h>

typedef struct zkt_proxy zkt_proxy;

/* Starts a proxy to 127.0.0.1:target_port. NULL on error. */
zkt_proxy *zkt_proxy_start(int target_port);
/* The port it listens on (127.0.0.1). */
int zkt_proxy_port(const zkt_proxy *p);
/* Partition on (true) or healed (false). */
void zkt_proxy_set_blackhole(zkt_proxy *p, bool on);
/* Closes every connection through the proxy, dropping the bytes held back (as when a long
 * partition timed the connections out); new ones are accepted as before. Returns once
 * done (bounded: 1 s). */
void zkt_proxy_reset(zkt_proxy *p);
/* Stops the thread and closes every connection. NULL is a no-op. */
void zkt_proxy_stop(zkt_proxy *p);

#endif
