/* credentials.h: what the coordinator presents to nodes, read from files at start and
 * again on SIGHUP (ZKV_EV_RELOAD): the cluster secret of --auth-file for its HELLOs, and
 * its TLS client context (--tls-ca to trust the nodes, --tls-cert/--tls-key for nodes
 * that require client certificates). A reload that fails keeps what is in force. Main
 * thread only: the leader's position queries (leader.c) read them there too. */
#ifndef ZKV_COORDINATOR_CREDENTIALS_H
#define ZKV_COORDINATOR_CREDENTIALS_H
#include "coord.h"

/* Loads c->cfg's files into c->auth_secret and c->tls. 0, or -1 after logging why (at
 * start the caller exits; on a reload the old credentials stay). */
int zkv_coord_load_credentials(zkv_coord *c);
/* Frees the TLS context. */
void zkv_coord_free_credentials(zkv_coord *c);

#endif
