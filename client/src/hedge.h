/* hedge.h: the blocking client's hedged read (ZKV_FLAG_HEDGE): ask the owner, and a
 * replica too when the owner has not answered within the hedge delay; the first usable
 * answer wins (hedge.c). */
#ifndef ZKV_CLIENT_HEDGE_H
#define ZKV_CLIENT_HEDGE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/frame.h"
#include "common/rangemap.h"

struct zkv_client;

typedef struct zkv__hedge {
    const zkv_node_info *owner;   /* asked first (req stamped for it) */
    const zkv_node_info *replica; /* asked at hedge_at_ms if the owner is silent (NULL: none) */
    unsigned flags;               /* the call's flags (the replica's request is stamped anew) */
    uint64_t hedge_at_ms, open_deadline_ms, deadline_ms;
} zkv__hedge;

/* One hedged exchange. ZKV_OK with *resp (the winner's answer; *replica_won when it is the
 * replica's, which then is OK or NOT_FOUND), or the owner's failure (ZKV_ECONNECT,
 * ZKV_ETIMEOUT, ...) with err when neither settled it. */
int zkv__hedged_exchange(struct zkv_client *c, const zkv__hedge *hg, Zkv__Request *req,
                         Zkv__Response **resp, bool *replica_won, char *err, size_t errlen);

#endif
