/* repl_state.c: pure replication decisions of the owner (see repl_state.h). */
#include "repl_state.h"

#include <stdio.h>

bool zkv_repl_in_ack_set(const zkv_repl_replica *r)
{
    return r->in_sync || r->adding;
}

uint64_t zkv_repl_commit_point(uint64_t owner_committed, const zkv_repl_replica *reps, size_t n)
{
    uint64_t p = owner_committed;
    for (size_t i = 0; i < n; i++) {
        if (!zkv_repl_in_ack_set(&reps[i]))
            continue;
        uint64_t a = reps[i].acked_known ? reps[i].acked_seq : 0;
        if (a < p)
            p = a;
    }
    return p;
}

void zkv_repl_on_ack(zkv_repl_replica *r, uint64_t acked_seq, uint64_t owner_last_at_send,
                     uint64_t sent_ms, bool reset)
{
    if (reset || !r->acked_known || acked_seq > r->acked_seq)
        r->acked_seq = acked_seq;
    r->acked_known = true;
    if (acked_seq >= owner_last_at_send && sent_ms > r->caught_up_at)
        r->caught_up_at = sent_ms;
}

uint64_t zkv_repl_lag_ms(const zkv_repl_replica *r, uint64_t owner_committed, uint64_t now_ms)
{
    if (r->acked_known && r->acked_seq >= owner_committed)
        return 0;
    return now_ms > r->caught_up_at ? now_ms - r->caught_up_at : 0;
}

bool zkv_repl_should_shrink(const zkv_repl_replica *r, uint64_t now_ms, uint64_t lag_ms)
{
    if (!r->in_sync || r->removing)
        return false;
    return r->leaving || (now_ms > r->caught_up_at && now_ms - r->caught_up_at > lag_ms);
}

bool zkv_repl_should_expand(const zkv_repl_replica *r, uint64_t owner_committed,
                            uint64_t commit_point, uint64_t now_ms, uint64_t lag_ms)
{
    if (r->in_sync || r->adding || r->leaving || !r->streaming || !r->connected || !r->acked_known)
        return false;
    /* a recent ack proves the replica alive and caught up (an idle range's 0 == 0 alone
     * would re-add a stopped replica right after its removal) */
    if (now_ms < r->caught_up_at || now_ms - r->caught_up_at > lag_ms / 2)
        return false;
    return r->acked_seq >= owner_committed || r->acked_seq >= commit_point;
}

int zkv_repl_in_sync_copies(const zkv_repl_replica *reps, size_t n)
{
    int copies = 1; /* the owner */
    for (size_t i = 0; i < n; i++)
        if (reps[i].in_sync)
            copies++;
    return copies;
}

bool zkv_repl_min_in_sync_ok(const char *range_id, int copies, int min_in_sync, char *msg,
                             size_t msglen)
{
    if (copies >= min_in_sync)
        return true;
    if (msg && msglen)
        snprintf(msg, msglen, "range %s has %d in-sync cop%s%s; --min-in-sync is %d", range_id,
                 copies, copies == 1 ? "y" : "ies", copies == 1 ? " (owner only)" : "",
                 min_in_sync);
    return false;
}

uint64_t zkv_repl_truncate_floor(uint64_t owner_last, uint64_t retain, const zkv_repl_replica *reps,
                                 size_t n)
{
    if (owner_last <= retain)
        return 0;
    uint64_t floor = owner_last - retain;
    for (size_t i = 0; i < n; i++) {
        if (!zkv_repl_in_ack_set(&reps[i]) && !reps[i].removing)
            continue;
        uint64_t a = reps[i].acked_known ? reps[i].acked_seq : 0;
        if (a < floor)
            floor = a;
    }
    return floor;
}
