/* pending.c: the FIFO of requests in flight on one connection (see pending.h). */
#include "common/pending.h"

#include <stdlib.h>
#include <string.h>

#define FIRST_CAP 32u

void zkv_pending_init(zkv_pending *q, size_t rec_size)
{
    q->ring = NULL;
    q->rec_size = rec_size;
    q->head = q->n = q->cap = 0;
}

void zkv_pending_free(zkv_pending *q)
{
    free(q->ring);
    q->ring = NULL;
    q->head = q->n = q->cap = 0;
}

static uint8_t *slot(const zkv_pending *q, size_t i)
{
    return q->ring + ((q->head + i) % q->cap) * q->rec_size;
}

static uint64_t id_of(const uint8_t *rec)
{
    uint64_t id;
    memcpy(&id, rec, sizeof id);
    return id;
}

/* Doubles the ring, unrolling it so the head is at 0. */
static int grow(zkv_pending *q)
{
    size_t cap = q->cap ? q->cap * 2 : FIRST_CAP;
    if (cap < q->cap || cap > SIZE_MAX / q->rec_size)
        return -1;
    uint8_t *ring = malloc(cap * q->rec_size);
    if (!ring)
        return -1;
    for (size_t i = 0; i < q->n; i++)
        memcpy(ring + i * q->rec_size, slot(q, i), q->rec_size);
    free(q->ring);
    q->ring = ring;
    q->cap = cap;
    q->head = 0;
    return 0;
}

void *zkv_pending_push(zkv_pending *q, uint64_t id)
{
    if (q->n == q->cap && grow(q) != 0)
        return NULL;
    uint8_t *r = slot(q, q->n);
    memset(r, 0, q->rec_size);
    memcpy(r, &id, sizeof id);
    q->n++;
    return r;
}

size_t zkv_pending_count(const zkv_pending *q)
{
    return q->n;
}

void *zkv_pending_at(const zkv_pending *q, size_t i)
{
    return i < q->n ? slot(q, i) : NULL;
}

void *zkv_pending_head(const zkv_pending *q)
{
    return zkv_pending_at(q, 0);
}

int zkv_pending_pop(zkv_pending *q, uint64_t id, void *out)
{
    if (q->n == 0 || id_of(slot(q, 0)) != id)
        return -1;
    if (out)
        memcpy(out, slot(q, 0), q->rec_size);
    q->head = (q->head + 1) % q->cap;
    q->n--;
    return 0;
}

void zkv_pending_clear(zkv_pending *q)
{
    q->head = q->n = 0;
}
