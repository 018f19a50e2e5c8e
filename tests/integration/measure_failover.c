/* measure_failover.c: zkv-measure-failover, the failover measurement of issue 3 (not a
 * test: ctest does not run it; scripts/measure-failover.sh does, results in
 * docs/failover.md). Starts a real ZooKeeper, N zkv-servers and a coordinator with the
 * given --session-timeout, waits until every replica is in in_sync, then, trial after
 * trial: picks a range (a different one each time), starts a writer thread hammering
 * keys of that range through libzkv, kill -9s the range's owner, and measures
 *   - promoted: from the kill until ZooKeeper names a new live owner (polled every 20 ms),
 *   - write ok: from the kill until the first write acknowledged in the new epoch;
 * then checks every write the writer saw acknowledged reads back from the new owner,
 * restarts the killed node and waits until it is back in in_sync everywhere. Prints each
 * trial, the median and the max.
 *
 * Usage: zkv-measure-failover [--session-timeout MS] [--trials N] [--servers N]
 * Environment: ZKV_SERVER_BIN, ZKV_COORDINATOR_BIN (the script sets them). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define MAX_TRIALS 100

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static int median(const int *v, int n)
{
    int s[MAX_TRIALS];
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp_int);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static int max_of(const int *v, int n)
{
    int m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

static void usage(void)
{
    fprintf(stderr, "usage: zkv-measure-failover [--session-timeout MS] [--trials N] "
                    "[--servers N]\n");
}

/* First acknowledgement (wall ms) at an epoch above old_epoch, after t_kill; 0 if none. */
static uint64_t first_new_epoch_ack(it_writer *w, uint64_t old_epoch, uint64_t t_kill)
{
    int n = atomic_load(&w->n);
    for (int i = 0; i < n; i++) {
        const it_attempt *a = &w->a[i];
        if (a->state == IT_W_ACKED && a->ver.epoch > old_epoch && a->t_done >= t_kill)
            return a->t_done;
    }
    return 0;
}

typedef struct ack_arg {
    it_writer *w;
    uint64_t old_epoch, t_kill, t_ack;
} ack_arg;

static bool acked_in_new_epoch(void *p)
{
    ack_arg *a = p;
    a->t_ack = first_new_epoch_ack(a->w, a->old_epoch, a->t_kill);
    return a->t_ack != 0;
}

int main(int argc, char **argv)
{
    int session_ms = 2000, trials = 10, servers = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--session-timeout") == 0 && i + 1 < argc)
            session_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--trials") == 0 && i + 1 < argc)
            trials = atoi(argv[++i]);
        else if (strcmp(argv[i], "--servers") == 0 && i + 1 < argc)
            servers = atoi(argv[++i]);
        else if (strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        } else {
            usage();
            return 2;
        }
    }
    if (session_ms < 400 || trials < 1 || trials > MAX_TRIALS || servers < 2 ||
        servers > ZKT_MAX_SERVERS) {
        usage();
        return 2;
    }
    zkt_init();
    static zkt_cluster cl;
    bool failed = true;
    zkv_client *client = NULL, *wclient = NULL;
    int promoted[MAX_TRIALS], write_ok[MAX_TRIALS], done = 0, lost_total = 0;
    if (zkt_cluster_init(&cl, "measure") != 0)
        goto out;
    cl.session_timeout_ms = session_ms;
    for (int i = 0; i < servers; i++)
        if (zkt_cluster_add_server(&cl) < 0)
            goto out;
    if (zkt_cluster_add_coordinator(&cl, servers) < 0 || !zkt_cluster_wait_ready(&cl, 60000) ||
        !it_wait_all_in_sync(&cl, 60000))
        goto out;
    if (it_client(&cl, 10000, &client) != ZKV_OK || it_client(&cl, 2000, &wclient) != ZKV_OK)
        goto out;
    printf("zkv failover measurement: %d servers, %d ranges, replication factor %d, "
           "--session-timeout %d ms, ZooKeeper tickTime 200 ms, %d trials\n",
           servers, cl.ranges, cl.replicas, session_ms, trials);
    for (int t = 0; t < trials; t++) {
        zkt_map *m = zkt_cluster_map(&cl);
        if (!m)
            goto out;
        int ri = (t * 3 + 1) % m->n_ranges;
        zkt_map_range r = m->ranges[ri];
        r.json = NULL;
        int victim = zkt_cluster_server_index(&cl, r.owner);
        static it_writer w;
        if (victim < 0 || it_writer_start(&w, wclient, 100 + t, m, &ri, 1, false) != 0) {
            zkt_map_free(m);
            goto out;
        }
        zkt_map_free(m);
        if (!it_writer_wait_acks(&w, 100, 30000)) {
            it_writer_free(&w);
            goto out;
        }
        uint64_t t_kill = it_wall_ms();
        zkt_server_stop(&cl, victim, SIGKILL);
        it_owner_arg oa;
        bool moved = it_wait_new_owner(&oa, &cl, r.id, r.owner, r.epoch, 60000);
        uint64_t t_moved = it_wall_ms();
        ack_arg aa = {&w, r.epoch, t_kill, 0};
        bool acked = zkt_wait_for(acked_in_new_epoch, &aa, 60000);
        it_writer_wait_acks(&w, 50, 10000);
        it_writer_stop(&w);
        int checked = 0;
        int lost = it_writer_verify(&w, client, ZKV_FLAG_OWNER_ONLY, false, &checked);
        lost_total += lost;
        if (!moved || !acked) {
            printf("trial %d: %s owner %s: %s\n", t + 1, r.id, r.owner,
                   !moved ? "no new owner within 60 s" : "no write in the new epoch within 60 s");
            it_writer_free(&w);
            goto out;
        }
        promoted[done] = (int)(t_moved - t_kill);
        write_ok[done] = (int)(aa.t_ack - t_kill);
        printf("trial %2d: %s owner %s -> %s, epoch %llu -> %llu: promoted after %5d ms, "
               "write ok after %5d ms (writer: %d acknowledged, %d failed; %d read back, "
               "%d lost)\n",
               t + 1, r.id, r.owner, oa.now.owner, (unsigned long long)r.epoch,
               (unsigned long long)oa.now.epoch, promoted[done], write_ok[done],
               atomic_load(&w.acked), atomic_load(&w.failed), checked, lost);
        fflush(stdout);
        done++;
        it_writer_free(&w);
        /* The killed node rejoins before the next trial. */
        if (zkt_server_start(&cl, victim) != 0 ||
            !zkt_cluster_wait_registered(&cl, victim, 0, 60000, NULL) ||
            !it_wait_all_in_sync(&cl, 60000))
            goto out;
    }
    printf("session timeout %d ms, %d trials: write ok after kill -9: median %d ms, max %d ms; "
           "promoted in ZooKeeper: median %d ms, max %d ms; acknowledged writes lost: %d\n",
           session_ms, done, median(write_ok, done), max_of(write_ok, done), median(promoted, done),
           max_of(promoted, done), lost_total);
    failed = lost_total != 0;
out:
    if (failed && done < trials)
        fprintf(stderr, "measurement stopped after %d of %d trials\n", done, trials);
    if (failed)
        zkt_proc_dump_logs(30);
    zkv_client_free(client);
    zkv_client_free(wclient);
    zkt_cluster_destroy(&cl);
    zkt_proc_kill_all();
    zkt_tmpdir_finish(failed);
    return failed ? 1 : 0;
}
