/* route.h: routing decisions as pure functions (no sockets, no ZooKeeper, no clock).
 *  - zkv__route_candidates / zkv__route_key: given a map, a key, the kind of operation,
 *    the flags and the client's zone, which nodes may serve it and in what order:
 *      write                  the owner only;
 *      read                   the owner, then (unless ZKV_FLAG_OWNER_ONLY) the replicas:
 *                             in_sync ones first, then the others, each group by id;
 *      ZKV_FLAG_READ_REPLICA  the replicas only (the owner is not asked; with a
 *                             staleness bound it is asked last): same zone as the client
 *                             first, then in_sync first, then by id;
 *      ZKV_FLAG_READ_NEAREST  the copies in the client's zone first (the owner before the
 *                             replicas), then the owner, then the other replicas;
 *    replicas of any read are ordered the client's zone first when it has one;
 *    skipping nodes that already failed in this call and nodes that are not live.
 *  - zkv__route_decide: given what happened to one attempt (an I/O error, a response
 *    status, or no node to ask) and the call's state, what to do next: done, fail with
 *    which code, or retry (after marking the node down, refreshing the map, backing off).
 *    When no node can serve the operation (the owner is unreachable, not live, fenced or
 *    absent and no replica may or can answer) the call keeps refreshing the map for
 *    `failfast` ms (zkv__failfast_expired) and then fails with ZKV_EUNAVAILABLE.
 *  - zkv__attempt_plan: how long one attempt may take and whether a node that failed
 *    just now is skipped (a read that may fall back leaves half its budget to replicas).
 *  - zkv__wire_flags: the RequestFlag bits one attempt carries.
 *  - zkv__retry_note: what a RETRY decision changes in a call's state and down set.
 *  - zkv__failures_note, zkv__answer_text, zkv__fail_text: the texts a call keeps of its
 *    failed attempts and the reason of its final error (zkv__unavailable_message: the
 *    sentence a ZKV_EUNAVAILABLE failure reports).
 * The I/O shells (call.c, batch.c, async_route.c) only carry out these decisions, so the
 * blocking and the asynchronous API retry and word their errors the same way. */
#ifndef ZKV_CLIENT_ROUTE_H
#define ZKV_CLIENT_ROUTE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rangemap.h"
#include "error.h"

/* Every flag bit of zkv.h. */
#define ZKV__FLAGS_ALL                                                                             \
    (ZKV_FLAG_READ_REPLICA | ZKV_FLAG_ACK_OWNER | ZKV_FLAG_OWNER_ONLY | ZKV_FLAG_READ_NEAREST |    \
     ZKV_FLAG_HEDGE)
/* Internal: the client's reads carry a staleness bound (zkv_options_set_max_staleness), so
 * a replica may refuse them (TOO_STALE) and ZKV_FLAG_READ_REPLICA asks the owner last.
 * Added by zkv__route_flags, never by callers. */
#define ZKV__FLAG_BOUNDED (1u << 31)

struct zkv_options;
/* The flags routing works with: a call's flags plus the client's read policy bits. */
unsigned zkv__route_flags(unsigned flags, const struct zkv_options *o);

/* Checks a call's flags (defaults included): known bits, no contradiction. 0, or -1 with
 * the reason in err. */
int zkv__flags_check(unsigned flags, char *err, size_t errlen);

/* What an operation does, for replica eligibility. */
typedef enum {
    ZKV__READ,  /* get, scan: replicas may answer (flagged stale) */
    ZKV__WRITE, /* put, delete: the owner only */
} zkv__op_kind;

/* Whether a read with these flags may fall back to replicas (a write never does). */
bool zkv__may_fall_back(zkv__op_kind op, unsigned flags);

/* Nodes that failed (unreachable, timed out, refused) during the current round of a
 * call, with a short reason each; they are skipped until the call backs off and
 * refreshes the map. */
#define ZKV__DOWN_MAX 16
#define ZKV__WHY_MAX 160
typedef struct zkv__down {
    char ids[ZKV__DOWN_MAX][ZKV_ID_MAX];
    char why[ZKV__DOWN_MAX][ZKV__WHY_MAX];
    size_t n;
} zkv__down;

void zkv__down_add(zkv__down *d, const char *node_id);
/* Adds (or updates) node_id with a reason ("connection refused"). */
void zkv__down_add_why(zkv__down *d, const char *node_id, const char *why);
bool zkv__down_has(const zkv__down *d, const char *node_id);
/* The reason recorded for node_id ("" when none or not down). */
const char *zkv__down_why(const zkv__down *d, const char *node_id);
static inline void zkv__down_clear(zkv__down *d)
{
    d->n = 0;
}

/* The short reason inside a connection error: the text after its last ": "
 * ("node n at a unreachable: connection refused" -> "connection refused"), or all of it. */
const char *zkv__short_reason(const char *err);

/* The owner of a range as the map shows it. */
typedef enum {
    ZKV__OWNER_LIVE,     /* named and registered in nodes/ */
    ZKV__OWNER_NOT_LIVE, /* named, but no nodes/ entry (its session is gone) */
    ZKV__OWNER_NONE,     /* the range has no owner */
} zkv__owner_state;

/* Candidates of a range for one operation, in the order they are asked (see above).
 * ids point into r. Returns the count (at most ZKV__CAND_MAX). */
#define ZKV__CAND_MAX (ZKV_MAX_REPLICAS + 1)
typedef struct zkv__cand {
    const char *id;
    bool replica; /* a replica, not the owner: the read is sent with FLAG_ALLOW_STALE */
} zkv__cand;
size_t zkv__route_candidates(const zkv_rangemap *m, const zkv_range *r, zkv__op_kind op,
                             unsigned flags, const char *zone, zkv__cand *out);

typedef enum {
    ZKV__ROUTE_SEND,     /* ask node (replica says whether it is not the owner) */
    ZKV__ROUTE_NO_OWNER, /* nobody may serve: no owner (and for reads, no replica) */
    ZKV__ROUTE_ALL_DOWN, /* every candidate failed or is not live: back off, retry */
    ZKV__ROUTE_NO_RANGE, /* the map does not cover the key (a map that does not tile) */
} zkv__route_kind;

typedef struct zkv__route {
    zkv__route_kind kind;
    const zkv_range *range;    /* the key's range (NULL for NO_RANGE) */
    const zkv_node_info *node; /* SEND: the node to ask */
    bool replica;              /* SEND: node is a replica, not the owner */
    zkv__owner_state owner;    /* the map's view of the range's owner */
    size_t n_candidates;       /* nodes that may serve the operation, live or not */
    const char *not_live;      /* an eligible node absent from nodes/, or NULL */
} zkv__route;

/* Picks the node for key. zone may be NULL or "". Pointers in *out point into m. */
void zkv__route_key(const zkv_rangemap *m, const uint8_t *key, size_t klen, zkv__op_kind op,
                    unsigned flags, const char *zone, const zkv__down *down, zkv__route *out);

/* How one attempt on route rt (kind SEND) is bounded. A read that may fall back
 * (fallback) and has a replica to fall back to leaves half the remaining budget to the
 * replicas when it asks the owner, so a hung owner (SIGSTOP, partition) cannot eat the
 * whole call; in its first round it skips a node that failed less than ZKV__SKIP_MS ago
 * (the caller knows which), so an owner that hangs costs reads one wait, not each. */
typedef struct zkv__attempt {
    uint64_t deadline_ms; /* the attempt counts as timed out then */
    bool may_skip;        /* skip the node if it failed just now */
} zkv__attempt;

/* The RequestFlag bits of one attempt: FLAG_ACK_OWNER for a write with
 * ZKV_FLAG_ACK_OWNER, FLAG_ALLOW_STALE for a read sent to a replica (never to the
 * owner: a node our stale map calls the owner must say NOT_OWNER, not answer stale). */
uint32_t zkv__wire_flags(zkv__op_kind op, unsigned flags, bool to_replica);

/* Stamps one attempt's request: its flags (zkv__wire_flags) and, for a read sent to a
 * replica, the client's staleness bound (o's max_lag_ms, max_lag_entries). */
struct Zkv__Request;
void zkv__stamp(struct Zkv__Request *req, zkv__op_kind op, unsigned flags, bool to_replica,
                const struct zkv_options *o);

/* The candidate a hedged read (ZKV_FLAG_HEDGE) also asks when rt (its first route, to the
 * owner) has not answered within the hedge delay: the next live candidate not in down,
 * a replica; NULL when there is none (then the read just waits). Points into m. */
const zkv_node_info *zkv__hedge_target(const zkv_rangemap *m, const zkv__route *rt, zkv__op_kind op,
                                       unsigned flags, const char *zone, const zkv__down *down);

/* Whether status is a node's refusal that a call's final error reports per node
 * (UNAVAILABLE; TOO_STALE, a replica further behind than the bound). */
bool zkv__node_refusal(int status);

/* Maps a wire status (Zkv__Status) to a ZKV_* code (OK and NOT_FOUND included); the
 * node-to-node statuses (STALE_EPOCH, LOG_MISMATCH) are protocol errors for a client. */
int zkv__status_to_code(int status);

/* Backoff before retry number n (0-based): 5, 10, 20, 40, 80, 100, 100, ... ms. */
unsigned zkv__backoff_ms(unsigned n);

/* Whether a call that found no node able to serve it since since_ms stops waiting for a
 * new owner now: never when the map names a new live owner (new_owner: another owner
 * than when the wait began; the wait starts over for it), else once failfast_ms have
 * passed since the first failure. */
bool zkv__failfast_expired(uint64_t since_ms, uint64_t now_ms, unsigned failfast_ms,
                           bool new_owner);

/* What happened to one attempt. */
typedef enum {
    ZKV__EV_RESPONSE, /* an answer arrived: status, node_map_version */
    ZKV__EV_IO,       /* no answer: io_code is ZKV_ECONNECT, ZKV_ETIMEOUT, ... */
    ZKV__EV_NO_OWNER, /* routing found nobody who may serve */
    ZKV__EV_ALL_DOWN, /* routing found every candidate down or not live */
} zkv__event;

typedef struct zkv__outcome {
    zkv__event event;
    int status;                /* RESPONSE: Zkv__Status */
    uint64_t node_map_version; /* RESPONSE: the node's routing version */
    int io_code;               /* IO: what the connection reported */
    bool fallback;             /* a read that replicas may answer (not OWNER_ONLY) */
    bool to_replica;           /* the attempt went to a replica */
    const char *owner;         /* the range's owner in the map routed with ("" if none) */
    bool owner_live;           /* ...and it is registered in nodes/ */
} zkv__outcome;

/* The state of one call (or one operation of a batch) across its attempts. */
typedef struct zkv__call_state {
    unsigned retries;                /* retries that backed off so far (backoff index) */
    bool forced_refresh;             /* a no-owner answer already forced a map reload */
    int64_t map_version;             /* version of the map the attempt was routed with */
    uint64_t now_ms;                 /* clock when deciding */
    uint64_t deadline_ms;            /* end of the call's budget */
    unsigned failfast_ms;            /* the client's failfast */
    uint64_t unserved_since;         /* first time no node could serve (0: not yet) */
    char unserved_owner[ZKV_ID_MAX]; /* the range's owner then ("" if none) */
} zkv__call_state;

typedef enum {
    ZKV__NEXT_DONE,  /* code is ZKV_OK, ZKV_ENOTFOUND or ZKV_ECONDITION: hand the response
                        over */
    ZKV__NEXT_FAIL,  /* code is the call's error */
    ZKV__NEXT_RETRY, /* route again, after the steps below */
} zkv__next_kind;

typedef struct zkv__next {
    zkv__next_kind kind;
    int code;                /* DONE/FAIL: result; RETRY: the error if the budget runs out */
    bool mark_down;          /* RETRY: skip this node for the rest of the round */
    bool clear_down;         /* RETRY: start a new round (forget nodes marked down) */
    bool refresh;            /* RETRY: reload the map if a watch fired */
    bool force_refresh;      /* RETRY: reload the map even without a watch event */
    unsigned backoff_ms;     /* RETRY: sleep this long first */
    bool unserved;           /* no node could serve: FAIL/RETRY carry ZKV_EUNAVAILABLE and the
                                caller reports zkv__unavailable_message */
    uint64_t unserved_since; /* when unserved: the caller stores it (and o->owner) in its
                                state: the wait began then (or began again: new owner) */
} zkv__next;

/* Decides the next step. A retry whose backoff would end past the deadline becomes a
 * failure with the retry's code. The caller increments st->retries after a backoff. */
zkv__next zkv__route_decide(const zkv__outcome *o, const zkv__call_state *st);

/* The plan of one attempt on rt at now_ms within st's budget (see zkv__attempt). */
zkv__attempt zkv__attempt_plan(const zkv__route *rt, bool fallback, const zkv__call_state *st,
                               uint64_t now_ms);

/* The outcome fields known when routing on rt, before anything is sent (event unset). */
zkv__outcome zkv__route_outcome(const zkv__route *rt, bool fallback);

/* Carries a RETRY decision nx (after outcome o of an attempt on node, NULL or "" when
 * none was asked) into the call's state: the start of the failfast wait and the owner
 * then, node marked down or the round started over (down may be NULL when nothing is
 * marked), a forced reload noted, the backoff counted in st->retries. Call it while
 * o->owner is valid (it points into the routed map). What is left to the caller:
 * reloading the map, waiting the backoff. */
void zkv__retry_note(zkv__call_state *st, zkv__down *down, const zkv__outcome *o,
                     const zkv__next *nx, const char *node);

/* What a ZKV_EUNAVAILABLE failure knows. */
typedef struct zkv__unserved {
    const char *range;       /* range id */
    const char *owner;       /* "" when none */
    zkv__owner_state state;  /* the map's view of the owner */
    const char *owner_why;   /* why the owner failed ("connection refused", a node's
                                UNAVAILABLE message), "" when it was not asked */
    bool owner_answered;     /* owner_why is the owner's UNAVAILABLE answer */
    bool fallback;           /* a read that replicas may answer */
    bool read_replica;       /* ZKV_FLAG_READ_REPLICA */
    size_t n_replicas;       /* replicas that could have answered */
    const char *replica_why; /* the last replica's failure, "" when none was asked */
} zkv__unserved;

/* "range r0003: owner node-2 unreachable (connection refused); writes are refused until
 * a new owner serves", "range r0003 has no owner; ...", and for reads the replicas' part. */
void zkv__unavailable_message(const zkv__unserved *u, zkv__op_kind op, char *out, size_t outlen);

/* What a call keeps of its failed attempts for the reason of its final error. */
typedef struct zkv__failures {
    bool owner_answered;            /* owner_why is the owner's UNAVAILABLE answer */
    bool replica_answered;          /* replica_why is a replica's refusal (kept over a later
                                       replica's silence: its own words say more) */
    char owner_why[ZKV__WHY_MAX];   /* why the owner failed */
    char replica_why[ZKV__WHY_MAX]; /* why the last replica failed ("node x: ...") */
    char last[ZKV__ERR_MAX];        /* the last failure, in full */
} zkv__failures;

/* Records a failed attempt on node (a replica or the owner) that kills the attempt
 * (unreachable, silent, UNAVAILABLE: answered): text is the failure in full, why its
 * short reason (zkv__short_reason, or the node's message). */
void zkv__failures_note(zkv__failures *f, const char *node, bool replica, bool answered,
                        const char *text, const char *why);

/* The text of an answer that is neither OK nor NOT_FOUND from node: "node n does not
 * own the key (node map version v, ours m): msg" for NOT_OWNER, else "node n: msg" (the
 * status name when message is NULL or ""). */
void zkv__answer_text(int status, const char *message, uint64_t node_map_version, const char *node,
                      int64_t map_version, char *out, size_t outlen);

/* The reason of a call's final failure nx (kind FAIL) after an outcome of event ev:
 *   no node could serve it (nx->unserved): zkv__unavailable_message for route rt (which
 *     must then be non-NULL; its range NULL: "map version m does not cover the key"),
 *     from what f recorded (NULL: nothing);
 *   ZKV_ENOTOWNER: "routing did not settle within <elapsed_ms> ms: <last>";
 *   ZKV_ETIMEOUT on the wire: "<last> within <elapsed_ms> ms";
 *   otherwise last, or the code's zkv_strerror when last is empty. */
void zkv__fail_text(const zkv__next *nx, zkv__event ev, const zkv__route *rt, zkv__op_kind op,
                    unsigned flags, int64_t map_version, const zkv__failures *f, const char *last,
                    uint64_t elapsed_ms, char *out, size_t outlen);

#endif
