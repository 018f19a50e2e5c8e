/* vlog_gc.c: the value log's garbage collection (docs/internals.md, "Value log"): the I/O
 * shell around vlog_plan.h. A job measures one closed file (which records the data records
 * or a range's log still point at), and when the plan says so moves its live values to the
 * newest file and commits. The file is deleted once a durability barrier after the moves
 * is done (on bgsync's thread) and no snapshot, which may still read it, is open. Work is
 * bounded per call and resumes where it stopped. */
#include "common/util.h"
#include "store_vlog.h"
#include "vlog_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIVE 0.5
/* A file the counted deaths take this low is moved; lower than MAX_LIVE, since such a file
 * is moved the moment it gets there: x / (1 - x) bytes moved per byte written (0.11), and
 * the space ln(1/x) / (1 - x) times the live bytes (2.6) under uniform overwrites
 * (docs/internals.md, "Value log") */
#define LOW_LIVE 0.1
#define CREDIT_CAP ((uint64_t)64 << 20)
#define MIN_STEP ((size_t)256 << 10) /* credit gathers to this before a step reads */
/* Read per scan when a call is paced (zkv_store_vlog_gc_pace): it looks at the clock
 * between scans. */
#define PACED_CHUNK ((size_t)2 << 20)

struct doomed {
    uint32_t file;
    int64_t ticket; /* the barrier after its moves (zkv__store_barrier) */
};

struct zkv_vlog_gc {
    zkv_vlog_file_gc *f; /* closed files, oldest first */
    size_t n;
    uint64_t listed_files; /* the value log's file count and active file when f was listed */
    uint32_t listed_active;
    uint64_t credit, seen_appended;
    bool job, moving; /* a file is being measured, or moved */
    uint32_t file;
    uint64_t off, live, pinned;
    struct doomed *doomed; /* moved files, deleted once safe */
    size_t n_doomed, doomed_cap;
    uint64_t read, moved, removed, pinned_skips;
    uint64_t pass;    /* forced passes so far */
    bool listed;      /* the files from before this process started were listed */
    uint64_t step_us; /* a call's time bound (0: none), zkv_store_vlog_gc_pace */
};

zkv_vlog_gc *zkv__vlog_gc_create(void)
{
    return calloc(1, sizeof(zkv_vlog_gc));
}

void zkv__vlog_gc_free(zkv_vlog_gc *g)
{
    if (!g)
        return;
    free(g->f);
    free(g->doomed);
    free(g);
}

static void set_err(char *err, size_t errlen, const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, "value log GC: %s", what);
}

static bool is_doomed(const zkv_vlog_gc *g, uint32_t num)
{
    for (size_t i = 0; i < g->n_doomed; i++)
        if (g->doomed[i].file == num)
            return true;
    return false;
}

/* Brings f up to the value log's closed files when they changed, keeping what was measured:
 * a new one is closed as of appended (the first listing's files are from before this
 * process started, their deaths unknown). */
static int relist(zkv_vlog_gc *g, const zkv_vlog *v, uint64_t appended)
{
    uint64_t files, bytes;
    zkv_vlog_totals(v, &files, &bytes);
    uint32_t active = zkv_vlog_active(v);
    if (files == g->listed_files && active == g->listed_active) {
        g->listed = true;
        return 0;
    }
    uint32_t *nums = malloc((files + 1) * sizeof(*nums));
    uint64_t *sizes = malloc((files + 1) * sizeof(*sizes));
    zkv_vlog_file_gc *nf = calloc(files + 1, sizeof(*nf));
    if (!nums || !sizes || !nf) {
        free(nums);
        free(sizes);
        free(nf);
        return -1;
    }
    size_t n = zkv_vlog_files(v, nums, sizes, files), k = 0, j = 0;
    for (size_t i = 0; i < n; i++) {
        if (nums[i] == active || is_doomed(g, nums[i]))
            continue;
        while (j < g->n && g->f[j].num < nums[i])
            j++;
        if (j < g->n && g->f[j].num == nums[i])
            nf[k] = g->f[j];
        else
            nf[k] = (zkv_vlog_file_gc){.num = nums[i],
                                       .bytes = sizes[i],
                                       .live = sizes[i],
                                       .measured_at = ZKV_VLOG_NEVER,
                                       .listed_at = g->listed ? appended : ZKV_VLOG_NEVER};
        k++;
    }
    free(nums);
    free(sizes);
    free(g->f);
    g->f = nf;
    g->n = k;
    g->listed_files = files;
    g->listed_active = active;
    g->listed = true;
    return 0;
}

static zkv_vlog_file_gc *entry(zkv_vlog_gc *g, uint32_t num)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->f[i].num == num)
            return &g->f[i];
    return NULL;
}

typedef struct gc_ctx {
    zkv_store *s;
    zkv_vlog_gc *g;
    char *err;
    size_t errlen;
} gc_ctx;

/* Counts r's bytes as live or not; a pinned record ends the measure (2): the file stays. */
static int measure_rec(void *vctx, const zkv_vlog_rec *r)
{
    gc_ctx *c = vctx;
    int refs = zkv__store_vlog_refs(c->s, r, c->err, c->errlen);
    if (refs < 0)
        return -1;
    if (refs & ZKV_VLOG_REF_LOG) {
        c->g->pinned += r->at.rec_len;
        return 2;
    }
    if (refs & ZKV_VLOG_REF_DATA)
        c->g->live += r->at.rec_len;
    return 0;
}

static int move_rec(void *vctx, const zkv_vlog_rec *r)
{
    gc_ctx *c = vctx;
    int rc = zkv__store_vlog_move(c->s, r, c->err, c->errlen);
    if (rc < 0)
        return -1;
    if (rc == ZKV_VLOG_MOVE_PINNED)
        return 2; /* a range's log may still point here: the file stays */
    if (rc == 1)
        c->g->moved += r->at.rec_len;
    return 0;
}

static int remove_file(zkv_vlog_gc *g, zkv_vlog *v, uint32_t num, char *err, size_t errlen)
{
    if (zkv_vlog_remove(v, num, err, errlen) != 0)
        return -1;
    g->removed++;
    return 0;
}

/* Deletes the doomed files whose barrier is done, while no snapshot is open (barriers
 * complete in order: the first not done stops the walk). */
static int reap(zkv_vlog_gc *g, zkv_store *s, char *err, size_t errlen)
{
    if (g->n_doomed == 0 || zkv__store_snapshots(s) > 0)
        return 0;
    zkv_vlog *v = zkv__store_vlog(s);
    size_t k = 0;
    for (; k < g->n_doomed; k++) {
        int done = zkv__store_barrier_done(s, g->doomed[k].ticket, err, errlen);
        if (done < 0)
            return -1;
        if (done == 0)
            break;
        if (remove_file(g, v, g->doomed[k].file, err, errlen) != 0)
            return -1;
    }
    memmove(g->doomed, g->doomed + k, (g->n_doomed - k) * sizeof(*g->doomed));
    g->n_doomed -= k;
    if (k)
        g->listed_files = UINT64_MAX; /* relist */
    return 0;
}

/* The job's file is moved: commit, ask for a barrier, and doom the file. */
static int finish_move(zkv_vlog_gc *g, zkv_store *s, char *err, size_t errlen)
{
    if (g->n_doomed == g->doomed_cap) {
        size_t ncap = g->doomed_cap ? g->doomed_cap * 2 : 8;
        struct doomed *nd = realloc(g->doomed, ncap * sizeof(*nd));
        if (!nd) {
            set_err(err, errlen, "out of memory");
            return -1;
        }
        g->doomed = nd;
        g->doomed_cap = ncap;
    }
    int64_t ticket = zkv__store_barrier(s, err, errlen);
    if (ticket < 0)
        return -1;
    g->doomed[g->n_doomed++] = (struct doomed){.file = g->file, .ticket = ticket};
    g->listed_files = UINT64_MAX; /* relist: the file is gone from the candidates */
    g->job = false;
    return reap(g, s, err, errlen); /* at once when the barrier was not needed */
}

/* One scan of the job's file for at most budget bytes; *used gets what it read. */
static int job_step(zkv_vlog_gc *g, zkv_store *s, uint64_t appended, uint64_t pass, size_t budget,
                    size_t *used, char *err, size_t errlen)
{
    zkv_vlog *v = zkv__store_vlog(s);
    zkv_vlog_file_gc *f = entry(g, g->file);
    if (!f) {
        g->job = false;
        *used = 1;
        return 0;
    }
    gc_ctx c = {.s = s, .g = g, .err = err, .errlen = errlen};
    uint64_t before = g->off;
    bool damaged;
    int rc = zkv_vlog_scan(v, g->file, &g->off, budget, false, g->moving ? move_rec : measure_rec,
                           &c, &damaged, err, errlen);
    if (rc == 0)
        g->off = f->bytes; /* the rest of a damaged file is garbage */
    *used = g->off > before ? (size_t)(g->off - before) : 1;
    g->read += g->off - before;
    if (rc == 2) { /* pinned: read as far as needed, and it stays */
        if (g->moving) {
            /* what was moved before the pinned record stays moved (its copies here dead) */
            if (zkv_store_pending(s) && zkv_store_commit(s, err, errlen) != 0)
                return -1;
            f->live = zkv_vlog_plan_live(f);
            g->pinned = f->pinned ? f->pinned : 1;
        }
        f->pinned = g->pinned;
        f->measured_at = appended;
        f->dead_at = f->dead;
        f->pass = pass;
        g->pinned_skips++;
        g->job = false;
        return 0;
    }
    if (g->moving && zkv_store_pending(s) && zkv_store_commit(s, err, errlen) != 0)
        return -1;
    if (rc < 0) {
        /* (a damaged live record: the file stays, counted all live, so it waits long) */
        f->live = f->bytes;
        f->measured_at = appended;
        g->job = false;
        return -1;
    }
    if (rc == 1)
        return 0;
    if (g->moving)
        return finish_move(g, s, err, errlen);
    f->live = g->live;
    f->pinned = 0;
    f->measured_at = appended;
    f->dead_at = f->dead; /* deaths during the read may be counted twice: an upper bound still */
    f->pass = pass;
    if (zkv_vlog_plan_rewrite(f, MAX_LIVE)) {
        g->moving = true;
        g->off = 0;
    } else {
        g->job = false;
    }
    return 0;
}

int zkv_store_vlog_gc(zkv_store *s, size_t max_bytes, uint64_t bonus, bool force, char *err,
                      size_t errlen)
{
    zkv_vlog_gc *g = zkv__store_gc(s);
    zkv_vlog *v = zkv__store_vlog(s);
    if (zkv_store_failed(s))
        return 0;
    if (reap(g, s, err, errlen) != 0)
        return ZKV_STORE_ERR;
    uint64_t appended = zkv__store_vlog_appended(s);
    /* Credit saved while nothing was due is spent at most at twice the rate it comes in
     * (and MIN_STEP), not in one long step: the loop waits for a step. */
    uint64_t paid = zkv_vlog_plan_credit(0, g->seen_appended, appended, UINT64_MAX / 4) + bonus;
    uint64_t spend = 2 * paid + MIN_STEP;
    g->credit = g->credit + paid > CREDIT_CAP ? CREDIT_CAP : g->credit + paid;
    g->seen_appended = appended;
    /* listed at every call, so that a file is known from when it was closed */
    if (relist(g, v, appended) != 0) {
        set_err(err, errlen, "out of memory");
        return ZKV_STORE_ERR;
    }
    size_t budget = force || g->credit >= max_bytes ? max_bytes : (size_t)g->credit;
    if (!force && budget > spend)
        budget = (size_t)spend;
    if (budget == 0 || (!force && budget < max_bytes && budget < MIN_STEP && g->n_doomed == 0))
        return 0;
    uint64_t pass = force ? ++g->pass : 0;
    uint64_t t0 = zkv_now_us();
    if (force && g->job && !g->moving)
        g->job = false; /* a forced pass measures afresh */
    while (budget > 0) {
        if (!g->job) {
            for (size_t k = 0; k < g->n; k++)
                g->f[k].dead = zkv_vlog_dead(v, g->f[k].num);
            zkv_vlog_stats st;
            zkv_store_vlog_stats(s, &st);
            long i = zkv_vlog_plan_pick(g->f, g->n, appended, st.live_estimate,
                                        zkv_vlog_file_bytes(v), MAX_LIVE, LOW_LIVE, pass);
            if (i < 0)
                break;
            /* A file known low, or measured before and due again (about max_live by now), is
             * moved in one pass; a move stops at a record a range's log may point at. A first
             * measure (or a pinned file's) only counts. */
            g->job = true;
            g->moving = !pass && (zkv_vlog_plan_low(&g->f[i], LOW_LIVE) ||
                                  (g->f[i].measured_at != ZKV_VLOG_NEVER && !g->f[i].pinned));
            g->file = g->f[i].num;
            g->off = g->live = g->pinned = 0;
        }
        size_t used, chunk = budget;
        if (!force && g->step_us && chunk > PACED_CHUNK)
            chunk = PACED_CHUNK;
        if (job_step(g, s, appended, pass, chunk, &used, err, errlen) != 0)
            return ZKV_STORE_ERR;
        if (relist(g, v, appended) != 0) {
            set_err(err, errlen, "out of memory");
            return ZKV_STORE_ERR;
        }
        budget -= used < budget ? used : budget;
        if (!force)
            g->credit -= used < g->credit ? used : g->credit;
        if (zkv_vlog_plan_yield(force, g->step_us, g->credit, CREDIT_CAP, zkv_now_us() - t0))
            break; /* the rest of the credit waits for the next call */
    }
    return 0;
}

void zkv_store_vlog_gc_pace(zkv_store *s, uint64_t step_us)
{
    zkv__store_gc(s)->step_us = step_us;
}

void zkv_store_vlog_stats(const zkv_store *s, zkv_vlog_stats *out)
{
    const zkv_vlog_gc *g = zkv__store_gc_const(s);
    memset(out, 0, sizeof(*out));
    zkv_vlog_totals(zkv__store_vlog(s), &out->files, &out->bytes);
    uint64_t closed = 0, estimate = 0;
    for (size_t i = 0; i < g->n; i++) {
        zkv_vlog_file_gc f = g->f[i]; /* with the deaths counted up to now, not at the last pick */
        f.dead = zkv_vlog_dead(zkv__store_vlog(s), f.num);
        closed += f.bytes;
        estimate += zkv_vlog_plan_live(&f);
    }
    out->live_estimate = estimate + (out->bytes > closed ? out->bytes - closed : 0);
    out->appended = zkv__store_vlog_appended(s);
    out->gc_read = g->read;
    out->gc_moved = g->moved;
    out->gc_files_removed = g->removed;
    out->gc_pinned_skips = g->pinned_skips;
    out->gc_files_waiting = g->n_doomed;
    zkv_vlog_writer_stats(zkv__store_vlog(s), &out->writer_bytes, &out->writer_wait_us);
}
