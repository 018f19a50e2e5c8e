/* arena.h: a bump allocator behind a ProtobufCAllocator, so decoding a request costs no
 * malloc in the steady state: everything a request's decode allocates is released at
 * once by zkv_arena_reset. The main block grows to the largest request seen (up to a
 * cap); allocations that do not fit go to an overflow list freed on reset.
 * Not thread-safe (one arena per loop thread). Errors: alloc returns NULL (ENOMEM). */
#ifndef ZKV_SERVER_ARENA_H
#define ZKV_SERVER_ARENA_H
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

typedef struct zkv_arena_chunk zkv_arena_chunk;

typedef struct zkv_arena {
    unsigned char *block; /* main block, reused across resets */
    size_t cap, used;
    size_t overflow_bytes; /* bytes in overflow chunks since the last reset */
    zkv_arena_chunk *overflow;
    size_t max_block;      /* the main block never grows past this */
    ProtobufCAllocator pb; /* hands out arena memory; its free is a no-op */
} zkv_arena;

void zkv_arena_init(zkv_arena *a, size_t initial, size_t max_block);
void *zkv_arena_alloc(zkv_arena *a, size_t n);
/* Releases everything allocated since the last reset. */
void zkv_arena_reset(zkv_arena *a);
void zkv_arena_free(zkv_arena *a);

#endif
