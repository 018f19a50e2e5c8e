/* pool.c: the connection table (see pool.h). Linear search: a cluster has tens of
 * nodes, and the lookup is dwarfed by the network round trip it precedes. */
#include <stdlib.h>
#include <string.h>

#include "pool.h"

int zkv__pool_init(zkv__pool *p, const zkv_tls_ctx *tls)
{
    memset(p, 0, sizeof *p);
    p->tls = tls;
    return pthread_mutex_init(&p->lock, NULL) == 0 ? 0 : -1;
}

void zkv__pool_destroy(zkv__pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        zkv__conn_unref(p->conns[i]);
    free(p->conns);
    pthread_mutex_destroy(&p->lock);
    memset(p, 0, sizeof *p);
}

zkv__conn *zkv__pool_get(zkv__pool *p, const char *node_id, const char *addr)
{
    zkv__conn *c = NULL;
    pthread_mutex_lock(&p->lock);
    size_t i = 0;
    while (i < p->n && strcmp(p->conns[i]->node_id, node_id) != 0)
        i++;
    if (i < p->n && strcmp(p->conns[i]->addr, addr) == 0) {
        c = p->conns[i];
        zkv__conn_ref(c);
        goto out;
    }
    if (i == p->n && p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        zkv__conn **v = realloc(p->conns, cap * sizeof *v);
        if (!v)
            goto out;
        p->conns = v;
        p->cap = cap;
    }
    c = zkv__conn_new(node_id, addr, p->tls);
    if (!c)
        goto out;
    if (i < p->n)
        zkv__conn_unref(p->conns[i]); /* the node moved: its old socket goes */
    else
        p->n++;
    p->conns[i] = c;
    zkv__conn_ref(c);
out:
    pthread_mutex_unlock(&p->lock);
    return c;
}
