/* rejoin.h: a node coming back after its machine restarted. Without --sync its copies may
 * have lost the writes that were only in the page cache (LevelDB's last records, value-log
 * bytes), while other copies hold them. So before the node registers it waits, bounded, for
 * the registration of its previous run to expire and for the coordinator to give the ranges
 * it owned to in-sync replicas; then it forgets the copies its value-log check found
 * damaged (store.h, zkv_store_vlog_recover) where another copy can rebuild them, so they
 * are rebuilt from the others. Decisions: rejoin_plan.h; docs/guarantees.md. Runs at start, on
 * the main thread, before the server. */
#ifndef ZKV_SERVER_REJOIN_H
#define ZKV_SERVER_REJOIN_H
#include <stddef.h>
#include <stdint.h>
#include "common/zkacl.h"
#include "store.h"

typedef struct zkv_rejoin_config {
    const char *zk, *cluster, *node_id;
    int session_timeout_ms;
    const zkv_zk_cred *cred; /* NULL: none */
    uint64_t wait_ms;        /* at most this long waiting (then it goes on, logged) */
} zkv_rejoin_config;

/* What zkv_rejoin did. */
typedef struct zkv_rejoin_result {
    bool waited_out;  /* the wait ended at wait_ms, not because it was over */
    bool map_read;    /* the map was read (else nothing was forgotten) */
    size_t forgotten; /* damaged copies forgotten */
    size_t kept;      /* damaged copies kept: no other copy to rebuild them from */
} zkv_rejoin_result;

/* 0, or -1 with err when forgetting a range failed (the store is then failed). */
int zkv_rejoin(const zkv_rejoin_config *c, zkv_store *store, const zkv_vlog_recovery *damage,
               zkv_rejoin_result *out, char *err, size_t errlen);

#endif
