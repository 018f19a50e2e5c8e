/* pool.h: the client's connection table, node id -> one reused connection. A node whose
 * address changed in the map gets a fresh connection; the old one lives on until its
 * last user lets go (reference counts), so replacing never pulls a socket from under a
 * thread in the middle of an exchange. Thread-safe (one mutex, held only for lookups). */
#ifndef ZKV_CLIENT_POOL_H
#define ZKV_CLIENT_POOL_H
#include <pthread.h>
#include <stddef.h>

#include "conn.h"

typedef struct zkv__pool {
    pthread_mutex_t lock;
    zkv__conn **conns; /* one per node id, each holding the pool's reference */
    size_t n, cap;
    const zkv_tls_ctx *tls; /* the client's TLS context for new connections (NULL: plain) */
} zkv__pool;

int zkv__pool_init(zkv__pool *p, const zkv_tls_ctx *tls);
/* Closes and releases every connection (not concurrently with other calls). */
void zkv__pool_destroy(zkv__pool *p);
/* The connection to node_id at addr, with a reference for the caller (release it with
 * zkv__conn_unref). NULL on ENOMEM. */
zkv__conn *zkv__pool_get(zkv__pool *p, const char *node_id, const char *addr);

#endif
