/* test_committed_reads.c: an owner read never returns a write that can still be lost
 * (docs/guarantees.md, "Reads"; server/readvis.h).
 *
 * Suite "frozen replicas": range R's two in_sync replicas are stopped (SIGSTOP;
 * --replica-lag-ms 30000 keeps them in in_sync), so a write of key K to R's owner O enters
 * O's log and data but is never acknowledged. Reads of K from O (owner only, with and
 * without fallback; a scan over K) must not return it: they wait for the write to commit
 * and time out, while a read of another key of R, committed, is answered at once. O is
 * killed (kill -9), the replicas resume, one of them is promoted; from then on every
 * owner read of K answers one value, the same before and after O returns as a replica.
 *
 * Suite "partition": a real network partition, a cycle per range: O is cut off from
 * ZooKeeper and from R's replicas while clients still reach it. A reader thread reads K
 * in a loop (fallback allowed) and records every answer that came from an owner; a
 * writer writes a newer value during the cut. O fences itself, a replica is promoted, the
 * partition heals and O rejoins. Owner reads must never go backwards, and an owner read
 * must never have returned the newer value unless that write was acknowledged. The cut is
 * made with nft rules on net_cls cgroups (zkt/netcut.h) when the test runs as root with
 * nft; otherwise with the harness's proxies (O's ZooKeeper through one, the replicas
 * advertised through others); the log says which ran. */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_SERVERS 3
#define WAIT_MS 30000
#define CYCLES 3

/* ---- shared -------------------------------------------------------------------------- */

/* R (m's range index idx) with owner O and two in_sync replicas: their server indexes,
 * and a key prefix that falls in R. Returns false when R is not so. */
typedef struct it_range_pick {
    zkt_map_range r;
    int owner, rep[2];
    uint8_t prefix[ZKT_KEY_MAX];
    size_t plen;
} it_range_pick;

static bool pick_range(zkt_cluster *cl, int idx, it_range_pick *p)
{
    memset(p, 0, sizeof *p);
    zkt_map *m = zkt_cluster_map(cl);
    if (!m)
        return false;
    bool ok = idx < m->n_ranges && m->ranges[idx].n_in_sync == 2;
    if (ok) {
        p->r = m->ranges[idx];
        p->r.json = NULL;
        p->plen = it_range_prefix(m, &m->ranges[idx], p->prefix, false);
        p->owner = zkt_cluster_server_index(cl, p->r.owner);
        p->rep[0] = zkt_cluster_server_index(cl, p->r.in_sync[0]);
        p->rep[1] = zkt_cluster_server_index(cl, p->r.in_sync[1]);
        ok = p->plen > 0 && p->owner >= 0 && p->rep[0] >= 0 && p->rep[1] >= 0;
    }
    zkt_map_free(m);
    return ok;
}

static size_t key_in(const it_range_pick *p, const char *suffix, uint8_t *out)
{
    memcpy(out, p->prefix, p->plen);
    size_t n = 0;
    for (; suffix[n]; n++)
        out[p->plen + n] = (uint8_t)suffix[n];
    return p->plen + n;
}

/* The value of key as an owner read answers it: 1 with the value in buf, 0 not found,
 * or the (negative) error; *stale says a replica answered. */
static int read_value(zkv_client *c, const uint8_t *key, size_t kl, unsigned flags, char *buf,
                      size_t buflen, bool *stale)
{
    zkv_value *v = NULL;
    int rc = zkv_get(c, key, kl, 0, flags, &v);
    *stale = false;
    if (rc == ZKV_ENOTFOUND)
        return 0;
    if (rc != ZKV_OK)
        return rc;
    size_t n = zkv_value_len(v) < buflen - 1 ? zkv_value_len(v) : buflen - 1;
    memcpy(buf, zkv_value_data(v), n);
    buf[n] = '\0';
    *stale = zkv_value_stale(v) != 0;
    zkv_value_free(v);
    return 1;
}

/* ---- suite 1: frozen replicas -------------------------------------------------------- */

static zkt_cluster g_fz;
static zkv_client *g_fz_client; /* 5 s per call */

static int fz_init(void)
{
    if (zkt_cluster_init(&g_fz, "committed") != 0 ||
        zkt_cluster_server_flag(&g_fz, "--replica-lag-ms", "30000") != 0)
        return -1;
    return it_cluster_up(&g_fz, N_SERVERS, 5000, 1000, &g_fz_client);
}

static int fz_cleanup(void)
{
    return it_cluster_down(&g_fz, &g_fz_client);
}

static bool no_new_owner(zkt_cluster *cl, const it_range_pick *p, it_owner_arg *a)
{
    return !it_wait_new_owner(a, cl, p->r.id, p->r.owner, p->r.epoch, WAIT_MS);
}

static void test_uncommitted_write_invisible(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_fz, WAIT_MS));
    it_range_pick p;
    CU_ASSERT_FATAL(pick_range(&g_fz, 1, &p));
    uint8_t key[ZKT_KEY_MAX + 16], other[ZKT_KEY_MAX + 16];
    size_t kl = key_in(&p, "-k", key), ol = key_in(&p, "-other", other);
    CU_ASSERT_FATAL(zkv_put(g_fz_client, key, kl, "v1", 2, 0, 0, NULL) == ZKV_OK);
    CU_ASSERT_FATAL(zkv_put(g_fz_client, other, ol, "o1", 2, 0, 0, NULL) == ZKV_OK);

    zkt_log("freezing %s's replicas %s and %s", p.r.id, p.r.in_sync[0], p.r.in_sync[1]);
    CU_ASSERT_FATAL(zkt_proc_signal(g_fz.servers[p.rep[0]].pid, SIGSTOP) == 0);
    CU_ASSERT_FATAL(zkt_proc_signal(g_fz.servers[p.rep[1]].pid, SIGSTOP) == 0);
    zkv_client *w = NULL, *rd = NULL, *rd2 = NULL;
    CU_ASSERT_FATAL(it_client_ff(&g_fz, 300, 300, &w) == ZKV_OK);
    int prc = zkv_put(w, key, kl, "v2", 2, 0, 0, NULL);
    zkt_log("put v2 with the replicas frozen: %s", zkv_strerror(prc));
    CU_ASSERT(prc != ZKV_OK); /* nobody can acknowledge it */

    /* owner reads: v2 is in O's data, not committed: they wait and time out */
    CU_ASSERT_FATAL(it_client_ff(&g_fz, 600, 300, &rd) == ZKV_OK);
    char buf[64];
    bool stale;
    uint64_t t0 = zkt_now_ms();
    int rc = read_value(rd, key, kl, ZKV_FLAG_OWNER_ONLY, buf, sizeof buf, &stale);
    zkt_log("owner-only get of K: %s%s%s after %d ms", rc == 1 ? "value " : zkv_strerror(rc),
            rc == 1 ? buf : "", stale ? " (stale)" : "", (int)(zkt_now_ms() - t0));
    CU_ASSERT(rc == ZKV_ETIMEOUT);
    CU_ASSERT(!(rc == 1 && strcmp(buf, "v2") == 0));
    /* a read that may fall back gets the last committed value from a replica... except
     * that both replicas are frozen: it must still not see v2 */
    rc = read_value(rd, key, kl, 0, buf, sizeof buf, &stale);
    zkt_log("get of K (fallback allowed): %s%s", rc == 1 ? "value " : zkv_strerror(rc),
            rc == 1 ? buf : "");
    CU_ASSERT(!(rc == 1 && strcmp(buf, "v2") == 0));
    /* a scan over K's range */
    zkv_scan *sc = NULL;
    uint8_t end[ZKT_KEY_MAX + 16];
    size_t el = key_in(&p, "-z", end);
    rc = zkv_scan_range(rd, key, kl, end, el, 10, 0, ZKV_FLAG_OWNER_ONLY, &sc);
    zkt_log("owner-only scan over K: %s", zkv_strerror(rc));
    CU_ASSERT(rc == ZKV_ETIMEOUT);
    for (size_t i = 0; rc == ZKV_OK && i < zkv_scan_count(sc); i++) {
        size_t vl;
        const void *vv = zkv_scan_value(sc, i, &vl);
        CU_ASSERT(!(vl == 2 && memcmp(vv, "v2", 2) == 0));
    }
    zkv_scan_free(sc);
    /* a committed key of the same range is answered at once (a fresh client: the held
     * answers of rd's connection come first on it) */
    CU_ASSERT_FATAL(it_client_ff(&g_fz, 2000, 300, &rd2) == ZKV_OK);
    rc = read_value(rd2, other, ol, ZKV_FLAG_OWNER_ONLY, buf, sizeof buf, &stale);
    CU_ASSERT(rc == 1 && strcmp(buf, "o1") == 0 && !stale);

    /* O dies; the replicas resume; one is promoted */
    zkt_log("killing owner %s, resuming the replicas", p.r.owner);
    zkt_server_stop(&g_fz, p.owner, SIGKILL);
    zkt_proc_signal(g_fz.servers[p.rep[0]].pid, SIGCONT);
    zkt_proc_signal(g_fz.servers[p.rep[1]].pid, SIGCONT);
    it_owner_arg a;
    CU_ASSERT_FATAL(!no_new_owner(&g_fz, &p, &a));
    char first[64] = "";
    for (int tries = 0; tries < 100 && !first[0]; tries++) {
        rc = read_value(g_fz_client, key, kl, ZKV_FLAG_OWNER_ONLY, buf, sizeof buf, &stale);
        if (rc == 1)
            snprintf(first, sizeof first, "%s", buf);
        else
            zkt_pause_ms(50);
    }
    zkt_log("after the failover (owner %s) K reads %s", a.now.owner, first);
    CU_ASSERT(strcmp(first, "v1") == 0 || strcmp(first, "v2") == 0);
    /* O returns as a replica; owner reads of K do not change */
    CU_ASSERT(zkt_server_start(&g_fz, p.owner) == 0);
    CU_ASSERT(it_wait_all_in_sync(&g_fz, WAIT_MS));
    for (int i = 0; i < 20; i++) {
        rc = read_value(g_fz_client, key, kl, ZKV_FLAG_OWNER_ONLY, buf, sizeof buf, &stale);
        CU_ASSERT(rc == 1 && strcmp(buf, first) == 0);
    }
    CU_ASSERT(it_check_sane(&g_fz) == 0);
    zkv_client_free(w);
    zkv_client_free(rd);
    zkv_client_free(rd2);
}

/* ---- suite 2: a real partition --------------------------------------------------------- */

static zkt_cluster g_pt;
static zkv_client *g_pt_client;
static zkt_netcut *g_cut;            /* nft mode, or NULL: proxy mode */
static zkt_proxy *g_zkp[N_SERVERS];  /* proxy mode: each server's ZooKeeper */
static zkt_proxy *g_advp[N_SERVERS]; /* proxy mode: each server's advertised address */

static int pt_init(void)
{
    if (zkt_cluster_init(&g_pt, "cut") != 0)
        return -1;
    char why[256] = "";
    g_cut = zkt_netcut_open(why, sizeof why);
    if (g_cut)
        zkt_log("partitions: nft rules on net_cls cgroups (kernel packet filter)");
    else
        zkt_log("partitions: the harness's proxies (nft not available: %s)", why);
    for (int i = 0; i < N_SERVERS; i++) {
        int rc = g_cut ? zkt_cluster_add_server(&g_pt)
                       : zkt_cluster_add_server_proxied(&g_pt, &g_zkp[i], &g_advp[i]);
        if (rc < 0 || (g_cut && zkt_netcut_add(g_cut, g_pt.servers[i].pid) != 0))
            return -1;
    }
    return it_cluster_up(&g_pt, N_SERVERS, 4000, 1000, &g_pt_client);
}

static int pt_cleanup(void)
{
    int rc = it_cluster_down(&g_pt, &g_pt_client);
    zkt_netcut_free(g_cut);
    g_cut = NULL;
    for (int i = 0; i < N_SERVERS; i++) {
        zkt_proxy_stop(g_zkp[i]);
        zkt_proxy_stop(g_advp[i]);
        g_zkp[i] = g_advp[i] = NULL;
    }
    return rc;
}

/* The reader: owner answers of key in order ("g1" < "g2"), and how often they went back. */
typedef struct reader {
    zkv_client *c;
    uint8_t key[ZKT_KEY_MAX + 16];
    size_t kl;
    pthread_t th;
    atomic_bool stop;
    atomic_int owner_reads, stale_reads, errors, backwards, saw_g2;
    int max_gen;
} reader;

static void *reader_main(void *arg)
{
    reader *r = arg;
    char buf[64] = "";
    bool stale = false;
    while (!atomic_load(&r->stop)) {
        int rc = read_value(r->c, r->key, r->kl, 0, buf, sizeof buf, &stale);
        if (rc != 1) {
            atomic_fetch_add(&r->errors, 1);
            zkt_pause_ms(5);
            continue;
        }
        if (stale) {
            atomic_fetch_add(&r->stale_reads, 1);
            continue;
        }
        atomic_fetch_add(&r->owner_reads, 1);
        int gen = buf[0] == 'g' ? atoi(buf + 1) : 0;
        if (gen == 2)
            atomic_fetch_add(&r->saw_g2, 1);
        if (gen < r->max_gen) {
            atomic_fetch_add(&r->backwards, 1);
            zkt_log("reader: an owner read went back from g%d to %s", r->max_gen, buf);
        }
        if (gen > r->max_gen)
            r->max_gen = gen;
    }
    return NULL;
}

/* Cuts O off from ZooKeeper and from its replicas (and them from O); clients still reach O.
 * on false heals. */
static void cut(const it_range_pick *p, bool on)
{
    if (g_cut) {
        if (!on) {
            CU_ASSERT(zkt_netcut_heal(g_cut) == 0);
            return;
        }
        pid_t o = g_pt.servers[p->owner].pid;
        CU_ASSERT(zkt_netcut_drop(g_cut, o, g_pt.zk.port) == 0);
        for (int k = 0; k < 2; k++) {
            pid_t rp = g_pt.servers[p->rep[k]].pid;
            CU_ASSERT(zkt_netcut_drop(g_cut, o, g_pt.servers[p->rep[k]].port) == 0);
            CU_ASSERT(zkt_netcut_drop(g_cut, rp, g_pt.servers[p->owner].port) == 0);
        }
        return;
    }
    zkt_proxy_set_blackhole(g_zkp[p->owner], on);
    zkt_proxy_set_blackhole(g_advp[p->rep[0]], on);
    zkt_proxy_set_blackhole(g_advp[p->rep[1]], on);
}

static void partition_cycle(int cycle)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_pt, WAIT_MS));
    it_range_pick p;
    zkt_map *m = zkt_cluster_map(&g_pt);
    CU_ASSERT_FATAL(m != NULL);
    int n_ranges = m ? m->n_ranges : 1;
    zkt_map_free(m);
    CU_ASSERT_FATAL(pick_range(&g_pt, (1 + cycle * 3) % n_ranges, &p));
    reader rd;
    memset(&rd, 0, sizeof rd);
    char suffix[32];
    snprintf(suffix, sizeof suffix, "-cycle%d", cycle);
    rd.kl = key_in(&p, suffix, rd.key);
    CU_ASSERT_FATAL(zkv_put(g_pt_client, rd.key, rd.kl, "g1", 2, 0, 0, NULL) == ZKV_OK);
    CU_ASSERT_FATAL(it_client_ff(&g_pt, 1000, 500, &rd.c) == ZKV_OK);
    CU_ASSERT_FATAL(pthread_create(&rd.th, NULL, reader_main, &rd) == 0);

    zkt_log("cycle %d: cutting owner %s of %s off from ZooKeeper and from %s, %s", cycle, p.r.owner,
            p.r.id, p.r.in_sync[0], p.r.in_sync[1]);
    cut(&p, true);
    zkv_client *w = NULL;
    CU_ASSERT_FATAL(it_client_ff(&g_pt, 1500, 500, &w) == ZKV_OK);
    int prc = zkv_put(w, rd.key, rd.kl, "g2", 2, 0, 0, NULL);
    zkt_log("cycle %d: put g2 during the cut: %s", cycle, zkv_strerror(prc));
    zkv_client_free(w);

    /* O's session expires; in proxy mode the replicas come back for the promotion */
    it_node_arg gone = {&g_pt, p.r.owner};
    CU_ASSERT(zkt_wait_for(it_node_gone, &gone, WAIT_MS));
    if (!g_cut) { /* the connections through them timed out: what O sent is gone */
        for (int k = 0; k < 2; k++) {
            zkt_proxy_reset(g_advp[p.rep[k]]);
            zkt_proxy_set_blackhole(g_advp[p.rep[k]], false);
        }
    }
    it_owner_arg a;
    CU_ASSERT(!no_new_owner(&g_pt, &p, &a));
    /* the new owner answers the reader */
    int before = atomic_load(&rd.owner_reads);
    for (int i = 0; i < 200 && atomic_load(&rd.owner_reads) < before + 5; i++)
        zkt_pause_ms(20);
    zkt_log("cycle %d: new owner %s; healing", cycle, a.now.owner);
    cut(&p, false);
    CU_ASSERT(zkt_cluster_wait_registered(&g_pt, p.owner, 0, WAIT_MS, NULL));
    CU_ASSERT(it_wait_all_in_sync(&g_pt, WAIT_MS));
    atomic_store(&rd.stop, true);
    pthread_join(rd.th, NULL);

    char buf[64];
    bool stale;
    int rc = read_value(g_pt_client, rd.key, rd.kl, ZKV_FLAG_OWNER_ONLY, buf, sizeof buf, &stale);
    zkt_log("cycle %d: %d owner reads, %d stale, %d errors, %d backwards, %d owner reads of g2; "
            "K is now %s",
            cycle, atomic_load(&rd.owner_reads), atomic_load(&rd.stale_reads),
            atomic_load(&rd.errors), atomic_load(&rd.backwards), atomic_load(&rd.saw_g2),
            rc == 1 ? buf : zkv_strerror(rc));
    CU_ASSERT(rc == 1);
    CU_ASSERT(atomic_load(&rd.backwards) == 0);
    if (prc == ZKV_OK) /* acknowledged: it survives */
        CU_ASSERT(rc == 1 && strcmp(buf, "g2") == 0);
    if (rc == 1 && strcmp(buf, "g1") == 0) /* lost: no owner read ever returned it */
        CU_ASSERT(atomic_load(&rd.saw_g2) == 0);
    CU_ASSERT(atomic_load(&rd.owner_reads) > 0);
    zkv_client_free(rd.c);
}

static void test_partition_cycles(void)
{
    for (int c = 0; c < CYCLES; c++)
        partition_cycle(c);
    CU_ASSERT(it_check_sane(&g_pt) == 0);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("frozen replicas", fz_init, fz_cleanup);
    CU_add_test(s, "an uncommitted write is invisible to owner reads, before and after failover",
                test_uncommitted_write_invisible);
    s = CU_add_suite("partition", pt_init, pt_cleanup);
    CU_add_test(s, "owner cut off from ZooKeeper and replicas: owner reads never go back",
                test_partition_cycles);
    return zkt_run_all();
}
