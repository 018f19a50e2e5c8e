/* copythrottle.c: the token bucket and the admission of snapshot streams (see
 * copythrottle.h).
 *
 * Tokens are kept in millibytes so a refill of rate * elapsed ms is exact: no remainder is
 * lost however often the bucket is asked. The admitted streams are a small array (at most
 * --max-copies) and the waiting ones a plain array in arrival order: both are short, and a
 * linear search costs less than keeping an index. */
#include "copythrottle.h"

#include <stdlib.h>
#include <string.h>

/* Bounds that keep the millibyte arithmetic inside int64_t: 10^15 B/s (a petabyte per
 * second) is unlimited in practice, and no chunk is a terabyte. */
#define RATE_MAX 1000000000000000ull
#define BYTES_MAX 1000000000000ull

int zkv_copythrottle_init(zkv_copythrottle *t, uint64_t rate, int max_copies, size_t quantum)
{
    memset(t, 0, sizeof(*t));
    t->rate = rate > RATE_MAX ? RATE_MAX : rate;
    t->quantum = quantum == 0 ? 1 : quantum > BYTES_MAX ? BYTES_MAX : (uint64_t)quantum;
    t->burst = t->rate / 10 > t->quantum ? t->rate / 10 : t->quantum;
    t->max_active = max_copies < 1 ? 1 : max_copies;
    t->active = calloc((size_t)t->max_active, sizeof(*t->active));
    return t->active ? 0 : -1;
}

void zkv_copythrottle_free(zkv_copythrottle *t)
{
    free(t->active);
    free(t->queue);
    memset(t, 0, sizeof(*t));
}

/* ---- admission ---- */

static zkv__copy_slot *find_active(zkv_copythrottle *t, uint64_t serial)
{
    for (int i = 0; i < t->n_active; i++)
        if (t->active[i].serial == serial)
            return &t->active[i];
    return NULL;
}

static size_t find_queued(const zkv_copythrottle *t, uint64_t serial)
{
    for (size_t i = 0; i < t->n_queue; i++)
        if (t->queue[i] == serial)
            return i;
    return SIZE_MAX;
}

static void activate(zkv_copythrottle *t, uint64_t serial)
{
    zkv__copy_slot *s = &t->active[t->n_active++];
    memset(s, 0, sizeof(*s));
    s->serial = serial;
    s->granted = t->grants; /* its turn comes after the streams already waiting */
}

zkv_copy_admit zkv_copythrottle_admit(zkv_copythrottle *t, uint64_t serial)
{
    if (find_active(t, serial))
        return ZKV_COPY_GO;
    if (find_queued(t, serial) != SIZE_MAX)
        return ZKV_COPY_WAIT;
    if (t->n_active < t->max_active && t->n_queue == 0) {
        activate(t, serial);
        return ZKV_COPY_GO;
    }
    if (t->n_queue == t->cap_queue) {
        size_t ncap = t->cap_queue ? 2 * t->cap_queue : 16;
        uint64_t *q = realloc(t->queue, ncap * sizeof(*q));
        if (!q)
            return ZKV_COPY_WAIT; /* not queued: the next call tries again */
        t->queue = q;
        t->cap_queue = ncap;
    }
    t->queue[t->n_queue++] = serial;
    return ZKV_COPY_QUEUED;
}

void zkv_copythrottle_release(zkv_copythrottle *t, uint64_t serial)
{
    zkv__copy_slot *s = find_active(t, serial);
    if (s) {
        *s = t->active[--t->n_active];
        if (t->n_queue > 0) { /* the oldest waiting stream takes the place */
            activate(t, t->queue[0]);
            memmove(t->queue, t->queue + 1, --t->n_queue * sizeof(*t->queue));
        }
        return;
    }
    size_t i = find_queued(t, serial);
    if (i != SIZE_MAX) {
        memmove(t->queue + i, t->queue + i + 1, (t->n_queue - i - 1) * sizeof(*t->queue));
        t->n_queue--;
    }
}

int zkv_copythrottle_active(const zkv_copythrottle *t)
{
    return t->n_active;
}

size_t zkv_copythrottle_waiting(const zkv_copythrottle *t)
{
    return t->n_queue;
}

/* ---- the bucket ---- */

static int64_t milli(uint64_t bytes)
{
    return (int64_t)((bytes > BYTES_MAX ? BYTES_MAX : bytes) * 1000u);
}

/* Brings the tokens up to now (rate > 0). The first call starts the clock, bucket full. */
static void refill(zkv_copythrottle *t, uint64_t now)
{
    int64_t cap = milli(t->burst);
    if (!t->clock_set) {
        t->clock_set = true;
        t->at_ms = now;
        t->tokens = cap;
        return;
    }
    if (now <= t->at_ms)
        return;
    uint64_t dt = now - t->at_ms;
    t->at_ms = now;
    if (t->tokens >= cap)
        return;
    uint64_t room = (uint64_t)(cap - t->tokens);
    if (dt > room / t->rate)
        t->tokens = cap;
    else
        t->tokens += (int64_t)(dt * t->rate); /* <= room: no overflow */
}

/* a waited since an older grant than b (ties: the older stream). */
static bool turn_before(const zkv__copy_slot *a, const zkv__copy_slot *b)
{
    return a->granted < b->granted || (a->granted == b->granted && a->serial < b->serial);
}

size_t zkv_copythrottle_allowance(zkv_copythrottle *t, uint64_t serial, uint64_t now_ms)
{
    zkv__copy_slot *s = find_active(t, serial);
    if (!s)
        return 0;
    if (t->rate == 0)
        return SIZE_MAX;
    refill(t, now_ms);
    /* A quantum for each stream that waits for bytes since longer (their turn), and one */
    uint64_t ahead = 0;
    for (int i = 0; i < t->n_active; i++) {
        const zkv__copy_slot *o = &t->active[i];
        ahead += o != s && o->hungry && turn_before(o, s);
    }
    if (t->tokens < milli(t->quantum) * (int64_t)(ahead + 1)) {
        s->hungry = true;
        return 0;
    }
    uint64_t bytes = (uint64_t)t->tokens / 1000u;
    return bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes;
}

void zkv_copythrottle_spend(zkv_copythrottle *t, uint64_t serial, size_t bytes, uint64_t now_ms)
{
    zkv__copy_slot *s = find_active(t, serial);
    if (s) {
        s->granted = ++t->grants;
        s->hungry = false;
    }
    if (t->rate == 0)
        return;
    refill(t, now_ms);
    t->tokens -= milli((uint64_t)bytes);
}

uint64_t zkv_copythrottle_next_ms(zkv_copythrottle *t, uint64_t now_ms)
{
    if (t->rate == 0)
        return 0;
    refill(t, now_ms);
    int64_t need = milli(t->quantum) - t->tokens;
    if (need <= 0)
        return 0;
    return now_ms + ((uint64_t)need + t->rate - 1) / t->rate;
}
