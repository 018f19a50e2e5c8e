/* early_write.c: LevelDB records written ahead of the commit (early_write.h). */
#include "early_write.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"

typedef struct job {
    struct job *next;
    zkv_early *e;
    leveldb_writebatch_t *batch;
    uint64_t us;
    char *err; /* LevelDB's message (leveldb_free) */
} job;

struct zkv_early {
    leveldb_t *db;
    leveldb_writeoptions_t *wopts;
    job *head, *tail; /* queued, in order; touched by the loop thread only */
    size_t n;
    leveldb_writebatch_t *spare; /* an emptied batch, for the next submit */
    uint64_t total;
};

zkv_early *zkv_early_new(leveldb_t *db, leveldb_writeoptions_t *wopts)
{
    zkv_early *e = calloc(1, sizeof(*e));
    if (e) {
        e->db = db;
        e->wopts = wopts;
    }
    return e;
}

static void drop(job *j)
{
    if (j->batch)
        leveldb_writebatch_destroy(j->batch);
    leveldb_free(j->err);
    free(j);
}

void zkv_early_free(zkv_early *e)
{
    if (!e)
        return;
    for (job *j = e->head, *next; j; j = next) {
        next = j->next;
        drop(j);
    }
    if (e->spare)
        leveldb_writebatch_destroy(e->spare);
    free(e);
}

/* On the writer thread. */
static int run(void *arg)
{
    job *j = arg;
    uint64_t t0 = zkv_now_us();
    leveldb_write(j->e->db, j->e->wopts, j->batch, &j->err);
    j->us = zkv_now_us() - t0;
    return 0; /* a failure is LevelDB's, told by zkv_early_collect: not the value log's */
}

int zkv_early_submit(zkv_early *e, zkv_vlog *v, leveldb_writebatch_t **batch)
{
    leveldb_writebatch_t *next = e->spare ? e->spare : leveldb_writebatch_create();
    job *j = calloc(1, sizeof(*j));
    if (!next || !j) {
        free(j);
        e->spare = next;
        return -1;
    }
    j->e = e;
    j->batch = *batch;
    if (zkv_vlog_after_written(v, run, j) != 0) {
        free(j);
        e->spare = next;
        return -1;
    }
    e->spare = NULL;
    *batch = next;
    if (e->tail)
        e->tail->next = j;
    else
        e->head = j;
    e->tail = j;
    e->n++;
    e->total++;
    return 0;
}

size_t zkv_early_queued(const zkv_early *e)
{
    return e ? e->n : 0;
}

int zkv_early_collect(zkv_early *e, void (*observe)(void *ctx, uint64_t us), void *ctx, char *err,
                      size_t errlen)
{
    int rc = 0;
    while (e->head) {
        job *j = e->head;
        e->head = j->next;
        if (j->err && rc == 0) {
            snprintf(err, errlen, "LevelDB write failed: %s", j->err);
            rc = -1;
        }
        if (!j->err && observe)
            observe(ctx, j->us);
        if (!e->spare) {
            leveldb_writebatch_clear(j->batch);
            e->spare = j->batch;
            j->batch = NULL;
        }
        drop(j);
    }
    e->tail = NULL;
    e->n = 0;
    return rc;
}

uint64_t zkv_early_total(const zkv_early *e)
{
    return e ? e->total : 0;
}
