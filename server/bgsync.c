/* bgsync.c: durability barriers on a thread (see bgsync.h): a FIFO of requests under a
 * mutex, one worker that fdatasyncs and calls db_sync for each barrier (and only closes for
 * a close), and the last ticket done. */
#include "bgsync.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct req {
    struct req *next;
    uint64_t ticket; /* 0: a close (zkv_bgsync_close) */
    int *fds;
    size_t n;
    uint64_t mark;
} req;

struct zkv_bgsync {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    req *head, *tail;
    uint64_t next_ticket, done;
    bool failed, stop;
    zkv_bgsync_db_fn db_sync;
    void *ctx;
};

static void close_all(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
}

static void *worker(void *arg)
{
    zkv_bgsync *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->head && !b->stop)
            pthread_cond_wait(&b->cv, &b->mu);
        if (!b->head)
            break; /* stopping, nothing left */
        req *r = b->head;
        b->head = r->next;
        if (!b->head)
            b->tail = NULL;
        pthread_mutex_unlock(&b->mu);
        bool ok = true;
        if (r->ticket) {
            for (size_t i = 0; i < r->n; i++)
                ok = fdatasync(r->fds[i]) == 0 && ok;
            ok = ok && b->db_sync(b->ctx, r->mark) == 0;
        }
        close_all(r->fds, r->n);
        pthread_mutex_lock(&b->mu);
        if (r->ticket) {
            b->done = r->ticket;
            b->failed = b->failed || !ok;
        }
        free(r);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

zkv_bgsync *zkv_bgsync_create(zkv_bgsync_db_fn db_sync, void *ctx)
{
    zkv_bgsync *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->db_sync = db_sync;
    b->ctx = ctx;
    b->next_ticket = 1;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    if (pthread_create(&b->thread, NULL, worker, b) != 0) {
        pthread_cond_destroy(&b->cv);
        pthread_mutex_destroy(&b->mu);
        free(b);
        return NULL;
    }
    return b;
}

void zkv_bgsync_free(zkv_bgsync *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->stop = true;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

/* Queues r, with a ticket when it is a barrier; returns the ticket (0 for a close). */
static uint64_t enqueue(zkv_bgsync *b, req *r, bool barrier)
{
    r->next = NULL;
    pthread_mutex_lock(&b->mu);
    uint64_t ticket = r->ticket = barrier ? b->next_ticket++ : 0;
    if (b->tail)
        b->tail->next = r;
    else
        b->head = r;
    b->tail = r;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return ticket; /* (r may be gone already) */
}

uint64_t zkv_bgsync_request(zkv_bgsync *b, int *fds, size_t n, uint64_t mark)
{
    req *r = malloc(sizeof(*r));
    if (!r) {
        close_all(fds, n);
        return 0;
    }
    r->fds = fds;
    r->n = n;
    r->mark = mark;
    return enqueue(b, r, true);
}

int zkv_bgsync_close(zkv_bgsync *b, int fd)
{
    req *r = malloc(sizeof(*r));
    int *fds = malloc(sizeof(*fds));
    if (!r || !fds) {
        free(r);
        free(fds);
        close(fd);
        return -1;
    }
    fds[0] = fd;
    r->fds = fds;
    r->n = 1;
    r->mark = 0;
    (void)enqueue(b, r, false);
    return 0;
}

uint64_t zkv_bgsync_done(zkv_bgsync *b, bool *failed)
{
    pthread_mutex_lock(&b->mu);
    uint64_t d = b->done;
    *failed = b->failed;
    pthread_mutex_unlock(&b->mu);
    return d;
}
