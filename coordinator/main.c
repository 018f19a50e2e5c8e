/* main.c: zkv-coordinator entry point: flags, logging, signal handling, then the main
 * loop of coordinator.c. SIGTERM/SIGINT are blocked in every thread and taken by one
 * thread with sigwait, which posts ZKV_EV_STOP; the main loop then closes the
 * ZooKeeper session (the election znode goes at once) and the process exits 0. SIGHUP
 * posts ZKV_EV_RELOAD: the credential files are read again (credentials.h). */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/auth.h"
#include "coord.h"
#include "credentials.h"
#include "common/tls.h"
#include "common/flags.h"
#include "common/log.h"
#include "common/util.h"
#include "metrics_http.h"
#include "common/znode.h"

#define PROG "zkv-coordinator"
#define DEFAULT_RANGES 8
#define DEFAULT_REPLICAS 3

static void *signal_thread(void *arg)
{
    zkv_coord *c = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    int sig = 0;
    while (sigwait(&set, &sig) == 0) {
        if (sig == SIGHUP) {
            zkv_coord_notify(c, ZKV_EV_RELOAD);
            continue;
        }
        ZKV_INFO("%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        zkv_coord_notify(c, ZKV_EV_STOP);
        break;
    }
    return NULL;
}

/* true when --name or --name=V is among the parsed flags (only to word a log line about
 * flags the existing cluster overrides). */
static bool flag_given(const char *name, int argc, char **argv, int first_arg)
{
    size_t len = strlen(name);
    for (int i = 1; i < first_arg && i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) == 0 && strncmp(a + 2, name, len) == 0 &&
            (a[2 + len] == '\0' || a[2 + len] == '='))
            return true;
    }
    return false;
}

static int usage_error(const zkv_flag *flags, size_t n, const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    zkv_flags_usage(stderr, PROG, "[flags]", flags, n);
    return 2;
}

int main(int argc, char **argv)
{
    long ranges = DEFAULT_RANGES, replicas = DEFAULT_REPLICAS, min_nodes = 1,
         session_timeout = 4000, rebalance_delay = 30000, handoff_wait = 20000, split_size_mb = 256,
         split_wps = 0, merge_size_mb = 0, min_ranges = -1, autoshape_interval = 10000,
         balance_min_mb = 64;
    bool no_owner_balance = false;
    const char *id = NULL, *log_level = "info", *log_format = "text", *auth_file = NULL,
               *zk_auth = NULL, *metrics = NULL;
    zkv_tls_files tls = {0};
    const zkv_flag flags[] = {
        {"ranges", 0, ZKV_FLAG_INT, &ranges, "N", "initial range count when creating the cluster",
         1, 4096},
        {"replicas", 0, ZKV_FLAG_INT, &replicas, "R",
         "replication factor when creating the cluster", 1, ZKV_MAX_REPLICAS + 1},
        {"min-nodes", 0, ZKV_FLAG_INT, &min_nodes, "N",
         "live nodes to wait for before assigning never-owned ranges", 1, 100000},
        {"id", 0, ZKV_FLAG_STRING, &id, "NAME",
         "name of this coordinator (default coord-<hostname>-<pid>)", 0, 0},
        {"session-timeout", 0, ZKV_FLAG_INT, &session_timeout, "MS", "ZooKeeper session timeout",
         100, 600000},
        {"log-level", 0, ZKV_FLAG_STRING, &log_level, "LEVEL", "debug, info, warn or error", 0, 0},
        {"log-format", 0, ZKV_FLAG_STRING, &log_format, "FORMAT",
         "log lines as text, or json: one object a line for log collectors", 0, 0},
        {"zk-auth", 0, ZKV_FLAG_STRING, &zk_auth, "FILE",
         "ZooKeeper digest credentials (one line USER:PASSWORD, mode 600): what the "
         "coordinator creates only zkv's programs may change (docs/security.md)",
         0, 0},
        {"auth-file", 0, ZKV_FLAG_STRING, &auth_file, "FILE",
         "the nodes' credentials file: its 'cluster SECRET' is presented to them "
         "(docs/security.md); read again on SIGHUP",
         0, 0},
        ZKV_FLAGS_TLS(&tls),
        {"rebalance-delay-ms", 0, ZKV_FLAG_INT, &rebalance_delay, "MS",
         "keep a dead node's replica slots this long before copying them elsewhere (a node "
         "back within it catches up from the log tail)",
         0, 86400000},
        {"handoff-wait-ms", 0, ZKV_FLAG_INT, &handoff_wait, "MS",
         "withdraw a request to pass a range to another owner that is not carried out "
         "within this long",
         1000, 3600000},
        {"split-size-mb", 0, ZKV_FLAG_INT, &split_size_mb, "MB",
         "split a range in two when its owner reports it this large on disk (0: never)", 0,
         1048576},
        {"split-writes-per-s", 0, ZKV_FLAG_INT, &split_wps, "N",
         "split a range when its owner reports this many writes per second (0: never)", 0,
         100000000},
        {"merge-size-mb", 0, ZKV_FLAG_INT, &merge_size_mb, "MB",
         "merge two neighbouring ranges smaller than this together (0: never)", 0, 1048576},
        {"min-ranges", 0, ZKV_FLAG_INT, &min_ranges, "N",
         "automatic merges stop at this many ranges (default: --ranges)", 1, 1000000},
        {"autoshape-interval-ms", 0, ZKV_FLAG_INT, &autoshape_interval, "MS",
         "how often the leader looks at the nodes' range reports for a split or merge to make", 100,
         3600000},
        {"balance-min-mb", 0, ZKV_FLAG_INT, &balance_min_mb, "MB",
         "trade range owners, then replica slots, between nodes when the bytes they carry "
         "differ by this much (and by a quarter of the lighter one's)",
         1, 1048576},
        {"metrics", 0, ZKV_FLAG_STRING, &metrics, "HOST:PORT",
         "serve /metrics (Prometheus) and /status at this address, over HTTPS with --tls-cert "
         "(docs/metrics.md); default: none",
         0, 0},
        {"no-owner-balance", 0, ZKV_FLAG_BOOL, &no_owner_balance, NULL,
         "do not even out range owners between nodes (owners still move off drained and "
         "leaving nodes)",
         0, 0},
    };
    const size_t n_flags = sizeof(flags) / sizeof(flags[0]);
    zkv_common_opts common = {0};
    int first_arg = 0;
    zkv_flags_result fr = zkv_flags_parse(
        PROG, "[flags]",
        "Coordinator of a zkv cluster: creates the cluster on first start, elects one "
        "leader among the running coordinators, and assigns every range an owner and "
        "recovery replicas among the live nodes.",
        flags, n_flags, &common, argc, argv, &first_arg);
    if (fr == ZKV_FLAGS_EXIT)
        return 0;
    if (fr != ZKV_FLAGS_OK)
        return 2;
    if (first_arg < argc)
        return usage_error(flags, n_flags, "unexpected argument '%s'", argv[first_arg]);
    int level = zkv_log_level_parse(log_level);
    if (level < 0)
        return usage_error(flags, n_flags, "bad --log-level '%s'", log_level);
    int format = zkv_log_format_parse(log_format);
    if (format < 0)
        return usage_error(flags, n_flags, "bad --log-format '%s' (text or json)", log_format);
    char root[ZKV_PATH_MAX];
    if (zkv_path(root, sizeof(root), common.cluster, ZKV_PATH_ROOT, NULL) != 0)
        return usage_error(flags, n_flags, "bad --cluster '%s'", common.cluster);

    zkv_coord_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.zk = common.zk;
    cfg.cluster = common.cluster;
    cfg.ranges_given = flag_given("ranges", argc, argv, first_arg);
    cfg.replicas_given = flag_given("replicas", argc, argv, first_arg);
    cfg.ranges = (int)ranges;
    cfg.replicas = (int)replicas;
    cfg.min_nodes = (int)min_nodes;
    cfg.session_timeout_ms = (int)session_timeout;
    cfg.reconcile_interval_ms = 2000;
    cfg.rebalance_delay_ms = (int)rebalance_delay;
    cfg.handoff_wait_ms = (int)handoff_wait;
    cfg.balance_owners = !no_owner_balance;
    cfg.split_bytes = (uint64_t)split_size_mb << 20;
    cfg.split_writes_per_s = (double)split_wps;
    cfg.merge_bytes = (uint64_t)merge_size_mb << 20;
    cfg.min_ranges = min_ranges > 0 ? (int)min_ranges : (int)ranges;
    cfg.autoshape_interval_ms = (int)autoshape_interval;
    cfg.balance_min_bytes = (double)balance_min_mb * 1024.0 * 1024.0;
    if (cfg.merge_bytes && cfg.split_bytes && cfg.merge_bytes * 2 > cfg.split_bytes)
        return usage_error(flags, n_flags,
                           "%s must be at most half of --split-size-mb (a merged "
                           "range would be split again)",
                           "--merge-size-mb");
    if (id) {
        if (!zkv_id_valid(id))
            return usage_error(flags, n_flags, "bad --id '%s' (1..63 bytes of A-Z a-z 0-9 . _ -)",
                               id);
        snprintf(cfg.id, sizeof(cfg.id), "%s", id);
    } else {
        char host[ZKV_ID_MAX] = "";
        if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
            snprintf(host, sizeof(host), "localhost");
        /* 6 + 40 + 1 + up to 10 pid digits fit in an id; longer host names are cut. */
        snprintf(cfg.id, sizeof(cfg.id), "coord-%.40s-%ld", host, (long)getpid());
    }

    zkv_log_init("coordinator", (zkv_log_level)level);
    zkv_log_set_json(format == 1);
    cfg.auth_file = auth_file;
    cfg.tls = tls;
    char aerr[512];
    static zkv_zk_cred zk_cred;
    if (zk_auth && zkv_zk_cred_load(zk_auth, &zk_cred, aerr, sizeof(aerr)) != 0) {
        ZKV_ERROR("--zk-auth %s", aerr);
        return 2;
    }
    cfg.zk_cred = zk_auth ? &zk_cred : NULL;
    char metrics_host[256];
    if (metrics &&
        (zkv_parse_hostport(metrics, metrics_host, sizeof metrics_host, &cfg.metrics_port) != 0 ||
         !metrics_host[0] || cfg.metrics_port <= 0 || cfg.metrics_port > 65535))
        return usage_error(flags, n_flags, "--metrics: bad address '%s' (want HOST:PORT)", metrics);
    cfg.metrics_host = metrics ? metrics_host : NULL;

    /* Block the stop signals before any thread starts, so every thread inherits it. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    zkv_coord c;
    if (zkv_coord_init(&c, &cfg) != 0) {
        ZKV_ERROR("cannot initialise");
        return 1;
    }
    if (zkv_coord_load_credentials(&c) != 0) {
        zkv_coord_destroy(&c);
        return 2;
    }
    if (cfg.metrics_host) {
        char merr[512];
        zkv_tls_files mtls = {.cert = tls.cert, .key = tls.key};
        if (zkv_metrics_http_start(cfg.metrics_host, cfg.metrics_port, &mtls, &c.metrics_http, merr,
                                   sizeof merr) != 0) {
            ZKV_ERROR("--metrics %s: %s", metrics, merr);
            zkv_coord_destroy(&c);
            return 1;
        }
        ZKV_INFO("metrics at %s/metrics, a status page at /status", metrics);
    }
    pthread_t sig_tid;
    if (pthread_create(&sig_tid, NULL, signal_thread, &c) != 0) {
        ZKV_ERROR("cannot start the signal thread");
        zkv_coord_destroy(&c);
        return 1;
    }
    pthread_detach(sig_tid);
    ZKV_INFO("starting %s %s as %s: zk=%s cluster=%s min-nodes=%d", PROG, ZKV_VERSION, cfg.id,
             cfg.zk, cfg.cluster, cfg.min_nodes);
    int rc = zkv_coord_run(&c);
    /* The signal thread may still sit in sigwait; exiting ends it. c stays valid. */
    zkv_metrics_http_stop(c.metrics_http);
    c.metrics_http = NULL;
    zkv_buf_free(&c.metrics_text);
    zkv_coord_free_leader_state(&c);
    return rc;
}
