/* connlimits.c: the node's connection limits (see connlimits.h): admission, backpressure,
 * timeouts, open-file planning; pure, apart from zkv_limits_raise_nofile. */
#include "connlimits.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include "common/hello.h"
#include "common/log.h"

zkv_conn_class zkv_limits_admit(const zkv_limits *l, const zkv_conn_counts *n)
{
    if (n->clients < l->max_conns)
        return ZKV_CONN_CLIENT;
    if (n->peers + n->probation < l->peer_reserve)
        return ZKV_CONN_PROBATION;
    return ZKV_CONN_REFUSED;
}

bool zkv_limits_accept_now(const zkv_limits *l, size_t n_open)
{
    return n_open < l->max_conns + l->peer_reserve + ZKV_LIMITS_REFUSING;
}

zkv_conn_class zkv_limits_classify(const zkv_limits *l, const zkv_conn_counts *n,
                                   zkv_conn_class cur, bool known_peer)
{
    switch (cur) {
    case ZKV_CONN_PROBATION:
        /* it holds a reserve slot already: as a peer it keeps it */
        if (known_peer)
            return ZKV_CONN_PEER;
        return n->clients < l->max_conns ? ZKV_CONN_CLIENT : ZKV_CONN_REFUSED;
    case ZKV_CONN_CLIENT:
        return known_peer && n->peers + n->probation < l->peer_reserve ? ZKV_CONN_PEER
                                                                       : ZKV_CONN_CLIENT;
    case ZKV_CONN_PEER:
    case ZKV_CONN_REFUSED:
        break;
    }
    return cur;
}

bool zkv_limits_known_peer(const zkv_rangemap *map, const char *node_id)
{
    if (!node_id || !node_id[0])
        return false;
    if (strcmp(node_id, ZKV_COORDINATOR_NODE_ID) == 0)
        return true;
    for (size_t i = 0; map && i < map->n_nodes; i++)
        if (strcmp(map->nodes[i].id, node_id) == 0)
            return true;
    return false;
}

bool zkv_limits_keep_reading(const zkv_limits *l, bool paused, size_t own, size_t node_total)
{
    size_t conn_cap = l->conn_output, node_cap = l->node_output;
    if (paused) {
        conn_cap /= 4;
        node_cap = node_cap / 4 * 3;
    }
    if (own >= conn_cap)
        return false;
    return own <= ZKV_LIMITS_SMALL_OUTPUT || node_total < node_cap;
}

uint64_t zkv_limits_request_ms(const zkv_limits *l, bool probation)
{
    if (l->request_ms || !probation)
        return l->request_ms;
    return ZKV_LIMITS_DEFAULT_REQUEST_MS;
}

zkv_timeout zkv_limits_timeout(const zkv_limits *l, const zkv_conn_clock *c, uint64_t now_ms)
{
    uint64_t req = zkv_limits_request_ms(l, c->probation);
    if (req && c->frame_start_ms && now_ms >= c->frame_start_ms &&
        now_ms - c->frame_start_ms >= req)
        return ZKV_TIMEOUT_REQUEST;
    if (l->idle_ms && !c->idle_exempt && !c->probation && now_ms >= c->last_io_ms &&
        now_ms - c->last_io_ms >= l->idle_ms)
        return ZKV_TIMEOUT_IDLE;
    return ZKV_TIMEOUT_NONE;
}

uint64_t zkv_limits_sweep_ms(const zkv_limits *l)
{
    /* probation always has a request timeout, so there is always something to sweep */
    uint64_t shortest = zkv_limits_request_ms(l, true);
    if (l->request_ms && l->request_ms < shortest)
        shortest = l->request_ms;
    if (l->idle_ms && l->idle_ms < shortest)
        shortest = l->idle_ms;
    uint64_t every = shortest / 4;
    if (every < ZKV_LIMITS_SWEEP_MIN_MS)
        every = ZKV_LIMITS_SWEEP_MIN_MS;
    if (every > ZKV_LIMITS_SWEEP_MAX_MS)
        every = ZKV_LIMITS_SWEEP_MAX_MS;
    return every;
}

zkv_nofile_plan zkv_limits_plan_nofile(size_t max_conns, size_t peer_reserve, uint64_t soft,
                                       uint64_t hard)
{
    zkv_nofile_plan p = {.soft = soft, .max_conns = max_conns};
    uint64_t reserve = (uint64_t)peer_reserve + ZKV_LIMITS_REFUSING + ZKV_LIMITS_FD_OVERHEAD;
    p.want = (uint64_t)max_conns + reserve;
    if (hard >= p.want) {
        if (soft < p.want)
            p.soft = p.want;
        return p;
    }
    p.short_ = true;
    p.soft = hard;
    uint64_t fit = hard > reserve ? hard - reserve : 0;
    if (fit < hard / 2)
        fit = hard / 2;
    if (fit < max_conns)
        p.max_conns = (size_t)fit;
    return p;
}

static uint64_t rlim_value(rlim_t v)
{
    return v == RLIM_INFINITY ? UINT64_MAX : (uint64_t)v;
}

size_t zkv_limits_raise_nofile(size_t max_conns)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        ZKV_WARN("open-file limit: cannot read it (%s); keeping --max-conns %zu", strerror(errno),
                 max_conns);
        return max_conns;
    }
    uint64_t soft = rlim_value(rl.rlim_cur), hard = rlim_value(rl.rlim_max);
    zkv_nofile_plan p = zkv_limits_plan_nofile(max_conns, ZKV_LIMITS_PEER_RESERVE, soft, hard);
    if (p.soft != soft) {
        struct rlimit nrl = {.rlim_cur = (rlim_t)p.soft, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &nrl) != 0) {
            /* keep what we have and fit the connections to it */
            int e = errno;
            p = zkv_limits_plan_nofile(max_conns, ZKV_LIMITS_PEER_RESERVE, soft, soft);
            ZKV_WARN("open-file limit: cannot raise it from %llu to %llu (%s); serving at most "
                     "%zu client connections instead of --max-conns %zu",
                     (unsigned long long)soft, (unsigned long long)p.want, strerror(e), p.max_conns,
                     max_conns);
            return p.max_conns;
        }
        ZKV_INFO("open-file limit raised from %llu to %llu for --max-conns %zu",
                 (unsigned long long)soft, (unsigned long long)p.soft, max_conns);
    }
    if (p.short_)
        ZKV_WARN("open-file limit: the hard limit %llu is below the %llu descriptors --max-conns "
                 "%zu needs; serving at most %zu client connections (raise the hard limit: "
                 "ulimit -Hn, or LimitNOFILE= in a systemd unit)",
                 (unsigned long long)hard, (unsigned long long)p.want, max_conns, p.max_conns);
    return p.max_conns;
}

bool zkv_ratelog_due(zkv_ratelog *r, uint64_t now_ms, uint64_t interval_ms, uint64_t *suppressed)
{
    if (r->last_ms != 0 && now_ms - r->last_ms < interval_ms) {
        r->skipped++;
        return false;
    }
    r->last_ms = now_ms ? now_ms : 1;
    if (suppressed)
        *suppressed = r->skipped;
    r->skipped = 0;
    return true;
}
