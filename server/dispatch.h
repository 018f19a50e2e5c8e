/* dispatch.h: one request in, one response out, over a store and a range map: the
 * protocol rules of docs/internals.md (hello first, limits, ownership, scan pages)
 * without sockets. Writes are staged in the store and acknowledged by the caller only
 * after zkv_store_commit (group commit lives in the network loop).
 *
 * A zkv_reply holds the response and every buffer it points into; it is reused from
 * request to request (zkv_reply_reset keeps the memory). Not thread-safe. */
#ifndef ZKV_SERVER_DISPATCH_H
#define ZKV_SERVER_DISPATCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "common/rangemap.h"
#include "store.h"
#include "zkv.pb-c.h"

#define ZKV_SCAN_DEFAULT_LIMIT 1000u
#define ZKV_SCAN_MAX_LIMIT 10000u
#define ZKV_SCAN_BYTE_BUDGET ((size_t)4 * 1024 * 1024)

struct zkv_reply;

/* What the node knows when it answers. */
/* MULTI_WRITE: at most this many writes, and at most max_key + max_value bytes counting
 * this much per write beside its key and value (the batch's APPEND then fits a frame). */
#define ZKV_MULTI_MAX_WRITES 1000u
#define ZKV_MULTI_WRITE_COST 64u

typedef struct zkv_dispatch_env {
    zkv_store *store;
    const zkv_rangemap *map; /* NULL until the first map is loaded */
    const char *node_id;
    const char *cluster_name;
    const char *cluster_id; /* "" until the cluster record has been read */
    size_t max_key, max_value;
    /* --auth-file (common/auth.h): the credentials HELLO must present; NULL: none asked. */
    const struct zkv_auth *auth;
    /* No valid serving lease (lease.h): owned ranges are answered UNAVAILABLE. */
    bool fenced;
    /* Replication hooks (owner side), called with hook_ctx; NULL = not set.
     * write_gate: PUT/DELETE of a range this node serves, before staging; non-zero refuses
     * the write with UNAVAILABLE and msg (--min-in-sync).
     * owner_status: RANGE_STATUS of a range this node owns (and is not fenced for): adds the
     * replicas with zkv_reply_add_replica.
     * read_vis: what owner reads of r may see (readvis.h); NULL refuses the read with
     * UNAVAILABLE (no replication state for the range yet). Without the hook (unit tests of
     * a node without replication) every committed write is visible. */
    int (*write_gate)(void *ctx, const zkv_range *r, char *msg, size_t msglen);
    struct zkv_readvis *(*read_vis)(void *ctx, const zkv_range *r);
    /* move_gate (ctx move_ctx): a range this node serves that is being passed to another
     * owner (handoff.h): 1 holds its writes, 2 every request for it (the caller answers
     * them NOT_OWNER once the move is over); 0 serves. NULL: no moves. */
    int (*move_gate)(void *ctx, const zkv_range *r);
    /* handed_to (ctx move_ctx): whether this node has written the map that makes node the
     * owner of range_id at epoch (a handoff it made, not yet in its installed map), so the
     * new owner's replication is taken at once. NULL: no moves. */
    bool (*handed_to)(void *ctx, const char *range_id, uint64_t epoch, const char *node);
    void *move_ctx;
    /* Fast path of read_vis (kept by the shipper): the visibility of the i-th range of map,
     * NULL when not owned here; a NULL array, an entry marked stale or a NULL entry ask
     * read_vis. */
    struct zkv_readvis *const *vis_by_map;
    size_t n_vis_by_map;
    void (*owner_status)(void *ctx, const char *range_id, struct zkv_reply *r);
    void *hook_ctx;
    /* Replicas keep the last log_retain entries of a range's log (0: keep everything), and
     * of those no more than log_retain_bytes (0: no limit in bytes). */
    uint64_t log_retain;
    uint64_t log_retain_bytes;
    /* The conditional writes applied here (dedupe.h), owner and replica alike; NULL: none
     * remembered (every retry is judged again). */
    struct zkv_dedupe *dedupe;
    /* The owners' clocks as this node knows them from APPEND (ownerclock.h): replica reads
     * judge expiry by them. NULL: by this node's wall clock. */
    struct zkv_ownerclock *clock;
    /* INFO: the node's figures as JSON, malloc'd (info.h); NULL hook or NULL answer: the
     * request is answered INTERNAL. */
    char *(*info)(void *ctx);
    void *info_ctx;
} zkv_dispatch_env;

/* Per-connection protocol state. */
typedef struct zkv_session {
    bool hello_done;
    char peer_node[ZKV_ID_MAX]; /* HELLO node_id: the peer is a node ("" for clients) */
    char cert_cn[ZKV_ID_MAX];   /* mutual TLS: the client certificate's common name ("": none) */
} zkv_session;

typedef struct zkv_reply {
    Zkv__Response resp;
    /* RANGE_STATUS: the owner's replica list */
    Zkv__ReplicaStatus rstat[ZKV_MAX_REPLICAS];
    Zkv__ReplicaStatus *rstat_ptrs[ZKV_MAX_REPLICAS];
    char rstat_ids[ZKV_MAX_REPLICAS][ZKV_ID_MAX];
    char message[512];
    zkv_store_value value;  /* GET: the record resp.value points into */
    const zkv_range *range; /* PUT/DELETE answered OK, a read that waits: the key's range */
    uint64_t wait_seq;      /* an owner read's answer waits until the range's commit point
                               reaches this seq (readvis.h); 0: it may go now */
    bool moving;            /* the key's range (range) is being passed on: the answer is
                               NOT_OWNER once the move is over (acks.h) */
    /* SCAN: item bytes and the items pointing into them */
    zkv_buf scan_data;
    char *info; /* INFO: the JSON resp.info points to (freed by zkv_reply_reset) */
    Zkv__KeyValue *items;
    Zkv__KeyValue **item_ptrs;
    size_t *item_offs; /* 2 per item: key offset, value offset in scan_data */
    size_t items_cap;
} zkv_reply;

void zkv_reply_init(zkv_reply *r);
/* Releases what the last response held, keeps the buffers. */
void zkv_reply_reset(zkv_reply *r);
void zkv_reply_free(zkv_reply *r);

/* Appends a ReplicaStatus for node_id to r->resp.replicas (initialised, node_id copied) and
 * returns it for the caller to fill; NULL when ZKV_MAX_REPLICAS are there already. */
Zkv__ReplicaStatus *zkv_reply_add_replica(zkv_reply *r, const char *node_id);

/* Sets the status and a printf-style message of r (for dispatch.c and replica.c). */
void zkv_reply_status(zkv_reply *r, Zkv__Status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Routing decision for a key, a pure function of the map. */
typedef enum {
    ZKV_ROUTE_SERVE,     /* this node owns the key's range */
    ZKV_ROUTE_NOT_OWNER, /* another node owns it */
    ZKV_ROUTE_NO_OWNER,  /* nobody owns it: UNAVAILABLE */
    ZKV_ROUTE_NOT_READY, /* no map loaded yet (or a map with a hole) */
} zkv_route;

zkv_route zkv_dispatch_route(const zkv_rangemap *map, const char *node_id, const uint8_t *key,
                             size_t klen, const zkv_range **range);
/* The map's range with that id, or NULL. */
const zkv_range *zkv_dispatch_find_range(const zkv_rangemap *map, const char *range_id);

typedef enum {
    ZKV_DISPATCH_REPLY = 0, /* send r->resp */
    ZKV_DISPATCH_CLOSE = 1, /* send r->resp, then close the connection */
} zkv_dispatch_result;

/* Handles req; fills r (reset first by the function). */
zkv_dispatch_result zkv_dispatch(const zkv_dispatch_env *env, zkv_session *sess,
                                 const Zkv__Request *req, zkv_reply *r);

/* Fills r with an error answer for a frame that never became a request (too large,
 * undecodable). */
void zkv_dispatch_error(const zkv_dispatch_env *env, zkv_reply *r, uint64_t id, Zkv__Status status,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Fills kv (a scan or snapshot item) from key and v, appending the key and value bytes to
 * data and recording their offsets in offs[0] and offs[1]: the caller points kv's bytes
 * into data once data stops growing. Returns 0, or -1 when data cannot grow. */
int zkv_kv_item_stage(Zkv__KeyValue *kv, size_t offs[2], zkv_buf *data, const uint8_t *key,
                      size_t klen, const zkv_value_view *v);

/* The background expirer's step (expirer.h): when this node owns key's range and the key
 * has expired, stages its delete (a purge, as a read of it would) and returns true; r is
 * scratch. */
bool zkv_dispatch_purge_expired(const zkv_dispatch_env *env, const uint8_t *key, size_t klen,
                                zkv_reply *r);

#endif
