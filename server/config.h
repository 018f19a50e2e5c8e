/* config.h: zkv-server's command line (docs/internals.md, "Program flags") parsed into
 * one struct. Pure apart from printing usage/errors and reading ZKV_ZK/ZKV_CLUSTER. */
#ifndef ZKV_SERVER_CONFIG_H
#define ZKV_SERVER_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include "common/log.h"
#include "common/rangemap.h"
#include "common/tls.h"
#include "connlimits.h"

#define ZKV_SERVER_DEFAULT_LISTEN "127.0.0.1:7400"
#define ZKV_SERVER_DEFAULT_DATA_DIR "./zkv-data"
#define ZKV_SERVER_DEFAULT_SESSION_MS 4000
#define ZKV_SERVER_DEFAULT_MIN_IN_SYNC 1
#define ZKV_SERVER_DEFAULT_REPLICA_LAG_MS 2000
#define ZKV_SERVER_DEFAULT_LOG_RETAIN 100000
#define ZKV_SERVER_DEFAULT_LOG_RETAIN_MB 64
#define ZKV_SERVER_MIN_DEFAULT_CACHE_MB 64    /* the row cache by default: an eighth of */
#define ZKV_SERVER_MAX_DEFAULT_CACHE_MB 32768 /* the machine's memory, within these */
#define ZKV_SERVER_MAX_CACHE_MB 1048576       /* 1 TiB */
#define ZKV_SERVER_DEFAULT_WRITE_BUFFER_MB 16
#define ZKV_SERVER_DEFAULT_COMPACTION_NICE 19 /* ZKV_STORE_DEFAULT_COMPACTION_NICE */
#define ZKV_SERVER_DEFAULT_HANDOFF_MS 5000
#define ZKV_SERVER_DEFAULT_LEAVE_MS 15000
#define ZKV_SERVER_DEFAULT_COPY_MB_S 64     /* --copy-rate-mb: snapshot bytes a node sends per s */
#define ZKV_SERVER_DEFAULT_MAX_COPIES 2     /* --max-copies: snapshots a node sends at once */
#define ZKV_SERVER_DEFAULT_STATS_MS 10000   /* --stats-interval-ms: range report period */
#define ZKV_SERVER_DEFAULT_RECLAIM_MS 60000 /* --reclaim-delay-ms (reclaim.h) */

typedef struct zkv_server_config {
    const char *zk;
    const char *cluster;
    const char *listen; /* HOST:PORT */
    const char *data_dir;
    const char *advertise; /* HOST:PORT announced in nodes/<id>; default: listen */
    const char *zone;      /* failure domain announced in nodes/<id> (NULL: none) */
    const char *id;        /* NULL: persisted or generated */
    const char *log_level_name;
    zkv_log_level log_level;
    const char *log_format_name; /* --log-format text|json */
    bool log_json;
    long max_value;
    long session_timeout_ms;
    long min_in_sync;      /* --min-in-sync: copies (owner included) a write needs */
    long replica_lag_ms;   /* --replica-lag-ms */
    long log_retain;       /* --log-retain */
    long log_retain_mb;    /* --log-retain-mb: and no more than this many MiB of them */
    long cache_mb;         /* --cache-mb: row cache budget in MiB (0: no cache) */
    long write_buffer_mb;  /* --write-buffer-mb: LevelDB memtable size in MiB */
    long inline_max;       /* --inline-max-bytes: larger values go to the value log */
    long vlog_file_mb;     /* --value-log-file-mb: value-log file size in MiB */
    long compaction_nice;  /* --compaction-nice: LevelDB background thread's nice increment */
    bool sync;             /* --sync: fsync LevelDB's log at every group commit */
    const char *metrics;   /* --metrics HOST:PORT: serve GET /metrics (NULL: off) */
    const char *auth_file; /* --auth-file FILE: credentials HELLO must present (NULL: none) */
    const char *zk_auth;   /* --zk-auth FILE: ZooKeeper digest USER:PASSWORD (NULL: none) */
    zkv_tls_files tls;     /* --tls-cert, --tls-key, --tls-ca, --tls-client-ca (none: plain) */
    long handoff_ms;       /* --handoff-timeout-ms: a move's write pause is given up after */
    long leave_ms;         /* --leave-timeout-ms: SIGTERM hands ranges off this long (0: off) */
    long copy_rate_mb;     /* --copy-rate-mb: MiB/s of snapshot data a node sends (0: unlimited) */
    long max_copies;       /* --max-copies: snapshots a node sends at the same time */
    long stats_ms;         /* --stats-interval-ms: report owned ranges this often (0: never) */
    long reclaim_ms; /* --reclaim-delay-ms: delete what the node gave up after this (0: never) */
    long max_conns;  /* --max-conns: client connections (connlimits.h) */
    long idle_ms;    /* --idle-timeout-ms: close connections idle this long (0: never) */
    long request_ms; /* --request-timeout-ms: a frame must arrive whole within (0: no) */
    long conn_output_mb; /* --max-conn-output-mb: answers queued for one connection */
    long output_mb;      /* --max-output-mb: answers queued for all connections */
    char listen_host[256];
    int listen_port;
    char metrics_host[256];
    int metrics_port;
} zkv_server_config;

typedef enum {
    ZKV_CONFIG_OK = 0,
    ZKV_CONFIG_EXIT = 1,  /* --help/--version printed: exit 0 */
    ZKV_CONFIG_ERROR = 2, /* reason and usage printed: exit 2 */
} zkv_config_result;

zkv_config_result zkv_server_config_parse(zkv_server_config *cfg, int argc, char **argv);

/* The default --cache-mb on a machine of phys_bytes of memory (0: unknown): an eighth of
 * it in MiB, at least ZKV_SERVER_MIN_DEFAULT_CACHE_MB, at most ..._MAX_... (pure). */
long zkv_server_default_cache_mb(uint64_t phys_bytes);

#endif
