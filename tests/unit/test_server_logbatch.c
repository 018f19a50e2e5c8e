/* test_server_logbatch.c: server/logbatch.c, the log records of a write batch chained per
 * range (chains, restarts on a jump of seq, walks from a seq, reuse after clear), and the
 * store's log reads that it serves (server/store.c): random puts, deletes, applied
 * entries, commits, truncations and range resets over several ranges, where every log
 * read, from memory or from LevelDB, must equal a plain model of each range's log, and
 * both ways must have been taken. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logbatch.h"
#include "store.h"

/* ---- the batch alone ---- */

typedef struct {
    uint64_t seqs[64];
    char recs[64][16];
    size_t n;
    size_t stop_after; /* 0: never */
} walked;

static int collect(void *ctx, uint64_t seq, const uint8_t *rec, size_t len)
{
    walked *w = ctx;
    CU_ASSERT_FATAL(w->n < 64 && len < 16);
    w->seqs[w->n] = seq;
    memcpy(w->recs[w->n], rec, len);
    w->recs[w->n][len] = '\0';
    w->n++;
    return w->stop_after && w->n == w->stop_after ? 7 : 0;
}

static int add(zkv_logbatch *b, zkv_logchain *c, uint64_t seq, const char *rec)
{
    return zkv_logbatch_add(b, c, seq, (const uint8_t *)rec, strlen(rec));
}

static void test_chains(void)
{
    zkv_logbatch b;
    zkv_logbatch_init(&b);
    zkv_logchain x, y, z;
    memset(&z, 0, sizeof z); /* a zeroed chain is empty */
    zkv_logchain_init(&x);
    zkv_logchain_init(&y);
    CU_ASSERT_EQUAL(add(&b, &x, 5, "x5"), 0);
    CU_ASSERT_EQUAL(add(&b, &y, 1, "y1"), 0);
    CU_ASSERT_EQUAL(add(&b, &x, 6, "x6"), 0);
    CU_ASSERT_EQUAL(add(&b, &y, 2, "y2"), 0);
    CU_ASSERT_EQUAL(add(&b, &x, 7, "x7"), 0);
    CU_ASSERT_EQUAL(x.first, 5);
    CU_ASSERT_EQUAL(x.last, 7);
    CU_ASSERT_EQUAL(y.first, 1);
    CU_ASSERT_EQUAL(y.last, 2);

    walked w = {0};
    CU_ASSERT_EQUAL(zkv_logbatch_walk(&b, &x, 0, collect, &w), 0);
    CU_ASSERT_EQUAL_FATAL(w.n, 3);
    CU_ASSERT_STRING_EQUAL(w.recs[0], "x5");
    CU_ASSERT_STRING_EQUAL(w.recs[2], "x7");
    CU_ASSERT_EQUAL(w.seqs[1], 6);

    walked from = {0};
    CU_ASSERT_EQUAL(zkv_logbatch_walk(&b, &x, 6, collect, &from), 0);
    CU_ASSERT_EQUAL_FATAL(from.n, 2);
    CU_ASSERT_STRING_EQUAL(from.recs[0], "x6");

    walked stop = {.stop_after = 1};
    CU_ASSERT_EQUAL(zkv_logbatch_walk(&b, &y, 1, collect, &stop), 7); /* fn's answer */
    CU_ASSERT_EQUAL(stop.n, 1);

    walked none = {0};
    CU_ASSERT_EQUAL(zkv_logbatch_walk(&b, &z, 0, collect, &none), 0);
    CU_ASSERT_EQUAL(zkv_logbatch_walk(&b, &y, 3, collect, &none), 0);
    CU_ASSERT_EQUAL(none.n, 0);

    /* A jump in seq (a position set) starts the chain over with the new record. */
    CU_ASSERT_EQUAL(add(&b, &y, 10, "y10"), 0);
    CU_ASSERT_EQUAL(y.first, 10);
    walked j = {0};
    CU_ASSERT_EQUAL(zkv_logbatch_walk(&b, &y, 0, collect, &j), 0);
    CU_ASSERT_EQUAL_FATAL(j.n, 1);
    CU_ASSERT_STRING_EQUAL(j.recs[0], "y10");

    /* Cleared, the batch is reused from the start. */
    zkv_logbatch_clear(&b);
    CU_ASSERT_EQUAL(b.n, 0);
    zkv_logchain_init(&x);
    CU_ASSERT_EQUAL(add(&b, &x, 8, "again"), 0);
    walked a = {0};
    CU_ASSERT_EQUAL(zkv_logbatch_walk(&b, &x, 8, collect, &a), 0);
    CU_ASSERT_EQUAL_FATAL(a.n, 1);
    CU_ASSERT_STRING_EQUAL(a.recs[0], "again");
    zkv_logbatch_free(&b);
}

static void test_many_records(void)
{
    zkv_logbatch b;
    zkv_logbatch_init(&b);
    zkv_logchain c[3];
    for (int i = 0; i < 3; i++)
        zkv_logchain_init(&c[i]);
    for (uint64_t seq = 1; seq <= 3000; seq++) /* grows the arrays several times */
        for (int i = 0; i < 3; i++)
            CU_ASSERT_EQUAL_FATAL(add(&b, &c[i], seq, i == 1 ? "bb" : "a"), 0);
    CU_ASSERT_EQUAL(b.n, 9000);
    CU_ASSERT_FALSE(b.broken);
    uint64_t expect = 2990, n = 0;
    for (uint32_t i = c[1].head; i != ZKV_LOGBATCH_NONE; i = b.recs[i].next) {
        if (b.recs[i].seq < 2990)
            continue;
        CU_ASSERT_EQUAL(b.recs[i].seq, expect++);
        CU_ASSERT_EQUAL(b.recs[i].len, 2);
        n++;
    }
    CU_ASSERT_EQUAL(n, 11);
    zkv_logbatch_free(&b);
}

/* ---- the store's log reads against a model ---- */

#define NR 4
#define MAXSEQ 4000

typedef struct {
    uint64_t epoch;
    uint8_t op; /* 0: no entry, else ZKV_LOG_OP_* */
    uint32_t key;
    uint32_t value; /* 0: none */
} model_entry;

typedef struct {
    model_entry e[MAXSEQ + 1];
    uint64_t first, last, epoch;
    uint64_t staged_from; /* first seq written since the last commit (0: none) */
    uint64_t batch_from;  /* first seq of the range in the last commit (0: none) */
} model_range;

static model_range model[NR];
static char dir[64], err[256];

static const char *rid(int r)
{
    static const char *ids[NR] = {"ra", "rb", "rc", "rd"};
    return ids[r];
}

typedef struct {
    const model_range *m;
    uint64_t next; /* the seq the next entry must carry */
    size_t n;
    int bad;
} check_ctx;

static int check_entry(void *vctx, uint64_t seq, const zkv_log_view *v)
{
    check_ctx *c = vctx;
    const model_entry *e = seq <= MAXSEQ ? &c->m->e[seq] : NULL;
    char key[16], val[16];
    if (!e || seq != c->next || e->op == 0 || v->op != e->op || v->epoch != e->epoch) {
        c->bad++;
        return 1;
    }
    int kl = snprintf(key, sizeof key, "k%u", e->key);
    if (v->key_len != (size_t)kl || memcmp(v->key, key, (size_t)kl) != 0)
        c->bad++;
    if (e->op == ZKV_LOG_OP_PUT) {
        int vl = snprintf(val, sizeof val, "v%u", e->value);
        if (v->value.value_len != (size_t)vl || memcmp(v->value.value, val, (size_t)vl) != 0 ||
            v->value.meta.seq != seq || v->value.meta.epoch != e->epoch)
            c->bad++;
    }
    c->next++;
    c->n++;
    return 0;
}

/* A commit in the model: what each range staged is its part of the last batch. */
static void model_commit(void)
{
    for (int r = 0; r < NR; r++) {
        model[r].batch_from = model[r].staged_from;
        model[r].staged_from = 0;
    }
}

/* Reads range r's log from `from` and compares it with the model. */
static void check_read(zkv_store *s, int r, uint64_t from)
{
    const model_range *m = &model[r];
    uint64_t start = from > m->first ? from : m->first;
    check_ctx c = {.m = m, .next = start};
    int rc = zkv_store_read_log(s, rid(r), from, check_entry, &c, err, sizeof(err));
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(c.bad, 0);
    uint64_t want = m->first && m->last >= start ? m->last - start + 1 : 0;
    CU_ASSERT_EQUAL(c.n, want);
    if (rc != 0 || c.bad || c.n != want)
        fprintf(stderr, "range %s from %llu: rc %d, %zu entries (want %llu), %d bad\n", rid(r),
                (unsigned long long)from, rc, c.n, (unsigned long long)want, c.bad);
}

static void stage_write(zkv_store *s, int r, unsigned *rnd)
{
    model_range *m = &model[r];
    if (m->last >= MAXSEQ)
        return;
    uint32_t key = (uint32_t)(rand_r(rnd) % 50), value = (uint32_t)(rand_r(rnd) % 1000 + 1);
    char k[16], v[16];
    int kl = snprintf(k, sizeof k, "k%u", key), vl = snprintf(v, sizeof v, "v%u", value);
    int kind = rand_r(rnd) % 10;
    uint64_t seq = m->last + 1;
    model_entry e = {.epoch = m->epoch, .key = key};
    if (m->staged_from == 0)
        m->staged_from = seq;
    if (kind < 6) {
        CU_ASSERT_EQUAL_FATAL(zkv_store_put(s, rid(r), m->epoch, (const uint8_t *)k, (size_t)kl,
                                            (const uint8_t *)v, (size_t)vl, NULL, err, sizeof(err)),
                              0);
        e.op = ZKV_LOG_OP_PUT;
        e.value = value;
    } else if (kind < 8) {
        CU_ASSERT_EQUAL_FATAL(zkv_store_delete(s, rid(r), m->epoch, (const uint8_t *)k, (size_t)kl,
                                               NULL, err, sizeof(err)),
                              0);
        e.op = ZKV_LOG_OP_DELETE;
    } else { /* as a replica applies it, sometimes in a newer epoch */
        if (kind == 9)
            m->epoch++;
        e.epoch = m->epoch;
        zkv_store_entry se = {.seq = seq,
                              .epoch = m->epoch,
                              .op = ZKV_LOG_OP_PUT,
                              .key = (const uint8_t *)k,
                              .klen = (size_t)kl,
                              .value = (const uint8_t *)v,
                              .vlen = (size_t)vl};
        CU_ASSERT_EQUAL_FATAL(zkv_store_apply(s, rid(r), &se, err, sizeof(err)), 0);
        e.op = ZKV_LOG_OP_PUT;
        e.value = value;
    }
    m->e[seq] = e;
    m->last = seq;
    if (m->first == 0)
        m->first = seq;
}

static void test_store_log_reads(void)
{
    snprintf(dir, sizeof(dir), "/tmp/zkv-test-logbatch-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char db[128];
    snprintf(db, sizeof(db), "%s/db", dir);
    zkv_store *s = NULL;
    CU_ASSERT_EQUAL_FATAL(zkv_store_open(db, &s, err, sizeof(err)), 0);
    memset(model, 0, sizeof(model));
    for (int r = 0; r < NR; r++)
        model[r].epoch = 1;
    unsigned rnd = 20261122u;
    for (int step = 0; step < 6000; step++) {
        int r = rand_r(&rnd) % NR, what = rand_r(&rnd) % 100;
        model_range *m = &model[r];
        if (what < 55) {
            stage_write(s, r, &rnd);
        } else if (what < 70) {
            CU_ASSERT_EQUAL_FATAL(zkv_store_commit(s, err, sizeof(err)), 0);
            model_commit();
        } else if (what < 92) {
            if (zkv_store_pending(s))
                model_commit(); /* a log read commits what is staged first */
            /* mostly what the shipper asks right after a commit: the range's entries of
             * that batch (a caught-up stream), or a few more or fewer */
            uint64_t from = m->batch_from, back = (uint64_t)(rand_r(&rnd) % 8);
            int how = rand_r(&rnd) % 4;
            if (how == 1 || from == 0)
                from = m->last > back ? m->last - back : 1;
            else if (how == 2)
                from = (uint64_t)(rand_r(&rnd) % (m->last + 2)); /* anywhere, 0 included */
            check_read(s, r, from);
        } else if (what < 98) {
            uint64_t upto = m->last ? (uint64_t)(rand_r(&rnd) % (m->last + 1)) : 0;
            CU_ASSERT_FATAL(zkv_store_truncate_log(s, rid(r), upto, err, sizeof(err)) >= 0);
            uint64_t first = zkv_store_log_first_seq(s, rid(r));
            CU_ASSERT(first == 0 || (first > m->first && first <= m->last + 1) ||
                      first == m->first);
            m->first = first; /* what truncation dropped is the store's to say (chunks,
                                 committed entries only): test_truncate checks that */
        } else {
            /* a snapshot: the range emptied and set to a new position */
            uint64_t pos = m->last + (uint64_t)(rand_r(&rnd) % 5);
            CU_ASSERT_EQUAL_FATAL(
                zkv_store_range_reset(s, rid(r), m->epoch + 1, NULL, 0, NULL, 0, err, sizeof(err)),
                0);
            m->epoch++;
            zkv_epoch_start h = {.epoch = m->epoch, .start_seq = pos + 1};
            CU_ASSERT_EQUAL_FATAL(
                zkv_store_range_set_position(s, rid(r), m->epoch, pos, &h, 1, err, sizeof(err)), 0);
            model_commit(); /* a reset commits what was staged, then its own batches */
            memset(m->e, 0, sizeof(m->e));
            m->first = 0;
            m->last = pos;
            m->staged_from = m->batch_from = 0;
        }
    }
    uint64_t mem = 0, dbr = 0;
    zkv_store_log_read_counts(s, &mem, &dbr);
    fprintf(stderr, "log reads: %llu from memory, %llu from LevelDB\n", (unsigned long long)mem,
            (unsigned long long)dbr);
    CU_ASSERT(mem > 100); /* both ways were exercised */
    CU_ASSERT(dbr > 100);
    zkv_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_logbatch", NULL, NULL);
    CU_add_test(s, "chains in one batch", test_chains);
    CU_add_test(s, "many records, growth", test_many_records);
    CU_add_test(s, "store log reads equal a model, from memory and LevelDB", test_store_log_reads);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
