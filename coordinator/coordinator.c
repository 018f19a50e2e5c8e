/* coordinator.c: the main loop. One thread does all ZooKeeper work in this order each
 * time it wakes: session (connect, or a new session after expiry), cluster (bootstrap
 * once), election (join / decide after a coordinator/ change), leadership (reconcile on
 * a nodes/ or map change, and every reconcile_interval_ms as a safety net). It sleeps
 * on the condition variable until a watcher or the signal thread posts an event or the
 * next timer is due. Failures back off and retry; a lost session is closed (which also
 * ends leadership at once) and replaced by a new one that joins the election again. */
#include <inttypes.h>
#include <stdio.h>

#include "bootstrap.h"
#include "coord.h"
#include "credentials.h"
#include "election.h"
#include "leader.h"
#include "common/log.h"
#include "common/procstat.h"
#include "common/util.h"
#include "common/zk.h"
#include "metrics_http.h"

#define IDLE_WAIT_MS 1000    /* longest sleep without a due timer */
#define CONNECT_WAIT_MS 2000 /* longest wait for a session, so SIGTERM stays prompt */
#define STEP_BACKOFF_MIN_MS 200
#define STEP_BACKOFF_MAX_MS 5000
#define CONFLICT_BACKOFF_MIN_MS 20
#define CONFLICT_BACKOFF_MAX_MS 2000

static uint64_t backoff(int failures, uint64_t min_ms, uint64_t max_ms)
{
    uint64_t d = min_ms;
    for (int i = 1; i < failures && d < max_ms; i++)
        d *= 2;
    return d < max_ms ? d : max_ms;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Closes the session (our ephemeral election znode goes with it) and forgets it. */
static void end_session(zkv_coord *c, const char *reason)
{
    zkv_election_reset(c, reason);
    if (c->zh) {
        zookeeper_close(c->zh); /* joins the client threads: no watcher runs after */
        c->zh = NULL;
    }
    pthread_mutex_lock(&c->mu);
    c->connected = false;
    c->pending &= ~(unsigned)(ZKV_EV_EXPIRED | ZKV_EV_CONNECTED);
    pthread_mutex_unlock(&c->mu);
}

static bool start_session(zkv_coord *c, int failures)
{
    char err[256] = "";
    int wait_ms =
        c->cfg.session_timeout_ms < CONNECT_WAIT_MS ? c->cfg.session_timeout_ms : CONNECT_WAIT_MS;
    zhandle_t *zh =
        zkv_zk_connect(c->cfg.zk, c->cfg.session_timeout_ms, wait_ms, zkv_coord_session_watcher, c,
                       zkv_log_zookeeper, c->cfg.zk_cred, err, sizeof(err));
    if (!zh) {
        if (failures == 0)
            ZKV_WARN("cannot connect to ZooKeeper %s: %s (retrying)", c->cfg.zk, err);
        else
            ZKV_DEBUG("cannot connect to ZooKeeper %s: %s", c->cfg.zk, err);
        return false;
    }
    c->zh = zh;
    pthread_mutex_lock(&c->mu);
    c->connected = true;
    pthread_mutex_unlock(&c->mu);
    const clientid_t *id = zoo_client_id(zh);
    ZKV_INFO("connected to ZooKeeper %s (session 0x%" PRIx64 ", timeout %d ms)", c->cfg.zk,
             (uint64_t)(id ? id->client_id : 0), zoo_recv_timeout(zh));
    return true;
}

/* --metrics: once a second, /metrics and /status from what the coordinator knows. */
static void publish_metrics(zkv_coord *c)
{
    uint64_t now = zkv_now_ms();
    if (!c->metrics_http || now < c->next_metrics_ms)
        return;
    c->next_metrics_ms = now + 1000;
    zkv_cmetrics m = {.id = c->cfg.id,
                      .version = ZKV_VERSION,
                      .cluster = c->cfg.cluster,
                      .zk_connected = c->zh && zkv_coord_connected(c),
                      .leader = c->elect == ZKV_ELECT_LEADING,
                      .cluster_now = c->summary};
    zkv_procstat_read(&m.process);
    c->metrics_text.len = c->metrics_text.off = 0;
    if (zkv_cmetrics_render(&m, &c->metrics_text) == 0)
        zkv_metrics_http_publish(c->metrics_http, &c->metrics_text);
    c->metrics_text.len = c->metrics_text.off = 0;
    if (zkv_cmetrics_status(&m, &c->metrics_text) == 0)
        zkv_metrics_http_publish_status(c->metrics_http, &c->metrics_text);
    /* ready (/ready): in the election, leading or standing by */
    zkv_metrics_http_set_ready(c->metrics_http, m.zk_connected && c->elect != ZKV_ELECT_NONE,
                               m.zk_connected ? "not in the election yet"
                                              : "not connected to ZooKeeper");
}

int zkv_coord_run(zkv_coord *c)
{
    unsigned ev = 0;
    bool need_election = true, need_reconcile = true, was_up = true;
    uint64_t connect_at = 0, step_retry_at = 0, down_since = 0;
    int connect_failures = 0, step_failures = 0;

    for (;;) {
        if (ev & ZKV_EV_STOP)
            break;
        if ((ev & ZKV_EV_RELOAD) && zkv_coord_load_credentials(c) == 0)
            ZKV_INFO("SIGHUP: credentials read again");
        if ((ev & ZKV_EV_EXPIRED) && c->zh) {
            ZKV_WARN("ZooKeeper session expired; starting a new one");
            end_session(c, "session expired");
        }
        if (ev & (ZKV_EV_ELECTION | ZKV_EV_CONNECTED))
            need_election = true;
        if (ev & (ZKV_EV_RECONCILE | ZKV_EV_CONNECTED))
            need_reconcile = true;

        uint64_t now = zkv_now_ms();
        if (!c->zh && now >= connect_at) {
            if (start_session(c, connect_failures)) {
                connect_failures = 0;
                need_election = need_reconcile = true;
                step_retry_at = 0;
                was_up = true;
            } else {
                connect_failures++;
                connect_at = zkv_now_ms() + backoff(connect_failures, 500, 5000);
            }
        }

        bool up = c->zh && zkv_coord_connected(c);
        if (c->zh && up != was_up) {
            if (up)
                ZKV_INFO("reconnected to ZooKeeper");
            else
                ZKV_INFO("disconnected from ZooKeeper; pausing until the session is back");
            down_since = zkv_now_ms();
        }
        was_up = up;
        /* Disconnected for a whole session timeout: the session may have expired on the
         * server and another coordinator may lead. We learn the truth only on reconnect,
         * so stop counting ourselves leader now (no write happens while disconnected
         * anyway); on reconnect the election runs again and adopts our znode if the
         * session survived. */
        if (c->zh && !up && c->elect == ZKV_ELECT_LEADING &&
            zkv_now_ms() - down_since >= (uint64_t)c->cfg.session_timeout_ms)
            zkv_election_reset(c, "no ZooKeeper connection for a whole session timeout");

        /* Cluster and election. */
        now = zkv_now_ms();
        if (up && (need_election || !c->have_cluster || c->elect == ZKV_ELECT_NONE) &&
            now >= step_retry_at) {
            int rc = c->have_cluster ? ZOK : zkv_bootstrap(c);
            if (rc == ZOK)
                rc = zkv_election_step(c);
            if (rc == ZOK) {
                need_election = false;
                step_failures = 0;
            } else if (zkv_coord_session_lost(rc)) {
                ZKV_WARN("ZooKeeper session lost (%s); starting a new one", zkv_zk_strerror(rc));
                end_session(c, "session lost");
            } else {
                step_failures++;
                ZKV_DEBUG("election step failed: %s", zkv_zk_strerror(rc));
                step_retry_at =
                    zkv_now_ms() + backoff(step_failures, STEP_BACKOFF_MIN_MS, STEP_BACKOFF_MAX_MS);
            }
        }

        /* Leadership. */
        now = zkv_now_ms();
        if (c->zh && up && c->elect == ZKV_ELECT_LEADING &&
            (need_reconcile || now >= c->next_reconcile_ms) && now >= c->retry_at_ms) {
            need_reconcile = false;
            int rc = zkv_leader_reconcile(c);
            now = zkv_now_ms();
            c->next_reconcile_ms = now + (uint64_t)c->cfg.reconcile_interval_ms;
            if (rc == ZOK) {
                c->conflicts = 0;
            } else if (zkv_coord_session_lost(rc)) {
                ZKV_WARN("ZooKeeper session lost (%s); starting a new one", zkv_zk_strerror(rc));
                end_session(c, "session lost");
            } else {
                c->conflicts++;
                c->retry_at_ms =
                    now + backoff(c->conflicts, CONFLICT_BACKOFF_MIN_MS, CONFLICT_BACKOFF_MAX_MS);
                need_reconcile = true;
            }
        }

        publish_metrics(c);

        /* Sleep until an event or the next due timer. */
        now = zkv_now_ms();
        uint64_t deadline = now + IDLE_WAIT_MS;
        if (!c->zh) {
            deadline = min_u64(deadline, connect_at);
        } else if (zkv_coord_connected(c)) { /* disconnected: wait for a session event */
            if (need_election || !c->have_cluster || c->elect == ZKV_ELECT_NONE)
                deadline = min_u64(deadline, step_retry_at);
            if (c->elect == ZKV_ELECT_LEADING)
                deadline =
                    min_u64(deadline, need_reconcile ? c->retry_at_ms : c->next_reconcile_ms);
        }
        ev = zkv_coord_wait(c, deadline);
    }

    end_session(c, "shutting down");
    ZKV_INFO("stopped");
    return 0;
}
