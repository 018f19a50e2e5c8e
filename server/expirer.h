/* expirer.h: deletes expired keys in the background (docs/api.md, "Expiry"). A read
 * already hides an expired key and purges it (a logged delete) before answering; keys
 * nobody reads are found here: a timer walks the node's data keys from a cursor,
 * ZKV_EXPIRER_KEYS or ZKV_EXPIRER_BYTES of keys and values (whichever comes first) a tick
 * every ZKV_EXPIRER_TICK_MS (wrapping at the end), and purges
 * each expired key of a range this node owns through dispatch (zkv_dispatch_purge_expired:
 * the same checks as a write). Nothing is done while the node is fenced or shutting down. */
#ifndef ZKV_SERVER_EXPIRER_H
#define ZKV_SERVER_EXPIRER_H
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "dispatch.h"
#include "store.h"

#define ZKV_EXPIRER_TICK_MS 200
#define ZKV_EXPIRER_KEYS 2000u
/* Reading values costs the loop thread: 2,000 keys of 10 KB took 10 to 20 ms, which every
 * request arriving meanwhile waited for (docs/performance.md, "Steady writes"). */
#define ZKV_EXPIRER_BYTES ((size_t)256 * 1024)

typedef struct zkv_expirer zkv_expirer;

/* What the expirer reads each tick: dispatch's environment, and whether it may act. */
typedef const zkv_dispatch_env *(*zkv_expirer_env_fn)(void *ctx, bool *may_act);

/* Starts the timer on loop. NULL when out of memory. */
zkv_expirer *zkv_expirer_start(uv_loop_t *loop, zkv_store *store, zkv_expirer_env_fn env,
                               void *ctx);
/* Stops the timer and closes its handle (freed once libuv is done). NULL is fine. */
void zkv_expirer_stop(zkv_expirer *e);
/* Keys purged since start. */
uint64_t zkv_expirer_purged(const zkv_expirer *e);

#endif
