/* arena.c: bump allocator for request decoding (see arena.h). */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>

struct zkv_arena_chunk {
    zkv_arena_chunk *next;
    max_align_t data[]; /* aligned payload */
};

#define ALIGN sizeof(max_align_t)

static void *pb_alloc(void *data, size_t n)
{
    return zkv_arena_alloc(data, n);
}

static void pb_free(void *data, void *p)
{
    (void)data;
    (void)p; /* released by zkv_arena_reset */
}

void zkv_arena_init(zkv_arena *a, size_t initial, size_t max_block)
{
    a->block = NULL;
    a->cap = 0;
    a->used = 0;
    a->overflow_bytes = 0;
    a->overflow = NULL;
    a->max_block = max_block;
    if (initial) {
        a->block = malloc(initial);
        if (a->block)
            a->cap = initial;
    }
    a->pb.alloc = pb_alloc;
    a->pb.free = pb_free;
    a->pb.allocator_data = a;
}

void *zkv_arena_alloc(zkv_arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - 2 * ALIGN)
        return NULL;
    size_t rounded = (n + ALIGN - 1) / ALIGN * ALIGN;
    if (a->block && rounded <= a->cap - a->used) {
        void *p = a->block + a->used;
        a->used += rounded;
        return p;
    }
    zkv_arena_chunk *c = malloc(sizeof(*c) + rounded);
    if (!c)
        return NULL;
    c->next = a->overflow;
    a->overflow = c;
    a->overflow_bytes += rounded;
    return c->data;
}

void zkv_arena_reset(zkv_arena *a)
{
    size_t want = a->used + a->overflow_bytes;
    while (a->overflow) {
        zkv_arena_chunk *c = a->overflow;
        a->overflow = c->next;
        free(c);
    }
    /* Grow the main block so the next request of this size fits in it. */
    if (want > a->cap && want <= a->max_block) {
        unsigned char *nb = malloc(want);
        if (nb) {
            free(a->block);
            a->block = nb;
            a->cap = want;
        }
    }
    a->used = 0;
    a->overflow_bytes = 0;
}

void zkv_arena_free(zkv_arena *a)
{
    zkv_arena_reset(a);
    free(a->block);
    a->block = NULL;
    a->cap = 0;
}
