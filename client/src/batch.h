/* batch.h: the contents of zkv_batch and the grouping step of zkv_batch_run, exposed
 * for unit tests. A batch owns copies of its keys and values (one arena, offsets). */
#ifndef ZKV_CLIENT_BATCH_H
#define ZKV_CLIENT_BATCH_H
#include <stdbool.h>
#include <stddef.h>

#include "zkv/zkv.h"
#include "common/buf.h"
#include "common/frame.h"
#include "route.h"

/* Marks an operation that has no final status yet. */
#define ZKV__BATCH_PENDING 1

typedef struct zkv__batch_op {
    int op;             /* Zkv__Op: GET, PUT or DELETE */
    size_t koff, klen;  /* key in the arena */
    size_t voff, vlen;  /* value (PUT) in the arena */
    int status;         /* ZKV_OK, ZKV_E*, or ZKV__BATCH_PENDING while running */
    bool has_value;     /* a get found the key: result in results */
    size_t roff, rlen;  /* value read by a get, in results */
    zkv__call_state st; /* routing state across the run's rounds */
    int group;          /* this round: index of its node group, -1 when none */
    bool to_replica;    /* this round: routed to a replica (a read sent FLAG_ALLOW_STALE) */
    bool may_fall_back; /* this round: a read to the owner that replicas could answer */
    bool stale;         /* a get answered by a replica */
    int cond;           /* ZKV_IF_ABSENT or ZKV_IF_VERSION with expected (0: none) */
    zkv_version expected;
    zkv_version ver; /* zkv_batch_atomic: the write's version, or the key's on a failure */
} zkv__batch_op;

struct zkv_batch {
    zkv_buf arena;   /* keys and values as queued */
    zkv_buf results; /* values read by gets */
    zkv__batch_op *ops;
    size_t n, cap;
};

/* One node's share of a round. */
typedef struct zkv__batch_group {
    char node[ZKV_ID_MAX];
    char addr[ZKV_ADDR_MAX];
    bool reads_only; /* every operation of the group is a get that may fall back */
    bool may_skip;   /* ...in its first round: skip the node if it failed just now */
    size_t first;    /* ops of the group: order[first .. first+count) */
    size_t count;
} zkv__batch_group;

/* Groups the operations with ops[i].group >= 0 by group, groups sorted by node id (the
 * order their connections are locked in, so two batches never deadlock): renumbers
 * ops[i].group to the sorted order and fills order[] (n entries at most) so each group's
 * operations are contiguous and in queue order. rank is scratch for ngroups entries.
 * Returns the number of grouped operations. Pure, no allocation. */
size_t zkv__batch_order(zkv__batch_op *ops, size_t n, zkv__batch_group *groups, size_t ngroups,
                        size_t *order, size_t *rank);

/* ZKV_OK, or ZKV_EINVAL (published) when an operation of b has a condition: a batch run
 * (not atomic) applies none. */
int zkv__batch_unconditional(const zkv_batch *b);

/* --- atomic batches (batch_atomic.c), shared by the blocking and the async call --- */

struct zkv_client;
/* Checks b as an atomic batch (writes only, at most 1000 and max key + max value bytes)
 * and marks its operations pending: ZKV_OK or the error, published. */
int zkv__atomic_check(const struct zkv_client *c, zkv_batch *b, unsigned flags);
/* Every key of b in the range of its first key by map m: ZKV_OK, or ZKV_EINVAL (published)
 * naming two of the ranges. */
int zkv__atomic_one_range(const zkv_rangemap *m, const zkv_batch *b);
/* Makes req b's MULTI_WRITE (its writes point into b's arena; the caller adds client_id
 * and client_seq). ZKV_OK or ZKV_ENOMEM; zkv__atomic_unbuild frees what it allocated. */
int zkv__atomic_build(const zkv_batch *b, Zkv__Request *req);
void zkv__atomic_unbuild(Zkv__Request *req);
/* Settles b after the request's outcome rc (the answer resp for ZKV_OK/ZKV_ECONDITION,
 * from node; err: the reason of another failure): each write's version and status, the
 * rest with rc. Returns the batch's status, its reason published. */
int zkv__atomic_settle(zkv_batch *b, int rc, const Zkv__Response *resp, const char *node,
                       const char *err);

#endif
