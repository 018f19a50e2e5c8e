/* conn.h: one TCP connection from the client to one node. Blocking API over a
 * non-blocking socket: every wait is a poll(2) bounded by the call's deadline. A
 * connection opens with HELLO (cluster id checked) and then carries pipelined requests:
 * zkv__conn_send queues and starts writing a group of requests (one write), and
 * zkv__conn_recv finishes writing while reading their answers, matched by request id.
 * On any I/O error, timeout or protocol violation the socket is closed (fd = -1); the
 * next zkv__conn_open reconnects. Not thread-safe by itself: hold c->lock for one
 * open/send/recv exchange. Errors: ZKV_* codes with the reason in err. */
#ifndef ZKV_CLIENT_CONN_H
#define ZKV_CLIENT_CONN_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/frame.h"
#include "common/rangemap.h"
#include "common/stream.h"

typedef struct zkv__conn {
    pthread_mutex_t lock; /* held for one request/response exchange */
    atomic_int refs;      /* the pool's reference plus one per user */
    char node_id[ZKV_ID_MAX];
    char addr[ZKV_ADDR_MAX];
    zkv_stream s;              /* s.fd -1 while closed */
    const zkv_tls_ctx *tls;    /* the client's TLS context (NULL: plain) */
    uint64_t next_id;          /* request ids increase per connection */
    uint64_t peer_map_version; /* the node's routing version, from its last answer */
    uint64_t last_read_ms;     /* when bytes last arrived (zkv_now_ms) */
    /* Until when reads that replicas can answer skip this node: set after it was
     * unreachable or silent, cleared by its next answer (zkv__conn_note). */
    atomic_uint_fast64_t skip_until_ms;
    uint64_t abandoned;   /* answers to ids up to this one are dropped (a hedge that lost) */
    unsigned n_abandoned; /* ...of which this many have not come yet */
    zkv_buf in;           /* bytes read, not yet parsed */
    zkv_buf out;          /* bytes queued, not yet written */
} zkv__conn;

/* What HELLO says about us. */
typedef struct zkv__hello {
    const char *cluster_id;
    const char *client_name;
    const char *auth; /* the credential ("" or NULL: none) */
    uint64_t map_version;
} zkv__hello;

/* How long reads that may fall back skip a node that just failed them. */
#define ZKV__SKIP_MS 1000

/* Records how an exchange with the node went: unreachable or silent (ZKV_ECONNECT,
 * ZKV_ETIMEOUT) starts a ZKV__SKIP_MS skip window; an answer ends it. Lock-free. */
void zkv__conn_note(zkv__conn *c, int rc, uint64_t now_ms);
/* Whether reads that replicas can answer should skip the node now. Lock-free (the
 * connection's lock may be held by a thread stuck on that very node). */
bool zkv__conn_skipped(zkv__conn *c, uint64_t now_ms);

/* A closed connection to node_id at addr with one reference, TLS with tls (borrowed: it
 * outlives the connection) or plain with NULL. NULL on ENOMEM. */
zkv__conn *zkv__conn_new(const char *node_id, const char *addr, const zkv_tls_ctx *tls);
void zkv__conn_ref(zkv__conn *c);
/* Drops one reference; the last one closes and frees. NULL is a no-op. */
void zkv__conn_unref(zkv__conn *c);
void zkv__conn_close(zkv__conn *c);

struct addrinfo;
/* Resolves a node's "host:port" (common's zkv_resolve_tcp) with libzkv's messages:
 * ZKV_OK with *res (freeaddrinfo), or ZKV_ECONNECT naming the node and the reason. */
int zkv__resolve_node(const char *node_id, const char *addr, struct addrinfo **res, char *err,
                      size_t errlen);

/* Makes sure the connection is open: drops it if the peer closed it while idle, then
 * connects (TCP_NODELAY) and exchanges HELLO. ZKV_OK, ZKV_ECONNECT (unreachable),
 * ZKV_ETIMEOUT, ZKV_ENOCLUSTER (node of another cluster), ZKV_EPROTOCOL, ZKV_ENOMEM. */
/* The answer to a HELLO for cluster_id from node_id at addr (common/hello.h) as a libzkv
 * code: ZKV_OK, ZKV_ENOCLUSTER for a node of another cluster, else the refusal's status;
 * err gets the sentence. Shared by the blocking and the async connections. */
int zkv__hello_answer(const Zkv__Response *resp, const char *cluster_id, const char *node_id,
                      const char *addr, char *err, size_t errlen);
int zkv__conn_open(zkv__conn *c, const zkv__hello *h, uint64_t deadline_ms, char *err,
                   size_t errlen);

/* Assigns ids to reqs[0..n) (first one in *first_id), encodes them into the output
 * buffer and writes what the socket takes without waiting. */
int zkv__conn_send(zkv__conn *c, Zkv__Request *const *reqs, size_t n, uint64_t *first_id, char *err,
                   size_t errlen);

/* Decodes an answer (zkv_frame_decode_response_fast, else protobuf-c) into one that
 * owns its bytes; NULL when undecodable or on ENOMEM. Free with zkv__response_free. */
Zkv__Response *zkv__response_decode(const uint8_t *payload, size_t len);
void zkv__response_free(Zkv__Response *r);
/* Whether r is one block of zkv__response_decode, its value followed by a NUL: a value
 * may then keep r instead of copying its bytes (value.h). */
bool zkv__response_is_block(const Zkv__Response *r);

/* Writes the rest, then reads until the answers to ids first_id .. first_id+n-1 are all in
 * resps[0..n) (in any order). On failure the connection is closed; answers already read
 * stay in resps (the others are NULL). Free each with zkv__response_free. */
int zkv__conn_recv(zkv__conn *c, uint64_t first_id, size_t n, Zkv__Response **resps,
                   uint64_t deadline_ms, char *err, size_t errlen);

/* The pieces of zkv__conn_recv, for a caller that waits on several connections at once
 * (a hedged read, hedge.c): the poll(2) events c waits for; the reads and writes its
 * revents allow; the answers to [first_id, first_id+n) among what was read (*got counts
 * them); the failure of a wait (ev 0: ZKV_ETIMEOUT, -1: errno). Each closes c on error. */
short zkv__conn_events(const zkv__conn *c);
int zkv__conn_io(zkv__conn *c, short revents, char *err, size_t errlen);
int zkv__conn_take(zkv__conn *c, uint64_t first_id, size_t n, Zkv__Response **resps, size_t *got,
                   char *err, size_t errlen);
int zkv__conn_fail_wait(zkv__conn *c, int ev, char *err, size_t errlen);
/* The request id was given up on: its answer, when it comes, is dropped unread. */
void zkv__conn_abandon(zkv__conn *c, uint64_t id);

#endif
