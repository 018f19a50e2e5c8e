/* route.h: routing decisions as pure functions (no sockets, no ZooKeeper, no clock).
 *  - zkv__route_key: given a map, a key, the kind of operation and the flags, which node
 *    to ask (the owner; for a read with ZKV_FLAG_ALLOW_STALE also the range's replicas,
 *    in_sync ones first), skipping nodes that already failed in this call.
 *  - zkv__route_decide: given what happened to one attempt (an I/O error or a response
 *    status) and the call's state, what to do next: done, fail with which code, or retry
 *    (after marking the node down, refreshing the map, backing off).
 * The I/O shells (call.c, batch.c) only carry out these decisions. */
#ifndef ZKV_CLIENT_ROUTE_H
#define ZKV_CLIENT_ROUTE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rangemap.h"

/* What an operation does, for replica eligibility. */
typedef enum {
    ZKV__READ,  /* get, scan: a replica may answer with ZKV_FLAG_ALLOW_STALE */
    ZKV__WRITE, /* put, delete: the owner only */
} zkv__op_kind;

/* Nodes that failed (unreachable, timed out, refused) during the current round of a
 * call; they are skipped until the call backs off and refreshes the map. */
#define ZKV__DOWN_MAX 16
typedef struct zkv__down {
    char ids[ZKV__DOWN_MAX][ZKV_ID_MAX];
    size_t n;
} zkv__down;

void zkv__down_add(zkv__down *d, const char *node_id);
bool zkv__down_has(const zkv__down *d, const char *node_id);
static inline void zkv__down_clear(zkv__down *d)
{
    d->n = 0;
}

typedef enum {
    ZKV__ROUTE_SEND,     /* ask node (replica says whether it is not the owner) */
    ZKV__ROUTE_NO_OWNER, /* the range has no owner (and no replica may answer) */
    ZKV__ROUTE_ALL_DOWN, /* every eligible node failed or is not live: back off, retry */
    ZKV__ROUTE_NO_RANGE, /* the map does not cover the key (a map that does not tile) */
} zkv__route_kind;

typedef struct zkv__route {
    zkv__route_kind kind;
    const zkv_range *range;    /* the key's range (NULL for NO_RANGE) */
    const zkv_node_info *node; /* SEND: the node to ask */
    bool replica;              /* SEND: node is a replica, not the owner */
    const char *not_live;      /* ALL_DOWN: an eligible node absent from nodes/, or NULL */
} zkv__route;

/* Picks the node for key. Pointers in *out point into m. */
void zkv__route_key(const zkv_rangemap *m, const uint8_t *key, size_t klen, zkv__op_kind op,
                    unsigned flags, const zkv__down *down, zkv__route *out);

/* Maps a wire status (Zkv__Status) to a ZKV_* code (OK and NOT_FOUND included). */
int zkv__status_to_code(int status);

/* Backoff before retry number n (0-based): 5, 10, 20, 40, 80, 100, 100, ... ms. */
unsigned zkv__backoff_ms(unsigned n);

/* What happened to one attempt. */
typedef enum {
    ZKV__EV_RESPONSE, /* an answer arrived: status, node_map_version */
    ZKV__EV_IO,       /* no answer: io_code is ZKV_ECONNECT, ZKV_ETIMEOUT, ... */
    ZKV__EV_NO_OWNER, /* routing found no owner */
    ZKV__EV_ALL_DOWN, /* routing found every eligible node down */
} zkv__event;

typedef struct zkv__outcome {
    zkv__event event;
    int status;                /* RESPONSE: Zkv__Status */
    uint64_t node_map_version; /* RESPONSE: the node's routing version */
    int io_code;               /* IO: what the connection reported */
    bool stale_ok;             /* the call is a read with ZKV_FLAG_ALLOW_STALE */
    bool to_replica;           /* the attempt went to a replica */
} zkv__outcome;

/* The state of one call (or one operation of a batch) across its attempts. */
typedef struct zkv__call_state {
    unsigned retries;     /* retries that backed off so far (backoff index) */
    bool forced_refresh;  /* a no-owner answer already forced a map reload */
    int64_t map_version;  /* version of the map the attempt was routed with */
    uint64_t now_ms;      /* clock when deciding */
    uint64_t deadline_ms; /* end of the call's budget */
} zkv__call_state;

typedef enum {
    ZKV__NEXT_DONE,  /* code is ZKV_OK or ZKV_ENOTFOUND: hand the response over */
    ZKV__NEXT_FAIL,  /* code is the call's error */
    ZKV__NEXT_RETRY, /* route again, after the steps below */
} zkv__next_kind;

typedef struct zkv__next {
    zkv__next_kind kind;
    int code;            /* DONE/FAIL: result; RETRY: the error if the budget runs out */
    bool mark_down;      /* RETRY: skip this node for the rest of the round */
    bool clear_down;     /* RETRY: start a new round (forget nodes marked down) */
    bool refresh;        /* RETRY: reload the map if a watch fired */
    bool force_refresh;  /* RETRY: reload the map even without a watch event */
    unsigned backoff_ms; /* RETRY: sleep this long first */
} zkv__next;

/* Decides the next step. A retry whose backoff would end past the deadline becomes a
 * failure with the retry's code. The caller increments st->retries after a backoff. */
zkv__next zkv__route_decide(const zkv__outcome *o, const zkv__call_state *st);

#endif
