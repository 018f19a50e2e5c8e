/* test_server_replica.c: the replica side of replication through zkv_dispatch, over a real
 * store and a hand-made map, without sockets: APPEND (ok, heartbeat, log mismatch, stale
 * epoch, non-owner sender, client sender, malformed frames, newer epoch than the map),
 * SNAPSHOT (BEGIN/CHUNK/END, chunks without BEGIN, an abandoned snapshot), RANGE_STATUS
 * (position, owner flag, owner hook, fencing), replica reads with FLAG_ALLOW_STALE, and the
 * write gate. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keyrange.h"
#include "dispatch.h"
#include "server_fixture.h"

/* An expiry (ms since the epoch) no run reaches: 2100-01-01. */
#define FAR_FUTURE_MS 4102444800000ull

/* This node is node-1. r0000 [, "m") owned by node-2 at epoch 5, replicas node-1, node-3;
 * r0001 ["m", ) owned by node-1 at epoch 2, replica node-2. */
static zkv_rangemap *test_map(void)
{
    zkv_rangemap *m = calloc(1, sizeof *m);
    m->version = 11;
    m->n_ranges = 2;
    m->ranges = calloc(2, sizeof *m->ranges);
    if (zkv_range_set_bounds(&m->ranges[0], NULL, 0, (const uint8_t *)"m", 1) != 0 ||
        zkv_range_set_bounds(&m->ranges[1], (const uint8_t *)"m", 1, NULL, 0) != 0) {
        zkv_rangemap_free(m);
        return NULL;
    }
    zkv_range *a = &m->ranges[0], *b = &m->ranges[1];
    strcpy(a->id, "r0000");
    strcpy(a->owner, "node-2");
    a->epoch = 5;
    strcpy(a->replicas[0], "node-1");
    strcpy(a->replicas[1], "node-3");
    a->n_replicas = 2;
    strcpy(a->in_sync[0], "node-1");
    a->n_in_sync = 1;
    strcpy(b->id, "r0001");
    strcpy(b->owner, "node-1");
    b->epoch = 2;
    strcpy(b->replicas[0], "node-2");
    b->n_replicas = 1;
    return m;
}

static int setup(void)
{
    return fixture_setup("replica", test_map);
}

static zkv_dispatch_env env(void)
{
    return fixture_env(1000);
}

/* The map moves on: range i is owned by owner at epoch (the others keep their roles). */
static void remap(size_t i, const char *owner, uint64_t epoch)
{
    zkv_range *r = &map->ranges[i];
    for (int k = 0; k < r->n_replicas; k++)
        if (strcmp(r->replicas[k], owner) == 0)
            snprintf(r->replicas[k], ZKV_ID_MAX, "%s", r->owner);
    snprintf(r->owner, sizeof(r->owner), "%s", owner);
    r->epoch = epoch;
    map->version++;
}

/* The reply's status and the range position it carries (a macro: failures name the
 * caller's line). */
#define EXPECT_POSITION(want_status, want_epoch, want_seq)                                         \
    do {                                                                                           \
        CU_ASSERT_EQUAL(reply.resp.status, want_status);                                           \
        CU_ASSERT_EQUAL(reply.resp.range_epoch, want_epoch);                                       \
        CU_ASSERT_EQUAL(reply.resp.range_seq, want_seq);                                           \
    } while (0)

/* A session after a HELLO carrying node_id (NULL: a client). */
static zkv_session hello(const zkv_dispatch_env *e, const char *node_id)
{
    zkv_session sess = {0};
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = 1;
    req.op = ZKV__OP__HELLO;
    req.cluster_id = "cid-1";
    req.node_id = (char *)(node_id ? node_id : "");
    zkv_dispatch(e, &sess, &req, &reply);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_STRING_EQUAL(sess.peer_node, node_id ? node_id : "");
    return sess;
}

#define MAX_E 8
static Zkv__LogEntry ents[MAX_E];
static Zkv__LogEntry *ent_ptrs[MAX_E];

/* APPEND of n puts (or deletes when value is NULL) of keys[i] from seq prev_seq + 1. */
static void append(const zkv_dispatch_env *e, zkv_session *sess, const char *range, uint64_t epoch,
                   uint64_t prev_epoch, uint64_t prev_seq, uint64_t entry_epoch,
                   const char *const *keys, const char *value, size_t n)
{
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = 2;
    req.op = ZKV__OP__APPEND;
    req.range_id = (char *)range;
    req.epoch = epoch;
    req.prev_epoch = prev_epoch;
    req.prev_seq = prev_seq;
    for (size_t i = 0; i < n; i++) {
        zkv__log_entry__init(&ents[i]);
        ents[i].seq = prev_seq + 1 + i;
        ents[i].epoch = entry_epoch;
        ents[i].op = value ? ZKV__OP__PUT : ZKV__OP__DELETE;
        ents[i].key.data = (uint8_t *)keys[i];
        ents[i].key.len = strlen(keys[i]);
        if (value) {
            ents[i].value.data = (uint8_t *)value;
            ents[i].value.len = strlen(value);
            ents[i].expiry_ms = FAR_FUTURE_MS; /* an expiry, not reached */
        }
        ent_ptrs[i] = &ents[i];
    }
    req.n_entries = n;
    req.entries = n ? ent_ptrs : NULL;
    zkv_dispatch(e, sess, &req, &reply);
}

static void range_status(const zkv_dispatch_env *e, zkv_session *sess, const char *range)
{
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = 3;
    req.op = ZKV__OP__RANGE_STATUS;
    req.range_id = (char *)range;
    zkv_dispatch(e, sess, &req, &reply);
}

static void get(const zkv_dispatch_env *e, zkv_session *sess, const char *key, uint32_t flags)
{
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = 4;
    req.op = ZKV__OP__GET;
    req.key.data = (uint8_t *)key;
    req.key.len = strlen(key);
    req.flags = flags;
    zkv_dispatch(e, sess, &req, &reply);
}

static void commit(void)
{
    CU_ASSERT_EQUAL(zkv_store_commit(store, err, sizeof(err)), 0);
}

static const char *const k3[] = {"a", "b", "c"};

static void test_append(void)
{
    zkv_dispatch_env e = env();
    zkv_session owner = hello(&e, "node-2");
    append(&e, &owner, "r0000", 5, 0, 0, 5, k3, "v1", 3);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_STRING_EQUAL(reply.resp.range_id, "r0000");
    CU_ASSERT_EQUAL(reply.resp.range_epoch, 5);
    CU_ASSERT_EQUAL(reply.resp.range_seq, 3);
    CU_ASSERT_TRUE(zkv_store_pending(store) > 0); /* answered after the group commit */
    commit();
    /* a heartbeat */
    append(&e, &owner, "r0000", 5, 5, 3, 5, NULL, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(reply.resp.range_seq, 3);
    /* prev does not match: the position comes back */
    append(&e, &owner, "r0000", 5, 5, 2, 5, k3, "v2", 1);
    EXPECT_POSITION(ZKV__STATUS__LOG_MISMATCH, 5, 3);
    append(&e, &owner, "r0000", 5, 4, 3, 5, k3, "v2", 1);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__LOG_MISMATCH);
    append(&e, &owner, "r0000", 5, 5, 9, 5, k3, "v2", 1);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__LOG_MISMATCH);
    CU_ASSERT_EQUAL(reply.resp.range_seq, 3);
    /* an epoch older than the map's */
    append(&e, &owner, "r0000", 4, 5, 3, 4, k3, "v2", 1);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__STALE_EPOCH);
    CU_ASSERT_PTR_NOT_NULL(strstr(reply.resp.message, "epoch 5"));
    /* a node that is not the owner at the map's epoch */
    zkv_session other = hello(&e, "node-3");
    append(&e, &other, "r0000", 5, 5, 3, 5, k3, "v2", 1);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__STALE_EPOCH);
    CU_ASSERT_PTR_NOT_NULL(strstr(reply.resp.message, "not its owner"));
    /* this node holds no copy of the range in its map (a replica moved off, whose data
     * may be being reclaimed): refused, nothing staged, the sender retries */
    size_t before = zkv_store_pending(store);
    zkv_dispatch_env e4 = e;
    e4.node_id = "node-4";
    append(&e4, &owner, "r0000", 5, 5, 3, 5, k3, "v2", 1);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    CU_ASSERT_PTR_NOT_NULL(strstr(reply.resp.message, "holds no copy"));
    CU_ASSERT_EQUAL(zkv_store_pending(store), before);
    /* a client connection */
    zkv_session client = hello(&e, NULL);
    append(&e, &client, "r0000", 5, 5, 3, 5, k3, "v2", 1);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__BAD_REQUEST);
    /* malformed frames stage nothing: a gap, an entry epoch beyond the sender's */
    size_t pending = zkv_store_pending(store);
    append(&e, &owner, "r0000", 5, 5, 3, 5, k3, "v2", 2);
    ents[1].seq = 9;
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.op = ZKV__OP__APPEND;
    req.range_id = "r0000";
    req.epoch = 5;
    req.prev_epoch = 5;
    req.prev_seq = 3;
    req.n_entries = 2;
    req.entries = ent_ptrs;
    zkv_dispatch(&e, &owner, &req, &reply);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__BAD_REQUEST);
    ents[1].seq = 5;
    ents[1].epoch = 6;
    zkv_dispatch(&e, &owner, &req, &reply);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__BAD_REQUEST);
    /* (the first append of this block was valid and staged seqs 4-5) */
    CU_ASSERT_EQUAL(zkv_store_pending(store), pending + 2);
    commit();
    /* unknown range, missing range id */
    append(&e, &owner, "r0099", 5, 0, 0, 5, k3, "v", 1);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    append(&e, &owner, "", 5, 0, 0, 5, k3, "v", 1);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__BAD_REQUEST);
    /* the data, the log and the versions are the owner's */
    zkv_store_value v;
    CU_ASSERT_EQUAL(zkv_store_get(store, (const uint8_t *)"b", 1, &v, err, sizeof(err)), 1);
    CU_ASSERT_EQUAL(v.view.meta.seq, 5);
    CU_ASSERT_EQUAL(v.view.meta.epoch, 5);
    CU_ASSERT_EQUAL(v.view.meta.expiry_ms, FAR_FUTURE_MS);
    CU_ASSERT_EQUAL(memcmp(v.view.value, "v2", 2), 0);
    zkv_store_value_release(&v);
}

static void test_range_status(void)
{
    zkv_dispatch_env e = env();
    zkv_session coord = hello(&e, NULL);
    range_status(&e, &coord, "r0000");
    EXPECT_POSITION(ZKV__STATUS__OK, 5, 5);
    CU_ASSERT_FALSE(reply.resp.owner);
    CU_ASSERT_EQUAL(reply.resp.n_replicas, 0);
    /* a range without data here */
    range_status(&e, &coord, "r0001");
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(reply.resp.range_seq, 0);
    CU_ASSERT_TRUE(reply.resp.owner);
    range_status(&e, &coord, NULL);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__BAD_REQUEST);
}

static int hook_calls;

static void owner_hook(void *ctx, const char *range_id, zkv_reply *r)
{
    CU_ASSERT_PTR_EQUAL(ctx, &hook_calls);
    CU_ASSERT_STRING_EQUAL(range_id, "r0001");
    hook_calls++;
    Zkv__ReplicaStatus *st = zkv_reply_add_replica(r, "node-2");
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    st->acked_seq = 7;
    st->in_sync = true;
    st->connected = true;
    for (int i = 1; i < ZKV_MAX_REPLICAS; i++)
        CU_ASSERT_PTR_NOT_NULL(zkv_reply_add_replica(r, "x"));
    CU_ASSERT_PTR_NULL(zkv_reply_add_replica(r, "one too many"));
}

static void test_owner_hook(void)
{
    zkv_dispatch_env e = env();
    e.owner_status = owner_hook;
    e.hook_ctx = &hook_calls;
    zkv_session coord = hello(&e, NULL);
    range_status(&e, &coord, "r0000"); /* not the owner: no hook */
    CU_ASSERT_EQUAL(hook_calls, 0);
    range_status(&e, &coord, "r0001");
    CU_ASSERT_EQUAL(hook_calls, 1);
    CU_ASSERT_TRUE(reply.resp.owner);
    CU_ASSERT_EQUAL_FATAL(reply.resp.n_replicas, ZKV_MAX_REPLICAS);
    CU_ASSERT_STRING_EQUAL(reply.resp.replicas[0]->node_id, "node-2");
    CU_ASSERT_EQUAL(reply.resp.replicas[0]->acked_seq, 7);
    /* a fenced owner does not claim the range */
    e.fenced = true;
    range_status(&e, &coord, "r0001");
    CU_ASSERT_EQUAL(hook_calls, 1);
    CU_ASSERT_FALSE(reply.resp.owner);
    /* the reply is reset between requests */
    e.fenced = false;
    e.owner_status = NULL;
    range_status(&e, &coord, "r0001");
    CU_ASSERT_EQUAL(reply.resp.n_replicas, 0);
}

static void test_stale_reads(void)
{
    zkv_dispatch_env e = env();
    zkv_session c = hello(&e, NULL);
    get(&e, &c, "a", 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__NOT_OWNER);
    get(&e, &c, "a", ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_TRUE(reply.resp.stale);
    CU_ASSERT_EQUAL(reply.resp.range_epoch, 5);
    CU_ASSERT_EQUAL(reply.resp.range_seq, 5);
    CU_ASSERT_EQUAL(reply.resp.seq, 4);
    CU_ASSERT_EQUAL_FATAL(reply.resp.value.len, 2);
    CU_ASSERT_EQUAL(memcmp(reply.resp.value.data, "v2", 2), 0);
    get(&e, &c, "d", ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__NOT_FOUND);
    CU_ASSERT_TRUE(reply.resp.stale);
    /* a stale scan */
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.op = ZKV__OP__SCAN;
    req.flags = ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE;
    zkv_dispatch(&e, &c, &req, &reply);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_TRUE(reply.resp.stale);
    CU_ASSERT_EQUAL(reply.resp.n_items, 3);
    CU_ASSERT_EQUAL(reply.resp.range_seq, 5);
    CU_ASSERT_TRUE(reply.resp.more); /* continues at the range end "m" */
    /* a node that is not a replica of the range */
    e.node_id = "node-4";
    get(&e, &c, "a", ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__NOT_OWNER);
    CU_ASSERT_FALSE(reply.resp.stale);
    /* the owner answers its own reads fresh; fenced, not at all, flag or not */
    e.node_id = "node-1";
    get(&e, &c, "mx", ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__NOT_FOUND);
    CU_ASSERT_FALSE(reply.resp.stale);
    e.fenced = true;
    get(&e, &c, "mx", ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    /* a fenced replica still answers stale reads of others' ranges */
    get(&e, &c, "a", ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_TRUE(reply.resp.stale);
}

static Zkv__KeyValue kvs[4];
static Zkv__KeyValue *kv_ptrs[4];
static Zkv__EpochStart eps[4];
static Zkv__EpochStart *ep_ptrs[4];

static void snapshot(const zkv_dispatch_env *e, zkv_session *sess, uint64_t epoch,
                     Zkv__SnapshotPhase phase, const char *const *keys, size_t n, uint64_t seq,
                     const uint64_t *hist, size_t nh)
{
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = 5;
    req.op = ZKV__OP__SNAPSHOT;
    req.range_id = "r0000";
    req.epoch = epoch;
    req.phase = phase;
    for (size_t i = 0; i < n; i++) {
        zkv__key_value__init(&kvs[i]);
        kvs[i].key.data = (uint8_t *)keys[i];
        kvs[i].key.len = strlen(keys[i]);
        kvs[i].value.data = (uint8_t *)"snap";
        kvs[i].value.len = 4;
        kvs[i].epoch = 3;
        kvs[i].seq = 10 + i;
        kvs[i].expiry_ms = FAR_FUTURE_MS + 9;
        kv_ptrs[i] = &kvs[i];
    }
    req.n_items = n;
    req.items = n ? kv_ptrs : NULL;
    for (size_t i = 0; i < nh; i++) {
        zkv__epoch_start__init(&eps[i]);
        eps[i].epoch = hist[2 * i];
        eps[i].start_seq = hist[2 * i + 1];
        ep_ptrs[i] = &eps[i];
    }
    req.n_history = nh;
    req.history = nh ? ep_ptrs : NULL;
    req.seq = seq;
    zkv_dispatch(e, sess, &req, &reply);
}

static void test_snapshot(void)
{
    zkv_dispatch_env e = env();
    zkv_session owner = hello(&e, "node-2");
    zkv_session c = hello(&e, NULL);
    /* CHUNK and END need a BEGIN */
    const char *const items1[] = {"b", "k"};
    snapshot(&e, &owner, 5, ZKV__SNAPSHOT_PHASE__SNAPSHOT_CHUNK, items1, 2, 0, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__LOG_MISMATCH);
    snapshot(&e, &owner, 5, ZKV__SNAPSHOT_PHASE__SNAPSHOT_END, NULL, 0, 20, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__LOG_MISMATCH);
    /* from a non-owner, or an old epoch */
    zkv_session other = hello(&e, "node-3");
    snapshot(&e, &other, 5, ZKV__SNAPSHOT_PHASE__SNAPSHOT_BEGIN, NULL, 0, 0, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__STALE_EPOCH);
    snapshot(&e, &owner, 4, ZKV__SNAPSHOT_PHASE__SNAPSHOT_BEGIN, NULL, 0, 0, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__STALE_EPOCH);
    /* BEGIN drops the range's data here, not its neighbour's */
    zkv_value_meta m;
    CU_ASSERT_EQUAL(zkv_store_put(store, "r0001", 2, (const uint8_t *)"mx", 2,
                                  (const uint8_t *)"mine", 4, &m, err, sizeof(err)),
                    0);
    snapshot(&e, &owner, 5, ZKV__SNAPSHOT_PHASE__SNAPSHOT_BEGIN, NULL, 0, 0, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(reply.resp.range_seq, 0);
    get(&e, &c, "a", ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE); /* incomplete */
    range_status(&e, &c, "r0000");
    CU_ASSERT_EQUAL(reply.resp.range_epoch, 0);
    CU_ASSERT_EQUAL(reply.resp.range_seq, 0);
    /* an item outside the range */
    const char *const bad[] = {"b", "n"};
    snapshot(&e, &owner, 5, ZKV__SNAPSHOT_PHASE__SNAPSHOT_CHUNK, bad, 2, 0, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__BAD_REQUEST);
    snapshot(&e, &owner, 5, ZKV__SNAPSHOT_PHASE__SNAPSHOT_CHUNK, items1, 2, 0, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    const char *const items2[] = {"l"};
    snapshot(&e, &owner, 5, ZKV__SNAPSHOT_PHASE__SNAPSHOT_CHUNK, items2, 1, 0, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    /* END with a history out of order */
    const uint64_t badh[] = {3, 5, 2, 9};
    snapshot(&e, &owner, 5, ZKV__SNAPSHOT_PHASE__SNAPSHOT_END, NULL, 0, 20, badh, 2);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__BAD_REQUEST);
    /* END: the position is S in the epoch that holds it */
    const uint64_t h[] = {1, 1, 3, 8};
    snapshot(&e, &owner, 5, ZKV__SNAPSHOT_PHASE__SNAPSHOT_END, NULL, 0, 20, h, 2);
    EXPECT_POSITION(ZKV__STATUS__OK, 3, 20);
    commit();
    zkv_epoch_start hist[4];
    CU_ASSERT_EQUAL(zkv_store_history(store, "r0000", hist, 4), 2);
    CU_ASSERT_EQUAL(hist[1].start_seq, 8);
    /* the old data is gone, the items are there, the neighbour is untouched */
    get(&e, &c, "a", ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__NOT_FOUND);
    CU_ASSERT_EQUAL(reply.resp.range_seq, 20);
    get(&e, &c, "k", ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(reply.resp.seq, 11);
    get(&e, &c, "mx", 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    /* streaming continues after S; the new epoch opens a history entry */
    append(&e, &owner, "r0000", 5, 3, 20, 5, k3, "v3", 1);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(reply.resp.range_seq, 21);
    CU_ASSERT_EQUAL(reply.resp.range_epoch, 5);
    commit();
    CU_ASSERT_EQUAL(zkv_store_history(store, "r0000", hist, 4), 3);
    CU_ASSERT_EQUAL(hist[2].epoch, 5);
    CU_ASSERT_EQUAL(hist[2].start_seq, 21);
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(store, "r0000"), 21);
}

static void test_abandoned_snapshot(void)
{
    zkv_dispatch_env e = env();
    zkv_session owner = hello(&e, "node-2");
    const char *const items[] = {"g"};
    snapshot(&e, &owner, 5, ZKV__SNAPSHOT_PHASE__SNAPSHOT_BEGIN, NULL, 0, 0, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    snapshot(&e, &owner, 5, ZKV__SNAPSHOT_PHASE__SNAPSHOT_CHUNK, items, 1, 0, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    commit();
    /* a new owner (node-3 at epoch 6) streams from the start: until this node has the map
     * that says so, it is told to retry; then the partial snapshot is dropped first, and
     * anything else is a mismatch */
    zkv_session next = hello(&e, "node-3");
    append(&e, &next, "r0000", 6, 0, 0, 6, k3, "x", 2);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    CU_ASSERT_PTR_NOT_NULL(strstr(reply.resp.message, "newer map"));
    remap(0, "node-3", 6);
    append(&e, &next, "r0000", 6, 5, 20, 5, k3, "x", 1);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__LOG_MISMATCH);
    CU_ASSERT_EQUAL(reply.resp.range_seq, 0);
    /* an old owner's snapshot of epoch 5 is now refused */
    append(&e, &next, "r0000", 6, 0, 0, 6, k3, "x", 2);
    EXPECT_POSITION(ZKV__STATUS__OK, 6, 2);
    commit();
    zkv_session c = hello(&e, NULL);
    get(&e, &c, "g", ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__NOT_FOUND);
    get(&e, &c, "b", ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    /* the deposed owner (epoch 5) is refused */
    append(&e, &owner, "r0000", 5, 6, 2, 5, k3, "old", 1);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__STALE_EPOCH);
    snapshot(&e, &owner, 5, ZKV__SNAPSHOT_PHASE__SNAPSHOT_BEGIN, NULL, 0, 0, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__STALE_EPOCH);
}

static void test_replica_truncates(void)
{
    zkv_dispatch_env e = env();
    e.log_retain = 2;
    zkv_session next = hello(&e, "node-3");
    /* seqs 3-5, one batch each: three log records (entries of one batch share a record,
     * which truncation keeps while it holds an entry past the limit) */
    for (uint64_t seq = 2; seq < 5; seq++) {
        append(&e, &next, "r0000", 6, 6, seq, 6, k3 + (seq - 2), "y", 1);
        CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
        commit();
    }
    append(&e, &next, "r0000", 6, 6, 5, 6, NULL, NULL, 0); /* a heartbeat truncates too */
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    commit();
    CU_ASSERT_EQUAL(zkv_store_log_first_seq(store, "r0000"), 4);
    remap(0, "node-2", 5); /* back to the fixture's map for the tests that follow */
}

static int gate_rc;

static int gate(void *ctx, const zkv_range *r, char *msg, size_t msglen)
{
    (void)ctx;
    if (gate_rc)
        snprintf(msg, msglen, "range %s has 1 in-sync copy (owner only); --min-in-sync is 2",
                 r->id);
    return gate_rc;
}

static void test_write_gate(void)
{
    zkv_dispatch_env e = env();
    e.write_gate = gate;
    zkv_session c = hello(&e, NULL);
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.op = ZKV__OP__PUT;
    req.key.data = (uint8_t *)"mz";
    req.key.len = 2;
    req.value.data = (uint8_t *)"v";
    req.value.len = 1;
    gate_rc = 1;
    size_t pending = zkv_store_pending(store);
    zkv_dispatch(&e, &c, &req, &reply);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    CU_ASSERT_STRING_EQUAL(reply.resp.message,
                           "range r0001 has 1 in-sync copy (owner only); --min-in-sync is 2");
    CU_ASSERT_EQUAL(zkv_store_pending(store), pending);
    req.op = ZKV__OP__DELETE;
    zkv_dispatch(&e, &c, &req, &reply);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    gate_rc = 0;
    req.op = ZKV__OP__PUT;
    zkv_dispatch(&e, &c, &req, &reply);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(reply.resp.epoch, 2);
    CU_ASSERT_EQUAL(reply.resp.seq, 2); /* after "mx" */
    /* the gate is not asked about keys this node does not serve */
    gate_rc = 1;
    req.key.data = (uint8_t *)"a";
    req.key.len = 1;
    zkv_dispatch(&e, &c, &req, &reply);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__NOT_OWNER);
    commit();
}

/* The handoff module's answer in the tests below: this node handed r0000 to node-3 at 7. */
static bool handed_r0000(void *ctx, const char *range_id, uint64_t epoch, const char *node)
{
    (void)ctx;
    return strcmp(range_id, "r0000") == 0 && epoch == 7 && strcmp(node, "node-3") == 0;
}

/* Replication traffic is taken only as the map allows (issue 11, item 3): a forged frame
 * claiming an epoch beyond this node's map changes nothing and fences nothing, and no
 * replication is taken into a range this node owns. */
static void test_only_as_the_map_allows(void)
{
    zkv_dispatch_env e = env();
    remap(0, "node-3", 6); /* as the earlier tests left the store: node-3 owns r0000 at 6 */
    uint64_t min0 = zkv_store_range_min_epoch(store, "r0000");
    /* "node-2 at epoch 7": refused, nothing noted */
    zkv_session forger = hello(&e, "node-2");
    snapshot(&e, &forger, 7, ZKV__SNAPSHOT_PHASE__SNAPSHOT_BEGIN, NULL, 0, 0, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    CU_ASSERT_EQUAL(zkv_store_range_snapshot_epoch(store, "r0000"), 0);
    append(&e, &forger, "r0000", 99, 0, 0, 99, NULL, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    CU_ASSERT_EQUAL(zkv_store_range_min_epoch(store, "r0000"), min0);
    /* the real owner goes on */
    zkv_session owner = hello(&e, "node-3");
    const zkv_range_state *st = zkv_store_range(store, "r0000");
    uint64_t last = st ? st->last_seq : 0, last_epoch = st ? st->epoch : 0;
    append(&e, &owner, "r0000", 6, last_epoch, last, 6, NULL, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    /* a probe from a newer map waits for it too */
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.op = ZKV__OP__RANGE_STATUS;
    req.range_id = (char *)"r0000";
    req.epoch = 7;
    req.map_version = 99;
    zkv_dispatch(&e, &owner, &req, &reply);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    /* r0001 is this node's (node-1 at epoch 2): traffic of epoch 3 neither lands nor stops
     * its writes; a frame naming this node as the sender is refused */
    uint64_t min1 = zkv_store_range_min_epoch(store, "r0001");
    zkv_session newer = hello(&e, "node-2");
    append(&e, &newer, "r0001", 3, 2, 2, 3, NULL, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    CU_ASSERT_EQUAL(zkv_store_range_min_epoch(store, "r0001"), min1);
    /* a snapshot into a range this node owns (by a map where node-1 owns r0000 at 6),
     * whoever claims to send it: refused, the data stays */
    remap(0, "node-1", 6);
    size_t pending = zkv_store_pending(store);
    snapshot(&e, &owner, 6, ZKV__SNAPSHOT_PHASE__SNAPSHOT_BEGIN, NULL, 0, 0, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__BAD_REQUEST);
    CU_ASSERT_PTR_NOT_NULL(strstr(reply.resp.message, "owns the range"));
    CU_ASSERT_EQUAL(zkv_store_range_snapshot_epoch(store, "r0000"), 0);
    CU_ASSERT_EQUAL(zkv_store_pending(store), pending);
    /* a handoff this node made and wrote (the map it wrote names node-3 owner at 7), not
     * yet in its installed map: the new owner is taken at once, anyone else still waits */
    e.handed_to = handed_r0000;
    zkv_session target = hello(&e, "node-3");
    st = zkv_store_range(store, "r0000");
    last = st ? st->last_seq : 0;
    last_epoch = st ? st->epoch : 0;
    append(&e, &target, "r0000", 7, last_epoch, last, 7, NULL, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    append(&e, &forger, "r0000", 7, last_epoch, last, 7, NULL, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    req.epoch = 7;
    zkv_dispatch(&e, &target, &req, &reply);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    e.handed_to = NULL;
    commit();
    remap(0, "node-3", 7);
    zkv_session c = hello(&e, NULL);
    Zkv__Request put = ZKV__REQUEST__INIT;
    put.op = ZKV__OP__PUT;
    put.key.data = (uint8_t *)"mq";
    put.key.len = 2;
    zkv_dispatch(&e, &c, &put, &reply);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    commit();
    remap(0, "node-2", 5);
    map->ranges[0].epoch = 5;
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_replica", setup, teardown);
    CU_add_test(s, "APPEND", test_append);
    CU_add_test(s, "RANGE_STATUS", test_range_status);
    CU_add_test(s, "RANGE_STATUS owner hook", test_owner_hook);
    CU_add_test(s, "stale reads on replicas", test_stale_reads);
    CU_add_test(s, "SNAPSHOT", test_snapshot);
    CU_add_test(s, "abandoned snapshot", test_abandoned_snapshot);
    CU_add_test(s, "replica log truncation", test_replica_truncates);
    CU_add_test(s, "write gate", test_write_gate);
    CU_add_test(s, "replication only as the map allows", test_only_as_the_map_allows);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
