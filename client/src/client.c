/* client.c: the blocking single-key API: zkv_client_create/free, get, put, delete and
 * the cached map version. Each call validates locally (sizes are checked before
 * anything is sent), builds one request and hands it to the routed loop in call.c. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "common/zkacl.h"
#include "client.h"
#include "error.h"
#include "value.h"

int zkv_client_create(const zkv_options *opts, zkv_client **out)
{
    zkv__clear_error();
    if (!out)
        return zkv__fail(ZKV_EINVAL, "out is NULL");
    *out = NULL;
    zkv_options *defaults = NULL;
    if (!opts) {
        defaults = zkv_options_create();
        if (!defaults)
            return zkv__fail(ZKV_ENOMEM, "out of memory");
        opts = defaults;
    }
    zkv_client *c = calloc(1, sizeof *c);
    if (!c || zkv__options_copy(&c->opts, opts) != ZKV_OK) {
        free(c);
        zkv_options_free(defaults);
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    }
    zkv_options_free(defaults);
    char err[ZKV__ERR_MAX];
    int trc = zkv__options_tls(&c->opts, &c->tls, err, sizeof err);
    if (trc != ZKV_OK) {
        zkv__options_clear(&c->opts);
        free(c);
        return zkv__fail(trc, "%s", err);
    }
    if (zkv__pool_init(&c->pool, c->tls) != 0) {
        zkv_tls_ctx_free(c->tls);
        zkv__options_clear(&c->opts);
        free(c);
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    }
    if (zkv__pool_init(&c->hedge_pool, c->tls) != 0) {
        zkv__pool_destroy(&c->pool);
        zkv_tls_ctx_free(c->tls);
        zkv__options_clear(&c->opts);
        free(c);
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    }
    zkv_zk_cred cred;
    bool has_cred = c->opts.zk_auth && c->opts.zk_auth[0] &&
                    zkv_zk_cred_parse(c->opts.zk_auth, &cred, err, sizeof err) == 0;
    int rc = zkv__mapcache_open(&c->mc, c->opts.zk, c->opts.cluster, c->opts.session_timeout_ms,
                                c->opts.connect_timeout_ms, has_cred ? &cred : NULL, &c->info, err,
                                sizeof err);
    memset(&cred, 0, sizeof cred);
    if (rc != ZKV_OK) {
        zkv__pool_destroy(&c->hedge_pool);
        zkv__pool_destroy(&c->pool);
        zkv_tls_ctx_free(c->tls);
        zkv__options_clear(&c->opts);
        free(c);
        return zkv__fail(rc, "%s", err);
    }
    if (zkv_random_bytes(&c->client_id, sizeof c->client_id) != 0 || c->client_id == 0)
        c->client_id = (zkv_now_ms() << 20) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)c;
    atomic_init(&c->next_cseq, 1);
    *out = c;
    return ZKV_OK;
}

int zkv__condition_set(zkv_client *c, Zkv__Request *req, int cond, zkv_version expected)
{
    if (cond != ZKV_IF_ABSENT && cond != ZKV_IF_VERSION)
        return zkv__fail(ZKV_EINVAL, "unknown condition %d (ZKV_IF_ABSENT or ZKV_IF_VERSION)",
                         cond);
    req->condition = cond == ZKV_IF_ABSENT ? ZKV__CONDITION__IF_ABSENT : ZKV__CONDITION__IF_VERSION;
    req->if_epoch = cond == ZKV_IF_VERSION ? expected.epoch : 0;
    req->if_seq = cond == ZKV_IF_VERSION ? expected.seq : 0;
    req->client_id = c->client_id;
    req->client_seq = atomic_fetch_add(&c->next_cseq, 1);
    return ZKV_OK;
}

void zkv_client_free(zkv_client *c)
{
    if (!c)
        return;
    zkv__pool_destroy(&c->hedge_pool);
    zkv__pool_destroy(&c->pool);
    zkv__mapcache_close(&c->mc);
    zkv_tls_ctx_free(c->tls);
    zkv__options_clear(&c->opts);
    free(c);
}

int64_t zkv_client_map_version(zkv_client *c)
{
    return c ? zkv__mapcache_version(&c->mc) : -1;
}

/* Local checks of a key (and value) before anything is sent. Publishes the error. */
int zkv__check_kv(const zkv_client *c, const void *key, size_t klen, const void *val, size_t vlen,
                  unsigned flags)
{
    if ((!key && klen) || (!val && vlen))
        return zkv__fail(ZKV_EINVAL, "NULL key or value with a non-zero length");
    char err[ZKV__ERR_MAX];
    if (zkv__flags_check(flags, err, sizeof err) != 0)
        return zkv__fail(ZKV_EINVAL, "%s", err);
    if (klen > c->opts.max_key)
        return zkv__fail(ZKV_ETOOLARGE, "key of %zu bytes is over the limit of %zu bytes", klen,
                         c->opts.max_key);
    if (vlen > c->opts.max_value)
        return zkv__fail(ZKV_ETOOLARGE, "value of %zu bytes is over the limit of %zu bytes", vlen,
                         c->opts.max_value);
    return ZKV_OK;
}

/* Runs one single-key request and publishes a failure. */
static int run(zkv_client *c, Zkv__Request *req, zkv__op_kind op, unsigned flags,
               uint64_t deadline_ms, zkv__reply *reply)
{
    char err[ZKV__ERR_MAX] = "";
    memset(reply, 0, sizeof *reply);
    int rc = zkv__call(c, req, req->key.data, req->key.len, op, flags, deadline_ms, reply, err,
                       sizeof err);
    if (rc != ZKV_OK && rc != ZKV_ENOTFOUND)
        return zkv__fail(rc, "%s", err);
    return rc;
}

static void reply_clear(zkv__reply *reply)
{
    if (reply->resp)
        zkv__response_free(reply->resp);
    reply->resp = NULL;
}

int zkv_get(zkv_client *c, const void *key, size_t klen, int timeout_ms, unsigned flags,
            zkv_value **out)
{
    uint64_t deadline;
    int rc = zkv__call_begin(c, timeout_ms, &deadline);
    if (rc != ZKV_OK)
        return rc;
    if (!out)
        return zkv__fail(ZKV_EINVAL, "out is NULL");
    *out = NULL;
    flags |= c->opts.default_flags;
    if ((rc = zkv__check_kv(c, key, klen, NULL, 0, flags)) != ZKV_OK)
        return rc;
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.op = ZKV__OP__GET;
    req.key.data = (uint8_t *)key;
    req.key.len = klen;
    zkv__reply reply;
    rc = run(c, &req, ZKV__READ, flags, deadline, &reply);
    if (rc == ZKV_OK) {
        *out = zkv__value_take(&reply.resp, reply.replica, reply.node);
        if (!*out)
            rc = zkv__fail(ZKV_ENOMEM, "out of memory");
    } else if (rc == ZKV_ENOTFOUND) {
        zkv__fail(rc, "key not found");
    }
    reply_clear(&reply);
    return rc;
}

/* A write's condition (cond 0: none) and expiry (ttl_ms 0: none). */
typedef struct write_cond {
    int cond;
    zkv_version expected;
    uint64_t ttl_ms;
} write_cond;

static int write_op(zkv_client *c, int op, const void *key, size_t klen, const void *val,
                    size_t vlen, const write_cond *wc, int timeout_ms, unsigned flags,
                    zkv_version *ver)
{
    uint64_t deadline;
    int rc = zkv__call_begin(c, timeout_ms, &deadline);
    if (rc != ZKV_OK)
        return rc;
    flags |= c->opts.default_flags;
    if ((rc = zkv__check_kv(c, key, klen, val, vlen, flags)) != ZKV_OK)
        return rc;
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.op = op;
    req.key.data = (uint8_t *)key;
    req.key.len = klen;
    req.value.data = (uint8_t *)val;
    req.value.len = vlen;
    if (wc && wc->cond && (rc = zkv__condition_set(c, &req, wc->cond, wc->expected)) != ZKV_OK)
        return rc;
    if (wc)
        req.ttl_ms = wc->ttl_ms;
    zkv__reply reply;
    /* Read flags mean nothing to a write: the owner alone takes it. */
    rc = run(c, &req, ZKV__WRITE, flags & (unsigned)ZKV_FLAG_ACK_OWNER, deadline, &reply);
    if (rc == ZKV_ENOTFOUND && op == ZKV__OP__DELETE)
        rc = ZKV_OK; /* deleting a missing key is not an error */
    else if (rc == ZKV_ENOTFOUND && op == ZKV__OP__EXPIRE)
        zkv__fail(rc, "key not found");
    else if (rc == ZKV_ENOTFOUND)
        rc = zkv__fail(ZKV_EPROTOCOL, "node %s answered NOT_FOUND to a put", reply.node);
    if ((rc == ZKV_OK || rc == ZKV_ECONDITION) && ver) {
        ver->epoch = reply.resp->epoch;
        ver->seq = reply.resp->seq;
    }
    if (rc == ZKV_ECONDITION)
        zkv__fail(rc, "%s",
                  reply.resp->message && reply.resp->message[0] ? reply.resp->message
                                                                : "condition failed");
    reply_clear(&reply);
    return rc;
}

int zkv_put(zkv_client *c, const void *key, size_t klen, const void *val, size_t vlen,
            int timeout_ms, unsigned flags, zkv_version *ver)
{
    return write_op(c, ZKV__OP__PUT, key, klen, val, vlen, NULL, timeout_ms, flags, ver);
}

int zkv_put_ex(zkv_client *c, const void *key, size_t klen, const void *val, size_t vlen, int cond,
               zkv_version expected, uint64_t ttl_ms, int timeout_ms, unsigned flags,
               zkv_version *ver)
{
    write_cond wc = {.cond = cond, .expected = expected, .ttl_ms = ttl_ms};
    return write_op(c, ZKV__OP__PUT, key, klen, val, vlen, &wc, timeout_ms, flags, ver);
}

int zkv_put_if(zkv_client *c, const void *key, size_t klen, const void *val, size_t vlen, int cond,
               zkv_version expected, int timeout_ms, unsigned flags, zkv_version *ver)
{
    if (cond == 0)
        return zkv__fail(ZKV_EINVAL, "unknown condition 0 (ZKV_IF_ABSENT or ZKV_IF_VERSION)");
    return zkv_put_ex(c, key, klen, val, vlen, cond, expected, 0, timeout_ms, flags, ver);
}

int zkv_put_ttl(zkv_client *c, const void *key, size_t klen, const void *val, size_t vlen,
                uint64_t ttl_ms, int timeout_ms, unsigned flags, zkv_version *ver)
{
    zkv_version none = {0, 0};
    return zkv_put_ex(c, key, klen, val, vlen, 0, none, ttl_ms, timeout_ms, flags, ver);
}

int zkv_expire(zkv_client *c, const void *key, size_t klen, uint64_t ttl_ms, int timeout_ms,
               unsigned flags, zkv_version *ver)
{
    write_cond wc = {.cond = 0, .ttl_ms = ttl_ms};
    return write_op(c, ZKV__OP__EXPIRE, key, klen, NULL, 0, &wc, timeout_ms, flags, ver);
}

int zkv_del_if(zkv_client *c, const void *key, size_t klen, zkv_version expected, int timeout_ms,
               unsigned flags, zkv_version *ver)
{
    write_cond wc = {.cond = ZKV_IF_VERSION, .expected = expected};
    return write_op(c, ZKV__OP__DELETE, key, klen, NULL, 0, &wc, timeout_ms, flags, ver);
}

int zkv_del(zkv_client *c, const void *key, size_t klen, int timeout_ms, unsigned flags,
            zkv_version *ver)
{
    return write_op(c, ZKV__OP__DELETE, key, klen, NULL, 0, NULL, timeout_ms, flags, ver);
}
