/* server.c: the loop of zkv-server (see server.h).
 *
 * Turn structure (libuv): I/O callbacks read and dispatch requests; reads are answered
 * from LevelDB at once, writes are staged in the store's batch. The check handle (right
 * after I/O) and the prepare handle (before the loop blocks) run before_sleep: commit the
 * batch (one LevelDB WriteBatch for every write of the turn), then flush each connection
 * that has answers with one uv_write. Redis's beforeSleep, with the write barrier.
 *
 * The membership thread hands over maps, the cluster id and fatal errors through an
 * uv_async; the loop swaps its map and frees the old one here, on the loop thread.
 * Replication hooks in after the commit: the shipper (shipper.c) streams the newly
 * committed entries of each owned range to its replicas, then held write answers whose
 * replicas acked are released (acks.c), then the connections are flushed. In_sync writes
 * run on the membership thread; their results come back through the same uv_async.
 *
 * Limits (connlimits.h): the listener admits connections by class (conn.c), and stops
 * accepting while connections being refused pile up (zkv_limits_accept_now: the waiting
 * one is accepted when another closes); a timer sweeps every connection for the idle and
 * request timeouts; accept failures (out of file descriptors: libuv then accepts and
 * closes the waiting connections with its reserve descriptor) are counted and logged at
 * most once a second, and never stop the listener.
 *
 * --metrics: a 1 s timer fills a snapshot (metrics.h) from the loop's counters, the store
 * and the shipper, renders it and publishes the text to the HTTP thread (metrics_http.h);
 * scrapes never touch the loop's state, so the figures are at most a second old. */
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/auth.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/procstat.h"
#include "common/util.h"
#include "handoff.h"
#include "info.h"
#include "reshape.h"
#include "status_page.h"
#include "server_int.h"
#include "dedupe.h"
#include "expirer.h"
#include "ownerclock.h"
#include "stats.h"

#define SHUTDOWN_GRACE_MS 3000
#define LEAVE_MARK_WAIT_MS 1000 /* for nodes/<id> to say "leaving" before handing off */
#define LEAVE_ISR_WAIT_MS 3000  /* for the owners to drop it from in_sync before exiting */
#define METRICS_REFRESH_MS 1000
/* Value-log GC (vlog_gc.c): after each commit of writes, what the writes appended paid for
 * (twice it) and at most this much reading; and once a second VLOG_GC_IDLE, paid or not, so
 * an idle node finishes (a node serving only reads gives the GC no more than that). The
 * bound keeps one step short and must exceed twice a commit's appends: at 1 MiB, PUTs of
 * 100 KB (5 MB a commit) outran the GC and the value log grew without bound. */
#define VLOG_GC_STEP ((size_t)16 << 20)
#define VLOG_GC_IDLE ((size_t)4 << 20)
/* And a call returns after about this long unless the GC is behind (zkv_store_vlog_gc_pace):
 * a 16 MiB move of 100 KB values held the loop 8-23 ms, the PUT p99's whole budget. */
#define VLOG_GC_STEP_US 2000u
/* The value log's durability mark (store.h) every this many seconds: each one fdatasyncs
 * what was written since, bytes the kernel would otherwise write later or, for files the
 * GC deletes first, never; a GC's barrier records one too. */
#define VLOG_MARK_TICKS 10u

static void begin_shutdown(zkv_server *s, const char *why);

static void close_core(zkv_server *s, uv_handle_t *h);

/* A value-log GC step; a failure that did not fail the store (a read error) is logged and
 * tried again later. */
static void vlog_gc(zkv_server *s, size_t max_bytes, uint64_t bonus)
{
    char err[256];
    if (zkv_store_vlog_gc(s->store, max_bytes, bonus, false, err, sizeof(err)) == 0)
        return;
    if (zkv_store_failed(s->store))
        zkv_server_fatal(s, "value log GC: %s", err);
    else
        ZKV_WARN("%s", err);
}

static void before_sleep(zkv_server *s)
{
    char err[256];
    bool wrote = zkv_store_pending(s->store) > 0;
    if (wrote && zkv_store_commit(s->store, err, sizeof(err)) != 0) {
        zkv_server_fatal(s, "cannot commit writes: %s", err);
        return;
    }
    if (s->fatal)
        return;
    if (s->shipper) {
        zkv_shipper_after_commit(s->shipper);
        if (s->fatal)
            return;
        if (s->handoffs)
            zkv_handoffs_pump(s->handoffs);
        zkv_acks_release_all(s);
    }
    while (s->dirty) {
        zkv_conn *c = s->dirty;
        s->dirty = c->dirty_next;
        c->dirty = false;
        c->dirty_next = NULL;
        zkv_conn_flush(c);
    }
    /* The GC's step last: its moves commit, and the shipper reads the entries just
     * committed from memory only while that commit is the last one (store.c); the answers
     * are out before it. (A turn of reads only leaves the GC to the timer.) */
    if (wrote && !s->fatal)
        vlog_gc(s, VLOG_GC_STEP, 0);
}

static void on_prepare(uv_prepare_t *h)
{
    before_sleep(h->data);
}

static void on_check(uv_check_t *h)
{
    before_sleep(h->data);
}

static size_t owned_ranges(const zkv_rangemap *m, const char *node_id)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_ranges; i++)
        if (strcmp(m->ranges[i].owner, node_id) == 0)
            n++;
    return n;
}

static void install_map(zkv_server *s, zkv_rangemap *map)
{
    zkv_rangemap *old = s->map;
    size_t owned = owned_ranges(map, s->opt->node_id);
    if (!old || old->version != map->version || owned_ranges(old, s->opt->node_id) != owned)
        ZKV_INFO("range map version %lld: this node owns %zu of %zu ranges",
                 (long long)map->version, owned, map->n_ranges);
    for (size_t i = 0; i < map->n_ranges; i++) {
        const zkv_range *r = &map->ranges[i];
        if (strcmp(r->owner, s->opt->node_id) == 0)
            ZKV_DEBUG("owns range %s (epoch %llu)", r->id, (unsigned long long)r->epoch);
    }
    char err[256];
    if (s->store && zkv_reshape_apply(s->store, map, s->opt->node_id, err, sizeof(err)) != 0)
        ZKV_ERROR("splitting or merging range logs: %s", err); /* the store is failed now */
    s->map = map;
    s->env.map = map;
    if (s->shipper)
        zkv_shipper_sync_map(s->shipper);
    if (s->handoffs)
        zkv_handoffs_sync_map(s->handoffs);
    zkv_rangemap_free(old);
}

void zkv_server_check_lease(zkv_server *s)
{
    bool fenced = true;
    if (s->membership) {
        zkv_lease l = zkv_membership_lease(s->membership);
        fenced = !zkv_lease_valid(&l, s->map_session, zkv_now_ms());
    }
    if (fenced == s->env.fenced)
        return;
    s->env.fenced = fenced;
    if (fenced)
        ZKV_WARN("fenced: ZooKeeper session not confirmed; owned ranges answer UNAVAILABLE");
    else
        ZKV_INFO("serving: ZooKeeper session confirmed");
}

void zkv_server_after_request(zkv_server *s)
{
    char err[256];
    if (s->store && !s->fatal && zkv_store_progress(s->store, err, sizeof(err)) != 0)
        zkv_server_fatal(s, "cannot write records ahead of the commit: %s", err);
}

static void on_async(uv_async_t *h)
{
    zkv_server *s = h->data;
    zkv_membership_update u;
    zkv_membership_take(s->membership, &u);
    if (u.has_cluster_id) {
        snprintf(s->cluster_id, sizeof(s->cluster_id), "%s", u.cluster_id);
        s->env.cluster_id = s->cluster_id;
    }
    if (u.map) {
        s->map_session = u.map_session;
        install_map(s, u.map);
    }
    for (size_t i = 0; i < u.n_isr; i++) {
        const zkv_isr_result *r = &u.isr[i];
        if (s->handoffs && zkv_handoffs_write_result(s->handoffs, r->range_id, r->epoch, r->rc))
            continue;
        if (s->shipper)
            zkv_shipper_isr_result(s->shipper, r->range_id, r->epoch, r->rc, r->zversion,
                                   (const char(*)[ZKV_ID_MAX])r->in_sync, r->n_in_sync);
    }
    free(u.isr);
    if (u.leaving_set && s->leaving && !s->leave_started && !s->shutting_down) {
        s->leave_started = true;
        zkv_handoffs_leave(s->handoffs);
    }
    if (u.has_cluster_id && s->shipper)
        zkv_shipper_sync_map(s->shipper);
    if (u.fatal) {
        s->exit_code = 1;
        begin_shutdown(s, "registration refused");
    }
}

static void on_core_closed(uv_handle_t *h)
{
    zkv_server *s = h->data;
    s->open_core_handles--;
}

static void close_core(zkv_server *s, uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_core_closed);
}

/* When the last connection is gone during shutdown, close the loop's own handles so
 * uv_run returns. */
static void maybe_finish(zkv_server *s)
{
    if (!s->shutting_down || s->n_conns > 0)
        return;
    before_sleep(s);
    if (s->shipper)
        zkv_shipper_close(s->shipper);
    if (s->membership)
        zkv_membership_detach(s->membership);
    close_core(s, (uv_handle_t *)&s->prepare);
    close_core(s, (uv_handle_t *)&s->check);
    close_core(s, (uv_handle_t *)&s->async);
    close_core(s, (uv_handle_t *)&s->sigterm);
    close_core(s, (uv_handle_t *)&s->sigint);
    close_core(s, (uv_handle_t *)&s->sighup);
    close_core(s, (uv_handle_t *)&s->shutdown_timer);
    close_core(s, (uv_handle_t *)&s->metrics_timer);
    close_core(s, (uv_handle_t *)&s->leave_timer);
    close_core(s, (uv_handle_t *)&s->stats_timer);
    close_core(s, (uv_handle_t *)&s->limits_timer);
    close_core(s, (uv_handle_t *)&s->info_timer);
}

void zkv_server_conn_closed(zkv_server *s)
{
    if (s->accept_waiting && s->listening && !s->shutting_down &&
        zkv_limits_accept_now(&s->limits, s->n_conns)) {
        /* uv_accept takes the waiting connection and libuv watches the listener again */
        s->accept_waiting = false;
        zkv_conn_accept(s);
    }
    maybe_finish(s);
}

static void on_shutdown_timer(uv_timer_t *t)
{
    zkv_server *s = t->data;
    if (s->n_conns)
        ZKV_WARN("closing %zu connection(s) that did not drain in time", s->n_conns);
    for (zkv_conn *c = s->conns; c; c = c->next)
        zkv_conn_close(c);
}

static void begin_shutdown(zkv_server *s, const char *why)
{
    if (s->shutting_down)
        return;
    s->shutting_down = true;
    ZKV_INFO("shutting down (%s)", why);
    zkv_reclaim_stop(s->reclaim);
    zkv_expirer_stop(s->expirer);
    s->expirer = NULL;
    if (s->listening) {
        s->listening = false;
        close_core(s, (uv_handle_t *)&s->listener);
    }
    for (zkv_conn *c = s->conns; c; c = c->next)
        zkv_conn_drain(c);
    uv_timer_start(&s->shutdown_timer, on_shutdown_timer, SHUTDOWN_GRACE_MS, 0);
    maybe_finish(s);
}

void zkv_server_fatal(zkv_server *s, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ZKV_ERROR("%s; stopping without answering unsaved writes", msg);
    s->exit_code = 1;
    s->fatal = true;
    /* Nothing queued may go out: some answers acknowledge writes that did not persist. */
    for (zkv_conn *c = s->conns; c; c = c->next) {
        zkv_outq_clear(&c->out);
        zkv_acks_drop(c);
        zkv_conn_close(c);
    }
    if (s->shipper)
        zkv_shipper_close(s->shipper);
    begin_shutdown(s, "fatal error");
}

/* Whether the map lists this node in some range's in_sync. */
static bool in_sync_anywhere(const zkv_server *s)
{
    for (size_t i = 0; s->map && i < s->map->n_ranges; i++)
        if (zkv_range_is_in_sync(&s->map->ranges[i], s->opt->node_id))
            return true;
    return false;
}

/* Controlled shutdown: the leave timer checks every 20 ms whether every owned range has
 * been handed off (the map shows another owner), or the deadline passed. */
static void on_leave_timer(uv_timer_t *t)
{
    zkv_server *s = t->data;
    if (!s->leaving || s->shutting_down)
        return;
    size_t owned = s->map ? owned_ranges(s->map, s->opt->node_id) : 0;
    bool late = zkv_now_ms() >= s->leave_deadline;
    if (!s->leave_started && !late) {
        if (zkv_now_ms() + s->opt->leave_ms - s->leave_deadline < LEAVE_MARK_WAIT_MS)
            return; /* waiting for nodes/<id> to say "leaving" */
        ZKV_WARN("nodes/%s not marked leaving after %d ms; handing off all the same",
                 s->opt->node_id, LEAVE_MARK_WAIT_MS);
        s->leave_started = true;
        zkv_handoffs_leave(s->handoffs);
    }
    if (zkv_handoffs_active(s->handoffs) > 0 && !late)
        return;
    if (owned == 0 && !late && in_sync_anywhere(s)) {
        /* its owners drop it from in_sync when they see it leaving, so no write waits for
         * it after it exits; bounded */
        if (!s->leave_isr_deadline)
            s->leave_isr_deadline = zkv_now_ms() + LEAVE_ISR_WAIT_MS;
        if (zkv_now_ms() < s->leave_isr_deadline)
            return;
        ZKV_WARN("still in_sync for some ranges after %d ms; shutting down", LEAVE_ISR_WAIT_MS);
    } else if (owned == 0)
        ZKV_INFO("every owned range handed off, and out of every in_sync set");
    else if (late)
        ZKV_WARN("still owning %zu range(s) after --leave-timeout-ms; shutting down", owned);
    else if (zkv_handoffs_leave(s->handoffs) > 0)
        return; /* a handoff was given up (or a range came): try again */
    else
        ZKV_WARN("%zu owned range(s) have no live in-sync replica to take them; shutting down",
                 owned);
    uv_timer_stop(&s->leave_timer);
    begin_shutdown(s, "SIGTERM");
}

/* The first SIGTERM: hand owned ranges off first when there are any to hand. */
static bool start_leaving(zkv_server *s)
{
    if (s->opt->leave_ms == 0 || !s->handoffs || !s->map || s->env.fenced ||
        owned_ranges(s->map, s->opt->node_id) == 0)
        return false;
    s->leaving = true;
    s->leave_deadline = zkv_now_ms() + s->opt->leave_ms;
    ZKV_INFO("SIGTERM: handing %zu owned range(s) to in-sync replicas before shutting down",
             owned_ranges(s->map, s->opt->node_id));
    /* First tell the coordinator the node is leaving (so it hands it nothing back), then
     * hand off (on_async, when that is written; the timer also goes on without it). */
    zkv_membership_set_leaving(s->membership);
    uv_timer_start(&s->leave_timer, on_leave_timer, 20, 20);
    return true;
}

static void on_signal(uv_signal_t *h, int signum)
{
    zkv_server *s = h->data;
    if (s->leaving && !s->shutting_down) {
        ZKV_WARN("second %s: shutting down without waiting for the handoffs",
                 signum == SIGINT ? "SIGINT" : "SIGTERM");
        uv_timer_stop(&s->leave_timer);
        begin_shutdown(s, "second signal");
        return;
    }
    if (s->shutting_down) {
        ZKV_WARN("second %s: closing every connection now",
                 signum == SIGINT ? "SIGINT" : "SIGTERM");
        on_shutdown_timer(&s->shutdown_timer);
        return;
    }
    if (signum == SIGTERM && start_leaving(s))
        return;
    begin_shutdown(s, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* SIGHUP, the TLS files: new connections use the new certificates and keys, links to
 * other nodes on their next connect; open connections keep theirs. */
static void reload_tls(zkv_server *s)
{
    if (!s->tls_accept)
        return;
    zkv_tls_ctx *accept = NULL, *connect = NULL;
    char err[512];
    if (zkv_tls_node_ctxs(&s->opt->tls, &accept, &connect, err, sizeof(err)) != 0) {
        ZKV_ERROR("SIGHUP: %s; the TLS files in force stay", err);
        return;
    }
    zkv_tls_ctx_free(s->tls_accept);
    zkv_tls_ctx_free(s->tls_connect);
    s->tls_accept = accept;
    s->tls_connect = connect;
    if (s->metrics_http &&
        zkv_metrics_http_reload(s->metrics_http, &s->opt->tls, err, sizeof(err)) != 0)
        ZKV_ERROR("SIGHUP: --metrics: %s; the metrics endpoint keeps the TLS files in force", err);
    ZKV_INFO("SIGHUP: read the TLS certificates and keys again; new connections use them");
}

/* SIGHUP: --auth-file and the TLS files are read again; new connections are checked
 * against the credentials, the nodes present its cluster secret on their next connection.
 * A file that does not load keeps what is in force. */
static void on_sighup(uv_signal_t *h, int signum)
{
    (void)signum;
    zkv_server *s = h->data;
    reload_tls(s);
    if (!s->opt->auth_file)
        return;
    zkv_auth *fresh = NULL;
    char err[512];
    if (zkv_auth_load(s->opt->auth_file, &fresh, err, sizeof(err)) != 0) {
        ZKV_ERROR("SIGHUP: --auth-file %s; the credentials in force stay", err);
        return;
    }
    s->env.auth = fresh;
    if (s->shipper)
        zkv_shipper_set_secret(s->shipper, zkv_auth_cluster_secret(fresh));
    zkv_auth_free(s->auth_loaded); /* the previous reload's (main frees the first) */
    s->auth_loaded = fresh;
    ZKV_INFO("SIGHUP: read --auth-file %s again; new connections present its credentials",
             s->opt->auth_file);
}

static void on_connection(uv_stream_t *l, int status)
{
    zkv_server *s = l->data;
    if (status < 0) {
        /* EMFILE/ENFILE: libuv has closed the waiting connections with its reserve
         * descriptor; the listener goes on. */
        s->stats.conns_refused++;
        uint64_t skipped;
        if (zkv_ratelog_due(&s->log_accept, uv_now(&s->loop), 1000, &skipped))
            ZKV_WARN("accept failed: %s (%zu connections open; %llu more failures since the "
                     "last such line)",
                     uv_strerror(status), s->n_conns, (unsigned long long)skipped);
        return;
    }
    if (s->shutting_down)
        return;
    if (!zkv_limits_accept_now(&s->limits, s->n_conns)) {
        /* Not accepting it leaves it in the listen backlog, and libuv stops watching the
         * listener until uv_accept (zkv_server_conn_closed). */
        if (!s->accept_waiting)
            ZKV_DEBUG("%zu connections open: accepting again when one closes", s->n_conns);
        s->accept_waiting = true;
        return;
    }
    zkv_conn_accept(s);
}

static int start_listening(zkv_server *s)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", s->opt->listen_port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int grc = getaddrinfo(s->opt->listen_host, port, &hints, &res);
    if (grc != 0) {
        ZKV_ERROR("cannot resolve listen address %s:%s: %s", s->opt->listen_host, port,
                  gai_strerror(grc));
        return -1;
    }
    int rc = uv_tcp_bind(&s->listener, res->ai_addr, 0);
    freeaddrinfo(res);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
    if (rc != 0) {
        ZKV_ERROR("cannot listen on %s:%s: %s", s->opt->listen_host, port, uv_strerror(rc));
        return -1;
    }
    s->listening = true;
    ZKV_INFO("listening on %s:%s", s->opt->listen_host, port);
    return 0;
}

/* Fills the snapshot from the loop's state, renders it and publishes the text. */
/* What the reclaimer reads each tick (reclaim.h). */
static zkv_reclaim_view reclaim_view(void *ctx)
{
    const zkv_server *s = ctx;
    return (zkv_reclaim_view){
        .map = s->map, .may_act = !s->env.fenced && !s->shutting_down && !s->leaving && !s->fatal};
}

/* What the expirer reads each tick (expirer.h). */
static const zkv_dispatch_env *expirer_env(void *ctx, bool *may_act)
{
    const zkv_server *s = ctx;
    *may_act = !s->env.fenced && !s->shutting_down && !s->fatal;
    return &s->env;
}

/* --stats-interval-ms: samples every owned range, rates against the previous sample,
 * and hands the report to the membership thread (stats.h). */
static void on_stats_timer(uv_timer_t *t)
{
    zkv_server *s = t->data;
    const zkv_rangemap *m = s->map;
    if (!m || !s->membership || s->shutting_down || s->env.fenced)
        return;
    zkv_stats_sample *now = calloc(m->n_ranges ? m->n_ranges : 1, sizeof(*now));
    zkv_stats_rate *rates = calloc(m->n_ranges ? m->n_ranges : 1, sizeof(*rates));
    size_t n = 0;
    uint64_t at = zkv_now_ms();
    for (size_t i = 0; now && rates && i < m->n_ranges; i++) {
        const zkv_range *r = &m->ranges[i];
        if (strcmp(r->owner, s->opt->node_id) != 0)
            continue;
        const zkv_range_state *rs = zkv_store_range(s->store, r->id);
        zkv_stats_sample *x = &now[n];
        snprintf(x->id, sizeof(x->id), "%s", r->id);
        x->epoch = r->epoch;
        x->seq = rs ? rs->committed_seq : 0;
        x->bytes_written = rs ? rs->bytes_written : 0;
        x->bytes = zkv_store_range_bytes(s->store, r->start, r->start_len, r->end, r->end_len);
        x->at_ms = at;
        const zkv_stats_sample *prev = NULL;
        for (size_t k = 0; k < s->n_stats_prev && !prev; k++)
            if (strcmp(s->stats_prev[k].id, x->id) == 0)
                prev = &s->stats_prev[k];
        rates[n++] = zkv_stats_rate_of(prev, x);
    }
    char iso[40];
    zkv_iso8601(zkv_wall_ms(), iso, sizeof(iso));
    char *json = now && rates
                     ? zkv_stats_render(s->opt->node_id, iso, s->opt->stats_ms, now, rates, n)
                     : NULL;
    if (json)
        zkv_membership_publish_stats(s->membership, json);
    free(json);
    free(rates);
    if (now) {
        free(s->stats_prev);
        s->stats_prev = now;
        s->n_stats_prev = n;
    }
}

/* The idle and request timeouts (connlimits.h) of every connection. */
static void on_limits_timer(uv_timer_t *t)
{
    zkv_server *s = t->data;
    uint64_t now = uv_now(&s->loop);
    for (zkv_conn *c = s->conns; c; c = c->next)
        zkv_conn_check_timeout(c, now); /* a closed connection stays listed until on_close */
}

/* INFO's window (nodeinfo.h): the counters once a second. */
static void on_info_timer(uv_timer_t *t)
{
    zkv_server *s = t->data;
    zkv_nodeinfo_tick(&s->info_ring, &s->stats, zkv_now_ms());
    vlog_gc(s, VLOG_GC_IDLE, VLOG_GC_IDLE);
    char err[256];
    if (++s->mark_ticks < VLOG_MARK_TICKS)
        return;
    s->mark_ticks = 0;
    if (zkv_store_vlog_mark(s->store, err, sizeof(err)) != 0)
        zkv_server_fatal(s, "value log sync: %s", err);
}

static void on_metrics_timer(uv_timer_t *t)
{
    zkv_server *s = t->data;
    zkv_metrics_snapshot *snap = &s->metrics_snap;
    snap->node_id = s->opt->node_id;
    snap->version = ZKV_VERSION;
    snap->c = s->stats;
    snap->zk_session_ok = !s->env.fenced;
    snap->moves_out = s->handoffs ? zkv_handoffs_active(s->handoffs) : 0;
    if (zkv_procstat_read(&snap->process) != 0 && !s->procstat_warned) {
        s->procstat_warned = true;
        ZKV_WARN("metrics: /proc/self cannot be read; the process figures are 0");
    }
    snap->db_stats_ok = zkv_store_db_stats(s->store, &snap->db) == 0;
    snap->conns_open = s->n_conns;
    snap->conns_max = s->limits.max_conns;
    snap->conns_paused = s->n_paused;
    snap->output_queued = s->out_total;
    snap->store_commits = zkv_store_commit_count(s->store);
    snap->store_early_writes = zkv_store_early_writes(s->store);
    zkv_store_write_stats(s->store, &snap->db_writes, &snap->db_sync);
    zkv_store_vlog_stats(s->store, &snap->vlog);
    snap->rowcache_enabled = zkv_store_cache_stats(s->store, &snap->rowcache);
    zkv_store_log_read_counts(s->store, &snap->log_reads_memory, &snap->log_reads_db);
    zkv_reclaim_counts rc;
    zkv_reclaim_counts_get(s->reclaim, &rc);
    snap->reclaim_keys = rc.keys_deleted;
    snap->reclaim_ranges = rc.ranges_forgotten;
    snap->reclaim_compactions = rc.parts_compacted;
    snap->reclaim_pending_parts = rc.pending_parts;
    snap->reclaim_pending_ranges = rc.pending_ranges;
    snap->n_ranges = 0;
    if (s->shipper && zkv_shipper_metrics(s->shipper, snap) != 0)
        ZKV_WARN("metrics: out of memory listing owned ranges");
    s->metrics_text.len = s->metrics_text.off = 0;
    if (zkv_metrics_render(snap, &s->metrics_text) != 0) {
        ZKV_WARN("metrics: out of memory rendering; keeping the previous text");
        return;
    }
    zkv_metrics_http_publish(s->metrics_http, &s->metrics_text);
    s->metrics_text.len = s->metrics_text.off = 0;
    if (zkv_status_page_render(snap, &s->metrics_text) != 0) {
        ZKV_WARN("metrics: out of memory making the status page; keeping the previous one");
        return;
    }
    zkv_metrics_http_publish_status(s->metrics_http, &s->metrics_text);
    /* ready (a readiness probe, /ready): the node serves what it holds */
    zkv_metrics_http_set_ready(s->metrics_http, s->map && !s->env.fenced,
                               !s->map ? "no range map yet (joining the cluster)"
                                       : "fenced: ZooKeeper session not confirmed");
}

/* --metrics: binds the HTTP server and starts the refresh timer. -1 (logged) on failure. */
static int start_metrics(zkv_server *s)
{
    if (!s->opt->metrics_host)
        return 0;
    char err[512];
    if (zkv_metrics_http_start(s->opt->metrics_host, s->opt->metrics_port, &s->opt->tls,
                               &s->metrics_http, err, sizeof(err)) != 0) {
        ZKV_ERROR("--metrics: %s", err);
        return -1;
    }
    ZKV_INFO("metrics at %s://%s:%d/metrics (refreshed every %d ms)",
             s->tls_accept ? "https" : "http", s->opt->metrics_host, s->opt->metrics_port,
             METRICS_REFRESH_MS);
    uv_timer_start(&s->metrics_timer, on_metrics_timer, 0, METRICS_REFRESH_MS);
    return 0;
}

static void notify_loop(void *ctx)
{
    uv_async_send(ctx);
}

/* The shipper's way to stop the node on a storage error (shipper.h). */
static void ship_fatal(void *ctx, const char *why)
{
    zkv_server_fatal(ctx, "%s", why);
}

int zkv_server_run(const zkv_server_options *opt, zkv_store *store)
{
    zkv_server *s = calloc(1, sizeof(*s));
    if (!s) {
        ZKV_ERROR("out of memory");
        return 1;
    }
    s->opt = opt;
    s->store = store;
    zkv_store_vlog_gc_pace(store, VLOG_GC_STEP_US);
    char terr[512];
    if (zkv_tls_node_ctxs(&opt->tls, &s->tls_accept, &s->tls_connect, terr, sizeof(terr)) != 0) {
        ZKV_ERROR("%s", terr);
        free(s);
        return 1;
    }
    if (s->tls_accept)
        ZKV_INFO("TLS on: clients and nodes connect with TLS%s",
                 opt->tls.client_ca && opt->tls.client_ca[0]
                     ? ", presenting a certificate signed by --tls-client-ca"
                     : "");
    s->limits = opt->limits;
    s->max_frame = zkv_frame_max_request(opt->max_key, opt->max_value);
    s->env = (zkv_dispatch_env){.store = store,
                                .map = NULL,
                                .node_id = opt->node_id,
                                .cluster_name = opt->cluster_name,
                                .cluster_id = s->cluster_id,
                                .max_key = opt->max_key,
                                .max_value = opt->max_value,
                                .fenced = true,
                                .log_retain = opt->log_retain,
                                .log_retain_bytes = opt->log_retain_bytes,
                                .auth = opt->auth};
    s->env.dedupe = zkv_dedupe_new();    /* NULL out of memory: retries are judged again */
    s->env.clock = zkv_ownerclock_new(); /* NULL: replicas judge expiry by their clock */
    zkv_arena_init(&s->arena, 64u * 1024u, s->max_frame + 64u * 1024u);
    zkv_reply_init(&s->reply);
    uv_loop_init(&s->loop);
    uv_handle_t *core[] = {(uv_handle_t *)&s->listener,       (uv_handle_t *)&s->prepare,
                           (uv_handle_t *)&s->check,          (uv_handle_t *)&s->async,
                           (uv_handle_t *)&s->sigterm,        (uv_handle_t *)&s->sigint,
                           (uv_handle_t *)&s->shutdown_timer, (uv_handle_t *)&s->metrics_timer,
                           (uv_handle_t *)&s->leave_timer,    (uv_handle_t *)&s->stats_timer,
                           (uv_handle_t *)&s->limits_timer,   (uv_handle_t *)&s->sighup,
                           (uv_handle_t *)&s->info_timer};
    uv_tcp_init(&s->loop, &s->listener);
    uv_prepare_init(&s->loop, &s->prepare);
    uv_check_init(&s->loop, &s->check);
    uv_async_init(&s->loop, &s->async, on_async);
    uv_signal_init(&s->loop, &s->sigterm);
    uv_signal_init(&s->loop, &s->sigint);
    uv_signal_init(&s->loop, &s->sighup);
    uv_timer_init(&s->loop, &s->shutdown_timer);
    uv_timer_init(&s->loop, &s->metrics_timer);
    uv_timer_init(&s->loop, &s->leave_timer);
    uv_timer_init(&s->loop, &s->stats_timer);
    uv_timer_init(&s->loop, &s->limits_timer);
    uv_timer_init(&s->loop, &s->info_timer);
    zkv_buf_init(&s->metrics_text);
    for (size_t i = 0; i < sizeof(core) / sizeof(core[0]); i++)
        core[i]->data = s;
    s->open_core_handles = (int)(sizeof(core) / sizeof(core[0]));
    uv_unref((uv_handle_t *)&s->shutdown_timer);
    uv_prepare_start(&s->prepare, on_prepare);
    uv_check_start(&s->check, on_check);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sighup, on_sighup, SIGHUP);
    zkv_shipper_options sopt = {.min_in_sync = opt->min_in_sync,
                                .replica_lag_ms = opt->replica_lag_ms,
                                .log_retain = opt->log_retain,
                                .log_retain_bytes = opt->log_retain_bytes,
                                .copy_rate = opt->copy_rate,
                                .max_copies = opt->max_copies};
    const zkv_ship_node node = {.loop = &s->loop,
                                .store = store,
                                .node_id = opt->node_id,
                                .cluster_id = s->cluster_id,
                                .secret = zkv_auth_cluster_secret(opt->auth),
                                .tls = &s->tls_connect,
                                .map = (const zkv_rangemap *const *)&s->map,
                                .fenced = &s->env.fenced,
                                .membership = &s->membership, /* started below */
                                .handoffs = &s->handoffs,
                                .vis_by_map = &s->env.vis_by_map,
                                .n_vis_by_map = &s->env.n_vis_by_map,
                                .fatal = ship_fatal,
                                .ctx = s};
    s->shipper = zkv_shipper_new(&node, &sopt);
    if (!s->shipper) {
        ZKV_ERROR("out of memory");
        s->exit_code = 1;
        begin_shutdown(s, "out of memory");
    } else {
        s->env.write_gate = zkv_shipper_write_gate;
        s->env.read_vis = zkv_shipper_read_vis;
        s->env.owner_status = zkv_shipper_owner_status;
        s->env.hook_ctx = s->shipper;
        s->env.info = zkv_server_info;
        s->env.info_ctx = s;
        s->handoffs = zkv_handoffs_new(s, opt->handoff_ms);
        if (s->handoffs) { /* move_gate is set while handoffs are active */
            s->env.move_ctx = s->handoffs;
            s->env.handed_to = zkv_handoffs_handed_hook;
        }
    }

    if (start_metrics(s) != 0) {
        s->exit_code = 1;
        begin_shutdown(s, "cannot serve metrics");
    } else if (start_listening(s) != 0) {
        s->exit_code = 1;
        begin_shutdown(s, "cannot listen");
    } else if (zkv_membership_start(&opt->membership, notify_loop, &s->async, &s->membership) !=
               0) {
        ZKV_ERROR("cannot start the membership thread");
        s->exit_code = 1;
        begin_shutdown(s, "membership thread");
    }
    if (!s->listening)
        close_core(s, (uv_handle_t *)&s->listener);
    if (opt->stats_ms)
        uv_timer_start(&s->stats_timer, on_stats_timer, opt->stats_ms, opt->stats_ms);
    if (!s->shutting_down && opt->reclaim_ms > 0 &&
        !(s->reclaim =
              zkv_reclaim_start(&s->loop, store, opt->node_id, opt->reclaim_ms, reclaim_view, s)))
        ZKV_WARN("out of memory: data of ranges this node gives up will not be deleted");
    if (!s->shutting_down && !(s->expirer = zkv_expirer_start(&s->loop, store, expirer_env, s)))
        ZKV_WARN("out of memory: expired keys nobody reads will not be deleted");
    uint64_t sweep = zkv_limits_sweep_ms(&s->limits);
    uv_timer_start(&s->limits_timer, on_limits_timer, sweep, sweep);
    uv_timer_start(&s->info_timer, on_info_timer, 0, 1000);
    uv_run(&s->loop, UV_RUN_DEFAULT);

    /* Every handle is closed and the last before_sleep committed the store. Close the
     * database first, then the session (nodes/<id> goes away with it). */
    char err[256];
    if (zkv_store_commit(store, err, sizeof(err)) != 0 && s->exit_code == 0) {
        ZKV_ERROR("cannot commit writes: %s", err);
        s->exit_code = 1;
    }
    zkv_rowcache_stats cst;
    if (zkv_store_cache_stats(store, &cst))
        ZKV_INFO("row cache: %llu hits, %llu misses, %llu evictions, %zu entries, %zu of %zu "
                 "bytes",
                 (unsigned long long)cst.hits, (unsigned long long)cst.misses,
                 (unsigned long long)cst.evictions, cst.entries, cst.bytes, cst.budget);
    zkv_store_close(store);
    ZKV_INFO("store closed");
    if (s->membership) {
        zkv_membership_stop(s->membership);
        ZKV_INFO("left ZooKeeper");
    }
    int rc = uv_loop_close(&s->loop);
    if (rc != 0)
        ZKV_WARN("event loop closed with handles open: %s", uv_strerror(rc));
    zkv_metrics_http_stop(s->metrics_http); /* before the buffers it serves go */
    zkv_buf_free(&s->metrics_text);
    zkv_metrics_snapshot_free(&s->metrics_snap);
    zkv_shipper_free(s->shipper);
    zkv_handoffs_free(s->handoffs);
    zkv_reclaim_free(s->reclaim);
    zkv_auth_free(s->auth_loaded);
    zkv_tls_ctx_free(s->tls_accept);
    zkv_tls_ctx_free(s->tls_connect);
    zkv_dedupe_free(s->env.dedupe);
    zkv_ownerclock_free(s->env.clock);
    free(s->stats_prev);
    zkv_rangemap_free(s->map);
    zkv_reply_free(&s->reply);
    zkv_arena_free(&s->arena);
    int code = s->exit_code;
    free(s);
    return code;
}
