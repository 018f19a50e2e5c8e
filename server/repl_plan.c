/* repl_plan.c: the STREAM-or-SNAPSHOT decision of a replica (see repl_plan.h). */
#include "repl_plan.h"

/* Last seq of epoch in the owner's history, or 0 with *found false when the owner never
 * wrote in that epoch. */
static uint64_t epoch_end(const zkv_epoch_start *hist, size_t n, uint64_t owner_last_seq,
                          uint64_t epoch, uint64_t *start, int *found)
{
    *found = 0;
    for (size_t i = 0; i < n; i++) {
        if (hist[i].epoch != epoch)
            continue;
        *found = 1;
        *start = hist[i].start_seq;
        if (i + 1 < n)
            return hist[i + 1].start_seq ? hist[i + 1].start_seq - 1 : 0;
        return owner_last_seq;
    }
    return 0;
}

zkv_repl_action zkv_repl_plan(const zkv_epoch_start *hist, size_t n, uint64_t owner_first_seq,
                              uint64_t owner_last_seq, uint64_t owner_last_epoch,
                              uint64_t rep_epoch, uint64_t rep_seq, uint64_t *from_seq)
{
    zkv_epoch_start legacy = {.epoch = owner_last_epoch, .start_seq = 1};
    if (n == 0 && owner_last_seq > 0) {
        hist = &legacy;
        n = 1;
    }
    uint64_t d = 0;
    if (rep_seq > 0) {
        uint64_t start = 0;
        int found;
        uint64_t end = epoch_end(hist, n, owner_last_seq, rep_epoch, &start, &found);
        if (!found || start > rep_seq)
            return ZKV_REPL_SNAPSHOT; /* the replica's last entry is not the owner's */
        d = rep_seq < end ? rep_seq : end;
        if (d < rep_seq)
            return ZKV_REPL_SNAPSHOT; /* divergent tail */
    }
    if (d == owner_last_seq || (owner_first_seq != 0 && d + 1 >= owner_first_seq)) {
        *from_seq = d + 1;
        return ZKV_REPL_STREAM;
    }
    return ZKV_REPL_SNAPSHOT;
}
