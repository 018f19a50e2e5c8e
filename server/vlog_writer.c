/* vlog_writer.c: the value log's writer thread (see vlog_writer.h). */
#include "vlog_writer.h"

#include "vlog_batch.h" /* zkv_vbatch_pwritev_all */

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    struct job *next;
    int (*fn)(void *arg); /* a call (zkv_vwriter_submit_call), or NULL: a write */
    void *arg;
    int fd;
    off_t off;
    size_t n;
    struct iovec iov[]; /* n pieces */
} job;

struct zkv_vwriter {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t more, idle;
    job *head, *tail;
    bool busy, stop;
    int err; /* the first failure's errno since the last wait */
};

static void *run(void *arg)
{
    zkv_vwriter *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->more, &w->mu);
        if (!w->head)
            break;
        job *j = w->head;
        w->head = j->next;
        if (!w->head)
            w->tail = NULL;
        w->busy = true;
        bool failed = w->err != 0; /* a call behind a failed write is not made */
        pthread_mutex_unlock(&w->mu);
        int e = !j->fn   ? zkv_vbatch_pwritev_all(j->fd, j->off, j->iov, j->n)
                : failed ? 0
                         : j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&w->mu);
        if (e && !w->err)
            w->err = e;
        w->busy = false;
        if (!w->head)
            pthread_cond_broadcast(&w->idle);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

zkv_vwriter *zkv_vwriter_create(void)
{
    zkv_vwriter *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->more, NULL);
    pthread_cond_init(&w->idle, NULL);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        pthread_cond_destroy(&w->idle);
        pthread_cond_destroy(&w->more);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    return w;
}

void zkv_vwriter_free(zkv_vwriter *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->more);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->idle);
    pthread_cond_destroy(&w->more);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

static void enqueue(zkv_vwriter *w, job *j)
{
    pthread_mutex_lock(&w->mu);
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_cond_signal(&w->more);
    pthread_mutex_unlock(&w->mu);
}

int zkv_vwriter_submit(zkv_vwriter *w, int fd, off_t off, const struct iovec *iov, size_t n)
{
    job *j = malloc(sizeof(*j) + n * sizeof(*iov));
    if (!j)
        return -1;
    *j = (job){.fd = fd, .off = off, .n = n};
    memcpy(j->iov, iov, n * sizeof(*iov));
    enqueue(w, j);
    return 0;
}

int zkv_vwriter_submit_call(zkv_vwriter *w, int (*fn)(void *arg), void *arg)
{
    job *j = malloc(sizeof(*j));
    if (!j)
        return -1;
    *j = (job){.fn = fn, .arg = arg};
    enqueue(w, j);
    return 0;
}

int zkv_vwriter_wait(zkv_vwriter *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->head || w->busy)
        pthread_cond_wait(&w->idle, &w->mu);
    int e = w->err;
    w->err = 0;
    pthread_mutex_unlock(&w->mu);
    return e;
}
