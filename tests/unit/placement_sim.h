/* placement_sim.h: a small simulated cluster for the coordinator's unit tests
 * (test_placement_moves.c, test_coordinator_opstep.c): ranges as assignments, the live,
 * excluded and in-grace nodes, placement run over them, and the nodes' answers to it: an
 * owner carries out a handoff request (the target owns at epoch + 1, the old owner takes
 * its slot in replicas and in_sync) and a live replica catches up (enters in_sync). */
#ifndef ZKV_TEST_PLACEMENT_SIM_H
#define ZKV_TEST_PLACEMENT_SIM_H
#include <stdbool.h>
#include <string.h>

#include "placement.h"

#define SIM_MAXR 32

typedef struct sim_world {
    zkv_assignment r[SIM_MAXR];
    size_t n;
    const char *live[16];
    size_t n_live;
    const char *excluded[16];
    size_t n_excluded;
    const char *grace[16];
    size_t n_grace;
    int replicas;
    bool balance;
    int max_outstanding; /* most handoff requests seen at once */
} sim_world;

static inline int sim_place(sim_world *w, zkv_assignment *out, const bool *stale)
{
    zkv_placement_input in = {.ranges = w->r,
                              .n_ranges = w->n,
                              .live = w->live,
                              .n_live = w->n_live,
                              .replicas = w->replicas,
                              .min_nodes = 1,
                              .excluded = w->excluded,
                              .n_excluded = w->n_excluded,
                              .grace = w->grace,
                              .n_grace = w->n_grace,
                              .stale_handoff = stale,
                              .balance_owners = w->balance};
    return zkv_placement_compute(&in, out);
}

static inline bool sim_live(const sim_world *w, const char *id)
{
    for (size_t i = 0; i < w->n_live; i++)
        if (strcmp(w->live[i], id) == 0)
            return true;
    return false;
}

static inline bool sim_in_list(const char (*ids)[ZKV_ID_MAX], int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

/* The nodes act on w's ranges; returns whether anything changed. */
static inline bool sim_nodes_act(sim_world *w)
{
    bool changed = false;
    for (size_t i = 0; i < w->n; i++) {
        zkv_assignment *a = &w->r[i];
        if (a->handoff[0] && sim_live(w, a->owner)) {
            char old[ZKV_ID_MAX], t[ZKV_ID_MAX];
            memcpy(old, a->owner, sizeof(old));
            memcpy(t, a->handoff, sizeof(t));
            memcpy(a->owner, t, sizeof(t));
            a->epoch++;
            for (int j = 0; j < a->n_replicas; j++)
                if (strcmp(a->replicas[j], t) == 0)
                    memcpy(a->replicas[j], old, ZKV_ID_MAX);
            for (int j = 0; j < a->n_in_sync; j++)
                if (strcmp(a->in_sync[j], t) == 0)
                    memcpy(a->in_sync[j], old, ZKV_ID_MAX);
            memset(a->handoff, 0, ZKV_ID_MAX);
            changed = true;
        }
        if (!sim_live(w, a->owner))
            continue;
        for (int j = 0; j < a->n_replicas; j++)
            if (sim_live(w, a->replicas[j]) &&
                !sim_in_list((const char(*)[ZKV_ID_MAX])a->in_sync, a->n_in_sync, a->replicas[j]) &&
                a->n_in_sync < ZKV_MAX_REPLICAS) {
                memcpy(a->in_sync[a->n_in_sync++], a->replicas[j], ZKV_ID_MAX);
                changed = true;
            }
    }
    return changed;
}

#endif
