/* copythrottle.h: how fast, and how many at once, this node sends range copies (snapshots
 * for a new replica slot, a move, a replica too far behind; docs/operations.md, "Copy speed
 * and throttling").
 *
 * A copy reads a whole range from LevelDB and writes it to one peer as fast as the loop
 * lets it; unthrottled it takes the loop thread, the disk and the link from foreground
 * requests, and several copies at once multiply that. So the shipper asks this module
 * before each snapshot chunk:
 *   - a token bucket over the bytes of snapshot data, shared by every snapshot stream of
 *     the node (--copy-rate-mb; 0: unlimited). It holds at most `burst` bytes: one chunk
 *     (the quantum) or a tenth of a second of rate, whichever is larger. A chunk may go when
 *     the bucket holds a quantum; its actual size is charged afterwards (a chunk may end a
 *     little past the quantum, the bucket then owes it). Active streams that wait take
 *     turns: a stream goes only if the bucket also holds a quantum for each stream that
 *     waits for bytes since an older grant than its own.
 *   - admission (--max-copies): at most max_copies snapshot streams send at the same time;
 *     the others wait in a FIFO by arrival. A stream that ends or is abandoned gives its
 *     place to the head of the FIFO.
 * APPEND streams never come here: only snapshot data is throttled.
 *
 * No I/O, no clock: callers pass now_ms (monotonic). Loop thread only. Streams are named by
 * the shipper's stream serial (never 0). Tested by tests/unit/test_server_copythrottle.c. */
#ifndef ZKV_SERVER_COPYTHROTTLE_H
#define ZKV_SERVER_COPYTHROTTLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One admitted stream (internal). */
typedef struct zkv__copy_slot {
    uint64_t serial;
    uint64_t granted; /* order of its last grant (when admitted: the latest grant then) */
    bool hungry;      /* refused for lack of bytes since its last grant */
} zkv__copy_slot;

/* Treat as opaque: use the functions below. */
typedef struct zkv_copythrottle {
    uint64_t rate;    /* bytes per second, 0: unlimited */
    uint64_t quantum; /* bytes the bucket must hold for a chunk to go */
    uint64_t burst;   /* bucket capacity in bytes */
    int64_t tokens;   /* in millibytes (bytes * 1000): exact refills at whole ms; < 0: owed */
    uint64_t at_ms;   /* when tokens was last brought up to date */
    bool clock_set;   /* at_ms is valid (the first call starts the clock, bucket full) */
    uint64_t grants;
    zkv__copy_slot *active;
    int n_active, max_active;
    uint64_t *queue; /* waiting serials, oldest first */
    size_t n_queue, cap_queue;
} zkv_copythrottle;

/* rate in bytes per second (0: unlimited), max_copies streams at once (< 1 counts as 1),
 * quantum the largest chunk the caller reads (ZKV_SHIP_FRAME_BYTES). Returns 0, or -1 out
 * of memory. */
int zkv_copythrottle_init(zkv_copythrottle *t, uint64_t rate, int max_copies, size_t quantum);
void zkv_copythrottle_free(zkv_copythrottle *t);

typedef enum {
    ZKV_COPY_GO = 0, /* the stream holds a place: it may send (within the bucket) */
    ZKV_COPY_QUEUED, /* it just joined the FIFO: log it, then ask again later */
    ZKV_COPY_WAIT,   /* still in the FIFO (or out of memory to join it): ask again later */
} zkv_copy_admit;

/* Asks for a place for stream serial; call before a snapshot starts and as long as it
 * waits. Promotion is by release, so a GO never jumps the FIFO. */
zkv_copy_admit zkv_copythrottle_admit(zkv_copythrottle *t, uint64_t serial);
/* Stream serial ended or was abandoned: it leaves its place (the head of the FIFO takes
 * it) or the FIFO. Unknown serials are ignored, so it may be called on any reset. */
void zkv_copythrottle_release(zkv_copythrottle *t, uint64_t serial);
/* Number of streams holding a place, and waiting. */
int zkv_copythrottle_active(const zkv_copythrottle *t);
size_t zkv_copythrottle_waiting(const zkv_copythrottle *t);

/* Bytes admitted stream serial may send now: 0 when it must wait (the bucket holds less
 * than a quantum for it and for each stream waiting since an older grant, or serial holds
 * no place), else at
 * least a quantum (SIZE_MAX when unlimited). The caller sends one chunk of at most about
 * that and charges it with zkv_copythrottle_spend. */
size_t zkv_copythrottle_allowance(zkv_copythrottle *t, uint64_t serial, uint64_t now_ms);
/* Charges bytes sent by stream serial at now_ms (also when above the allowance). */
void zkv_copythrottle_spend(zkv_copythrottle *t, uint64_t serial, size_t bytes, uint64_t now_ms);
/* When the bucket will hold a quantum again (> now_ms), or 0 when it holds one now or the
 * rate is unlimited: the time to wake a stream refused for lack of bytes. */
uint64_t zkv_copythrottle_next_ms(zkv_copythrottle *t, uint64_t now_ms);

#endif
