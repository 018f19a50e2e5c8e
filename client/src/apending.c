/* apending.c: the FIFO of pipelined requests of one async connection (see apending.h). */
#include <stdlib.h>

#include "apending.h"

void zkv__apq_init(zkv__apq *q)
{
    q->e = NULL;
    q->head = q->n = q->cap = 0;
    q->next_id = 1;
}

void zkv__apq_free(zkv__apq *q)
{
    free(q->e);
    q->e = NULL;
    q->head = q->n = q->cap = 0;
}

/* Doubles the ring, unrolling it so the head is at 0. */
static int grow(zkv__apq *q)
{
    size_t cap = q->cap ? q->cap * 2 : 64;
    zkv__apq_entry *e = malloc(cap * sizeof *e);
    if (!e)
        return -1;
    for (size_t i = 0; i < q->n; i++)
        e[i] = *zkv__apq_at(q, i);
    free(q->e);
    q->e = e;
    q->cap = cap;
    q->head = 0;
    return 0;
}

int zkv__apq_push(zkv__apq *q, void *item, uint64_t *id)
{
    if (q->n == q->cap && grow(q) != 0)
        return -1;
    zkv__apq_entry *slot = &q->e[(q->head + q->n) % q->cap];
    slot->id = q->next_id++;
    slot->item = item;
    q->n++;
    *id = slot->id;
    return 0;
}

int zkv__apq_pop(zkv__apq *q, uint64_t id, void **item)
{
    if (q->n == 0 || q->e[q->head].id != id)
        return -1;
    *item = q->e[q->head].item;
    q->head = (q->head + 1) % q->cap;
    q->n--;
    return 0;
}

void zkv__apq_drain(zkv__apq *q, void (*fn)(void *arg, uint64_t id, void *item), void *arg)
{
    while (q->n > 0) {
        zkv__apq_entry en = q->e[q->head];
        q->head = (q->head + 1) % q->cap;
        q->n--;
        fn(arg, en.id, en.item);
    }
}
