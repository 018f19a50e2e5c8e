/* ownerclock.c: the owners' clocks and log ends as replicas know them (ownerclock.h): one
 * entry per range, looked up by id in a small array (a node replicates tens to hundreds of
 * ranges). */
#include "ownerclock.h"

#include <stdlib.h>
#include <string.h>

#include "common/rangemap.h"

typedef struct entry {
    char range_id[ZKV_ID_MAX];
    uint64_t owner_ms, mono_ms; /* the owner's clock, and ours when it was heard */
    uint64_t head_seq;          /* the owner's log end in its last APPEND */
    uint64_t caught_mono;       /* ours when this copy last held all the owner had (0: never) */
} entry;

struct zkv_ownerclock {
    entry *e;
    size_t n, cap;
};

zkv_ownerclock *zkv_ownerclock_new(void)
{
    return calloc(1, sizeof(zkv_ownerclock));
}

void zkv_ownerclock_free(zkv_ownerclock *c)
{
    if (!c)
        return;
    free(c->e);
    free(c);
}

static entry *find(const zkv_ownerclock *c, const char *range_id)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (strcmp(c->e[i].range_id, range_id) == 0)
            return &c->e[i];
    return NULL;
}

/* range_id's entry, added when missing; NULL out of memory (the replica then judges
 * expiry by its own clock, and refuses reads with a staleness bound). */
static entry *find_or_add(zkv_ownerclock *c, const char *range_id)
{
    if (!c || strlen(range_id) >= ZKV_ID_MAX)
        return NULL;
    entry *e = find(c, range_id);
    if (e)
        return e;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        entry *ne = realloc(c->e, cap * sizeof(*ne));
        if (!ne)
            return NULL;
        c->e = ne;
        c->cap = cap;
    }
    e = &c->e[c->n++];
    memset(e, 0, sizeof(*e));
    memcpy(e->range_id, range_id, strlen(range_id) + 1);
    return e;
}

void zkv_ownerclock_note(zkv_ownerclock *c, const char *range_id, uint64_t owner_ms,
                         uint64_t mono_ms)
{
    entry *e = owner_ms ? find_or_add(c, range_id) : NULL;
    if (!e)
        return;
    /* the owner's time as estimated now must not go back */
    uint64_t was = e->owner_ms + (mono_ms > e->mono_ms ? mono_ms - e->mono_ms : 0);
    if (e->owner_ms && owner_ms < was)
        return;
    e->owner_ms = owner_ms;
    e->mono_ms = mono_ms;
}

bool zkv_ownerclock_now(const zkv_ownerclock *c, const char *range_id, uint64_t mono_now,
                        uint64_t *owner_ms)
{
    const entry *e = find(c, range_id);
    if (!e || !e->owner_ms)
        return false;
    *owner_ms = e->owner_ms + (mono_now > e->mono_ms ? mono_now - e->mono_ms : 0);
    return true;
}

void zkv_ownerclock_note_position(zkv_ownerclock *c, const char *range_id, uint64_t head_seq,
                                  uint64_t applied_seq, uint64_t mono_ms)
{
    entry *e = find_or_add(c, range_id);
    if (!e)
        return;
    e->head_seq = head_seq;
    if (applied_seq >= head_seq)
        e->caught_mono = mono_ms ? mono_ms : 1; /* 0 means never */
}

void zkv_ownerclock_lag(const zkv_ownerclock *c, const char *range_id, uint64_t applied_seq,
                        uint64_t mono_now, uint64_t *lag_ms, uint64_t *lag_entries)
{
    const entry *e = find(c, range_id);
    *lag_ms = UINT64_MAX;
    *lag_entries = 0;
    if (!e)
        return;
    if (e->caught_mono)
        *lag_ms = mono_now > e->caught_mono ? mono_now - e->caught_mono : 0;
    *lag_entries = e->head_seq > applied_seq ? e->head_seq - applied_seq : 0;
}

bool zkv_lag_within(uint64_t lag_ms, uint64_t lag_entries, uint64_t max_ms, uint64_t max_entries)
{
    return (!max_ms || lag_ms <= max_ms) && (!max_entries || lag_entries <= max_entries);
}
