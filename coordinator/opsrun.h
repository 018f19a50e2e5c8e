/* opsrun.h: the operators' operations (ops/, opstep.h) inside the leader's reconcile pass.
 * zkv_opsrun_load reads every ops/ child (with a child watch, so a new operation wakes
 * the leader) and the drained/ list; zkv_opsrun_step runs one step of each operation, in
 * id order, over the placement's output; zkv_opsrun_ops appends the ZooKeeper writes the
 * steps asked for (operation znodes set at their read version or deleted, drained/
 * markers, the cluster record's R) to the leader's multi, which also carries the changed
 * ranges and the map bump, so a step and its effect on the map are one atomic write.
 * Failed operations stay for ZKV_OPS_FAILED_KEEP_MS so `zkv admin status` shows why, then
 * are deleted. Main thread of the coordinator only. */
#ifndef ZKV_COORDINATOR_OPSRUN_H
#define ZKV_COORDINATOR_OPSRUN_H
#include <stddef.h>
#include <zookeeper/zookeeper.h>
#include "coord.h"
#include "opstep.h"

#define ZKV_OPS_FAILED_KEEP_MS ((uint64_t)10 * 60 * 1000)

typedef struct zkv_opsrun zkv_opsrun;

/* Reads ops/ and drained/ (both watched). Returns ZOK with *out (free with
 * zkv_opsrun_free), or a ZooKeeper error. */
int zkv_opsrun_load(zkv_coord *c, zkv_opsrun **out);
void zkv_opsrun_free(zkv_opsrun *r); /* NULL is a no-op */
/* The drained/ children, for the placement's excluded list (valid until free). */
const char *const *zkv_opsrun_drained(const zkv_opsrun *r, size_t *n);
/* One step of every operation over w (its ranges may change). */
void zkv_opsrun_step(zkv_opsrun *r, zkv_op_world *w, uint64_t now_wall_ms);
/* How many ZooKeeper operations zkv_opsrun_ops appends. */
/* The operations loaded (in ops/ now). */
size_t zkv_opsrun_loaded(const zkv_opsrun *r);
/* The i-th operation loaded (i < zkv_opsrun_loaded), for the metrics; NULL past them. */
const zkv_op *zkv_opsrun_op(const zkv_opsrun *r, size_t i);
size_t zkv_opsrun_count(const zkv_opsrun *r);
/* Appends them at ops[0..count): the buffers they point to live in r. Returns 0, or -1 out
 * of memory. */
int zkv_opsrun_ops(zkv_opsrun *r, zkv_coord *c, zoo_op_t *ops, struct Stat *stats);
/* After the multi: logs what each step did (ok: it was written). */
void zkv_opsrun_done(zkv_opsrun *r, bool ok);
/* The replication factor a step wrote (0: none). */
int zkv_opsrun_new_replicas(const zkv_opsrun *r);

#endif
