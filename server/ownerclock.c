/* ownerclock.c: the owners' clocks as replicas know them (ownerclock.h): one entry per
 * range, looked up by id in a small array (a node replicates tens to hundreds of ranges). */
#include "ownerclock.h"

#include <stdlib.h>
#include <string.h>

#include "common/rangemap.h"

typedef struct entry {
    char range_id[ZKV_ID_MAX];
    uint64_t owner_ms, mono_ms;
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

void zkv_ownerclock_note(zkv_ownerclock *c, const char *range_id, uint64_t owner_ms,
                         uint64_t mono_ms)
{
    if (!c || !owner_ms || strlen(range_id) >= ZKV_ID_MAX)
        return;
    entry *e = find(c, range_id);
    if (!e) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 16;
            entry *ne = realloc(c->e, cap * sizeof(*ne));
            if (!ne)
                return; /* the replica then judges by its own clock */
            c->e = ne;
            c->cap = cap;
        }
        e = &c->e[c->n++];
        memset(e, 0, sizeof(*e));
        memcpy(e->range_id, range_id, strlen(range_id) + 1);
    }
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
    if (!e)
        return false;
    *owner_ms = e->owner_ms + (mono_now > e->mono_ms ? mono_now - e->mono_ms : 0);
    return true;
}
