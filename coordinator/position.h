/* position.h: the leader's small blocking client for failover: asks nodes for their
 * position (epoch, seq) in ranges with RANGE_STATUS (docs/replication.md, "Failover").
 *
 * One TCP connection per node, all nodes at once: each connection sends HELLO (the
 * cluster id, node_id "coordinator") and every RANGE_STATUS of that node back to back,
 * then reads the answers. The call returns when every node has answered everything, or
 * failed, or the budget is spent; what a node did not answer in time stays unanswered
 * (the placement then skips that candidate). Nothing outlives the call: every socket is
 * closed before it returns. Loopback or LAN addresses "host:port" as registered in
 * nodes/<id>. */
#ifndef ZKV_COORDINATOR_POSITION_H
#define ZKV_COORDINATOR_POSITION_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZKV_POSITION_BUDGET_MS 500 /* per node; nodes are asked in parallel */

typedef struct zkv_position_answer {
    bool answered; /* RANGE_STATUS came back OK: epoch/seq are the node's position */
    uint64_t epoch;
    uint64_t seq;
} zkv_position_answer;

/* One node to ask. The caller fills node_id, addr, range_ids/n_ranges and points
 * answers at n_ranges entries; zkv_position_ask fills answers and error. */
typedef struct zkv_position_target {
    const char *node_id;
    const char *addr; /* "host:port" */
    const char *const *range_ids;
    size_t n_ranges;
    zkv_position_answer *answers;
    char error[256]; /* "" when every range was answered, else the first reason */
} zkv_position_target;

/* Asks every target for its position in each of its ranges, in parallel, and returns
 * after at most budget_ms (plus name resolution of non-numeric hosts). Never fails as a
 * whole: a node that cannot be reached, refuses the hello or answers a range with
 * another status than OK leaves those answers unset and says why in its error. auth is the
 * cluster secret the HELLO presents (NULL or "": none); tls the coordinator's TLS client
 * context (NULL: plain TCP). */
typedef struct zkv_tls_ctx zkv_tls_ctx;
void zkv_position_ask(zkv_position_target *targets, size_t n, const char *cluster_id,
                      const char *auth, const zkv_tls_ctx *tls, int budget_ms);

#endif
