/* since.h: "since when" for things the leading coordinator watches happen over time: a
 * node that is down (the rebalance delay runs from then) and a handoff request that is
 * not carried out (it is withdrawn after a while). A small table of string keys and the
 * time each was first seen, kept only while the key is seen on every pass. The times are
 * the leader's own clock: a new leader starts them over, which only makes it wait longer.
 * Pure data, no I/O; main thread only. Tested by tests/unit/test_coordinator_since.c. */
#ifndef ZKV_COORDINATOR_SINCE_H
#define ZKV_COORDINATOR_SINCE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zkv_since zkv_since;

zkv_since *zkv_since_create(void);
void zkv_since_free(zkv_since *t); /* NULL is a no-op */
/* Starts a pass: every key not seen again before zkv_since_end_pass is forgotten. */
void zkv_since_begin_pass(zkv_since *t);
/* Marks key seen in this pass and returns when it was first seen (now_ms when new, or
 * when the table cannot grow: never older than the truth). */
uint64_t zkv_since_seen(zkv_since *t, const char *key, uint64_t now_ms);
/* Forgets the keys not seen since zkv_since_begin_pass. */
void zkv_since_end_pass(zkv_since *t);
size_t zkv_since_count(const zkv_since *t);

#endif
