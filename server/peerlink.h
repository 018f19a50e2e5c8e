/* peerlink.h: one connection from this node to another node of the cluster, the shipper's
 * replication link (shipper.c keeps one per peer node; issue 11's transport moves here
 * next): a libuv connect to the node's address, the HELLO as a node (common/hello.h),
 * requests framed out (APPENDs by the hand encoder of ship_wire.h, anything else by
 * protobuf-c), answers decoded (ship_wire.h's light decoder, protobuf-c for other shapes)
 * and matched in order against the requests in flight, and a reconnect after a failure,
 * backing off 50 ms doubling to 1 s (zkv_ship_backoff_next). What a request was for is its
 * owner's business: each request in flight has a record of rec_size bytes whose first
 * field is a zkv_peerlink_rec, the rest filled by the owner and handed back with the
 * answer. Loop thread only. */
#ifndef ZKV_SERVER_PEERLINK_H
#define ZKV_SERVER_PEERLINK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "common/buf.h"
#include "common/tls.h"
#include "zkv.pb-c.h"

typedef struct zkv_peerlink zkv_peerlink;

/* The head of every request record. */
typedef struct zkv_peerlink_rec {
    uint64_t id;
    uint64_t sent_ms;
} zkv_peerlink_rec;

typedef struct zkv_peerlink_cfg {
    uv_loop_t *loop;
    const char *cluster_id; /* the node's, read at each HELLO ("": not known yet, waits) */
    const char *node_id;    /* this node's id */
    const char *auth;       /* the cluster secret presented at HELLO (NULL: none) */
    /* the node's TLS client context, read at each connect (NULL or *NULL: plain TCP) */
    zkv_tls_ctx *const *tls;
    uint64_t *next_id; /* request ids, one counter for all links (shared frames) */
    int *open_handles; /* the owner's count of open libuv handles */
    size_t rec_size;   /* bytes per request record, at least sizeof(zkv_peerlink_rec) */
    /* Callbacks (ctx): up once the HELLO is answered (requests may go); down when the
     * connection is lost (every request in flight with it); an answer with its record. */
    void (*on_up)(void *ctx);
    void (*on_down)(void *ctx);
    void (*on_answer)(void *ctx, void *rec, const Zkv__Response *resp);
    void *ctx;
} zkv_peerlink_cfg;

/* A link to node peer_id (no address yet: zkv_peerlink_set_addr). NULL out of memory. */
zkv_peerlink *zkv_peerlink_new(const zkv_peerlink_cfg *cfg, const char *peer_id);
/* The node's address (HOST:PORT) from the map; a new one reconnects at once if down. */
void zkv_peerlink_set_addr(zkv_peerlink *l, const char *addr);
/* Connects when down and no reconnect is pending. */
void zkv_peerlink_start(zkv_peerlink *l);
/* Arms the reconnect of a link that is down with none pending (the owner's tick). */
void zkv_peerlink_tick(zkv_peerlink *l);
bool zkv_peerlink_ready(const zkv_peerlink *l);
/* Frames req (its id set here) onto the output and records it: the record (its head
 * filled, the rest zero) for the owner to fill, or NULL when the link failed (out of
 * memory). */
void *zkv_peerlink_send(zkv_peerlink *l, Zkv__Request *req);
/* Frames req onto out as a link does (for a frame built once and sent to several links
 * with zkv_peerlink_send_framed). 0, or -1 out of memory. */
int zkv_peerlink_frame(zkv_buf *out, const Zkv__Request *req);
/* The same for a request framed already (id inside it). */
void *zkv_peerlink_send_framed(zkv_peerlink *l, const uint8_t *frame, size_t len, uint64_t id);
/* Writes what is queued (when connected and not writing). */
void zkv_peerlink_flush(zkv_peerlink *l);
/* Drops the connection (logged once until it is up again) and reconnects later. */
void zkv_peerlink_fail(zkv_peerlink *l, const char *why);
/* No more callbacks: closes the connection and frees the link once libuv has closed its
 * handles. */
void zkv_peerlink_release(zkv_peerlink *l);
/* Frees a link never released, once the loop has closed every handle (the owner's free). */
void zkv_peerlink_free(zkv_peerlink *l);

#endif
