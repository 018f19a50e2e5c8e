/* test_moves.c: live ownership moves (docs/operations.md, "How a move works";
 * server/handoff.h), each under a writer (overwrites and keys of its own over every range,
 * 8 s per call) and a reader of acknowledged writes (owner reads only) that count every
 * client error; at the end every acknowledged write reads back.
 * - On request: the range znode asks the owner to hand a range to an in_sync replica
 *   (zkt_map_ask_handoff, as the coordinator does); the target becomes owner at epoch + 1
 *   with the old owner in its replica slot and in in_sync, the request is cleared, and the
 *   writes to the range pause (the longest write of the range around each move is logged:
 *   the write pause).
 * - A request the owner cannot carry out (the target is not a replica) changes nothing:
 *   the owner keeps serving.
 * - Controlled shutdown: SIGTERM to a node that owns ranges hands every one to an in_sync
 *   replica before it exits (status 0), and it leaves in_sync at once; started again it
 *   catches up and is back in every in_sync set.
 * Expected: 0 client errors, 0 wrong reads, 0 lost acknowledged writes. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_load.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_SERVERS 3
#define WAIT_MS 30000
#define MOVES 4

static zkt_cluster g_cl;
static zkv_client *g_client;
static it_load g_l;

static int init(void)
{
    if (zkt_cluster_init(&g_cl, "moves") != 0)
        return -1;
    return it_cluster_up(&g_cl, N_SERVERS, 8000, 2000, &g_client) != 0 ||
                   !it_wait_all_in_sync(&g_cl, WAIT_MS) ||
                   it_load_start(&g_l, &g_cl, -1, 0, 200, WAIT_MS) != 0
               ? -1
               : 0;
}

static int cleanup(void)
{
    it_load_free(&g_l);
    return it_cluster_down(&g_cl, &g_client);
}

/* The map's range id once it has owner `owner` at an epoch above `epoch` and no handoff
 * request. */
typedef struct moved_arg {
    zkt_cluster *cl;
    const char *range_id, *owner;
    uint64_t epoch;
    zkt_map_range now;
} moved_arg;

static bool moved(void *p)
{
    moved_arg *a = p;
    zkt_map *m = zkt_cluster_map(a->cl);
    if (!m)
        return false;
    const zkt_map_range *r = zkt_map_range_by_id(m, a->range_id);
    bool ok = r && strcmp(r->owner, a->owner) == 0 && r->epoch > a->epoch && !r->handoff[0];
    if (ok) {
        a->now = *r;
        a->now.json = NULL;
    }
    zkt_map_free(m);
    return ok;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_move_on_request(void)
{
    uint64_t pauses[MOVES];
    int done = 0;
    for (int k = 0; k < MOVES; k++) {
        CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
        zkt_map *m = zkt_cluster_map(&g_cl);
        CU_ASSERT_FATAL(m != NULL);
        if (!m)
            return;
        const zkt_map_range *r = &m->ranges[(k * 3 + 1) % m->n_ranges];
        CU_ASSERT_FATAL(r->n_in_sync > 0);
        char target[ZKT_ID_MAX], old_owner[ZKT_ID_MAX];
        snprintf(target, sizeof target, "%s", r->in_sync[k % r->n_in_sync]);
        snprintf(old_owner, sizeof old_owner, "%s", r->owner);
        uint64_t t0 = it_wall_ms();
        CU_ASSERT_FATAL(zkt_map_ask_handoff(g_cl.zc, g_cl.name, m, r->id, target, NULL) == ZOK);
        moved_arg a = {.cl = &g_cl, .range_id = r->id, .owner = target, .epoch = r->epoch};
        bool ok = zkt_wait_for(moved, &a, WAIT_MS);
        uint64_t t1 = it_wall_ms();
        CU_ASSERT(ok);
        if (ok) {
            CU_ASSERT_EQUAL(a.now.epoch, r->epoch + 1);
            CU_ASSERT(zkt_range_has_replica(&a.now, old_owner));
            CU_ASSERT(zkt_range_in_sync(&a.now, old_owner));
            CU_ASSERT(!zkt_range_in_sync(&a.now, target));
        }
        /* the writes of the range go on at the new owner */
        CU_ASSERT(it_writer_wait_acks(&g_l.w, 100, WAIT_MS));
        pauses[done] = it_longest_write(&g_l.w, m, r, t0, it_wall_ms());
        zkt_log("move %d: %s from %s to %s in %llu ms; longest write to it meanwhile %llu ms", k,
                r->id, old_owner, target, (unsigned long long)(t1 - t0),
                (unsigned long long)pauses[done]);
        done++;
        zkt_map_free(m);
    }
    qsort(pauses, (size_t)done, sizeof pauses[0], cmp_u64);
    if (done)
        zkt_log("write pause per move: median %llu ms, max %llu ms over %d moves",
                (unsigned long long)pauses[done / 2], (unsigned long long)pauses[done - 1], done);
    CU_ASSERT(it_load_clean(&g_l, "moves on request"));
}

static void test_impossible_request(void)
{
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return;
    const zkt_map_range *r = &m->ranges[0];
    char range_id[ZKT_ID_MAX], owner[ZKT_ID_MAX];
    snprintf(range_id, sizeof range_id, "%s", r->id);
    snprintf(owner, sizeof owner, "%s", r->owner);
    uint64_t epoch = r->epoch;
    CU_ASSERT_FATAL(zkt_map_ask_handoff(g_cl.zc, g_cl.name, m, r->id, "node-99", NULL) == ZOK);
    zkt_map_free(m);
    /* the owner keeps the range and keeps taking writes */
    CU_ASSERT(it_writer_wait_acks(&g_l.w, 200, WAIT_MS));
    m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return;
    r = zkt_map_range_by_id(m, range_id);
    CU_ASSERT(r && strcmp(r->owner, owner) == 0 && r->epoch == epoch);
    if (r) /* withdraw the request */
        CU_ASSERT(zkt_map_ask_handoff(g_cl.zc, g_cl.name, m, range_id, NULL, NULL) == ZOK);
    zkt_map_free(m);
    CU_ASSERT(atomic_load(&g_l.w.failed) == 0);
}

static bool back_in_sync(void *p)
{
    return it_all_in_sync(p);
}

static void test_controlled_shutdown(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return;
    int victim = -1;
    for (int i = 0; i < g_cl.n_servers && victim < 0; i++)
        if (zkt_map_owned_by(m, g_cl.servers[i].id) > 0)
            victim = i;
    CU_ASSERT_FATAL(victim >= 0);
    const char *id = g_cl.servers[victim].id;
    int owned = zkt_map_owned_by(m, id);
    zkt_map_free(m);
    zkt_log("SIGTERM to %s, which owns %d range(s)", id, owned);
    uint64_t t0 = it_wall_ms();
    int code = zkt_server_stop(&g_cl, victim, SIGTERM);
    zkt_log("%s exited with %d after %llu ms", id, code, (unsigned long long)(it_wall_ms() - t0));
    CU_ASSERT(code == 0);
    m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return;
    CU_ASSERT(zkt_map_owned_by(m, id) == 0);
    for (int i = 0; i < m->n_ranges; i++)
        CU_ASSERT(!zkt_range_in_sync(&m->ranges[i], id));
    zkt_map_free(m);
    CU_ASSERT(it_writer_wait_acks(&g_l.w, 200, WAIT_MS));
    CU_ASSERT(zkt_server_start(&g_cl, victim) == 0);
    CU_ASSERT(zkt_wait_for(back_in_sync, &g_cl, WAIT_MS));
    CU_ASSERT(it_writer_wait_acks(&g_l.w, 200, WAIT_MS));
    CU_ASSERT(it_load_clean(&g_l, "controlled shutdown"));
}

static void test_read_back(void)
{
    it_load_stop(&g_l);
    CU_ASSERT(it_load_clean(&g_l, "end"));
    it_load_read_back(&g_l, g_client, &g_cl);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("moves", init, cleanup);
    CU_add_test(s, "the owner hands a range to an in_sync replica on request",
                test_move_on_request);
    CU_add_test(s, "a request the owner cannot carry out changes nothing", test_impossible_request);
    CU_add_test(s, "SIGTERM hands every owned range off before the node exits",
                test_controlled_shutdown);
    CU_add_test(s, "every acknowledged write reads back", test_read_back);
    return zkt_run_all();
}
