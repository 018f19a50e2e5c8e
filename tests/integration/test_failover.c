/* test_failover.c: owner failover under load, with real faults (docs/replication.md,
 * DESIGN.md Guarantees). A 3-node cluster, replication factor 3, session timeout 2 s.
 * 1. kill -9 of an owner while two writer threads work (one on the victim's ranges, hot
 *    keys included, one on every range): the coordinator promotes an in_sync replica of
 *    each of the victim's ranges with a higher epoch, the map stays sane, writes succeed
 *    again, and every write a writer saw acknowledged reads back (owner only, not stale)
 *    with its value and version; the victim, restarted, rejoins in_sync.
 * 2. SIGSTOP of an owner past the session timeout, then SIGCONT: requests it received
 *    while frozen and requests sent after it woke are never answered OK (as owner) once
 *    its successor serves: only NOT_OWNER or UNAVAILABLE; nothing it was told to write is
 *    visible; no acknowledged write is lost.
 * 3. ZooKeeper restart (same port and data) under a writer: the cluster resumes, every
 *    replica returns to in_sync and every acknowledged write reads back. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_repl.h"
#include "it_wire.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_SERVERS 3
#define WAIT_MS 30000

static zkt_cluster g_cl;
static zkv_client *g_client; /* the checker's client */
static char g_cluster_id[ZKT_ID_MAX];

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "failover") != 0 ||
        it_cluster_up(&g_cl, N_SERVERS, 10000, 0, &g_client) != 0)
        return -1;
    return zkt_cluster_id(&g_cl, g_cluster_id, sizeof g_cluster_id);
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

/* Ranges owned by id: their indices in m, their ids and epochs, their in_sync sets. */
typedef struct owned {
    int n;
    int idx[ZKT_MAX_RANGES];
    zkt_map_range r[ZKT_MAX_RANGES]; /* copies (json not kept) */
} owned;

static void owned_by(const zkt_map *m, const char *id, owned *o)
{
    o->n = 0;
    for (int i = 0; i < m->n_ranges; i++)
        if (strcmp(m->ranges[i].owner, id) == 0) {
            o->idx[o->n] = i;
            o->r[o->n] = m->ranges[i];
            o->r[o->n].json = NULL;
            o->n++;
        }
}

/* After the victim's ranges moved: each has a new live owner that was in the old in_sync
 * set, a higher epoch, the victim out of in_sync and (3 nodes: no spare) in replicas. */
static void check_promotions(const owned *o, const char *victim)
{
    for (int k = 0; k < o->n; k++) {
        const zkt_map_range *old = &o->r[k];
        it_owner_arg oa;
        CU_ASSERT_FATAL(it_wait_new_owner(&oa, &g_cl, old->id, victim, old->epoch, 20000));
        const zkt_map_range *r = &oa.now;
        zkt_log("%s: owner %s epoch %llu -> owner %s epoch %llu, in_sync %d, replicas %d", old->id,
                victim, (unsigned long long)old->epoch, r->owner, (unsigned long long)r->epoch,
                r->n_in_sync, r->n_replicas);
        CU_ASSERT(zkt_range_in_sync(old, r->owner)); /* only an in_sync replica is promoted */
        CU_ASSERT(r->epoch > old->epoch);
        CU_ASSERT(!zkt_range_in_sync(r, victim));
        bool listed = false;
        for (int i = 0; i < r->n_replicas; i++)
            listed |= strcmp(r->replicas[i], victim) == 0;
        CU_ASSERT(listed); /* it returns as a replica: no spare node exists */
        char why[256];
        if (!zkt_range_sane(r, g_cl.replicas - 1, why, sizeof why)) {
            zkt_log("%s", why);
            CU_FAIL("range not sane after promotion");
        }
    }
}

/* Time from t_kill (wall ms) to the first write acknowledged in an epoch above the
 * victim's, or -1. */
static int first_ack_after(const it_writer *w, uint64_t t_kill, const owned *o)
{
    int n = atomic_load(&w->n);
    uint64_t best = 0;
    for (int i = 0; i < n; i++) {
        const it_attempt *a = &w->a[i];
        if (a->state != IT_W_ACKED || a->t_done < t_kill)
            continue;
        bool newer = false;
        for (int k = 0; k < o->n; k++)
            newer |= a->ver.epoch > o->r[k].epoch;
        if (newer && (!best || a->t_done < best))
            best = a->t_done;
    }
    return best ? (int)(best - t_kill) : -1;
}

/* --- 1. kill -9 of an owner under writers ---------------------------------------------- */

static void test_kill9_owner_under_writers(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    const int victim = zkt_cluster_server_index(&g_cl, m->ranges[1].owner);
    CU_ASSERT_FATAL(victim >= 0);
    const char *vid = g_cl.servers[victim].id;
    static owned o;
    owned_by(m, vid, &o);
    int all[ZKT_MAX_RANGES];
    for (int i = 0; i < m->n_ranges; i++)
        all[i] = i;
    zkv_client *c1 = NULL, *c2 = NULL;
    CU_ASSERT_FATAL(it_client(&g_cl, 5000, &c1) == ZKV_OK);
    CU_ASSERT_FATAL(it_client(&g_cl, 5000, &c2) == ZKV_OK);
    static it_writer w1, w2;
    CU_ASSERT_FATAL(it_writer_start(&w1, c1, 1, m, o.idx, o.n, true) == 0);
    CU_ASSERT_FATAL(it_writer_start(&w2, c2, 2, m, all, m->n_ranges, false) == 0);
    zkt_map_free(m);
    CU_ASSERT(it_writer_wait_acks(&w1, 300, WAIT_MS));
    CU_ASSERT(it_writer_wait_acks(&w2, 300, WAIT_MS));

    zkt_log("kill -9 %s (owner of %d ranges) under two writers", vid, o.n);
    uint64_t t_kill = it_wall_ms();
    CU_ASSERT(zkt_server_stop(&g_cl, victim, SIGKILL) == -SIGKILL);
    check_promotions(&o, vid);
    zkt_log("promotions seen in ZooKeeper %d ms after the kill", (int)(it_wall_ms() - t_kill));
    CU_ASSERT(it_writer_wait_acks(&w1, 300, WAIT_MS));
    CU_ASSERT(it_writer_wait_acks(&w2, 300, WAIT_MS));
    it_writer_stop(&w1);
    it_writer_stop(&w2);
    zkt_log("first write acknowledged by a new owner %d ms after the kill",
            first_ack_after(&w1, t_kill, &o));
    CU_ASSERT(it_check_sane(&g_cl) == 0);

    int checked = 0;
    CU_ASSERT(it_writer_verify(&w1, g_client, ZKV_FLAG_OWNER_ONLY, false, &checked) == 0);
    CU_ASSERT(checked > 0);
    CU_ASSERT(it_writer_verify(&w2, g_client, ZKV_FLAG_OWNER_ONLY, false, &checked) == 0);
    CU_ASSERT(checked > 0);

    /* The victim comes back as a replica and catches up. */
    CU_ASSERT_FATAL(zkt_server_start(&g_cl, victim) == 0);
    CU_ASSERT(zkt_cluster_wait_registered(&g_cl, victim, 0, WAIT_MS, NULL));
    CU_ASSERT(it_wait_in_sync(&g_cl, vid, true, WAIT_MS));
    CU_ASSERT(it_check_sane(&g_cl) == 0);
    CU_ASSERT(it_writer_verify(&w1, g_client, ZKV_FLAG_OWNER_ONLY, false, &checked) == 0);
    it_writer_free(&w1);
    it_writer_free(&w2);
    zkv_client_free(c1);
    zkv_client_free(c2);
}

/* --- 2. SIGSTOP of an owner past the session timeout ----------------------------------- */

/* One raw request, sent and not yet answered. */
typedef struct zreq {
    uint64_t id;
    bool put;
    uint8_t key[ZKT_KEY_MAX + 64];
    size_t klen;
} zreq;

static int send_zombie(conn *c, zreq *q, uint64_t id, bool put, const uint8_t *prefix, size_t plen)
{
    q->id = id;
    q->put = put;
    memcpy(q->key, prefix, plen);
    q->klen =
        plen + (size_t)snprintf((char *)q->key + plen, 48, "-zombie-%llu", (unsigned long long)id);
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = id;
    req.op = put ? ZKV__OP__PUT : ZKV__OP__GET;
    req.key.data = q->key;
    req.key.len = q->klen;
    req.value.data = (uint8_t *)"zombie";
    req.value.len = put ? 6 : 0;
    return send_req(c, &req);
}

/* An answer of the old owner: OK only if ZooKeeper says it owns the key's range again, in
 * an epoch above its successor's (a legitimate later move). Returns 1 when acceptable. */
static int judge(const Zkv__Response *r, const zreq *q, const char *vid, uint64_t succ_epoch)
{
    if (!r)
        return 1; /* no answer is not an answer as owner */
    if (r->status == ZKV__STATUS__NOT_OWNER || r->status == ZKV__STATUS__UNAVAILABLE)
        return 1;
    if (r->status == ZKV__STATUS__OK || r->status == ZKV__STATUS__NOT_FOUND) {
        zkt_map *m = zkt_cluster_map(&g_cl);
        const zkt_map_range *rg = m ? zkt_map_find(m, q->key, q->klen) : NULL;
        bool legit = rg && strcmp(rg->owner, vid) == 0 && rg->epoch > succ_epoch;
        zkt_map_free(m);
        char show[256];
        zkt_log("old owner answered %s %s for %s %s", zkv_status_name(r->status),
                r->stale ? "(stale)" : "", q->put ? "PUT" : "GET",
                it_show(q->key, q->klen, show, sizeof show));
        return legit;
    }
    log_resp("old owner: unexpected answer", r);
    return 0;
}

static void test_sigstop_owner_never_answers_after_successor(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    const int victim = zkt_cluster_server_index(&g_cl, m->ranges[2].owner);
    CU_ASSERT_FATAL(victim >= 0);
    const char *vid = g_cl.servers[victim].id;
    pid_t pid = g_cl.servers[victim].pid;
    static owned o;
    owned_by(m, vid, &o);
    uint8_t prefix[ZKT_MAX_RANGES][ZKT_KEY_MAX];
    size_t plen[ZKT_MAX_RANGES];
    for (int k = 0; k < o.n; k++) {
        plen[k] = it_range_prefix(m, &m->ranges[o.idx[k]], prefix[k], false);
        CU_ASSERT_FATAL(plen[k] > 0);
    }
    zkv_client *c1 = NULL;
    CU_ASSERT_FATAL(it_client(&g_cl, 5000, &c1) == ZKV_OK);
    static it_writer w;
    CU_ASSERT_FATAL(it_writer_start(&w, c1, 3, m, o.idx, o.n, true) == 0);
    zkt_map_free(m);
    CU_ASSERT(it_writer_wait_acks(&w, 200, WAIT_MS));

    /* A connection to the victim, ready before it freezes. */
    conn c;
    conn_open_hello(&c, g_cl.servers[victim].port, g_cluster_id);
    Zkv__Response *r;

    zkt_log("SIGSTOP %s (owner of %d ranges)", vid, o.n);
    CU_ASSERT_FATAL(zkt_proc_signal(pid, SIGSTOP) == 0);
    /* Requests the frozen node will find waiting when it wakes. */
    static zreq held[64];
    int n_held = 0;
    for (int k = 0; k < o.n && n_held + 4 <= 64; k++)
        for (int j = 0; j < 4; j++, n_held++)
            CU_ASSERT(send_zombie(&c, &held[n_held], 100 + (uint64_t)n_held, j % 2 == 0, prefix[k],
                                  plen[k]) == 0);
    it_node_arg na = {&g_cl, vid};
    CU_ASSERT(zkt_wait_for(it_node_gone, &na, 20000));
    check_promotions(&o, vid);
    uint64_t succ_epoch = 0;
    {
        zkt_map *mm = zkt_cluster_map(&g_cl);
        CU_ASSERT_FATAL(mm != NULL);
        for (int k = 0; k < o.n; k++) {
            const zkt_map_range *rg = zkt_map_range_by_id(mm, o.r[k].id);
            if (rg && rg->epoch > succ_epoch)
                succ_epoch = rg->epoch;
        }
        zkt_map_free(mm);
    }
    /* The successors serve: the writer gets acknowledgements again. */
    CU_ASSERT(it_writer_wait_acks(&w, 200, WAIT_MS));

    zkt_log("SIGCONT %s", vid);
    CU_ASSERT_FATAL(zkt_proc_signal(pid, SIGCONT) == 0);
    int bad = 0, answered = 0;
    for (int i = 0; i < n_held; i++) {
        r = recv_resp(&c, 5000);
        if (r) {
            answered++;
            int k;
            for (k = 0; k < n_held && held[k].id != r->id; k++)
                ;
            if (k == n_held || !judge(r, &held[k], vid, succ_epoch))
                bad++;
            zkv__response__free_unpacked(r, NULL);
        } else if (c.eof) {
            break;
        }
    }
    zkt_log("requests held while frozen: %d sent, %d answered, %d answered as owner", n_held,
            answered, bad);
    CU_ASSERT(bad == 0);
    conn_close(&c);

    /* For 3 s after waking, fresh connections: never an answer as owner. */
    uint64_t until = zkt_now_ms() + 3000;
    int asked = 0;
    uint64_t id = 1000;
    while (zkt_now_ms() < until) {
        conn c2;
        if (conn_open(&c2, g_cl.servers[victim].port) != 0) {
            conn_close(&c2);
            zkt_pause_ms(50);
            continue;
        }
        r = hello(&c2, g_cluster_id, id++);
        bool up = r && r->status == ZKV__STATUS__OK;
        if (r)
            zkv__response__free_unpacked(r, NULL);
        for (int k = 0; up && k < o.n; k++)
            for (int j = 0; j < 2; j++) {
                zreq q;
                if (send_zombie(&c2, &q, id++, j == 0, prefix[k], plen[k]) != 0)
                    break;
                r = recv_resp(&c2, 5000);
                asked++;
                if (!judge(r, &q, vid, succ_epoch))
                    bad++;
                if (r)
                    zkv__response__free_unpacked(r, NULL);
            }
        conn_close(&c2);
        zkt_pause_ms(100);
    }
    zkt_log("after SIGCONT: %d requests to the old owner, %d answered as owner", asked, bad);
    CU_ASSERT(asked > 0);
    CU_ASSERT(bad == 0);

    /* It registers again and rejoins as a replica; nothing it was asked to write shows. */
    CU_ASSERT(zkt_cluster_wait_registered(&g_cl, victim, 0, WAIT_MS, NULL));
    CU_ASSERT(it_wait_in_sync(&g_cl, vid, true, WAIT_MS));
    it_writer_stop(&w);
    int checked = 0;
    CU_ASSERT(it_writer_verify(&w, g_client, ZKV_FLAG_OWNER_ONLY, false, &checked) == 0);
    int visible = 0;
    for (int i = 0; i < n_held; i++) {
        zkv_value *v = NULL;
        int rc = zkv_get(g_client, held[i].key, held[i].klen, 0, ZKV_FLAG_OWNER_ONLY, &v);
        if (held[i].put && rc != ZKV_ENOTFOUND) {
            visible++;
            zkt_log("zombie write visible: %s", zkv_strerror(rc));
        }
        zkv_value_free(v);
    }
    CU_ASSERT(visible == 0);
    CU_ASSERT(zkt_proc_alive(pid));
    CU_ASSERT(it_check_sane(&g_cl) == 0);
    it_writer_free(&w);
    zkv_client_free(c1);
}

/* --- 3. ZooKeeper restart under a writer ----------------------------------------------- */

static void test_zookeeper_restart_under_writer(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    int all[ZKT_MAX_RANGES];
    for (int i = 0; i < m->n_ranges; i++)
        all[i] = i;
    zkv_client *c1 = NULL;
    CU_ASSERT_FATAL(it_client(&g_cl, 10000, &c1) == ZKV_OK);
    static it_writer w;
    CU_ASSERT_FATAL(it_writer_start(&w, c1, 4, m, all, m->n_ranges, true) == 0);
    zkt_map_free(m);
    CU_ASSERT(it_writer_wait_acks(&w, 300, WAIT_MS));
    uint64_t t0 = zkt_now_ms();
    CU_ASSERT_FATAL(zkt_zk_stop(&g_cl.zk) == 0);
    CU_ASSERT_FATAL(zkt_zk_restart(&g_cl.zk) == 0);
    zkt_log("ZooKeeper down for %d ms", (int)(zkt_now_ms() - t0));
    CU_ASSERT(zkt_cluster_wait_ready(&g_cl, WAIT_MS));
    CU_ASSERT(it_writer_wait_acks(&w, 300, WAIT_MS));
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    it_writer_stop(&w);
    CU_ASSERT(it_check_sane(&g_cl) == 0);
    int checked = 0;
    CU_ASSERT(it_writer_verify(&w, g_client, ZKV_FLAG_OWNER_ONLY, false, &checked) == 0);
    CU_ASSERT(checked > 0);
    for (int i = 0; i < g_cl.n_servers; i++)
        CU_ASSERT(zkt_proc_alive(g_cl.servers[i].pid));
    it_writer_free(&w);
    zkv_client_free(c1);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("failover", suite_init, suite_cleanup);
    CU_add_test(s, "kill -9 of an owner under writers: every acknowledged write survives",
                test_kill9_owner_under_writers);
    CU_add_test(s, "SIGSTOP past the session timeout: the old owner never answers as owner",
                test_sigstop_owner_never_answers_after_successor);
    CU_add_test(s, "ZooKeeper restart under a writer: resumes without loss",
                test_zookeeper_restart_under_writer);
    return zkt_run_all();
}
