/* test_split_merge.c: range splits and merges (docs/operations.md, "Split and merge")
 * through the operators' API (zkv_admin_submit "split" and "merge", what `zkv admin`
 * runs), under a writer
 * (overwrites and keys of its own over every range but the last, 8 s per call) and a
 * reader of acknowledged writes (owner reads only) that count every client error:
 * - split at a key: the range is replaced by r<N>a [start, key) and r<N>b [key, end) with
 *   the same owner, replicas and in_sync (every replica continued the parent's log: none
 *   is rebuilt), epoch + 1; writes go on into both halves; the write pause is logged;
 * - split at the middle the owner picks: both halves hold keys;
 * - a scan over the parent's interval returns every acknowledged key written there;
 * - the leading coordinator killed (kill -9) right after the request: the standby
 *   finishes the split;
 * - a replica down during the split: it comes back, its halves are rebuilt from the owner
 *   (its log says so) and it is in_sync again;
 * - a range with no keys: the owner declines, the operation fails with the reason;
 * - the halves of the first split merged back: one range with the same copies, every
 *   replica continued the log;
 * - neighbours with different owners merged: the right one's owner moves first;
 * - the owner of a half killed after the split: a replica takes over the forked log, no
 *   acknowledged write is lost.
 * Expected: 0 client errors until the last kill, every acknowledged write reads back. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "it_admin.h"
#include "it_common.h"
#include "it_load.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_SERVERS 3
#define WAIT_MS 60000

static zkt_cluster g_cl;
static zkv_client *g_client;
static it_load g_l;
static zkt_map_range g_last;       /* the range the writer leaves empty */
static char g_half[2][ZKT_ID_MAX]; /* the first split's halves */

static int init(void)
{
    if (zkt_cluster_init(&g_cl, "splitmerge") != 0 ||
        it_cluster_up(&g_cl, N_SERVERS, 8000, 4000, &g_client) != 0 ||
        zkt_cluster_add_coordinator(&g_cl, N_SERVERS) < 0 || /* a standby */
        !it_wait_all_in_sync(&g_cl, WAIT_MS))
        return -1;
    zkt_map *m = zkt_cluster_map(&g_cl);
    if (!m)
        return -1;
    g_last = m->ranges[m->n_ranges - 1];
    g_last.json = NULL;
    int n = m->n_ranges;
    zkt_map_free(m);
    return it_load_start(&g_l, &g_cl, n - 1, 1, 300, WAIT_MS);
}

static int cleanup(void)
{
    it_load_free(&g_l);
    return it_cluster_down(&g_cl, &g_client);
}

static void no_errors(const char *when)
{
    CU_ASSERT(it_load_clean(&g_l, when));
}

/* The id of a range operation id makes (coordinator/opstep.h: op-0000000012 -> r12a,
 * r12b for a split, r12m for a merge). */
static void made_id(const char *id, char letter, char out[ZKT_ID_MAX])
{
    const char *n = strlen(id) > 3 ? id + 3 : "?";
    while (n[0] == '0' && n[1])
        n++;
    snprintf(out, ZKT_ID_MAX, "r%s%c", n, letter);
}

/* Whether server i's log says of range id that it was made (split or merge) and
 * continued (true) or was rebuilt (false); *seen tells whether it said anything. */
static bool continued_on(int i, const char *id, bool *seen)
{
    char *log = zkt_read_file(g_cl.servers[i].log, NULL);
    char want[128];
    snprintf(want, sizeof want, "range %s (made from", id);
    const char *at = log ? strstr(log, want) : NULL;
    const char *eol = at ? strchr(at, '\n') : NULL;
    *seen = at != NULL;
    bool ok = at && strstr(at, "continues its parent's log here") &&
              (!eol || strstr(at, "continues its parent's log here") < eol);
    free(log);
    return ok;
}

/* key as zkv prints keys (and zkv_admin_submit takes them): \xHH but for printable bytes */
static void escape(const uint8_t *key, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        if (key[i] >= 0x20 && key[i] < 0x7f && key[i] != '\\')
            *out++ = (char)key[i];
        else
            out += sprintf(out, "\\x%02x", key[i]);
    }
    *out = '\0';
}

static bool same_set(const char (*x)[ZKT_ID_MAX], int nx, const char (*y)[ZKT_ID_MAX], int ny)
{
    if (nx != ny)
        return false;
    for (int i = 0; i < nx; i++) {
        bool found = false;
        for (int j = 0; j < ny && !found; j++)
            found = strcmp(x[i], y[j]) == 0;
        if (!found)
            return false;
    }
    return true;
}

/* Splits the range at index idx of the current map (at key, or the middle when NULL)
 * and checks the halves against the parent; their ids into a and b. With kill_coord the
 * leading coordinator is killed right after the request (and started again after). */
static bool split_checked(int idx, const uint8_t *key, size_t klen, bool kill_coord,
                          char a_id[ZKT_ID_MAX], char b_id[ZKT_ID_MAX])
{
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return false;
    zkt_map_range parent = m->ranges[idx];
    parent.json = NULL;
    char esc[4 * ZKT_KEY_MAX + 1] = "", id[64] = "";
    if (key)
        escape(key, klen, esc);
    uint64_t t0 = it_wall_ms();
    bool ok = it_admin_submit(g_client, "split", parent.id, key ? esc : NULL, id, sizeof id);
    CU_ASSERT(ok);
    int lead = -1;
    if (ok && kill_coord) {
        lead = it_leading_coordinator(&g_cl);
        zkt_log("split %s requested; killing coordinator %d", id, lead);
        CU_ASSERT(lead >= 0);
        if (lead >= 0)
            zkt_coord_stop(&g_cl, lead, SIGKILL);
    }
    ok = ok && it_wait_op(g_client, id, WAIT_MS);
    CU_ASSERT(ok);
    uint64_t t1 = it_wall_ms();
    if (lead >= 0)
        CU_ASSERT(zkt_coord_start(&g_cl, lead) == 0); /* back as a standby */
    made_id(id, 'a', a_id);
    made_id(id, 'b', b_id);
    zkt_map *after = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(after != NULL);
    if (!after)
        return false;
    const zkt_map_range *a = zkt_map_range_by_id(after, a_id),
                        *b = zkt_map_range_by_id(after, b_id);
    CU_ASSERT(ok && a && b && !zkt_map_range_by_id(after, parent.id));
    if (ok && a && b) {
        g_cl.ranges++; /* what it_wait_all_in_sync expects */
        /* [start, key) and [key, end) */
        CU_ASSERT(a->start_len == parent.start_len &&
                  memcmp(a->start, parent.start, parent.start_len) == 0);
        CU_ASSERT(b->end_len == parent.end_len && memcmp(b->end, parent.end, parent.end_len) == 0);
        CU_ASSERT(a->end_len > 0 && a->end_len == b->start_len &&
                  memcmp(a->end, b->start, a->end_len) == 0);
        if (key)
            CU_ASSERT(a->end_len == klen && memcmp(a->end, key, klen) == 0);
        CU_ASSERT(zkt_key_cmp(parent.start, parent.start_len, a->end, a->end_len) < 0);
        CU_ASSERT(parent.end_len == 0 ||
                  zkt_key_cmp(b->start, b->start_len, parent.end, parent.end_len) < 0);
        /* the same copies; every in_sync replica continued the log */
        for (const zkt_map_range *h = a; h; h = h == a ? b : NULL) {
            CU_ASSERT(strcmp(h->owner, parent.owner) == 0 || kill_coord);
            CU_ASSERT(h->epoch >= parent.epoch + 1);
            CU_ASSERT(same_set((const char(*)[ZKT_ID_MAX])h->replicas, h->n_replicas,
                               (const char(*)[ZKT_ID_MAX])parent.replicas, parent.n_replicas));
            CU_ASSERT(same_set((const char(*)[ZKT_ID_MAX])h->in_sync, h->n_in_sync,
                               (const char(*)[ZKT_ID_MAX])parent.in_sync, parent.n_in_sync));
        }
        zkt_log("split %s of %s: %llu ms; longest write to it meanwhile %llu ms", id, parent.id,
                (unsigned long long)(t1 - t0),
                (unsigned long long)it_longest_write(&g_l.w, m, &m->ranges[idx], t0, t1));
    }
    zkt_map_free(after);
    zkt_map_free(m);
    return ok && a && b;
}

/* Acknowledged writes of the writer sent after t into range id of the current map. */
static int acked_into(const char *id, uint64_t t)
{
    zkt_map *m = zkt_cluster_map(&g_cl);
    if (!m)
        return -1;
    const zkt_map_range *r = zkt_map_range_by_id(m, id);
    uint8_t key[ZKT_KEY_MAX + 64];
    int n = atomic_load(&g_l.w.n), k = 0;
    for (int i = 0; r && i < n; i++)
        if (g_l.w.a[i].state == IT_W_ACKED && g_l.w.a[i].t_sent > t &&
            zkt_map_find(m, key, it_w_key(&g_l.w, i, key)) == r)
            k++;
    zkt_map_free(m);
    return k;
}

typedef struct halves_arg {
    const char *a, *b;
    uint64_t t;
} halves_arg;

static bool both_written(void *p)
{
    halves_arg *h = p;
    return acked_into(h->a, h->t) > 0 && acked_into(h->b, h->t) > 0;
}

static void test_split_at_key(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    /* the writer's keys of range 1 are prefix + "-w1-<i>": "-w1-5" sends i = 5..9, 50..99,
     * ... and the hot keys to the right half, the rest to the left */
    uint8_t key[ZKT_KEY_MAX + 8];
    size_t kl = g_l.w.prefix_len[1];
    memcpy(key, g_l.w.prefix[1], kl);
    memcpy(key + kl, "-w1-5", 5); // NOLINT(bugprone-not-null-terminated-result): a key, bytes
    kl += 5;
    char a[ZKT_ID_MAX], b[ZKT_ID_MAX];
    uint64_t t = it_wall_ms();
    CU_ASSERT_FATAL(split_checked(1, key, kl, false, a, b));
    snprintf(g_half[0], ZKT_ID_MAX, "%s", a);
    snprintf(g_half[1], ZKT_ID_MAX, "%s", b);
    halves_arg h = {a, b, t};
    CU_ASSERT(zkt_wait_for(both_written, &h, WAIT_MS));
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    /* every node continued the parent's log in both halves: none was rebuilt */
    for (int i = 0; i < g_cl.n_servers; i++) {
        bool seen_a, seen_b;
        CU_ASSERT(continued_on(i, a, &seen_a) && continued_on(i, b, &seen_b));
    }
    no_errors("split at a key");
}

static bool has_keys(const zkt_map_range *r)
{
    zkv_scan *s = NULL;
    int rc = zkv_scan_range(g_client, r->start, r->start_len, r->end, r->end_len, 1, 8000, 0, &s);
    bool ok = rc == ZKV_OK && zkv_scan_count(s) > 0;
    zkv_scan_free(s);
    return ok;
}

static void test_split_at_middle(void)
{
    char a[ZKT_ID_MAX], b[ZKT_ID_MAX];
    CU_ASSERT_FATAL(split_checked(3, NULL, 0, false, a, b));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return;
    const zkt_map_range *ra = zkt_map_range_by_id(m, a), *rb = zkt_map_range_by_id(m, b);
    CU_ASSERT(ra && rb && has_keys(ra) && has_keys(rb));
    zkt_map_free(m);
    no_errors("split at the middle");
}

/* Every acknowledged own key (not overwritten) the writer sent to [start, end) before t
 * is in a scan of that interval. */
static void test_scan_across_split(void)
{
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return;
    /* the interval of the first split's parent: its halves are ranges 1 and 2 now */
    zkt_map_range lo = m->ranges[1], hi = m->ranges[2];
    zkt_map_free(m);
    int n = atomic_load(&g_l.w.n), want = 0, found = 0;
    zkv_scan *s = NULL;
    int rc = zkv_scan_range(g_client, lo.start, lo.start_len, hi.end, hi.end_len, 100000, 30000,
                            ZKV_FLAG_OWNER_ONLY, &s);
    CU_ASSERT_FATAL(rc == ZKV_OK);
    uint8_t key[ZKT_KEY_MAX + 64];
    for (int i = 0; i < n; i++) {
        if ((i & 1) || g_l.w.a[i].state != IT_W_ACKED)
            continue; /* overwritten hot keys are the reader's */
        size_t kl = it_w_key(&g_l.w, i, key);
        if (zkt_key_cmp(key, kl, lo.start, lo.start_len) < 0 ||
            zkt_key_cmp(key, kl, hi.end, hi.end_len) >= 0)
            continue;
        want++;
        for (size_t j = 0; j < zkv_scan_count(s); j++) {
            size_t l;
            const void *k = zkv_scan_key(s, j, &l);
            if (l == kl && memcmp(k, key, kl) == 0) {
                found++;
                break;
            }
        }
    }
    zkt_log("scan across the split: %zu items, %d of %d acknowledged keys found", zkv_scan_count(s),
            found, want);
    CU_ASSERT(want > 0 && found == want && !zkv_scan_more(s));
    zkv_scan_free(s);
}

static void test_coordinator_killed_mid_split(void)
{
    char a[ZKT_ID_MAX], b[ZKT_ID_MAX];
    CU_ASSERT(split_checked(0, NULL, 0, true, a, b));
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    no_errors("coordinator killed mid-split");
}

static void test_replica_down_during_split(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return;
    int idx = m->n_ranges - 2; /* written to, not split yet */
    const zkt_map_range *r = &m->ranges[idx];
    CU_ASSERT_FATAL(r->n_replicas > 0);
    int v = zkt_cluster_server_index(&g_cl, r->replicas[0]);
    CU_ASSERT_FATAL(v >= 0);
    zkt_map_free(m);
    zkt_server_stop(&g_cl, v, SIGTERM); /* hands its own ranges off: no client error */
    CU_ASSERT(it_wait_in_sync(&g_cl, g_cl.servers[v].id, false, WAIT_MS));
    /* more writes while it is down: its copy falls behind the split point */
    atomic_store(&g_l.w.acked_since_mark, 0);
    CU_ASSERT(it_writer_wait_acks(&g_l.w, 100, WAIT_MS));
    char a[ZKT_ID_MAX], b[ZKT_ID_MAX];
    CU_ASSERT(split_checked(idx, NULL, 0, false, a, b));
    CU_ASSERT_FATAL(zkt_server_start(&g_cl, v) == 0);
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    bool seen = false;
    CU_ASSERT(!continued_on(v, a, &seen) && seen); /* rebuilt from the owner */
    no_errors("replica down during a split");
}

static void test_empty_range_declined(void)
{
    char id[64];
    CU_ASSERT_FATAL(it_admin_submit(g_client, "split", g_last.id, NULL, id, sizeof id));
    it_op_arg end;
    CU_ASSERT(!it_wait_op_at(g_client, id, WAIT_MS, &end));
    CU_ASSERT(strcmp(end.step, "failed") == 0 && strstr(end.err, "declined"));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return;
    const zkt_map_range *r = zkt_map_range_by_id(m, g_last.id);
    CU_ASSERT(r && r->json && !strstr(r->json, "\"split\""));
    zkt_map_free(m);
    /* a key outside the range is refused at once */
    const char *args[2] = {g_last.id, "\\x00"};
    char *op = NULL;
    CU_ASSERT(zkv_admin_submit(g_client, "split", args, 2, &op) == ZKV_EINVAL);
    CU_ASSERT(strstr(zkv_last_error(), "inside") != NULL);
    no_errors("an empty range");
}

/* Merges range left_id with its right neighbour and checks the result against both;
 * true when merged, the new range's id into mid. */
static bool merge_checked(const char *left_id, char mid[ZKT_ID_MAX])
{
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return false;
    const zkt_map_range *l = zkt_map_range_by_id(m, left_id);
    CU_ASSERT_FATAL(l != NULL && l->end_len > 0);
    const zkt_map_range *r = zkt_map_find(m, l->end, l->end_len);
    CU_ASSERT_FATAL(r != NULL && r != l);
    zkt_map_range left = *l, right = *r;
    char id[64];
    uint64_t t0 = it_wall_ms();
    bool ok = it_admin_submit(g_client, "merge", left.id, NULL, id, sizeof id) &&
              it_wait_op(g_client, id, WAIT_MS);
    uint64_t t1 = it_wall_ms();
    CU_ASSERT(ok);
    made_id(id, 'm', mid);
    zkt_map *after = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(after != NULL);
    if (!after)
        return false;
    const zkt_map_range *x = zkt_map_range_by_id(after, mid);
    CU_ASSERT(ok && x && !zkt_map_range_by_id(after, left.id) &&
              !zkt_map_range_by_id(after, right.id));
    if (ok && x) {
        g_cl.ranges--;
        CU_ASSERT(x->start_len == left.start_len &&
                  memcmp(x->start, left.start, left.start_len) == 0);
        CU_ASSERT(x->end_len == right.end_len && memcmp(x->end, right.end, right.end_len) == 0);
        CU_ASSERT(strcmp(x->owner, left.owner) == 0);
        CU_ASSERT(x->epoch > left.epoch && x->epoch > right.epoch);
        uint64_t wl = it_longest_write(&g_l.w, m, l, t0, t1),
                 wr = it_longest_write(&g_l.w, m, r, t0, t1);
        zkt_log("merge %s of %s (%s) and %s (%s) into %s: %llu ms; longest write to them %llu ms",
                id, left.id, left.owner, right.id, right.owner, mid, (unsigned long long)(t1 - t0),
                (unsigned long long)(wl > wr ? wl : wr));
    }
    zkt_map_free(after);
    zkt_map_free(m);
    return ok && x;
}

static void test_merge_halves(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    char mid[ZKT_ID_MAX];
    CU_ASSERT_FATAL(merge_checked(g_half[0], mid));
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    /* every node held both halves at the merge point: none was rebuilt */
    for (int i = 0; i < g_cl.n_servers; i++) {
        bool seen;
        CU_ASSERT(continued_on(i, mid, &seen));
    }
    no_errors("merge of the halves");
}

static void test_merge_across_owners(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return;
    char left[ZKT_ID_MAX] = "";
    for (int i = 0; i + 2 < m->n_ranges && !left[0]; i++) /* not the empty last range */
        if (strcmp(m->ranges[i].owner, m->ranges[i + 1].owner) != 0)
            snprintf(left, sizeof left, "%s", m->ranges[i].id);
    zkt_map_free(m);
    CU_ASSERT_FATAL(left[0] != '\0');
    char mid[ZKT_ID_MAX];
    CU_ASSERT(merge_checked(left, mid));
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    no_errors("merge across owners");
}

static void test_owner_killed_after_split(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    char a[ZKT_ID_MAX], b[ZKT_ID_MAX];
    CU_ASSERT_FATAL(split_checked(2, NULL, 0, false, a, b));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return;
    const zkt_map_range *r = zkt_map_range_by_id(m, a);
    CU_ASSERT_FATAL(r != NULL);
    if (!r)
        return;
    int o = zkt_cluster_server_index(&g_cl, r->owner);
    uint64_t epoch = r->epoch;
    zkt_map_free(m);
    no_errors("before the owner kill");
    CU_ASSERT_FATAL(o >= 0);
    zkt_server_stop(&g_cl, o, SIGKILL); /* from here on, writes may fail fast */
    it_owner_arg oa;
    CU_ASSERT(it_wait_new_owner(&oa, &g_cl, a, g_cl.servers[o].id, epoch, WAIT_MS));
    CU_ASSERT(zkt_server_start(&g_cl, o) == 0);
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    it_load_read_back(&g_l, g_client, &g_cl);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("split_merge", init, cleanup);
    CU_add_test(s, "split at a key under load", test_split_at_key);
    CU_add_test(s, "split at the middle the owner picks", test_split_at_middle);
    CU_add_test(s, "a scan across the split", test_scan_across_split);
    CU_add_test(s, "the leading coordinator killed mid-split", test_coordinator_killed_mid_split);
    CU_add_test(s, "a replica down during a split", test_replica_down_during_split);
    CU_add_test(s, "a range without keys: declined", test_empty_range_declined);
    CU_add_test(s, "the halves of a split merged back", test_merge_halves);
    CU_add_test(s, "neighbours with different owners merged", test_merge_across_owners);
    CU_add_test(s, "the owner killed after a split", test_owner_killed_after_split);
    return zkt_run_all();
}
