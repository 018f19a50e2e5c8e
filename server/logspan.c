/* logspan.c: marks of a range's log size by seq (logspan.h). */
#include "logspan.h"

void zkv_logspan_reset(zkv_logspan *l)
{
    l->total = l->next_at = 0;
    l->head = l->n = 0;
}

void zkv_logspan_add(zkv_logspan *l, uint64_t seq, uint64_t bytes)
{
    l->total += bytes;
    if (l->total < l->next_at)
        return;
    size_t at = (l->head + l->n) % ZKV_LOGSPAN_MARKS;
    if (l->n == ZKV_LOGSPAN_MARKS)
        l->head = (l->head + 1) % ZKV_LOGSPAN_MARKS; /* the oldest goes */
    else
        l->n++;
    l->seq[at] = seq;
    l->cum[at] = l->total;
    l->next_at = l->total + ZKV_LOGSPAN_STEP;
}

uint64_t zkv_logspan_entries_within(const zkv_logspan *l, uint64_t last_seq, uint64_t bytes)
{
    /* The entries after a mark take total - cum bytes, less for newer marks: the oldest mark
     * whose entries after it fit gives the answer, unless the oldest of all fits too. */
    for (size_t i = 0; i < l->n; i++) {
        size_t at = (l->head + i) % ZKV_LOGSPAN_MARKS;
        if (l->total - l->cum[at] > bytes)
            continue;
        if (i == 0 || l->seq[at] > last_seq)
            return UINT64_MAX;
        return last_seq - l->seq[at];
    }
    return l->n ? 0 : UINT64_MAX;
}
