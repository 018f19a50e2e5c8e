/* main.c: zkv-server start-up: flags, logging, data directory, store, then the loop
 * (server.c) until SIGTERM/SIGINT. Exit codes: 0 clean shutdown, 1 runtime failure,
 * 2 bad command line (including an --id that differs from the persisted one). */
#include <signal.h>
#include <stdio.h>
#include "common/frame.h"
#include "common/log.h"
#include "common/util.h"
#include "config.h"
#include "datadir.h"
#include "common/auth.h"
#include "common/zkacl.h"
#include "connlimits.h"
#include "rejoin.h"
#include "server.h"
#include "store.h"

/* How long a node back from a machine restart waits at most for its ranges to fail over:
 * three session timeouts, and at least this. */
#define REJOIN_WAIT_MIN_MS 30000L

/* After the machine restarted (the page cache may have been lost): the value log's check
 * (store.h, zkv_store_vlog_recover) and the return as a replica (rejoin.h), then the boot id
 * noted, so that a crash before the end brings them back at the next start. */
static int check_after_restart(const zkv_server_config *cfg, const char *node_id,
                               const zkv_zk_cred *cred, zkv_store *store, char *err, size_t errlen)
{
    bool restarted;
    if (zkv_datadir_boot(cfg->data_dir, ZKV_DATADIR_BOOT_ID_SOURCE, &restarted, err, errlen) != 0)
        return -1;
    if (!restarted)
        return zkv_datadir_boot_done(cfg->data_dir, ZKV_DATADIR_BOOT_ID_SOURCE, err, errlen);
    zkv_vlog_recovery r = {0};
    uint64_t t0 = zkv_now_ms();
    if (zkv_store_vlog_recover(store, &r, err, errlen) != 0)
        return -1;
    if (!r.clean)
        ZKV_INFO("value log: the machine restarted; the check went through %llu records and "
                 "read back %llu values in %llu ms",
                 (unsigned long long)r.walked, (unsigned long long)r.checked,
                 (unsigned long long)(zkv_now_ms() - t0));
    if (!r.clean && r.lost_data + r.lost_log > 0)
        ZKV_INFO("value log: the machine restarted; %llu of the %llu values written after the "
                 "last sync did not read back (%llu data records, %llu log entries): %zu "
                 "range(s) damaged%s",
                 (unsigned long long)(r.lost_data + r.lost_log), (unsigned long long)r.checked,
                 (unsigned long long)r.lost_data, (unsigned long long)r.lost_log, r.n_ranges,
                 r.all ? " (every one: a lost value's range is not known)" : "");
    long wait = cfg->session_timeout_ms * 3;
    zkv_rejoin_config rc = {.zk = cfg->zk,
                            .cluster = cfg->cluster,
                            .node_id = node_id,
                            .session_timeout_ms = (int)cfg->session_timeout_ms,
                            .cred = cred,
                            .wait_ms =
                                (uint64_t)(wait > REJOIN_WAIT_MIN_MS ? wait : REJOIN_WAIT_MIN_MS)};
    zkv_rejoin_result res;
    int rv = zkv_rejoin(&rc, store, &r, &res, err, errlen);
    if (rv == 0 && res.forgotten > 0)
        ZKV_WARN("value log: %zu damaged range copies were forgotten and are rebuilt from their "
                 "other copies (docs/guarantees.md)",
                 res.forgotten);
    zkv_vlog_recovery_free(&r);
    if (rv != 0)
        return -1;
    return zkv_datadir_boot_done(cfg->data_dir, ZKV_DATADIR_BOOT_ID_SOURCE, err, errlen);
}

int main(int argc, char **argv)
{
    zkv_server_config cfg;
    zkv_config_result cr = zkv_server_config_parse(&cfg, argc, argv);
    if (cr == ZKV_CONFIG_EXIT)
        return 0;
    if (cr != ZKV_CONFIG_OK)
        return 2;
    zkv_log_init("server", cfg.log_level);
    zkv_log_set_json(cfg.log_json);
    signal(SIGPIPE, SIG_IGN);
    ZKV_INFO("zkv-server %s starting: cluster %s, ZooKeeper %s, data dir %s", ZKV_VERSION,
             cfg.cluster, cfg.zk, cfg.data_dir);

    char err[512], db_path[4096];
    if (zkv_datadir_init(cfg.data_dir, db_path, sizeof(db_path), err, sizeof(err)) != 0) {
        ZKV_ERROR("%s", err);
        return 1;
    }
    if (zkv_datadir_check_id(cfg.data_dir, cfg.id, err, sizeof(err)) != 0) {
        ZKV_ERROR("%s", err);
        return 2;
    }
    zkv_store *store = NULL;
    const zkv_store_tuning tuning = {.write_buffer = (size_t)cfg.write_buffer_mb << 20,
                                     .compaction_nice = (int)cfg.compaction_nice,
                                     .sync = cfg.sync,
                                     .inline_max = (size_t)cfg.inline_max,
                                     .vlog_file_bytes = (uint64_t)cfg.vlog_file_mb << 20};
    if (zkv_store_open_with(db_path, &tuning, &store, err, sizeof(err)) != 0) {
        ZKV_ERROR("%s", err);
        return 1;
    }
    if (zkv_store_set_cache(store, (size_t)cfg.cache_mb << 20, err, sizeof(err)) != 0) {
        ZKV_ERROR("%s", err);
        zkv_store_close(store);
        return 1;
    }
    if (zkv_datadir_upgrade(cfg.data_dir, err, sizeof(err)) != 0) {
        ZKV_ERROR("%s", err);
        zkv_store_close(store);
        return 1;
    }
    char node_id[ZKV_ID_MAX];
    uint64_t incarnation = 0;
    int rc = zkv_datadir_identity(cfg.data_dir, cfg.id, node_id, &incarnation, err, sizeof(err));
    if (rc != 0) {
        ZKV_ERROR("%s", err);
        zkv_store_close(store);
        return rc == ZKV_DATADIR_ID_MISMATCH ? 2 : 1;
    }
    ZKV_INFO("node %s, incarnation %llu, %zu range log(s) on disk", node_id,
             (unsigned long long)incarnation, zkv_store_range_count(store));

    size_t max_conns = zkv_limits_raise_nofile((size_t)cfg.max_conns);
    ZKV_INFO(
        "limits: %zu client connections (and %d more for nodes and the coordinator), idle "
        "timeout %ld ms (0: none), request timeout %ld ms (0: none), answers queued up to %ld MiB "
        "per connection and %ld MiB in all",
        max_conns, ZKV_LIMITS_PEER_RESERVE, cfg.idle_ms, cfg.request_ms, cfg.conn_output_mb,
        cfg.output_mb);
    static zkv_zk_cred zk_cred;
    if (cfg.zk_auth && zkv_zk_cred_load(cfg.zk_auth, &zk_cred, err, sizeof(err)) != 0) {
        ZKV_ERROR("--zk-auth %s", err);
        zkv_store_close(store);
        return 2;
    }
    if (check_after_restart(&cfg, node_id, cfg.zk_auth ? &zk_cred : NULL, store, err,
                            sizeof(err)) != 0) {
        ZKV_ERROR("%s", err);
        zkv_store_close(store);
        return 1;
    }
    zkv_auth *auth = NULL;
    if (cfg.auth_file && zkv_auth_load(cfg.auth_file, &auth, err, sizeof(err)) != 0) {
        ZKV_ERROR("--auth-file %s", err);
        zkv_store_close(store);
        return 2;
    }
    if (auth && !zkv_auth_cluster_secret(auth))
        ZKV_WARN("--auth-file %s has no cluster secret: this node cannot replicate to, or take "
                 "replication from, other nodes",
                 cfg.auth_file);
    zkv_server_options opt = {
        .listen_host = cfg.listen_host,
        .listen_port = cfg.listen_port,
        .node_id = node_id,
        .cluster_name = cfg.cluster,
        .max_key = ZKV_MAX_KEY_DEFAULT,
        .max_value = (size_t)cfg.max_value,
        .min_in_sync = (int)cfg.min_in_sync,
        .replica_lag_ms = (uint64_t)cfg.replica_lag_ms,
        .log_retain = (uint64_t)cfg.log_retain,
        .log_retain_bytes = (uint64_t)cfg.log_retain_mb << 20,
        .metrics_host = cfg.metrics ? cfg.metrics_host : NULL,
        .metrics_port = cfg.metrics_port,
        .handoff_ms = (uint64_t)cfg.handoff_ms,
        .leave_ms = (uint64_t)cfg.leave_ms,
        .copy_rate = (uint64_t)cfg.copy_rate_mb << 20,
        .max_copies = (int)cfg.max_copies,
        .stats_ms = (uint64_t)cfg.stats_ms,
        .reclaim_ms = (int64_t)cfg.reclaim_ms,
        .auth = auth,
        .auth_file = cfg.auth_file,
        .tls = cfg.tls,
        .limits = {.max_conns = max_conns,
                   .peer_reserve = ZKV_LIMITS_PEER_RESERVE,
                   .idle_ms = (uint64_t)cfg.idle_ms,
                   .request_ms = (uint64_t)cfg.request_ms,
                   .conn_output = (size_t)cfg.conn_output_mb << 20,
                   .node_output = (size_t)cfg.output_mb << 20},
        .membership = {.zk = cfg.zk,
                       .cluster = cfg.cluster,
                       .node_id = node_id,
                       .advertise = cfg.advertise,
                       .zone = cfg.zone,
                       .incarnation = incarnation,
                       .session_timeout_ms = (int)cfg.session_timeout_ms,
                       .zk_cred = cfg.zk_auth ? &zk_cred : NULL},
    };
    int code = zkv_server_run(&opt, store);
    zkv_auth_free(auth);
    ZKV_INFO("exiting with status %d", code);
    return code;
}
