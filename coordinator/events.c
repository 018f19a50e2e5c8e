/* events.c: the coordinator's cross-thread wakeup: event bits under one mutex, one
 * condition variable on the monotonic clock, and the ZooKeeper watchers that post them.
 * Watchers never call ZooKeeper or do work; the main loop (coordinator.c) does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coord.h"
#include "credentials.h"
#include "common/log.h"
#include "since.h"

int zkv_coord_init(zkv_coord *c, const zkv_coord_config *cfg)
{
    memset(c, 0, sizeof(*c));
    c->cfg = *cfg;
    if (pthread_mutex_init(&c->mu, NULL) != 0)
        return -1;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        goto fail_mu;
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&c->cv, &attr) != 0) {
        pthread_condattr_destroy(&attr);
        goto fail_mu;
    }
    pthread_condattr_destroy(&attr);
    c->elect = ZKV_ELECT_NONE;
    c->down_since = zkv_since_create();
    c->handoff_since = zkv_since_create();
    if (!c->down_since || !c->handoff_since) {
        zkv_since_free(c->down_since);
        zkv_since_free(c->handoff_since);
        pthread_cond_destroy(&c->cv);
        goto fail_mu;
    }
    return 0;
fail_mu:
    pthread_mutex_destroy(&c->mu);
    return -1;
}

void zkv_coord_free_leader_state(zkv_coord *c)
{
    free(c->read_only_logged);
    c->read_only_logged = NULL;
    zkv_since_free(c->down_since);
    zkv_since_free(c->handoff_since);
    c->down_since = c->handoff_since = NULL;
    free(c->sizes);
    c->sizes = NULL;
    c->n_sizes = 0;
}

void zkv_coord_destroy(zkv_coord *c)
{
    zkv_coord_free_leader_state(c);
    zkv_coord_free_credentials(c);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

void zkv_coord_notify(zkv_coord *c, unsigned events)
{
    pthread_mutex_lock(&c->mu);
    c->pending |= events;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

unsigned zkv_coord_wait(zkv_coord *c, uint64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline_ms / 1000),
                          .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};
    pthread_mutex_lock(&c->mu);
    while (c->pending == 0) {
        int rc = pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        if (rc == ETIMEDOUT)
            break;
    }
    unsigned taken = c->pending;
    c->pending &= ZKV_EV_STOP;
    pthread_mutex_unlock(&c->mu);
    return taken;
}

bool zkv_coord_stopping(zkv_coord *c)
{
    pthread_mutex_lock(&c->mu);
    bool stop = (c->pending & ZKV_EV_STOP) != 0;
    pthread_mutex_unlock(&c->mu);
    return stop;
}

bool zkv_coord_connected(zkv_coord *c)
{
    pthread_mutex_lock(&c->mu);
    bool up = c->connected;
    pthread_mutex_unlock(&c->mu);
    return up;
}

bool zkv_coord_session_lost(int rc)
{
    return rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE || rc == ZAUTHFAILED || rc == ZSESSIONMOVED;
}

/* A session event, whichever watcher received it. */
static void session_event(zkv_coord *c, int state)
{
    pthread_mutex_lock(&c->mu);
    if (state == ZOO_CONNECTED_STATE) {
        c->connected = true;
        c->pending |= ZKV_EV_CONNECTED;
    } else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
        c->connected = false;
        c->pending |= ZKV_EV_EXPIRED;
    } else {
        c->connected = false; /* connecting / associating: the client retries itself */
    }
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void zkv_coord_session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    zkv_coord *c = ctx;
    if (type == ZOO_SESSION_EVENT)
        session_event(c, state);
    else
        zkv_coord_notify(c, ZKV_EV_ELECTION | ZKV_EV_RECONCILE);
}

void zkv_coord_election_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    zkv_coord *c = ctx;
    if (type == ZOO_SESSION_EVENT)
        session_event(c, state);
    else
        zkv_coord_notify(c, ZKV_EV_ELECTION);
}

void zkv_coord_reconcile_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    zkv_coord *c = ctx;
    if (type == ZOO_SESSION_EVENT)
        session_event(c, state);
    else
        zkv_coord_notify(c, ZKV_EV_RECONCILE);
}
