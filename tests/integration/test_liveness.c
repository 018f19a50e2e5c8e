/* test_liveness.c: a node that is slow but alive keeps its ranges (no failover) with the
 * default ZooKeeper session timeout of 4 s (zkv-server and zkv-coordinator default to
 * --session-timeout 4000; the test sets it explicitly so that a change of the harness's
 * own default does not change what is tested). A session timeout short enough for fast
 * failover must not be so short that ordinary slowness ends sessions: every expired
 * session moves ranges (epoch + 1) and costs the clients a write pause. Under a writer
 * (overwrites and keys of its own over every range, 8 s per call) and a reader of
 * acknowledged writes (owner reads only), both counting every client error:
 * - Full CPU load: 4 busy processes on this 2-CPU machine for 8 s (two session timeouts),
 *   then one more session timeout of observation: every range keeps its owner and epoch,
 *   every node stays registered with the same incarnation (no session expired), writes go
 *   on being acknowledged during the load.
 * - A node that owns ranges stopped for 1 s (SIGSTOP, SIGCONT): the same, and writes are
 *   acknowledged afterwards (the writer's 8 s budget covers the stop).
 * - Every acknowledged write reads back from the owners; the map is sane.
 * The write latencies of a 2 s baseline and of each phase (count, median, p99, longest,
 * from the writer's t_sent/t_done) are logged to show what the slowness cost.
 * Expected: 0 client errors, 0 wrong reads, 0 lost acknowledged writes, no failover. */
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
#define SESSION_MS 4000
#define CALL_MS 8000
#define BURNERS 4
#define LOAD_MS (2 * SESSION_MS)
#define STOP_MS 1000
#define STEP_MS 200
#define BASELINE_MS 2000

static zkt_cluster g_cl;
static zkv_client *g_client;
static it_load g_l;
static uint64_t g_t_start; /* wall ms when the writer started */

static int init(void)
{
    if (zkt_cluster_init(&g_cl, "liveness") != 0)
        return -1;
    g_cl.session_timeout_ms = SESSION_MS;
    if (it_cluster_up(&g_cl, N_SERVERS, CALL_MS, 2000, &g_client) != 0 ||
        !it_wait_all_in_sync(&g_cl, WAIT_MS))
        return -1;
    g_t_start = it_wall_ms();
    return it_load_start(&g_l, &g_cl, -1, 0, 200, WAIT_MS);
}

static int cleanup(void)
{
    it_load_free(&g_l);
    return it_cluster_down(&g_cl, &g_client);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Logs the latencies of the writer's finished attempts that overlap [t0, t1] (wall ms):
 * count, failures, median, p99 and longest. Returns the longest (ms). */
static uint64_t log_latencies(const char *phase, uint64_t t0, uint64_t t1)
{
    int n = atomic_load(&g_l.w.n), k = 0, failed = 0;
    uint64_t *lat = malloc((size_t)(n > 0 ? n : 1) * sizeof *lat);
    if (!lat)
        return 0;
    for (int i = 0; i < n; i++) {
        const it_attempt *a = &g_l.w.a[i];
        if (a->t_done < t0 || a->t_sent > t1)
            continue;
        lat[k++] = a->t_done - a->t_sent;
        failed += a->state != IT_W_ACKED;
    }
    uint64_t worst = 0;
    if (k > 0) {
        qsort(lat, (size_t)k, sizeof lat[0], cmp_u64);
        worst = lat[k - 1];
        zkt_log("%s: %d writes in %llu ms (%d failed); latency median %llu ms, p99 %llu ms, "
                "longest %llu ms",
                phase, k, (unsigned long long)(t1 - t0), failed, (unsigned long long)lat[k / 2],
                (unsigned long long)lat[(size_t)k * 99 / 100], (unsigned long long)worst);
    } else {
        zkt_log("%s: no write finished in %llu ms", phase, (unsigned long long)(t1 - t0));
    }
    free(lat);
    return worst;
}

/* Asserts that `now` has, for every range of `before`, the same owner and epoch, and, for
 * every node of `before`, the node registered with the same incarnation. Logs every
 * difference. Returns the number of differences. */
static int check_no_failover(const zkt_map *before, const zkt_map *now, const char *phase)
{
    int diff = 0;
    CU_ASSERT(now->n_ranges == before->n_ranges);
    for (int i = 0; i < before->n_ranges; i++) {
        const zkt_map_range *b = &before->ranges[i];
        const zkt_map_range *r = zkt_map_range_by_id(now, b->id);
        bool same = r && strcmp(r->owner, b->owner) == 0 && r->epoch == b->epoch;
        CU_ASSERT(same);
        if (!same) {
            diff++;
            zkt_log("%s: %s was owned by %s at epoch %llu, now by %s at epoch %llu", phase, b->id,
                    b->owner, (unsigned long long)b->epoch, r ? r->owner : "(range gone)",
                    r ? (unsigned long long)r->epoch : 0ULL);
        }
    }
    CU_ASSERT(now->n_nodes == before->n_nodes);
    for (int i = 0; i < before->n_nodes; i++) {
        const zkt_map_node *b = &before->nodes[i];
        const zkt_map_node *n = zkt_map_node_by_id(now, b->id);
        bool same = n && n->incarnation == b->incarnation;
        CU_ASSERT(same);
        if (!same) {
            diff++;
            if (n)
                zkt_log("%s: %s registered again: incarnation %llu, was %llu (session expired)",
                        phase, b->id, (unsigned long long)n->incarnation,
                        (unsigned long long)b->incarnation);
            else
                zkt_log("%s: %s (incarnation %llu) is not registered (session expired)", phase,
                        b->id, (unsigned long long)b->incarnation);
        }
    }
    zkt_log("%s: %d ranges, %d nodes; map version %lld -> %lld; %d failover sign(s)", phase,
            before->n_ranges, before->n_nodes, (long long)before->version, (long long)now->version,
            diff);
    if (diff)
        it_log_map(&g_cl, "map after the phase");
    return diff;
}

/* Paces for ms milliseconds in steps, each step ending only once the writer had at least
 * one more acknowledged write (bounded by WAIT_MS): the load or observation phase lasts
 * ms and the writer must keep making progress through it. Returns the number of steps in
 * which the writer made no progress within WAIT_MS. */
static int pace_with_progress(int ms)
{
    uint64_t t0 = zkt_now_ms();
    int stalls = 0;
    while (zkt_now_ms() - t0 < (uint64_t)ms) {
        if (!it_writer_wait_acks(&g_l.w, 1, WAIT_MS))
            stalls++;
        zkt_pause_ms(STEP_MS);
    }
    return stalls;
}

static void test_cpu_load(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *before = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(before != NULL);
    if (!before)
        return;
    /* A baseline of the same writer without load. */
    uint64_t tb = it_wall_ms();
    CU_ASSERT(pace_with_progress(BASELINE_MS) == 0);
    log_latencies("before the load (baseline)", tb, it_wall_ms());

    static const char *const burn[] = {"/bin/sh", "-c", "while :; do :; done", NULL};
    pid_t pids[BURNERS];
    int started = 0;
    for (int i = 0; i < BURNERS; i++) {
        char name[32];
        snprintf(name, sizeof name, "cpu-burner-%d", i);
        pids[i] = zkt_spawn(name, burn, NULL);
        CU_ASSERT(pids[i] > 0);
        if (pids[i] > 0)
            started++;
    }
    zkt_log("full CPU load: %d busy processes for %d ms (session timeout %d ms)", started, LOAD_MS,
            SESSION_MS);
    uint64_t t0 = it_wall_ms();
    int stalls = pace_with_progress(LOAD_MS);
    for (int i = 0; i < BURNERS; i++)
        if (pids[i] > 0)
            zkt_proc_kill(pids[i]);
    uint64_t t1 = it_wall_ms();
    zkt_log("load stopped after %llu ms", (unsigned long long)(t1 - t0));
    CU_ASSERT(stalls == 0);
    log_latencies("under full CPU load", t0, t1);

    /* One more session timeout: a session that expired late in the load shows by now. */
    CU_ASSERT(pace_with_progress(SESSION_MS) == 0);
    log_latencies("after the load", t1, it_wall_ms());

    zkt_map *now = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(now != NULL);
    if (now)
        CU_ASSERT(check_no_failover(before, now, "full CPU load") == 0);
    zkt_map_free(now);
    zkt_map_free(before);
    CU_ASSERT(it_load_clean(&g_l, "CPU load"));
}

static void test_stopped_1s(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *before = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(before != NULL);
    if (!before)
        return;
    int victim = -1;
    for (int i = 0; i < g_cl.n_servers && victim < 0; i++)
        if (g_cl.servers[i].pid > 0 && zkt_map_owned_by(before, g_cl.servers[i].id) > 0)
            victim = i;
    CU_ASSERT_FATAL(victim >= 0);
    if (victim < 0) {
        zkt_map_free(before);
        return;
    }
    const char *id = g_cl.servers[victim].id;
    pid_t pid = g_cl.servers[victim].pid;
    zkt_log("SIGSTOP %s (owner of %d ranges) for %d ms", id, zkt_map_owned_by(before, id), STOP_MS);
    uint64_t t0 = it_wall_ms();
    CU_ASSERT_FATAL(zkt_proc_signal(pid, SIGSTOP) == 0);
    zkt_pause_ms(STOP_MS);
    CU_ASSERT_FATAL(zkt_proc_signal(pid, SIGCONT) == 0);
    uint64_t t_cont = it_wall_ms();
    zkt_log("SIGCONT %s after %llu ms", id, (unsigned long long)(t_cont - t0));

    /* Writes are acknowledged again, then one session timeout of observation. */
    uint64_t t = zkt_now_ms();
    CU_ASSERT(it_writer_wait_acks(&g_l.w, 200, WAIT_MS));
    zkt_log("200 writes acknowledged %llu ms after SIGCONT",
            (unsigned long long)(zkt_now_ms() - t));
    CU_ASSERT(pace_with_progress(SESSION_MS) == 0);
    uint64_t t1 = it_wall_ms();
    log_latencies("around the 1 s stop", t0, t_cont + 2000);
    log_latencies("after the stop", t_cont + 2000, t1);

    zkt_map *now = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(now != NULL);
    if (now)
        CU_ASSERT(check_no_failover(before, now, "stopped for 1 s") == 0);
    zkt_map_free(now);
    zkt_map_free(before);
    CU_ASSERT(it_load_clean(&g_l, "SIGSTOP"));
}

static void test_read_back(void)
{
    it_load_stop(&g_l);
    log_latencies("whole run", g_t_start, it_wall_ms());
    CU_ASSERT(it_load_clean(&g_l, "end"));
    it_load_read_back(&g_l, g_client, &g_cl);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("liveness (--session-timeout 4000)", init, cleanup);
    CU_add_test(s, "full CPU load for two session timeouts: no failover", test_cpu_load);
    CU_add_test(s, "an owner stopped for 1 s keeps its ranges", test_stopped_1s);
    CU_add_test(s, "every acknowledged write reads back", test_read_back);
    return zkt_run_all();
}
