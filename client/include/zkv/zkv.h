/* zkv.h: libzkv, the smart client of a zkv cluster.
 *
 * Rules of this header:
 * - Every type is opaque and comes with a create/free pair; every *_free(NULL) is a no-op.
 * - Errors: functions return an int status: ZKV_OK (0) on success, a negative ZKV_E* code
 *   on failure (ZKV_ENOTFOUND for a missing key). A human-readable reason for the last
 *   failure on the calling thread is returned by zkv_last_error(); zkv_strerror(code)
 *   names a code. The library never prints.
 * - Ownership: an out-pointer the library fills (zkv_value **, zkv_scan **, char **) is
 *   the caller's and is released with the matching *_free (zkv_free for char *).
 * - Threads: a zkv_client is thread-safe: one handle may be shared by all the threads of
 *   a web server. Options, values, scans and batches are not: use each from one thread.
 * - Timeouts: timeout_ms 0 means the client's default (zkv_options_set_timeout).
 *
 * The client reads the range map from ZooKeeper once, watches the map znode, and sends
 * each request straight to the node that owns the key, over one reused connection per
 * node. A NOT_OWNER answer refreshes the map and retries within the call's time budget.
 */
#ifndef ZKV_ZKV_H
#define ZKV_ZKV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ZKV_BUILDING_LIBRARY)
#define ZKV_EXPORT __attribute__((visibility("default")))
#else
#define ZKV_EXPORT
#endif

/* Status codes. */
enum {
    ZKV_OK = 0,
    ZKV_ENOTFOUND = -1,    /* the key does not exist */
    ZKV_ENOTOWNER = -2,    /* routing did not settle within the call's time */
    ZKV_EUNAVAILABLE = -3, /* the key's range has no serving owner (writes refused) */
    ZKV_ETOOLARGE = -4,    /* key or value over the cluster's limits */
    ZKV_EBADREQUEST = -5,  /* the node refused the request as malformed */
    ZKV_ETIMEOUT = -6,     /* no answer within the call's timeout */
    ZKV_EINTERNAL = -7,    /* the node failed internally (storage error) */
    ZKV_ECONNECT = -8,     /* the owner node could not be reached */
    ZKV_EZOOKEEPER = -9,   /* ZooKeeper could not be reached or read */
    ZKV_ENOCLUSTER = -10,  /* no such cluster in ZooKeeper, or a node of another cluster */
    ZKV_ENOMEM = -11,
    ZKV_EINVAL = -12,     /* bad argument */
    ZKV_EPROTOCOL = -13,  /* the peer sent something that is not the zkv protocol */
    ZKV_EAUTH = -14,      /* the node wants a credential this client lacks or it refused, or
                             TLS failed: a certificate refused by either side, or one side
                             without TLS */
    ZKV_ECONDITION = -15, /* a conditional write's condition did not hold (zkv_put_if) */
};

/* Request flags (bit mask), for the flags argument of the calls below.
 * Reads go to the range's owner, which answers only committed writes (applied by every
 * in-sync replica: they survive any failover); a read of a key whose newest write is
 * still being replicated waits for it, within the call's timeout (docs/guarantees.md).
 * When the owner is unreachable or the range has none, a read falls back to a replica
 * and the value comes back flagged stale (zkv_value_stale) with the range position it
 * reflects (zkv_value_position); ZKV_FLAG_OWNER_ONLY turns the fallback off. A stale
 * value may be older than the newest committed one, or a write that is never committed
 * and is discarded in a failover. Writes never fall back: they fail fast with
 * ZKV_EUNAVAILABLE (about a second, zkv_options_set_failfast) until a new owner serves. */
enum {
    ZKV_FLAG_NONE = 0,
    /* read from the nearest replica on purpose: stale-flagged, may lag, and may return a
     * write that is never committed (lost in a failover) */
    ZKV_FLAG_READ_REPLICA = 1 << 0,
    /* acknowledge a write once the owner alone has it (lost if the owner dies before a
     * replica applied it); owner reads still see it only once it is committed */
    ZKV_FLAG_ACK_OWNER = 1 << 1,
    ZKV_FLAG_OWNER_ONLY = 1 << 2, /* no replica fallback for reads */
    /* read from the nearest copy (docs/api.md, "Replica reads"): one in the client's zone
     * (zkv_options_set_zone), the owner before its replicas, else the owner; stale-flagged
     * when a replica answered */
    ZKV_FLAG_READ_NEAREST = 1 << 3,
    /* hedged read: ask the owner and, if it has not answered within the hedge delay
     * (zkv_options_set_hedge_delay, 10 ms), a replica too; the first answer wins, flagged
     * stale when it is the replica's */
    ZKV_FLAG_HEDGE = 1 << 4,
};

typedef struct zkv_options zkv_options;
typedef struct zkv_client zkv_client;
typedef struct zkv_value zkv_value;
typedef struct zkv_scan zkv_scan;
typedef struct zkv_batch zkv_batch;

/* The version of a write: the range epoch and the sequence number in its range log. */
typedef struct zkv_version {
    uint64_t epoch;
    uint64_t seq;
} zkv_version;

/* Name of a status code ("ZKV_ENOTFOUND: key not found"). Never NULL; static storage. */
ZKV_EXPORT const char *zkv_strerror(int code);
/* Reason for the last failed call on this thread ("" if none). Valid until the next call
 * of this library on this thread. */
ZKV_EXPORT const char *zkv_last_error(void);
/* Frees memory returned as char * by this library. */
ZKV_EXPORT void zkv_free(void *p);
/* Library version string ("0.1.0"). */
ZKV_EXPORT const char *zkv_version_string(void);

/* --- options ------------------------------------------------------------------------ */
/* Defaults: zk "127.0.0.1:2181" (or $ZKV_ZK), cluster "default" (or $ZKV_CLUSTER),
 * connect timeout 5000 ms, request timeout 5000 ms, ZooKeeper session timeout 10000 ms,
 * max key 4096 bytes, max value 1 MiB. Returns NULL on ENOMEM. */
ZKV_EXPORT zkv_options *zkv_options_create(void);
ZKV_EXPORT void zkv_options_free(zkv_options *o);
/* String setters copy their argument. Return ZKV_OK or ZKV_EINVAL/ZKV_ENOMEM. */
ZKV_EXPORT int zkv_options_set_zk(zkv_options *o, const char *connect);
ZKV_EXPORT int zkv_options_set_cluster(zkv_options *o, const char *name);
/* Bound on reaching ZooKeeper (and reading the map) in zkv_client_create. */
ZKV_EXPORT int zkv_options_set_connect_timeout(zkv_options *o, int ms);
/* Default time budget of each call, routing retries included. */
ZKV_EXPORT int zkv_options_set_timeout(zkv_options *o, int ms);
ZKV_EXPORT int zkv_options_set_session_timeout(zkv_options *o, int ms);
ZKV_EXPORT int zkv_options_set_max_value(zkv_options *o, size_t bytes);
/* Flags ORed into every call of clients made with these options. */
ZKV_EXPORT int zkv_options_set_default_flags(zkv_options *o, unsigned flags);
/* Name sent in HELLO, shown in node logs. */
ZKV_EXPORT int zkv_options_set_client_name(zkv_options *o, const char *name);
/* The credential presented to every node at HELLO: a client token of the nodes'
 * --auth-file (docs/security.md). Default: $ZKV_AUTH_TOKEN, else none. NULL or "" clears
 * it. A node that wants one refuses a client without it: ZKV_EAUTH. */
ZKV_EXPORT int zkv_options_set_auth(zkv_options *o, const char *token);
/* ZooKeeper digest credentials (USER:PASSWORD) for a cluster whose znodes only zkv's
 * programs may change (their --zk-auth): needed by zkv_admin_submit there; reads need
 * none. NULL or "" clears it. ZKV_EINVAL for a malformed one. */
ZKV_EXPORT int zkv_options_set_zk_auth(zkv_options *o, const char *user_password);
/* TLS to every node (docs/security.md): ca is the CA file (PEM) that signs the nodes'
 * certificates, each of which must name the address the client connects to; cert and key
 * (PEM files, both or neither) are the client's certificate for nodes started with
 * --tls-client-ca. Any of them turns TLS on; all NULL or "" is plain TCP. Defaults:
 * $ZKV_TLS_CA, $ZKV_TLS_CERT, $ZKV_TLS_KEY. The files are read by zkv_client_create and
 * zkv_async_create, whose error names a file that does not load. */
ZKV_EXPORT int zkv_options_set_tls(zkv_options *o, const char *ca, const char *cert,
                                   const char *key);
/* How long a write keeps trying an unreachable or missing owner (waiting for a new one
 * to be published) before it fails with ZKV_EUNAVAILABLE. Default 1000 ms. */
ZKV_EXPORT int zkv_options_set_failfast(zkv_options *o, int ms);
/* The client's zone (default: $ZKV_ZONE): reads that a replica may answer prefer copies
 * on nodes of the same zone (zkv-server --zone); ZKV_FLAG_READ_NEAREST reads from them. */
ZKV_EXPORT int zkv_options_set_zone(zkv_options *o, const char *zone);
/* A bound on how stale a replica's answer may be (docs/api.md, "Replica reads"): a replica
 * more than max_lag_ms behind its owner (time since it last held all the owner had), or
 * missing more than max_lag_entries entries the owner told it of, refuses the read, and the
 * client asks the next copy, the owner last. 0 leaves that measure unbounded; both 0 (the
 * default) is no bound. Reads then fail with ZKV_EUNAVAILABLE rather than answer staler. */
ZKV_EXPORT int zkv_options_set_max_staleness(zkv_options *o, uint64_t max_lag_ms,
                                             uint64_t max_lag_entries);
/* How long a ZKV_FLAG_HEDGE read waits for the owner before it also asks a replica.
 * Default 10 ms; 0 asks both at once. */
ZKV_EXPORT int zkv_options_set_hedge_delay(zkv_options *o, int ms);

/* --- client --------------------------------------------------------------------------- */
/* Connects to ZooKeeper, reads the cluster record and the range map. Fails within the
 * connect timeout with ZKV_EZOOKEEPER when ZooKeeper is down and ZKV_ENOCLUSTER when the
 * cluster does not exist. opts may be NULL (defaults); it is copied. */
ZKV_EXPORT int zkv_client_create(const zkv_options *opts, zkv_client **out);
/* Closes connections and the ZooKeeper session. Not concurrently with other calls. */
ZKV_EXPORT void zkv_client_free(zkv_client *c);

/* Reads key. On ZKV_OK *out is a new value (caller frees); on ZKV_ENOTFOUND *out is NULL. */
ZKV_EXPORT int zkv_get(zkv_client *c, const void *key, size_t klen, int timeout_ms, unsigned flags,
                       zkv_value **out);
/* Writes key = value. On success *ver (if not NULL) receives the write's version. */
ZKV_EXPORT int zkv_put(zkv_client *c, const void *key, size_t klen, const void *val, size_t vlen,
                       int timeout_ms, unsigned flags, zkv_version *ver);
/* Deletes key. Deleting a missing key is ZKV_OK (idempotent). */
ZKV_EXPORT int zkv_del(zkv_client *c, const void *key, size_t klen, int timeout_ms, unsigned flags,
                       zkv_version *ver);
/* Expiry (docs/api.md, "Expiry"): zkv_put_ttl writes key = value expiring ttl_ms after
 * its owner takes it (0: never). zkv_expire sets an existing key's expiry anew, ttl_ms from
 * now (0: it does not expire any more, as PERSIST); ZKV_ENOTFOUND for a missing key. An
 * expired key reads as missing at once, on the owner and on replicas, and is deleted in
 * the background; zkv_value_ttl says how long a value read has left. */
ZKV_EXPORT int zkv_put_ttl(zkv_client *c, const void *key, size_t klen, const void *val,
                           size_t vlen, uint64_t ttl_ms, int timeout_ms, unsigned flags,
                           zkv_version *ver);
ZKV_EXPORT int zkv_expire(zkv_client *c, const void *key, size_t klen, uint64_t ttl_ms,
                          int timeout_ms, unsigned flags, zkv_version *ver);
/* zkv_put with both: a condition (cond 0: none; else as zkv_put_if) and an expiry (ttl_ms
 * 0: none), as Redis's SET NX EX: a lock or a session that is taken only once and lasts a
 * while. */
ZKV_EXPORT int zkv_put_ex(zkv_client *c, const void *key, size_t klen, const void *val, size_t vlen,
                          int cond, zkv_version expected, uint64_t ttl_ms, int timeout_ms,
                          unsigned flags, zkv_version *ver);

/* Conditional writes (docs/api.md, "Conditional writes"): the write is applied only if
 * the condition holds when the key's owner takes it, atomically with the write.
 *   ZKV_IF_ABSENT   the key does not exist (expected is ignored)
 *   ZKV_IF_VERSION  the key's version is expected (0:0: the key does not exist)
 * On ZKV_OK *ver (if not NULL) is the write's version; on ZKV_ECONDITION it is the key's
 * version now (0:0 when it does not exist), for the next attempt of a compare-and-set
 * loop. A retry after a lost answer (a connection dropped, a timeout, a failover) reports
 * the true outcome: each conditional write carries the client's id and a request number
 * that the range's copies remember for ten minutes (a node restart forgets them). */
enum { ZKV_IF_ABSENT = 1, ZKV_IF_VERSION = 2 };
ZKV_EXPORT int zkv_put_if(zkv_client *c, const void *key, size_t klen, const void *val, size_t vlen,
                          int cond, zkv_version expected, int timeout_ms, unsigned flags,
                          zkv_version *ver);
/* Deletes key only if its version is expected (ZKV_IF_VERSION); as zkv_put_if. A missing
 * key fails with ZKV_ECONDITION unless expected is 0:0. */
ZKV_EXPORT int zkv_del_if(zkv_client *c, const void *key, size_t klen, zkv_version expected,
                          int timeout_ms, unsigned flags, zkv_version *ver);
/* Returns up to limit pairs with start <= key < end in key order, across ranges.
 * Empty start/end (len 0) mean unbounded; limit 0 means 1000. Each page is a read: when
 * its range's owner is down it falls back to a replica as zkv_get does (zkv_scan_stale
 * then says so). */
ZKV_EXPORT int zkv_scan_range(zkv_client *c, const void *start, size_t slen, const void *end,
                              size_t elen, size_t limit, int timeout_ms, unsigned flags,
                              zkv_scan **out);

/* A scan (docs/api.md, "Scans"): keys in [start, end) that begin with prefix (each bound
 * optional: NULL/0), in key order or reversed, with their values or keys only, at most
 * limit of them (0: 1000). When the limit stopped it before the end, zkv_scan_more is 1
 * and zkv_scan_token gives a token: zkv_scan_run with the token (and only limit besides) continues
 * exactly after the last key returned, in the same direction, within the same bounds,
 * across splits, merges and moves of ranges. Each page is a read (replica fallback and
 * staleness as zkv_scan_range). */
typedef struct zkv_scan_args {
    const void *start; /* keys >= start */
    size_t slen;
    const void *end; /* keys < end */
    size_t elen;
    const void *prefix; /* keys that begin with prefix */
    size_t plen;
    size_t limit;
    int reverse;       /* descending key order */
    int keys_only;     /* no values: zkv_scan_value gives empty ones */
    const void *token; /* continue the scan that gave this token */
    size_t tlen;
} zkv_scan_args;
ZKV_EXPORT int zkv_scan_run(zkv_client *c, const zkv_scan_args *args, int timeout_ms,
                            unsigned flags, zkv_scan **out);

/* Cluster description as compact JSON, read fresh from ZooKeeper:
 * {"cluster":"default","cluster_id":"...","map_version":N,"replicas":R,
 *  "ranges":[{"id","start","end","owner","replicas":[..],"in_sync":[..],"epoch",
 *             "seq":S,"lag":{"node-2":{"seq_behind":N,"lag_ms":T,"connected":true}},
 *             "bytes":B,"writes_per_s":W}...],
 *  "nodes":[{"id","addr","incarnation","zone","version","owned":N,"replica_of":N}...]}
 * Keys are escaped as in ZooKeeper. "seq" and "lag" come from asking each owner
 * (RANGE_STATUS) and are absent for an owner that does not answer; "bytes" (size on disk,
 * estimated) and "writes_per_s" from the owner's last report (stats/<node>, every
 * --stats-interval-ms), absent until it made one. *json is the
 * caller's (zkv_free). */
ZKV_EXPORT int zkv_describe(zkv_client *c, char **json);
/* Routing version of the cached map. */
ZKV_EXPORT int64_t zkv_client_map_version(zkv_client *c);

/* --- looking at nodes (docs/operations.md, "Looking at nodes") -------------------------
 * zkv_nodes: the live nodes of the cached map as a JSON array
 *   [{"id","address","zone","version","leaving"}...]; *json is the caller's (zkv_free).
 * zkv_ping: one PING to the live node node_id over the client's connection to it (opened
 *   first if there is none, within the timeout); *rtt_us is the round trip. ZKV_EINVAL for a
 *   node not in the map; timeout_ms 0: the client's.
 * zkv_info: what the node node_id, or every live node (NULL), says of itself, nodes asked
 *   in parallel within the client's timeout:
 *   {"nodes":[{"node","version","zone","address","uptime_s","serving","ranges_owned",
 *     "ranges_replica","keys","keys_exact","keys_at_least","bytes","db_bytes","connections",
 *     "rss_bytes","window_s","requests_per_s":{"get","put","delete","scan","other","total"},
 *     "requests_total","latency_ms":{"get":{"p50","p99","p999"},...},"rtt_ms"}...]}
 *   A node that did not answer is {"node","address","error"}. Rates and percentiles cover
 *   the node's last window_s seconds (about 10); keys and bytes the ranges it owns (keys
 *   counted, or estimated from a count of the first keys when a range holds more). */
ZKV_EXPORT int zkv_nodes(zkv_client *c, char **json);
ZKV_EXPORT int zkv_ping(zkv_client *c, const char *node_id, int timeout_ms, uint64_t *rtt_us);
ZKV_EXPORT int zkv_info(zkv_client *c, const char *node_id, char **json);

/* --- administration (docs/operations.md) ----------------------------------------------
 * Operations on the cluster's shape, recorded in ZooKeeper (ops/) and carried out by the
 * leading coordinator step by step; these calls record them (after checking the arguments
 * against a fresh map) and read them back. kind and args:
 *   "move" RANGE NODE      make NODE the owner of RANGE (a live move: no failed request)
 *   "drain" NODE           move every range and copy off NODE; it takes nothing new
 *   "undrain" NODE         let a drained NODE take load again
 *   "set-replicas" R       change the replication factor to R (owner included)
 *   "split" RANGE [KEY]    split RANGE in two at KEY (escaped as zkv prints keys, \xNN;
 *                          at most 256 bytes, strictly inside RANGE), or at its middle
 *                          (the owner picks it); writes to RANGE pause for the split
 *   "merge" RANGE          merge RANGE with its right neighbour (the neighbour's owner
 *                          moves to RANGE's owner first); writes to both pause
 * On ZKV_OK *op_id is the operation's id ("op-0000000007"; the caller frees it with
 * zkv_free). ZKV_EINVAL names a bad argument, ZKV_EZOOKEEPER a ZooKeeper failure. */
ZKV_EXPORT int zkv_admin_submit(zkv_client *c, const char *kind, const char *const *args,
                                size_t n_args, char **op_id);
/* The operations in progress (and failed ones, for ten minutes) and the drained nodes as
 * JSON: {"operations":[{"id","kind","args":{...},"step","created","updated","attempts",
 * "error"}...],"drained":["node-3"...]}. *json is the caller's (zkv_free). */
ZKV_EXPORT int zkv_admin_status(zkv_client *c, char **json);

/* --- values --------------------------------------------------------------------------- */
ZKV_EXPORT const void *zkv_value_data(const zkv_value *v);
ZKV_EXPORT size_t zkv_value_len(const zkv_value *v);
ZKV_EXPORT zkv_version zkv_value_version(const zkv_value *v);
/* 1 when a replica answered, else 0. A stale value may lag the owner, and may be a write
 * that was never committed and is discarded in a failover; a value answered by the owner
 * (0) is committed and never goes back. */
ZKV_EXPORT int zkv_value_stale(const zkv_value *v);
/* Node that answered. */
ZKV_EXPORT const char *zkv_value_node(const zkv_value *v);
/* The answering node's position (epoch, seq) in the range's log when it answered: for a
 * stale value, how far the replica had caught up. */
ZKV_EXPORT zkv_version zkv_value_position(const zkv_value *v);
/* Milliseconds left before the key expires, as the answering node saw it; -1 when it does
 * not expire. */
ZKV_EXPORT int64_t zkv_value_ttl(const zkv_value *v);
/* For a stale value (a replica answered): 1, with how far behind its owner the replica
 * was (docs/api.md, "Replica reads"): *lag_ms since it last held all its owner had
 * (UINT64_MAX: not since it started), *lag_entries the entries it knew it lacked. 0 (and
 * zeros) for the owner's answer. Either pointer may be NULL. */
ZKV_EXPORT int zkv_value_lag(const zkv_value *v, uint64_t *lag_ms, uint64_t *lag_entries);
ZKV_EXPORT void zkv_value_free(zkv_value *v);

/* --- scan results ----------------------------------------------------------------------- */
ZKV_EXPORT size_t zkv_scan_count(const zkv_scan *s);
ZKV_EXPORT const void *zkv_scan_key(const zkv_scan *s, size_t i, size_t *len);
ZKV_EXPORT const void *zkv_scan_value(const zkv_scan *s, size_t i, size_t *len);
/* 1 when the scan stopped at its limit before the end bound. */
ZKV_EXPORT int zkv_scan_more(const zkv_scan *s);
/* 1 when a replica answered a page of the scan (its owner was unreachable, or
 * ZKV_FLAG_READ_REPLICA): those items may lag the owner, as a stale zkv_value does. */
ZKV_EXPORT int zkv_scan_stale(const zkv_scan *s);
/* The token that continues the scan after its last key (zkv_scan_args.token), valid until
 * zkv_scan_free; NULL (*len 0) when the scan reached its end. Opaque bytes. */
ZKV_EXPORT const void *zkv_scan_token(const zkv_scan *s, size_t *len);
ZKV_EXPORT void zkv_scan_free(zkv_scan *s);

/* --- pipelining ------------------------------------------------------------------------- */
/* A batch queues many gets, puts and deletes, then zkv_batch_run sends them with one write
 * per node and reads all the answers (pipelining, as in hiredis). Each operation keeps its
 * own status; a NOT_OWNER answer re-routes that operation within the call's time. Keys and
 * values are copied when queued. */
ZKV_EXPORT zkv_batch *zkv_batch_create(void);
ZKV_EXPORT void zkv_batch_free(zkv_batch *b);
ZKV_EXPORT int zkv_batch_get(zkv_batch *b, const void *key, size_t klen);
ZKV_EXPORT int zkv_batch_put(zkv_batch *b, const void *key, size_t klen, const void *val,
                             size_t vlen);
ZKV_EXPORT int zkv_batch_del(zkv_batch *b, const void *key, size_t klen);
/* Runs every queued operation. Returns ZKV_OK when all ran (each may still have failed:
 * see zkv_batch_status), or an error that stopped the whole batch. */
ZKV_EXPORT int zkv_batch_run(zkv_client *c, zkv_batch *b, int timeout_ms, unsigned flags);
ZKV_EXPORT size_t zkv_batch_count(const zkv_batch *b);
ZKV_EXPORT int zkv_batch_status(const zkv_batch *b, size_t i);
/* Value of a successful get at position i (NULL otherwise); valid until clear/free. */
ZKV_EXPORT const void *zkv_batch_value(const zkv_batch *b, size_t i, size_t *len);
/* Empties the batch for reuse, keeping its memory. */
ZKV_EXPORT void zkv_batch_clear(zkv_batch *b);

/* --- atomic batches (docs/api.md, "Atomic batches") -------------------------------------
 * Puts and deletes, each with an optional condition (as zkv_put_if), of keys that all lie
 * in one range, applied all or none: zkv_batch_atomic sends them to the range's owner in
 * one request; either every write is applied (one log position after another, replicated
 * and failed over as a whole) or none is. At most 1,000 writes and the client's max value
 * plus max key in bytes (keys, values and 64 bytes a write). Returns ZKV_OK (each write's
 * version: zkv_batch_version), ZKV_ECONDITION (nothing written: zkv_batch_status is
 * ZKV_ECONDITION for each write whose condition failed, ZKV_OK for the others, and
 * zkv_batch_version the keys' current versions), ZKV_EINVAL for a batch with gets or with
 * keys of several ranges (the message names two of them), or the errors of zkv_put. A
 * retry after a lost answer reports the true outcome, as for zkv_put_if. */
ZKV_EXPORT int zkv_batch_put_if(zkv_batch *b, const void *key, size_t klen, const void *val,
                                size_t vlen, int cond, zkv_version expected);
ZKV_EXPORT int zkv_batch_del_if(zkv_batch *b, const void *key, size_t klen, zkv_version expected);
ZKV_EXPORT int zkv_batch_atomic(zkv_client *c, zkv_batch *b, int timeout_ms, unsigned flags);
ZKV_EXPORT zkv_version zkv_batch_version(const zkv_batch *b, size_t i);

#ifdef __cplusplus
}
#endif
#endif
