/* it_uv.h: the async client on a libuv loop for the integration tests that check a few
 * zkv_async calls next to their blocking twins (test_cas, test_ttl, test_atomic, test_scan,
 * test_readpolicy): a loop with an async context of a client attached, a bounded run until
 * a callback said done, the teardown (the context freed, the loop drained and closed), and
 * the result of a single-key write. The bulk async tests use it_async.h. */
#ifndef ZKV_IT_UV_H
#define ZKV_IT_UV_H
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "zkt/zkt.h"
#include "zkv/adapters/libuv.h"
#include "zkv/zkv.h"
#include "zkv/zkv_async.h"

#define IT_UV_WAIT_MS 30000 /* the most a run waits for a callback */

typedef struct it_uv {
    uv_loop_t loop;
    zkv_async *a;
} it_uv;

/* An async context of c on a new loop: ZKV_OK, or the failure (u is closed then). */
static inline int it_uv_open(it_uv *u, zkv_client *c)
{
    uv_loop_init(&u->loop);
    u->a = NULL;
    int rc = zkv_async_create(c, &u->a);
    if (rc == ZKV_OK)
        rc = zkv_async_libuv_attach(u->a, &u->loop);
    return rc;
}

/* Runs the loop until *done (bounded by IT_UV_WAIT_MS); returns *done. */
static inline bool it_uv_run_until(it_uv *u, const bool *done)
{
    uint64_t t0 = zkt_now_ms();
    while (!*done && zkt_now_ms() - t0 < (uint64_t)IT_UV_WAIT_MS)
        uv_run(&u->loop, UV_RUN_ONCE);
    return *done;
}

/* Frees the context (callbacks still due run now) and closes the loop. */
static inline void it_uv_close(it_uv *u)
{
    zkv_async_free(u->a);
    u->a = NULL;
    while (uv_run(&u->loop, UV_RUN_NOWAIT))
        ;
    uv_loop_close(&u->loop);
}

/* The outcome of a single-key write (or expire) through the async client. */
typedef struct it_awrite {
    bool done;
    int status;
    zkv_version ver; /* the callback's version (a conditional write's, an expire's) */
} it_awrite;

static inline void it_on_write(zkv_async *a, int status, const zkv_value *v, void *priv)
{
    (void)a;
    it_awrite *w = priv;
    w->status = status;
    w->ver = v ? zkv_value_version(v) : (zkv_version){0, 0};
    w->done = true;
}

#endif
