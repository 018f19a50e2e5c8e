/* test_server_metrics.c: the Prometheus renderer (server/metrics.c): the exact text of a
 * small fixed snapshot (connection limits' figures included), label escaping (backslash, double
 * quote, newline), an empty snapshot, a large one (many ranges) without truncation, and the
 * op/status mapping. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"

/* A snapshot with one owned range and two replicas, every figure distinct. */
static void fill_small(zkv_metrics_snapshot *s)
{
    memset(s, 0, sizeof(*s));
    s->node_id = "node-1";
    s->c.requests[ZKV_MOP_GET][ZKV_MST_OK] = 5;
    s->c.requests[ZKV_MOP_GET][ZKV_MST_NOT_FOUND] = 2;
    s->c.requests[ZKV_MOP_PUT][ZKV_MST_OK] = 7;
    s->c.requests[ZKV_MOP_OTHER][ZKV_MST_BAD_REQUEST] = 1;
    s->c.conns_accepted = 3;
    s->conns_open = 2;
    s->conns_max = 100;
    s->c.conns_refused = 40;
    s->c.conns_idle_closed = 41;
    s->c.conns_request_timeouts = 42;
    s->conns_paused = 43;
    s->c.conn_pauses = 44;
    s->output_queued = 45;
    s->c.bytes_read = 1000;
    s->c.bytes_written = 2000;
    s->c.reads_held = 6;
    s->store_commits = 4;
    s->store_early_writes = 3;
    s->rowcache_enabled = true;
    s->rowcache = (zkv_rowcache_stats){.hits = 10,
                                       .misses = 11,
                                       .inserts = 12,
                                       .evictions = 13,
                                       .invalidations = 14,
                                       .entries = 15,
                                       .bytes = 16,
                                       .budget = 17};
    s->log_reads_memory = 20;
    s->log_reads_db = 21;
    s->appends_sent = 30;
    s->appends_acked = 29;
    s->reclaim_keys = 40;
    s->reclaim_ranges = 41;
    s->reclaim_compactions = 42;
    s->reclaim_pending_parts = 43;
    s->reclaim_pending_ranges = 44;
    zkv_metrics_range *r = zkv_metrics_add_range(s);
    if (!r) {
        CU_FAIL("out of memory");
        return;
    }
    snprintf(r->id, sizeof(r->id), "r0001");
    r->epoch = 3;
    r->committed_seq = 100;
    r->commit_point = 98;
    r->n_in_sync = 1;
    r->log_first_seq = 42;
    r->n_replicas = 2;
    snprintf(r->replicas[0].node_id, sizeof(r->replicas[0].node_id), "node-2");
    r->replicas[0].in_sync = true;
    r->replicas[0].lag_entries = 2;
    snprintf(r->replicas[1].node_id, sizeof(r->replicas[1].node_id), "node-3");
    r->replicas[1].lag_entries = 40;
    s->version = "0.1.0";
    s->zk_session_ok = true;
    s->moves_out = 2;
    zkv_metrics_observe(&s->c.latency, ZKV_MOP_GET, 40);      /* le 5e-05 */
    zkv_metrics_observe(&s->c.latency, ZKV_MOP_GET, 120);     /* le 0.00025 */
    zkv_metrics_observe(&s->c.latency, ZKV_MOP_GET, 3000000); /* le 5 */
    zkv_metrics_observe(&s->c.latency, ZKV_MOP_PUT, 7000000); /* +Inf */
    s->db.files[0] = 1;
    s->db.files[1] = 2;
    s->db.size_bytes = 5000000;
    s->db.compaction_ms = 1500;
    s->db.compaction_read_bytes = 1048576;
    s->db.compaction_write_bytes = 2097152;
    /* four writes: 40 us, 1.2 ms at a level-0 slowdown, 0.3 s at a stop, 2 ms of fsync */
    s->db_writes.n[0] = 1;
    s->db_writes.n[5] = 1;
    s->db_writes.n[12] = 1;
    s->db_writes.n[5] += 1;
    s->db_writes.sum_us = 40 + 1200 + 300000 + 2000;
    s->db_writes.max_us = 300000;
    s->db_writes.waits[ZKV_DBW_LEVEL0_SLOWDOWN] = 1;
    s->db_writes.wait_us[ZKV_DBW_LEVEL0_SLOWDOWN] = 1200;
    s->db_writes.waits[ZKV_DBW_LEVEL0_STOP] = 1;
    s->db_writes.wait_us[ZKV_DBW_LEVEL0_STOP] = 300000;
    s->db_writes.waits[ZKV_DBW_SYNC] = 1;
    s->db_writes.wait_us[ZKV_DBW_SYNC] = 2000;
    s->db_sync = true;
    s->vlog = (zkv_vlog_stats){.files = 3,
                               .bytes = 150000000,
                               .live_estimate = 90000000,
                               .appended = 400000000,
                               .gc_read = 300000000,
                               .gc_moved = 20000000,
                               .gc_files_removed = 4,
                               .gc_pinned_skips = 2,
                               .gc_files_waiting = 1,
                               .writer_bytes = 250000000,
                               .writer_wait_us = 1250000};
    s->process = (zkv_procstat){.cpu_us = 1500000,
                                .rss_bytes = 1000,
                                .vsize_bytes = 2000,
                                .open_fds = 7,
                                .max_fds = 1024,
                                .start_time_ms = 1700000000123};
}

/* The families fill_small's snapshot adds to SMALL_TEXT: after zkv_node_info ... */
static const char SMALL_NEW_A[] =
    "# HELP zkv_build_info Always 1; the zkv version as a label.\n"
    "# TYPE zkv_build_info gauge\n"
    "zkv_build_info{version=\"0.1.0\"} 1\n"
    "# HELP zkv_zookeeper_session_ok 1 while the node's ZooKeeper session is confirmed; 0: "
    "fenced, its owned ranges answer UNAVAILABLE.\n"
    "# TYPE zkv_zookeeper_session_ok gauge\n"
    "zkv_zookeeper_session_ok 1\n";

/* ... and after zkv_owned_ranges: the latency histograms (written here from the
 * observations above), LevelDB's and the process's figures. */
static void small_new_b(char *out, size_t n)
{
    static const char *const ops[] = {"get", "put", "delete", "scan", "other"};
    static const char *const le[] = {"5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
                                     "0.005", "0.01",   "0.025",   "0.05",   "0.1",   "0.25",
                                     "0.5",   "1",      "5",       "+Inf"};
    /* cumulative counts: get has 1 at 5e-05, 2 from 0.00025, 3 from 5; put 1 at +Inf */
    size_t at = (size_t)snprintf(
        out, n,
        "# HELP zkv_moves_out Owned ranges being passed to another owner now (a move, a drain, "
        "a shutdown).\n# TYPE zkv_moves_out gauge\nzkv_moves_out 2\n"
        "# HELP zkv_request_duration_seconds Time from a request decoded to its answer queued "
        "for the socket (an answer held for replica acks or the commit point: released), by "
        "operation.\n# TYPE zkv_request_duration_seconds histogram\n");
    for (int o = 0; o < 5; o++) {
        for (int b = 0; b < 16; b++) {
            int c = o == 0 ? (b >= 14 ? 3 : b >= 2 ? 2 : 1) : o == 1 ? (b == 15) : 0;
            at += (size_t)snprintf(out + at, n - at,
                                   "zkv_request_duration_seconds_bucket{op=\"%s\",le=\"%s\"} %d\n",
                                   ops[o], le[b], c);
        }
        const char *sum = o == 0 ? "3.000160" : o == 1 ? "7.000000" : "0.000000";
        int cnt = o == 0 ? 3 : o == 1 ? 1 : 0;
        at += (size_t)snprintf(out + at, n - at,
                               "zkv_request_duration_seconds_sum{op=\"%s\"} %s\n"
                               "zkv_request_duration_seconds_count{op=\"%s\"} %d\n",
                               ops[o], sum, ops[o], cnt);
    }
    at += (size_t)snprintf(
        out + at, n - at,
        "# HELP zkv_leveldb_size_bytes Bytes LevelDB's table files take (its approximate size "
        "of every key).\n# TYPE zkv_leveldb_size_bytes gauge\nzkv_leveldb_size_bytes 5000000\n"
        "# HELP zkv_leveldb_files LevelDB table files, by level.\n"
        "# TYPE zkv_leveldb_files gauge\n"
        "zkv_leveldb_files{level=\"0\"} 1\nzkv_leveldb_files{level=\"1\"} 2\n"
        "zkv_leveldb_files{level=\"2\"} 0\nzkv_leveldb_files{level=\"3\"} 0\n"
        "zkv_leveldb_files{level=\"4\"} 0\nzkv_leveldb_files{level=\"5\"} 0\n"
        "zkv_leveldb_files{level=\"6\"} 0\n"
        "# HELP zkv_leveldb_compaction_seconds_total Time LevelDB spent in compactions (memtable "
        "flushes included).\n# TYPE zkv_leveldb_compaction_seconds_total counter\n"
        "zkv_leveldb_compaction_seconds_total 1.500000\n"
        "# HELP zkv_leveldb_compaction_read_bytes_total Bytes LevelDB's compactions read (MiB "
        "steps).\n# TYPE zkv_leveldb_compaction_read_bytes_total counter\n"
        "zkv_leveldb_compaction_read_bytes_total 1048576\n"
        "# HELP zkv_leveldb_compaction_written_bytes_total Bytes LevelDB's compactions and "
        "flushes wrote (MiB steps).\n# TYPE zkv_leveldb_compaction_written_bytes_total counter\n"
        "zkv_leveldb_compaction_written_bytes_total 2097152\n"
        "# HELP zkv_leveldb_write_duration_seconds Time each group commit's LevelDB write took "
        "(its fsync included with --sync).\n"
        "# TYPE zkv_leveldb_write_duration_seconds histogram\n"
        "zkv_leveldb_write_duration_seconds_bucket{le=\"5e-05\"} 1\n"
        "zkv_leveldb_write_duration_seconds_bucket{le=\"0.0001\"} 1\n"
        "zkv_leveldb_write_duration_seconds_bucket{le=\"0.00025\"} 1\n"
        "zkv_leveldb_write_duration_seconds_bucket{le=\"0.0005\"} 1\n"
        "zkv_leveldb_write_duration_seconds_bucket{le=\"0.001\"} 1\n"
        "zkv_leveldb_write_duration_seconds_bucket{le=\"0.0025\"} 3\n"
        "zkv_leveldb_write_duration_seconds_bucket{le=\"0.005\"} 3\n"
        "zkv_leveldb_write_duration_seconds_bucket{le=\"0.01\"} 3\n"
        "zkv_leveldb_write_duration_seconds_bucket{le=\"0.025\"} 3\n"
        "zkv_leveldb_write_duration_seconds_bucket{le=\"0.05\"} 3\n"
        "zkv_leveldb_write_duration_seconds_bucket{le=\"0.1\"} 3\n"
        "zkv_leveldb_write_duration_seconds_bucket{le=\"0.25\"} 3\n"
        "zkv_leveldb_write_duration_seconds_bucket{le=\"0.5\"} 4\n"
        "zkv_leveldb_write_duration_seconds_bucket{le=\"1\"} 4\n"
        "zkv_leveldb_write_duration_seconds_bucket{le=\"5\"} 4\n"
        "zkv_leveldb_write_duration_seconds_bucket{le=\"+Inf\"} 4\n"
        "zkv_leveldb_write_duration_seconds_sum 0.303240\n"
        "zkv_leveldb_write_duration_seconds_count 4\n"
        "# HELP zkv_leveldb_write_waits_total LevelDB writes that took 1 ms or more, by the likely "
        "cause: level 0 at LevelDB's slowdown (8 files) or stop (12) trigger, a full memtable "
        "waiting for its flush, or the fsync of --sync.\n"
        "# TYPE zkv_leveldb_write_waits_total counter\n"
        "zkv_leveldb_write_waits_total{cause=\"level0_slowdown\"} 1\n"
        "zkv_leveldb_write_waits_total{cause=\"level0_stop\"} 1\n"
        "zkv_leveldb_write_waits_total{cause=\"memtable\"} 0\n"
        "zkv_leveldb_write_waits_total{cause=\"sync\"} 1\n"
        "# HELP zkv_leveldb_write_wait_seconds_total Time of the LevelDB writes that took 1 ms or "
        "more, by the same causes.\n"
        "# TYPE zkv_leveldb_write_wait_seconds_total counter\n"
        "zkv_leveldb_write_wait_seconds_total{cause=\"level0_slowdown\"} 0.001200\n"
        "zkv_leveldb_write_wait_seconds_total{cause=\"level0_stop\"} 0.300000\n"
        "zkv_leveldb_write_wait_seconds_total{cause=\"memtable\"} 0.000000\n"
        "zkv_leveldb_write_wait_seconds_total{cause=\"sync\"} 0.002000\n"
        "# HELP zkv_leveldb_write_max_seconds The longest LevelDB write since start.\n"
        "# TYPE zkv_leveldb_write_max_seconds gauge\n"
        "zkv_leveldb_write_max_seconds 0.300000\n"
        "# HELP zkv_leveldb_sync 1 when every group commit fsyncs LevelDB's log before answering "
        "(--sync), else 0.\n"
        "# TYPE zkv_leveldb_sync gauge\n"
        "zkv_leveldb_sync 1\n"
        "# HELP zkv_value_log_bytes Bytes of the value log's files: the values above "
        "--inline-max-bytes, live or not yet collected.\n"
        "# TYPE zkv_value_log_bytes gauge\nzkv_value_log_bytes 150000000\n"
        "# HELP zkv_value_log_files Files of the value log.\n"
        "# TYPE zkv_value_log_files gauge\nzkv_value_log_files 3\n"
        "# HELP zkv_value_log_live_bytes Live bytes of the value log as last measured (files not "
        "yet measured count whole): zkv_value_log_bytes over this is its space amplification.\n"
        "# TYPE zkv_value_log_live_bytes gauge\nzkv_value_log_live_bytes 90000000\n"
        "# HELP zkv_value_log_appended_bytes_total Bytes writes appended to the value log since "
        "start.\n"
        "# TYPE zkv_value_log_appended_bytes_total counter\n"
        "zkv_value_log_appended_bytes_total 400000000\n"
        "# HELP zkv_value_log_gc_read_bytes_total Bytes the value log's garbage collection read "
        "(measures and moves).\n"
        "# TYPE zkv_value_log_gc_read_bytes_total counter\n"
        "zkv_value_log_gc_read_bytes_total 300000000\n"
        "# HELP zkv_value_log_gc_moved_bytes_total Bytes of live values the garbage collection "
        "moved out of mostly dead files.\n"
        "# TYPE zkv_value_log_gc_moved_bytes_total counter\n"
        "zkv_value_log_gc_moved_bytes_total 20000000\n"
        "# HELP zkv_value_log_gc_files_removed_total Value-log files the garbage collection "
        "deleted.\n"
        "# TYPE zkv_value_log_gc_files_removed_total counter\n"
        "zkv_value_log_gc_files_removed_total 4\n"
        "# HELP zkv_value_log_gc_pinned_total Measures that found a file a range's log still "
        "points into (kept for replicas that catch up; --log-retain-mb bounds how long).\n"
        "# TYPE zkv_value_log_gc_pinned_total counter\nzkv_value_log_gc_pinned_total 2\n"
        "# HELP zkv_value_log_gc_files_waiting Files whose live values were moved, not yet "
        "deleted: until the moves are on disk (a background fdatasync) and no snapshot being "
        "sent may still read them.\n"
        "# TYPE zkv_value_log_gc_files_waiting gauge\nzkv_value_log_gc_files_waiting 1\n"
        "# HELP zkv_value_log_writer_bytes_total Bytes of the value log written by its writer "
        "thread while the loop staged more (batches past 512 KiB).\n"
        "# TYPE zkv_value_log_writer_bytes_total counter\n"
        "zkv_value_log_writer_bytes_total 250000000\n"
        "# HELP zkv_value_log_writer_wait_seconds_total Time group commits waited for the writer "
        "thread to finish their batch.\n"
        "# TYPE zkv_value_log_writer_wait_seconds_total counter\n"
        "zkv_value_log_writer_wait_seconds_total 1.250000\n"
        "# HELP process_cpu_seconds_total User and system CPU time spent in seconds.\n"
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.500000\n"
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1000\n"
        "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
        "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes 2000\n"
        "# HELP process_open_fds Number of open file descriptors.\n"
        "# TYPE process_open_fds gauge\nprocess_open_fds 7\n"
        "# HELP process_max_fds Maximum number of open file descriptors.\n"
        "# TYPE process_max_fds gauge\nprocess_max_fds 1024\n"
        "# HELP process_start_time_seconds Start time of the process since unix epoch in "
        "seconds.\n# TYPE process_start_time_seconds gauge\n"
        "process_start_time_seconds 1700000000.123000\n");
    (void)at;
}

static const char SMALL_TEXT[] =
    "# HELP zkv_node_info Always 1; the node id as a label.\n"
    "# TYPE zkv_node_info gauge\n"
    "zkv_node_info{node=\"node-1\"} 1\n"
    "# HELP zkv_requests_total Requests answered on the listen port, by operation and answer "
    "status.\n"
    "# TYPE zkv_requests_total counter\n"
    "zkv_requests_total{op=\"get\",status=\"ok\"} 5\n"
    "zkv_requests_total{op=\"get\",status=\"not_found\"} 2\n"
    "zkv_requests_total{op=\"get\",status=\"not_owner\"} 0\n"
    "zkv_requests_total{op=\"get\",status=\"unavailable\"} 0\n"
    "zkv_requests_total{op=\"get\",status=\"too_large\"} 0\n"
    "zkv_requests_total{op=\"get\",status=\"bad_request\"} 0\n"
    "zkv_requests_total{op=\"get\",status=\"timeout\"} 0\n"
    "zkv_requests_total{op=\"get\",status=\"internal\"} 0\n"
    "zkv_requests_total{op=\"get\",status=\"other\"} 0\n"
    "zkv_requests_total{op=\"put\",status=\"ok\"} 7\n"
    "zkv_requests_total{op=\"put\",status=\"not_found\"} 0\n"
    "zkv_requests_total{op=\"put\",status=\"not_owner\"} 0\n"
    "zkv_requests_total{op=\"put\",status=\"unavailable\"} 0\n"
    "zkv_requests_total{op=\"put\",status=\"too_large\"} 0\n"
    "zkv_requests_total{op=\"put\",status=\"bad_request\"} 0\n"
    "zkv_requests_total{op=\"put\",status=\"timeout\"} 0\n"
    "zkv_requests_total{op=\"put\",status=\"internal\"} 0\n"
    "zkv_requests_total{op=\"put\",status=\"other\"} 0\n"
    "zkv_requests_total{op=\"delete\",status=\"ok\"} 0\n"
    "zkv_requests_total{op=\"delete\",status=\"not_found\"} 0\n"
    "zkv_requests_total{op=\"delete\",status=\"not_owner\"} 0\n"
    "zkv_requests_total{op=\"delete\",status=\"unavailable\"} 0\n"
    "zkv_requests_total{op=\"delete\",status=\"too_large\"} 0\n"
    "zkv_requests_total{op=\"delete\",status=\"bad_request\"} 0\n"
    "zkv_requests_total{op=\"delete\",status=\"timeout\"} 0\n"
    "zkv_requests_total{op=\"delete\",status=\"internal\"} 0\n"
    "zkv_requests_total{op=\"delete\",status=\"other\"} 0\n"
    "zkv_requests_total{op=\"scan\",status=\"ok\"} 0\n"
    "zkv_requests_total{op=\"scan\",status=\"not_found\"} 0\n"
    "zkv_requests_total{op=\"scan\",status=\"not_owner\"} 0\n"
    "zkv_requests_total{op=\"scan\",status=\"unavailable\"} 0\n"
    "zkv_requests_total{op=\"scan\",status=\"too_large\"} 0\n"
    "zkv_requests_total{op=\"scan\",status=\"bad_request\"} 0\n"
    "zkv_requests_total{op=\"scan\",status=\"timeout\"} 0\n"
    "zkv_requests_total{op=\"scan\",status=\"internal\"} 0\n"
    "zkv_requests_total{op=\"scan\",status=\"other\"} 0\n"
    "zkv_requests_total{op=\"other\",status=\"ok\"} 0\n"
    "zkv_requests_total{op=\"other\",status=\"not_found\"} 0\n"
    "zkv_requests_total{op=\"other\",status=\"not_owner\"} 0\n"
    "zkv_requests_total{op=\"other\",status=\"unavailable\"} 0\n"
    "zkv_requests_total{op=\"other\",status=\"too_large\"} 0\n"
    "zkv_requests_total{op=\"other\",status=\"bad_request\"} 1\n"
    "zkv_requests_total{op=\"other\",status=\"timeout\"} 0\n"
    "zkv_requests_total{op=\"other\",status=\"internal\"} 0\n"
    "zkv_requests_total{op=\"other\",status=\"other\"} 0\n"
    "# HELP zkv_connections_accepted_total Connections accepted on the listen port.\n"
    "# TYPE zkv_connections_accepted_total counter\n"
    "zkv_connections_accepted_total 3\n"
    "# HELP zkv_connections_open Connections open on the listen port.\n"
    "# TYPE zkv_connections_open gauge\n"
    "zkv_connections_open 2\n"
    "# HELP zkv_connections_max Client connections allowed (--max-conns, as the open-file limit "
    "allows).\n"
    "# TYPE zkv_connections_max gauge\n"
    "zkv_connections_max 100\n"
    "# HELP zkv_connections_refused_total Connections refused: too many connections, or accept "
    "failed.\n"
    "# TYPE zkv_connections_refused_total counter\n"
    "zkv_connections_refused_total 40\n"
    "# HELP zkv_connections_timed_out_total Connections closed by a timeout, by which one.\n"
    "# TYPE zkv_connections_timed_out_total counter\n"
    "zkv_connections_timed_out_total{timeout=\"idle\"} 41\n"
    "zkv_connections_timed_out_total{timeout=\"request\"} 42\n"
    "# HELP zkv_connections_paused Connections not read now because their answers queue up.\n"
    "# TYPE zkv_connections_paused gauge\n"
    "zkv_connections_paused 43\n"
    "# HELP zkv_connection_pauses_total Times a connection stopped being read because its "
    "answers queued up.\n"
    "# TYPE zkv_connection_pauses_total counter\n"
    "zkv_connection_pauses_total 44\n"
    "# HELP zkv_output_queued_bytes Answer bytes queued for connections of the listen port.\n"
    "# TYPE zkv_output_queued_bytes gauge\n"
    "zkv_output_queued_bytes 45\n"
    "# HELP zkv_connection_read_bytes_total Bytes read from connections of the listen port.\n"
    "# TYPE zkv_connection_read_bytes_total counter\n"
    "zkv_connection_read_bytes_total 1000\n"
    "# HELP zkv_connection_written_bytes_total Bytes handed to the sockets of connections of the "
    "listen port.\n"
    "# TYPE zkv_connection_written_bytes_total counter\n"
    "zkv_connection_written_bytes_total 2000\n"
    "# HELP zkv_reads_held_total Owner reads whose answer waited for the write it reflects to be "
    "committed.\n"
    "# TYPE zkv_reads_held_total counter\n"
    "zkv_reads_held_total 6\n"
    "# HELP zkv_store_commits_total Group commits (LevelDB write batches) that wrote something.\n"
    "# TYPE zkv_store_commits_total counter\n"
    "zkv_store_commits_total 4\n"
    "# HELP zkv_store_early_writes_total LevelDB writes of a batch's records made ahead of its "
    "commit, behind the values the value log's writer thread took.\n"
    "# TYPE zkv_store_early_writes_total counter\n"
    "zkv_store_early_writes_total 3\n"
    "# HELP zkv_store_log_reads_total Range log reads, by where they were answered from.\n"
    "# TYPE zkv_store_log_reads_total counter\n"
    "zkv_store_log_reads_total{source=\"memory\"} 20\n"
    "zkv_store_log_reads_total{source=\"leveldb\"} 21\n"
    "# HELP zkv_rowcache_enabled 1 when the GET row cache is on (--cache-mb).\n"
    "# TYPE zkv_rowcache_enabled gauge\n"
    "zkv_rowcache_enabled 1\n"
    "# HELP zkv_rowcache_hits_total GETs answered by the row cache.\n"
    "# TYPE zkv_rowcache_hits_total counter\n"
    "zkv_rowcache_hits_total 10\n"
    "# HELP zkv_rowcache_misses_total GETs the row cache did not answer.\n"
    "# TYPE zkv_rowcache_misses_total counter\n"
    "zkv_rowcache_misses_total 11\n"
    "# HELP zkv_rowcache_inserts_total Entries added to the row cache.\n"
    "# TYPE zkv_rowcache_inserts_total counter\n"
    "zkv_rowcache_inserts_total 12\n"
    "# HELP zkv_rowcache_evictions_total Row cache entries evicted to make room.\n"
    "# TYPE zkv_rowcache_evictions_total counter\n"
    "zkv_rowcache_evictions_total 13\n"
    "# HELP zkv_rowcache_invalidations_total Row cache entries invalidated.\n"
    "# TYPE zkv_rowcache_invalidations_total counter\n"
    "zkv_rowcache_invalidations_total 14\n"
    "# HELP zkv_rowcache_entries Entries in the row cache.\n"
    "# TYPE zkv_rowcache_entries gauge\n"
    "zkv_rowcache_entries 15\n"
    "# HELP zkv_rowcache_bytes Bytes charged to the row cache.\n"
    "# TYPE zkv_rowcache_bytes gauge\n"
    "zkv_rowcache_bytes 16\n"
    "# HELP zkv_rowcache_budget_bytes Row cache budget in bytes.\n"
    "# TYPE zkv_rowcache_budget_bytes gauge\n"
    "zkv_rowcache_budget_bytes 17\n"
    "# HELP zkv_replication_appends_sent_total APPEND frames sent to replicas (heartbeats "
    "included).\n"
    "# TYPE zkv_replication_appends_sent_total counter\n"
    "zkv_replication_appends_sent_total 30\n"
    "# HELP zkv_replication_appends_acked_total APPEND frames replicas answered OK.\n"
    "# TYPE zkv_replication_appends_acked_total counter\n"
    "zkv_replication_appends_acked_total 29\n"
    "# HELP zkv_reclaim_deleted_keys_total Data keys deleted because this node no longer holds "
    "their range.\n"
    "# TYPE zkv_reclaim_deleted_keys_total counter\n"
    "zkv_reclaim_deleted_keys_total 40\n"
    "# HELP zkv_reclaim_forgotten_ranges_total Range logs and positions deleted because this "
    "node no longer holds the range.\n"
    "# TYPE zkv_reclaim_forgotten_ranges_total counter\n"
    "zkv_reclaim_forgotten_ranges_total 41\n"
    "# HELP zkv_reclaim_compactions_total Key ranges compacted after their data was deleted.\n"
    "# TYPE zkv_reclaim_compactions_total counter\n"
    "zkv_reclaim_compactions_total 42\n"
    "# HELP zkv_reclaim_pending_parts Key ranges this node no longer holds whose data may still "
    "be on disk.\n"
    "# TYPE zkv_reclaim_pending_parts gauge\n"
    "zkv_reclaim_pending_parts 43\n"
    "# HELP zkv_reclaim_pending_ranges Ranges this node no longer holds whose log or position is "
    "still on disk.\n"
    "# TYPE zkv_reclaim_pending_ranges gauge\n"
    "zkv_reclaim_pending_ranges 44\n"
    "# HELP zkv_owned_ranges Ranges this node owns in its current map.\n"
    "# TYPE zkv_owned_ranges gauge\n"
    "zkv_owned_ranges 1\n"
    "# HELP zkv_range_epoch Epoch of the owned range in the current map.\n"
    "# TYPE zkv_range_epoch gauge\n"
    "zkv_range_epoch{range=\"r0001\"} 3\n"
    "# HELP zkv_range_committed_seq Last log sequence number of the range durable on this node.\n"
    "# TYPE zkv_range_committed_seq gauge\n"
    "zkv_range_committed_seq{range=\"r0001\"} 100\n"
    "# HELP zkv_range_commit_point Highest sequence number whose write answers may be released "
    "(acked by the in_sync replicas).\n"
    "# TYPE zkv_range_commit_point gauge\n"
    "zkv_range_commit_point{range=\"r0001\"} 98\n"
    "# HELP zkv_range_in_sync_replicas Replicas of the range confirmed in_sync (owner not "
    "counted).\n"
    "# TYPE zkv_range_in_sync_replicas gauge\n"
    "zkv_range_in_sync_replicas{range=\"r0001\"} 1\n"
    "# HELP zkv_range_log_first_seq First sequence number of the range's log kept on this node "
    "(0: none): a replica behind it catches up by a snapshot.\n"
    "# TYPE zkv_range_log_first_seq gauge\n"
    "zkv_range_log_first_seq{range=\"r0001\"} 42\n"
    "# HELP zkv_replica_in_sync 1 when the replica is confirmed in_sync for the range, else 0.\n"
    "# TYPE zkv_replica_in_sync gauge\n"
    "zkv_replica_in_sync{range=\"r0001\",replica=\"node-2\"} 1\n"
    "zkv_replica_in_sync{range=\"r0001\",replica=\"node-3\"} 0\n"
    "# HELP zkv_replica_lag_entries Log entries the replica's acknowledged position is behind this "
    "node's committed seq.\n"
    "# TYPE zkv_replica_lag_entries gauge\n"
    "zkv_replica_lag_entries{range=\"r0001\",replica=\"node-2\"} 2\n"
    "zkv_replica_lag_entries{range=\"r0001\",replica=\"node-3\"} 40\n";

/* Renders s into a NUL-terminated string in b. */
static const char *render(const zkv_metrics_snapshot *s, zkv_buf *b)
{
    zkv_buf_init(b);
    CU_ASSERT_EQUAL_FATAL(zkv_metrics_render(s, b), 0);
    CU_ASSERT_EQUAL_FATAL(zkv_buf_append(b, "", 1), 0);
    return (const char *)b->data;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_exact_text(void)
{
    zkv_metrics_snapshot s;
    fill_small(&s);
    zkv_buf b;
    const char *text = render(&s, &b);
    /* SMALL_TEXT with the new families where they go */
    static char want[sizeof SMALL_TEXT + 20480], new_b[16384];
    small_new_b(new_b, sizeof new_b);
    const char *a = strstr(SMALL_TEXT, "# HELP zkv_requests_total");
    const char *c = strstr(SMALL_TEXT, "# HELP zkv_range_epoch");
    CU_ASSERT_FATAL(a && c);
    snprintf(want, sizeof want, "%.*s%s%.*s%s%s", (int)(a - SMALL_TEXT), SMALL_TEXT, SMALL_NEW_A,
             (int)(c - a), a, new_b, c);
    if (strcmp(text, want) != 0) {
        size_t i = 0;
        while (text[i] && text[i] == want[i])
            i++;
        fprintf(stderr, "\nfirst difference at %zu:\n got: %.160s\nwant: %.160s\n", i, text + i,
                want + i);
    }
    CU_ASSERT_STRING_EQUAL(text, want);
    zkv_buf_free(&b);
    zkv_metrics_snapshot_free(&s);
}

static void test_escaping(void)
{
    zkv_metrics_snapshot s;
    fill_small(&s);
    s.node_id = "a\\b\"c\nd";
    snprintf(s.ranges[0].replicas[1].node_id, sizeof(s.ranges[0].replicas[1].node_id), "x\"y");
    zkv_buf b;
    const char *text = render(&s, &b);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "zkv_node_info{node=\"a\\\\b\\\"c\\nd\"} 1\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(text, "zkv_replica_lag_entries{range=\"r0001\",replica=\"x\\\"y\"} 40\n"));
    zkv_buf_free(&b);
    zkv_metrics_snapshot_free(&s);
}

static void test_empty(void)
{
    zkv_metrics_snapshot s = {0};
    zkv_buf b;
    const char *text = render(&s, &b);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "zkv_node_info{node=\"\"} 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "zkv_owned_ranges 0\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "# TYPE zkv_range_epoch gauge\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "# TYPE zkv_replica_lag_entries gauge\n"));
    CU_ASSERT_PTR_NULL(strstr(text, "{range="));
    CU_ASSERT_EQUAL(count(text, "zkv_requests_total{"), (size_t)ZKV_MOP_COUNT * ZKV_MST_COUNT);
    CU_ASSERT_EQUAL(count(text, "# HELP "), count(text, "# TYPE "));
    zkv_buf_free(&b);
}

#define MANY 3000

static void test_many_ranges(void)
{
    zkv_metrics_snapshot s = {0};
    s.node_id = "node-1";
    for (int i = 0; i < MANY; i++) {
        zkv_metrics_range *r = zkv_metrics_add_range(&s);
        if (!r) {
            CU_FAIL("out of memory");
            break;
        }
        snprintf(r->id, sizeof(r->id), "r%05d", i);
        r->committed_seq = (uint64_t)i * 1000;
        r->n_replicas = 2;
        for (int j = 0; j < 2; j++) {
            snprintf(r->replicas[j].node_id, sizeof(r->replicas[j].node_id), "node-%d", j + 2);
            r->replicas[j].lag_entries = (uint64_t)i + (uint64_t)j;
        }
    }
    zkv_buf b;
    const char *text = render(&s, &b);
    CU_ASSERT_EQUAL(count(text, "zkv_range_committed_seq{"), MANY);
    CU_ASSERT_EQUAL(count(text, "zkv_replica_lag_entries{"), (size_t)2 * MANY);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "zkv_owned_ranges 3000\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "zkv_range_committed_seq{range=\"r02999\"} 2999000\n"));
    const char *last = "zkv_replica_lag_entries{range=\"r02999\",replica=\"node-3\"} 3000\n";
    size_t tl = strlen(text), ll = strlen(last);
    CU_ASSERT_FATAL(tl > ll);
    CU_ASSERT_STRING_EQUAL(text + tl - ll, last);
    zkv_buf_free(&b);
    zkv_metrics_snapshot_free(&s);
}

static void test_mapping(void)
{
    CU_ASSERT_EQUAL(zkv_metrics_op_of(ZKV__OP__GET), ZKV_MOP_GET);
    CU_ASSERT_EQUAL(zkv_metrics_op_of(ZKV__OP__PUT), ZKV_MOP_PUT);
    CU_ASSERT_EQUAL(zkv_metrics_op_of(ZKV__OP__DELETE), ZKV_MOP_DELETE);
    CU_ASSERT_EQUAL(zkv_metrics_op_of(ZKV__OP__SCAN), ZKV_MOP_SCAN);
    CU_ASSERT_EQUAL(zkv_metrics_op_of(ZKV__OP__HELLO), ZKV_MOP_OTHER);
    CU_ASSERT_EQUAL(zkv_metrics_op_of(ZKV__OP__APPEND), ZKV_MOP_OTHER);
    CU_ASSERT_EQUAL(zkv_metrics_status_of(ZKV__STATUS__OK), ZKV_MST_OK);
    CU_ASSERT_EQUAL(zkv_metrics_status_of(ZKV__STATUS__NOT_FOUND), ZKV_MST_NOT_FOUND);
    CU_ASSERT_EQUAL(zkv_metrics_status_of(ZKV__STATUS__NOT_OWNER), ZKV_MST_NOT_OWNER);
    CU_ASSERT_EQUAL(zkv_metrics_status_of(ZKV__STATUS__UNAVAILABLE), ZKV_MST_UNAVAILABLE);
    CU_ASSERT_EQUAL(zkv_metrics_status_of(ZKV__STATUS__TOO_LARGE), ZKV_MST_TOO_LARGE);
    CU_ASSERT_EQUAL(zkv_metrics_status_of(ZKV__STATUS__BAD_REQUEST), ZKV_MST_BAD_REQUEST);
    CU_ASSERT_EQUAL(zkv_metrics_status_of(ZKV__STATUS__TIMEOUT), ZKV_MST_TIMEOUT);
    CU_ASSERT_EQUAL(zkv_metrics_status_of(ZKV__STATUS__INTERNAL), ZKV_MST_INTERNAL);
    CU_ASSERT_EQUAL(zkv_metrics_status_of(ZKV__STATUS__LOG_MISMATCH), ZKV_MST_OTHER);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server metrics", NULL, NULL);
    CU_add_test(s, "exact text of a small snapshot", test_exact_text);
    CU_add_test(s, "label escaping", test_escaping);
    CU_add_test(s, "empty snapshot", test_empty);
    CU_add_test(s, "many ranges, no truncation", test_many_ranges);
    CU_add_test(s, "op and status mapping", test_mapping);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
