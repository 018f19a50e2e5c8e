/* apending.h: the pending-request table of one asynchronous connection (async.c), a
 * pure data structure with no sockets. Requests pipelined on a connection get
 * consecutive ids and are answered in order, so the table is a FIFO ring: push assigns
 * the next id, pop takes the head if the answer's id is the head's (any other id is a
 * protocol violation), drain empties it in order when the connection is lost.
 * Errors: push returns -1 on ENOMEM; pop returns -1 for an id that is not the head's. */
#ifndef ZKV_CLIENT_APENDING_H
#define ZKV_CLIENT_APENDING_H
#include <stddef.h>
#include <stdint.h>

typedef struct zkv__apq_entry {
    uint64_t id;
    void *item;
} zkv__apq_entry;

typedef struct zkv__apq {
    zkv__apq_entry *e; /* ring of cap entries; n of them from head */
    size_t head, n, cap;
    uint64_t next_id; /* id of the next push (ids start at 1) */
} zkv__apq;

void zkv__apq_init(zkv__apq *q);
void zkv__apq_free(zkv__apq *q);
/* Appends item with the next id (stored in *id). 0, or -1 on ENOMEM (nothing changed). */
int zkv__apq_push(zkv__apq *q, void *item, uint64_t *id);
/* Removes the head when its id is id: 0 and *item set; -1 when empty or another id. */
int zkv__apq_pop(zkv__apq *q, uint64_t id, void **item);
/* Removes every entry in order, calling fn(arg, id, item) for each. Ids keep growing
 * afterwards (a new connection never reuses an id of an old one's answers). */
void zkv__apq_drain(zkv__apq *q, void (*fn)(void *arg, uint64_t id, void *item), void *arg);
static inline size_t zkv__apq_count(const zkv__apq *q)
{
    return q->n;
}
/* The i-th entry from the head (i < count). */
static inline zkv__apq_entry *zkv__apq_at(const zkv__apq *q, size_t i)
{
    return &q->e[(q->head + i) % q->cap];
}

#endif
