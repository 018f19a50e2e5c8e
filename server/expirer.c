/* expirer.c: the background walk over the node's keys for expired ones (expirer.h). Keys
 * are collected from a store scan (no writes during it), then purged one by one through
 * dispatch. */
#include "expirer.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct zkv_expirer {
    uv_timer_t timer;
    zkv_store *store;
    zkv_expirer_env_fn env;
    void *ctx;
    zkv_buf cursor;     /* the next tick's first key ("" : from the first) */
    zkv_buf found;      /* expired keys of this tick: u32 length, bytes */
    size_t seen, bytes; /* keys and bytes (keys and values) read this tick */
    uint64_t now, purged;
    zkv_reply reply; /* scratch for dispatch */
};

static int collect(void *ctx, const uint8_t *key, size_t klen, const zkv_value_view *v)
{
    zkv_expirer *e = ctx;
    /* past either bound the next tick starts here */
    if (e->seen++ >= ZKV_EXPIRER_KEYS || e->bytes >= ZKV_EXPIRER_BYTES) {
        e->cursor.len = e->cursor.off = 0;
        if (zkv_buf_append(&e->cursor, key, klen) != 0)
            e->cursor.len = 0; /* out of memory: from the first key next time */
        return 1;
    }
    e->bytes += klen + v->value_len;
    if (v->meta.expiry_ms && v->meta.expiry_ms <= e->now) {
        uint32_t len = (uint32_t)klen;
        if (zkv_buf_append(&e->found, &len, sizeof len) != 0 ||
            zkv_buf_append(&e->found, key, klen) != 0)
            return 1;
    }
    return 0;
}

static void on_tick(uv_timer_t *t)
{
    zkv_expirer *e = t->data;
    bool may_act = false;
    const zkv_dispatch_env *env = e->env(e->ctx, &may_act);
    if (!may_act || !env || !env->map)
        return;
    e->seen = e->bytes = 0;
    e->now = zkv_wall_ms();
    e->found.len = e->found.off = 0;
    size_t from = zkv_buf_unread(&e->cursor);
    char err[256];
    int rc = zkv_store_scan_meta(e->store, zkv_buf_head(&e->cursor), from, NULL, 0, collect, e, err,
                                 sizeof(err));
    if (rc == 0)
        e->cursor.len = e->cursor.off = 0; /* the keys ran out: from the first next time */
    for (size_t at = 0; at < e->found.len;) {
        uint32_t len;
        memcpy(&len, e->found.data + at, sizeof len);
        if (zkv_dispatch_purge_expired(env, e->found.data + at + sizeof len, len, &e->reply))
            e->purged++;
        at += sizeof len + len;
    }
}

zkv_expirer *zkv_expirer_start(uv_loop_t *loop, zkv_store *store, zkv_expirer_env_fn env, void *ctx)
{
    zkv_expirer *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->store = store;
    e->env = env;
    e->ctx = ctx;
    zkv_buf_init(&e->cursor);
    zkv_buf_init(&e->found);
    zkv_reply_init(&e->reply);
    uv_timer_init(loop, &e->timer);
    e->timer.data = e;
    uv_timer_start(&e->timer, on_tick, ZKV_EXPIRER_TICK_MS, ZKV_EXPIRER_TICK_MS);
    return e;
}

static void on_closed(uv_handle_t *h)
{
    zkv_expirer *e = h->data;
    zkv_buf_free(&e->cursor);
    zkv_buf_free(&e->found);
    zkv_reply_free(&e->reply);
    free(e);
}

void zkv_expirer_stop(zkv_expirer *e)
{
    if (!e)
        return;
    uv_timer_stop(&e->timer);
    uv_close((uv_handle_t *)&e->timer, on_closed);
}

uint64_t zkv_expirer_purged(const zkv_expirer *e)
{
    return e ? e->purged : 0;
}
