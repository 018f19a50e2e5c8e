/* client.h: the contents of zkv_client and the one routed-request loop every call
 * shares. A client is its options, the map cache (ZooKeeper session + map) and the
 * connection pool; it has no other state, which is what makes it safe to share. */
#ifndef ZKV_CLIENT_CLIENT_H
#define ZKV_CLIENT_CLIENT_H
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
};

/* The result of one routed request. */
typedef struct zkv__reply {
    Zkv__Response *resp;   /* the answer (OK or NOT_FOUND); caller frees */
    char node[ZKV_ID_MAX]; /* node that answered */
    zkv_range range;       /* copy of the range it was routed to (caller clears) */
} zkv__reply;

/* Sends req (routed by rkey) to the node that owns it, retrying NOT_OWNER answers and
 * unreachable nodes within the deadline (route.h decides). On ZKV_OK/ZKV_ENOTFOUND
 * *reply is filled; on other codes the reason is in err. */
int zkv__call(zkv_client *c, Zkv__Request *req, const uint8_t *rkey, size_t rklen, zkv__op_kind op,
              unsigned flags, uint64_t deadline_ms, zkv__reply *reply, char *err, size_t errlen);

/* Validates the per-call arguments shared by every entry point and returns the
 * deadline: timeout_ms 0 means the client's default. ZKV_OK or ZKV_EINVAL (published). */
int zkv__call_begin(zkv_client *c, int timeout_ms, uint64_t *deadline_ms);

/* Sleeps ms, but not past the deadline. */
void zkv__sleep_until(uint64_t ms, uint64_t deadline_ms);

/* The message for a routed failure, given the last node error (may be empty). */
void zkv__route_message(int code, const zkv__route *rt, const char *last, int timeout_ms, char *err,
                        size_t errlen);

#endif
