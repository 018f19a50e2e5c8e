/* config.c: zkv-server flags (see config.h). Validation that needs no I/O (addresses, id,
 * log level, no stray arguments) happens here so a bad command line exits 2 at once. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "common/flags.h"
#include "common/frame.h"
#include "common/util.h"
#include "common/znode.h"
#include "store.h"
#include "vlog.h"

static const char *const SYNOPSIS = "[--listen HOST:PORT] [--data-dir DIR] [--advertise "
                                    "HOST:PORT] [--id ID] [FLAGS]";
static const char *const DESCRIPTION =
    "The zkv KV node: serves the key ranges the coordinator assigns to it, stores them in\n"
    "LevelDB under DIR, and registers itself in ZooKeeper under /zkv/NAME/nodes.";

long zkv_server_default_cache_mb(uint64_t phys_bytes)
{
    uint64_t mb = (phys_bytes >> 20) / 8;
    if (mb < ZKV_SERVER_MIN_DEFAULT_CACHE_MB)
        return ZKV_SERVER_MIN_DEFAULT_CACHE_MB;
    return mb > ZKV_SERVER_MAX_DEFAULT_CACHE_MB ? ZKV_SERVER_MAX_DEFAULT_CACHE_MB : (long)mb;
}

static void set_defaults(zkv_server_config *cfg)
{
    cfg->listen = ZKV_SERVER_DEFAULT_LISTEN;
    cfg->data_dir = ZKV_SERVER_DEFAULT_DATA_DIR;
    cfg->advertise = NULL;
    cfg->id = NULL;
    cfg->log_level_name = "info";
    cfg->log_format_name = "text";
    cfg->max_value = ZKV_MAX_VALUE_DEFAULT;
    cfg->session_timeout_ms = ZKV_SERVER_DEFAULT_SESSION_MS;
    cfg->min_in_sync = ZKV_SERVER_DEFAULT_MIN_IN_SYNC;
    cfg->replica_lag_ms = ZKV_SERVER_DEFAULT_REPLICA_LAG_MS;
    cfg->log_retain = ZKV_SERVER_DEFAULT_LOG_RETAIN;
    cfg->log_retain_mb = ZKV_SERVER_DEFAULT_LOG_RETAIN_MB;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    cfg->cache_mb =
        zkv_server_default_cache_mb(pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0);
    cfg->write_buffer_mb = ZKV_SERVER_DEFAULT_WRITE_BUFFER_MB;
    cfg->inline_max = (long)ZKV_STORE_DEFAULT_INLINE_MAX;
    cfg->vlog_file_mb = (long)(ZKV_VLOG_DEFAULT_FILE_BYTES >> 20);
    cfg->compaction_nice = ZKV_SERVER_DEFAULT_COMPACTION_NICE;
    cfg->metrics = NULL;
    cfg->tls = (zkv_tls_files){0};
    cfg->handoff_ms = ZKV_SERVER_DEFAULT_HANDOFF_MS;
    cfg->leave_ms = ZKV_SERVER_DEFAULT_LEAVE_MS;
    cfg->copy_rate_mb = ZKV_SERVER_DEFAULT_COPY_MB_S;
    cfg->max_copies = ZKV_SERVER_DEFAULT_MAX_COPIES;
    cfg->stats_ms = ZKV_SERVER_DEFAULT_STATS_MS;
    cfg->reclaim_ms = ZKV_SERVER_DEFAULT_RECLAIM_MS;
    cfg->max_conns = ZKV_LIMITS_DEFAULT_MAX_CONNS;
    cfg->idle_ms = ZKV_LIMITS_DEFAULT_IDLE_MS;
    cfg->request_ms = ZKV_LIMITS_DEFAULT_REQUEST_MS;
    cfg->conn_output_mb = ZKV_LIMITS_DEFAULT_CONN_OUTPUT_MB;
    cfg->output_mb = ZKV_LIMITS_DEFAULT_OUTPUT_MB;
}

/* Prints the reason and the usage (with the true defaults) to stderr. */
static zkv_config_result fail(zkv_server_config *cfg, const zkv_flag *flags, size_t n,
                              const char *fmt, const char *arg)
{
    fprintf(stderr, "zkv-server: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    set_defaults(cfg);
    zkv_flags_usage(stderr, "zkv-server", SYNOPSIS, flags, n);
    return ZKV_CONFIG_ERROR;
}

zkv_config_result zkv_server_config_parse(zkv_server_config *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof(*cfg));
    set_defaults(cfg);
    const zkv_flag flags[] = {
        {"listen", 0, ZKV_FLAG_STRING, &cfg->listen, "HOST:PORT", "address to listen on", 0, 0},
        {"data-dir", 0, ZKV_FLAG_STRING, &cfg->data_dir, "DIR",
         "data directory (created if missing)", 0, 0},
        {"advertise", 0, ZKV_FLAG_STRING, &cfg->advertise, "HOST:PORT",
         "address clients reach this node at (default: the listen address)", 0, 0},
        {"zone", 0, ZKV_FLAG_STRING, &cfg->zone, "ZONE",
         "this node's zone (rack, availability zone), published for clients that read from "
         "the nearest copy (docs/api.md)",
         0, 0},
        {"id", 0, ZKV_FLAG_STRING, &cfg->id, "ID",
         "node id (default: the one persisted in DIR, else node-XXXXXXXX)", 0, 0},
        {"max-value", 0, ZKV_FLAG_INT, &cfg->max_value, "BYTES", "largest value accepted", 1,
         (long)(ZKV_MAX_RESPONSE_FRAME / 2)},
        {"session-timeout", 0, ZKV_FLAG_INT, &cfg->session_timeout_ms, "MS",
         "ZooKeeper session timeout", 100, 3600000},
        {"log-level", 0, ZKV_FLAG_STRING, &cfg->log_level_name, "LEVEL",
         "debug, info, warn or error", 0, 0},
        {"log-format", 0, ZKV_FLAG_STRING, &cfg->log_format_name, "FORMAT",
         "log lines as text, or json: one object a line for log collectors", 0, 0},
        {"min-in-sync", 0, ZKV_FLAG_INT, &cfg->min_in_sync, "N",
         "refuse writes to a range with fewer in-sync copies (owner included)", 1,
         ZKV_MAX_REPLICAS + 1},
        {"replica-lag-ms", 0, ZKV_FLAG_INT, &cfg->replica_lag_ms, "MS",
         "remove an in-sync replica not caught up for this long", 10, 3600000},
        {"log-retain", 0, ZKV_FLAG_INT, &cfg->log_retain, "N",
         "range log entries kept beyond what in-sync replicas still need", 0, 1000000000L},
        {"log-retain-mb", 0, ZKV_FLAG_INT, &cfg->log_retain_mb, "N",
         "and of those no more than N MiB a range (0: no limit in bytes): a log of large values "
         "counted in entries alone holds gigabytes that LevelDB compacts again and again",
         0, 1000000},
        {"cache-mb", 0, ZKV_FLAG_INT, &cfg->cache_mb, "N",
         "row cache for GETs in MiB (0: none; default: an eighth of the machine's memory, "
         "64 to 32768)",
         0, ZKV_SERVER_MAX_CACHE_MB},
        {"write-buffer-mb", 0, ZKV_FLAG_INT, &cfg->write_buffer_mb, "N",
         "LevelDB memtable in MiB (values above --inline-max-bytes reach it as pointers of about "
         "70 bytes)",
         1, 4096},
        {"inline-max-bytes", 0, ZKV_FLAG_INT, &cfg->inline_max, "N",
         "values of more bytes are stored once, in the value log, and LevelDB keeps a pointer "
         "(docs/internals.md, \"Value log\")",
         0, 1L << 30},
        {"value-log-file-mb", 0, ZKV_FLAG_INT, &cfg->vlog_file_mb, "N",
         "size of a value-log file in MiB: the unit its garbage collection measures, moves "
         "and deletes",
         1, 4096},
        {"compaction-nice", 0, ZKV_FLAG_INT, &cfg->compaction_nice, "N",
         "run LevelDB's flushes and compactions this much nicer than serving (0: same)", 0, 19},
        {"sync", 0, ZKV_FLAG_BOOL, &cfg->sync, NULL,
         "fsync LevelDB's log at every group commit, before any write in it is answered: writes "
         "survive a power failure of this machine (for single-copy deployments; default: off, "
         "copies on other machines keep acknowledged writes: docs/guarantees.md)",
         0, 0},
        {"zk-auth", 0, ZKV_FLAG_STRING, &cfg->zk_auth, "FILE",
         "ZooKeeper digest credentials (one line USER:PASSWORD, mode 600): what the node creates "
         "only zkv's programs may change, anyone may read (docs/security.md); default: none",
         0, 0},
        {"auth-file", 0, ZKV_FLAG_STRING, &cfg->auth_file, "FILE",
         "credentials every connection must present at HELLO: 'cluster SECRET' (nodes and "
         "coordinators) and 'client NAME TOKEN' lines (docs/security.md); default: none",
         0, 0},
        ZKV_FLAGS_TLS(&cfg->tls),
        {"tls-client-ca", 0, ZKV_FLAG_STRING, &cfg->tls.client_ca, "FILE",
         "require a client certificate signed by these CAs (PEM) of every connection: mutual "
         "TLS, in place of --auth-file's tokens (docs/security.md); default: none",
         0, 0},
        {"metrics", 0, ZKV_FLAG_STRING, &cfg->metrics, "HOST:PORT",
         "serve Prometheus metrics at http://HOST:PORT/metrics (default: off)", 0, 0},
        {"handoff-timeout-ms", 0, ZKV_FLAG_INT, &cfg->handoff_ms, "MS",
         "give up passing a range to another owner if its writes were held this long", 10, 600000},
        {"leave-timeout-ms", 0, ZKV_FLAG_INT, &cfg->leave_ms, "MS",
         "on SIGTERM, hand owned ranges to in-sync replicas for up to this long before "
         "shutting down (0: shut down at once)",
         0, 3600000},
        {"copy-rate-mb", 0, ZKV_FLAG_INT, &cfg->copy_rate_mb, "N",
         "MiB per second of range data this node sends to new or rebuilt replicas (snapshots "
         "for moves, new replicas and catch-up; 0: unlimited)",
         0, 100000},
        {"max-copies", 0, ZKV_FLAG_INT, &cfg->max_copies, "N",
         "range snapshots this node sends at the same time (the others wait their turn)", 1, 1000},
        {"stats-interval-ms", 0, ZKV_FLAG_INT, &cfg->stats_ms, "MS",
         "report the size and write rate of every owned range (stats/<id>) this often (0: never)",
         0, 3600000},
        {"reclaim-delay-ms", 0, ZKV_FLAG_INT, &cfg->reclaim_ms, "MS",
         "delete the data and logs of what this node no longer holds once it has not held it "
         "this long (0: never)",
         0, 30L * 24 * 3600 * 1000},
        {"max-conns", 0, ZKV_FLAG_INT, &cfg->max_conns, "N",
         "client connections accepted at once; more are answered \"too many connections\" "
         "(nodes and the coordinator have 256 more)",
         1, 1000000},
        {"idle-timeout-ms", 0, ZKV_FLAG_INT, &cfg->idle_ms, "MS",
         "close a client connection nothing was read from or written to for this long (0: "
         "never)",
         0, 86400000},
        {"request-timeout-ms", 0, ZKV_FLAG_INT, &cfg->request_ms, "MS",
         "close a connection whose request frame is not received whole this long after its "
         "first byte (0: never)",
         0, 3600000},
        {"max-conn-output-mb", 0, ZKV_FLAG_INT, &cfg->conn_output_mb, "N",
         "MiB of answers queued for one connection before the node stops reading it", 1, 4096},
        {"max-output-mb", 0, ZKV_FLAG_INT, &cfg->output_mb, "N",
         "MiB of answers queued for all connections before the node stops reading those with "
         "large queues",
         1, 1048576},
    };
    size_t n = sizeof(flags) / sizeof(flags[0]);
    zkv_common_opts common = {0};
    int first_arg = argc;
    zkv_flags_result fr = zkv_flags_parse("zkv-server", SYNOPSIS, DESCRIPTION, flags, n, &common,
                                          argc, argv, &first_arg);
    if (fr == ZKV_FLAGS_EXIT)
        return ZKV_CONFIG_EXIT;
    if (fr != ZKV_FLAGS_OK)
        return ZKV_CONFIG_ERROR;
    cfg->zk = common.zk;
    cfg->cluster = common.cluster;
    if (first_arg < argc)
        return fail(cfg, flags, n, "unexpected argument '%s'", argv[first_arg]);
    if (zkv_parse_hostport(cfg->listen, cfg->listen_host, sizeof(cfg->listen_host),
                           &cfg->listen_port) != 0 ||
        cfg->listen_port < 0 || cfg->listen_port > 65535)
        return fail(cfg, flags, n, "--listen: bad address '%s' (want HOST:PORT)", cfg->listen);
    if (!cfg->advertise)
        cfg->advertise = cfg->listen;
    char host[256];
    int port;
    if (zkv_parse_hostport(cfg->advertise, host, sizeof(host), &port) != 0 || port <= 0 ||
        port > 65535 || strlen(cfg->advertise) >= ZKV_ADDR_MAX)
        return fail(cfg, flags, n, "--advertise: bad address '%s' (want HOST:PORT)",
                    cfg->advertise);
    if (cfg->metrics &&
        (zkv_parse_hostport(cfg->metrics, cfg->metrics_host, sizeof(cfg->metrics_host),
                            &cfg->metrics_port) != 0 ||
         !cfg->metrics_host[0] || cfg->metrics_port <= 0 || cfg->metrics_port > 65535))
        return fail(cfg, flags, n, "--metrics: bad address '%s' (want HOST:PORT)", cfg->metrics);
    if (cfg->zone && (!cfg->zone[0] || !zkv_id_valid(cfg->zone)))
        return fail(cfg, flags, n, "--zone: invalid zone '%s' (1-63 of [A-Za-z0-9._-])", cfg->zone);
    if (cfg->id && !zkv_id_valid(cfg->id))
        return fail(cfg, flags, n, "--id: invalid node id '%s' (1-63 of [A-Za-z0-9._-])", cfg->id);
    int lvl = zkv_log_level_parse(cfg->log_level_name);
    if (lvl < 0)
        return fail(cfg, flags, n, "--log-level: unknown level '%s'", cfg->log_level_name);
    cfg->log_level = (zkv_log_level)lvl;
    int fmt = zkv_log_format_parse(cfg->log_format_name);
    if (fmt < 0)
        return fail(cfg, flags, n, "--log-format: unknown format '%s' (text or json)",
                    cfg->log_format_name);
    cfg->log_json = fmt == 1;
    if (!cfg->data_dir[0])
        return fail(cfg, flags, n, "--data-dir: empty path%s", "");
    if (zkv_path(host, sizeof(host), cfg->cluster, ZKV_PATH_ROOT, NULL) != 0)
        return fail(cfg, flags, n, "--cluster: invalid cluster name '%s'", cfg->cluster);
    return ZKV_CONFIG_OK;
}
