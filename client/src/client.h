/* client.h: the contents of zkv_client and the one routed-request loop every call
 * shares. A client is its options, the map cache (ZooKeeper session + map) and the
 * connection pool; it has no other state, which is what makes it safe to share. */
#ifndef ZKV_CLIENT_CLIENT_H
#define ZKV_CLIENT_CLIENT_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "zkv/zkv.h"
#include "common/frame.h"
#include "mapcache.h"
#include "options.h"
#include "pool.h"
#include "route.h"

struct zkv_client {
    struct zkv_options opts;
    zkv_cluster_info info; /* cluster record read at create (cluster_id for HELLO) */
    zkv__mapcache mc;
    zkv__pool pool;
    zkv__pool hedge_pool; /* hedged reads' second requests (hedge.c) */
    zkv_tls_ctx *tls;     /* TLS to the nodes (NULL: plain), from the options */
    /* Conditional writes carry (client_id, a request number): random per client, never 0;
     * numbers from 1 up, the same on every retry of one call. */
    uint64_t client_id;
    atomic_uint_fast64_t next_cseq;
};

/* The result of one routed request. */
typedef struct zkv__reply {
    Zkv__Response *resp;   /* the answer (OK or NOT_FOUND); caller frees */
    char node[ZKV_ID_MAX]; /* node that answered */
    bool replica;          /* a replica answered (the value may be stale) */
} zkv__reply;

/* Sends req (routed by rkey) to the node that owns it, retrying NOT_OWNER answers and
 * unreachable nodes within the deadline, falling back to replicas for reads and waiting
 * `failfast` for a new owner when none can serve (route.h decides). Sets req->flags for
 * each attempt. On ZKV_OK/ZKV_ENOTFOUND *reply is filled; on other codes the reason is
 * in err. */
int zkv__call(zkv_client *c, Zkv__Request *req, const uint8_t *rkey, size_t rklen, zkv__op_kind op,
              unsigned flags, uint64_t deadline_ms, zkv__reply *reply, char *err, size_t errlen);

/* Makes req (a PUT or DELETE) conditional: cond (ZKV_IF_ABSENT, ZKV_IF_VERSION) with
 * expected, and the client's id and next request number. ZKV_OK, or ZKV_EINVAL
 * (published) for an unknown condition. */
int zkv__condition_set(zkv_client *c, Zkv__Request *req, int cond, zkv_version expected);

/* Validates the per-call arguments shared by every entry point and returns the
 * deadline: timeout_ms 0 means the client's default. ZKV_OK or ZKV_EINVAL (published). */
int zkv__call_begin(zkv_client *c, int timeout_ms, uint64_t *deadline_ms);

/* Checks a single-key call's arguments against c's limits (flags with the defaults in):
 * ZKV_OK, or ZKV_EINVAL / ZKV_ETOOLARGE, published. */
int zkv__check_kv(const zkv_client *c, const void *key, size_t klen, const void *val, size_t vlen,
                  unsigned flags);

/* Sleeps ms, but not past the deadline. */
void zkv__sleep_until(uint64_t ms, uint64_t deadline_ms);

/* The reason of a failed attempt for the messages: the node's message for a status
 * (resp), or the short reason of a connection error (ioerr). */
void zkv__attempt_why(const Zkv__Response *resp, const char *ioerr, char *out, size_t outlen);

/* One exchange with node: open (connect + HELLO, bounded by open_deadline_ms and the
 * deadline) if needed, send req, read its answer. With may_skip (a read replicas can
 * answer) a node that was unreachable or silent within the last ZKV__SKIP_MS is not
 * asked: ZKV_ECONNECT at once, so an owner that hangs costs reads one wait, not each. */
int zkv__exchange(zkv_client *c, const zkv_node_info *node, Zkv__Request *req, bool may_skip,
                  uint64_t open_deadline_ms, uint64_t deadline_ms, Zkv__Response **resp, char *err,
                  size_t errlen);

/* Deadline of connecting and HELLO to a node: a node that cannot complete a HELLO within
 * the failfast (at least 250 ms) counts as unreachable. */
uint64_t zkv__open_deadline(const zkv_client *c, uint64_t now_ms, uint64_t deadline_ms);

#endif
