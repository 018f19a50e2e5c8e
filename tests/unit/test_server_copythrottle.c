/* test_server_copythrottle.c: server/copythrottle.c, the limits on range copies a node
 * sends: the token bucket over simulated time (the rate over every window, the burst after
 * idling, the wake-up time, chunks larger than the quantum), unlimited mode, admission of
 * snapshot streams (order, release of active and of waiting streams, --max-copies), and
 * that no stream starves (FIFO admission, turns between active streams). */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "copythrottle.h"

#define KIB ((uint64_t)1024)
#define MIB (KIB * KIB)
#define QUANTUM ((size_t)(256 * KIB))

/* Sends as the shipper does at one instant: chunks of chunk bytes while allowed (at most
 * max_chunks). Returns the bytes sent. */
static uint64_t pump(zkv_copythrottle *t, uint64_t serial, uint64_t now, size_t chunk,
                     int max_chunks)
{
    uint64_t sent = 0;
    for (int k = 0; k < max_chunks && zkv_copythrottle_allowance(t, serial, now) > 0; k++) {
        zkv_copythrottle_spend(t, serial, chunk, now);
        sent += chunk;
    }
    return sent;
}

static void test_rate_over_time(void)
{
    const uint64_t rates[] = {1 * MIB, 16 * MIB, 64 * MIB};
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
        uint64_t rate = rates[r];
        zkv_copythrottle t;
        CU_ASSERT_FATAL(zkv_copythrottle_init(&t, rate, 2, QUANTUM) == 0);
        CU_ASSERT_FATAL(zkv_copythrottle_admit(&t, 1) == ZKV_COPY_GO);
        uint64_t burst = rate / 10 > QUANTUM ? rate / 10 : QUANTUM;
        const uint64_t T = 10000, t0 = 5000;           /* 10 simulated seconds, ms steps */
        uint64_t *sent = calloc(T + 1, sizeof(*sent)); /* sent[i]: bytes sent at ms i */
        if (!sent) {
            CU_FAIL("out of memory");
            zkv_copythrottle_free(&t);
            return;
        }
        for (uint64_t i = 0; i <= T; i++)
            sent[i] = pump(&t, 1, t0 + i, QUANTUM, 1000);
        /* Every window [a, b] carries at most the burst plus the rate over its length. */
        bool ok = true;
        for (uint64_t a = 0; a <= T && ok; a += 97) {
            uint64_t sum = 0;
            for (uint64_t b = a; b <= T && ok; b++) {
                sum += sent[b];
                ok = sum <= burst + rate * (b - a) / 1000;
            }
        }
        CU_ASSERT(ok);
        /* And the bucket is used: the whole run sent the rate, give or take a quantum. */
        uint64_t total = 0;
        for (uint64_t i = 0; i <= T; i++)
            total += sent[i];
        CU_ASSERT(total <= burst + rate * T / 1000);
        CU_ASSERT(total + QUANTUM >= burst + rate * T / 1000);
        free(sent);
        zkv_copythrottle_free(&t);
    }
}

static void test_wake_time(void)
{
    zkv_copythrottle t;
    CU_ASSERT_FATAL(zkv_copythrottle_init(&t, 1 * MIB, 1, QUANTUM) == 0);
    CU_ASSERT_FATAL(zkv_copythrottle_admit(&t, 7) == ZKV_COPY_GO);
    uint64_t now = 1000;
    CU_ASSERT_EQUAL(zkv_copythrottle_next_ms(&t, now), 0); /* full: no wait */
    CU_ASSERT(zkv_copythrottle_allowance(&t, 7, now) >= QUANTUM);
    zkv_copythrottle_spend(&t, 7, QUANTUM, now);
    CU_ASSERT_EQUAL(zkv_copythrottle_allowance(&t, 7, now), 0);
    for (int round = 0; round < 20; round++) {
        uint64_t at = zkv_copythrottle_next_ms(&t, now);
        CU_ASSERT_FATAL(at > now);
        /* a quantum at 1 MiB/s is 250 ms */
        CU_ASSERT(at - now >= 249 && at - now <= 251);
        CU_ASSERT_EQUAL(zkv_copythrottle_allowance(&t, 7, at - 1), 0);
        CU_ASSERT(zkv_copythrottle_allowance(&t, 7, at) >= QUANTUM);
        zkv_copythrottle_spend(&t, 7, QUANTUM, at);
        now = at;
    }
    /* A chunk larger than the quantum is owed: the next one waits longer. */
    zkv_copythrottle_spend(&t, 7, 0, now);
    uint64_t plain = zkv_copythrottle_next_ms(&t, now) - now;
    zkv_copythrottle_spend(&t, 7, QUANTUM / 2, now);
    CU_ASSERT(zkv_copythrottle_next_ms(&t, now) - now >= plain + 124);
    zkv_copythrottle_free(&t);
}

/* Streams 1 and 2 take turns at one instant until neither gets more. Returns the bytes. */
static uint64_t drain(zkv_copythrottle *t, uint64_t now)
{
    uint64_t got = 0, step;
    do {
        step = pump(t, 1, now, 4096, 1000000);
        step += pump(t, 2, now, 4096, 1000000);
        got += step;
    } while (step > 0);
    return got;
}

static void test_burst_bound(void)
{
    const struct {
        uint64_t rate, burst;
    } cases[] = {{1 * MIB, QUANTUM}, {64 * MIB, 64 * MIB / 10}, {2560 * KIB, QUANTUM}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        zkv_copythrottle t;
        CU_ASSERT_FATAL(zkv_copythrottle_init(&t, cases[c].rate, 2, QUANTUM) == 0);
        CU_ASSERT_FATAL(zkv_copythrottle_admit(&t, 1) == ZKV_COPY_GO);
        CU_ASSERT_FATAL(zkv_copythrottle_admit(&t, 2) == ZKV_COPY_GO);
        /* idle for a long time, then both streams take what they can at one instant */
        uint64_t got = drain(&t, 10);
        CU_ASSERT(got <= cases[c].burst);
        CU_ASSERT(got + QUANTUM > cases[c].burst);
        got = drain(&t, 100000000);
        CU_ASSERT(got <= cases[c].burst);
        CU_ASSERT(got + QUANTUM > cases[c].burst);
        /* time going backwards adds nothing */
        CU_ASSERT_EQUAL(drain(&t, 50), 0);
        zkv_copythrottle_free(&t);
    }
}

static void test_unlimited(void)
{
    zkv_copythrottle t;
    CU_ASSERT_FATAL(zkv_copythrottle_init(&t, 0, 2, QUANTUM) == 0);
    CU_ASSERT_EQUAL(zkv_copythrottle_allowance(&t, 1, 0), 0); /* no place yet */
    CU_ASSERT_FATAL(zkv_copythrottle_admit(&t, 1) == ZKV_COPY_GO);
    for (uint64_t now = 0; now < 100; now++) {
        CU_ASSERT_EQUAL(zkv_copythrottle_allowance(&t, 1, now), SIZE_MAX);
        zkv_copythrottle_spend(&t, 1, (size_t)1 << 30, now);
        CU_ASSERT_EQUAL(zkv_copythrottle_next_ms(&t, now), 0);
    }
    /* the number of copies is still limited */
    CU_ASSERT_EQUAL(zkv_copythrottle_admit(&t, 2), ZKV_COPY_GO);
    CU_ASSERT_EQUAL(zkv_copythrottle_admit(&t, 3), ZKV_COPY_QUEUED);
    CU_ASSERT_EQUAL(zkv_copythrottle_allowance(&t, 3, 0), 0);
    zkv_copythrottle_free(&t);
}

static void test_admission(void)
{
    zkv_copythrottle t;
    CU_ASSERT_FATAL(zkv_copythrottle_init(&t, 1 * MIB, 2, QUANTUM) == 0);
    CU_ASSERT_EQUAL(zkv_copythrottle_admit(&t, 1), ZKV_COPY_GO);
    CU_ASSERT_EQUAL(zkv_copythrottle_admit(&t, 2), ZKV_COPY_GO);
    CU_ASSERT_EQUAL(zkv_copythrottle_admit(&t, 1), ZKV_COPY_GO); /* asking again is fine */
    CU_ASSERT_EQUAL(zkv_copythrottle_admit(&t, 3), ZKV_COPY_QUEUED);
    CU_ASSERT_EQUAL(zkv_copythrottle_admit(&t, 4), ZKV_COPY_QUEUED);
    CU_ASSERT_EQUAL(zkv_copythrottle_admit(&t, 3), ZKV_COPY_WAIT); /* logged only once */
    CU_ASSERT_EQUAL(zkv_copythrottle_active(&t), 2);
    CU_ASSERT_EQUAL(zkv_copythrottle_waiting(&t), 2);
    CU_ASSERT_EQUAL(zkv_copythrottle_allowance(&t, 3, 0), 0); /* waiting: sends nothing */

    zkv_copythrottle_release(&t, 1); /* ends: the oldest waiting stream takes its place */
    CU_ASSERT_EQUAL(zkv_copythrottle_admit(&t, 4), ZKV_COPY_WAIT);
    CU_ASSERT_EQUAL(zkv_copythrottle_admit(&t, 3), ZKV_COPY_GO);
    CU_ASSERT(zkv_copythrottle_allowance(&t, 3, 0) > 0);

    zkv_copythrottle_release(&t, 4); /* abandoned while waiting */
    CU_ASSERT_EQUAL(zkv_copythrottle_waiting(&t), 0);
    CU_ASSERT_EQUAL(zkv_copythrottle_admit(&t, 5), ZKV_COPY_QUEUED); /* 2 and 3 send */
    zkv_copythrottle_release(&t, 99);                                /* unknown: nothing */
    CU_ASSERT_EQUAL(zkv_copythrottle_active(&t), 2);
    zkv_copythrottle_release(&t, 2);
    CU_ASSERT_EQUAL(zkv_copythrottle_admit(&t, 5), ZKV_COPY_GO);
    zkv_copythrottle_release(&t, 3);
    zkv_copythrottle_release(&t, 3); /* twice: nothing */
    zkv_copythrottle_release(&t, 5);
    CU_ASSERT_EQUAL(zkv_copythrottle_active(&t), 0);
    /* a released stream that asks again queues like a new one: nobody is ahead now */
    CU_ASSERT_EQUAL(zkv_copythrottle_admit(&t, 4), ZKV_COPY_GO);
    zkv_copythrottle_free(&t);

    /* --max-copies below 1 counts as 1 */
    CU_ASSERT_FATAL(zkv_copythrottle_init(&t, 0, 0, QUANTUM) == 0);
    CU_ASSERT_EQUAL(zkv_copythrottle_admit(&t, 1), ZKV_COPY_GO);
    CU_ASSERT_EQUAL(zkv_copythrottle_admit(&t, 2), ZKV_COPY_QUEUED);
    zkv_copythrottle_free(&t);
}

/* 40 streams arrive over time, each to send a random size; at most 3 send at once, all
 * asking at every ms in a fixed order (the order favours the first slots: turns must undo
 * that). Every stream finishes, places are given in arrival order, and while two or more
 * streams want bytes none waits more than a few quanta's time between two chunks. */
#define N_STREAMS 40
static void test_no_starvation(void)
{
    zkv_copythrottle t;
    const uint64_t rate = 4 * MIB;
    CU_ASSERT_FATAL(zkv_copythrottle_init(&t, rate, 3, QUANTUM) == 0);
    uint64_t left[N_STREAMS + 1], arrive[N_STREAMS + 1], last_chunk[N_STREAMS + 1];
    int admitted_order[N_STREAMS], n_admitted = 0, done = 0;
    bool admitted[N_STREAMS + 1], queued[N_STREAMS + 1], finished[N_STREAMS + 1];
    memset(admitted, 0, sizeof(admitted));
    memset(queued, 0, sizeof(queued));
    memset(finished, 0, sizeof(finished));
    uint64_t rng = 12345;
    for (int s = 1; s <= N_STREAMS; s++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        left[s] = QUANTUM * (1 + (rng >> 33) % 12);
        arrive[s] = (uint64_t)s * 150; /* a new one every 150 ms */
    }
    uint64_t worst_gap = 0;
    uint64_t now;
    for (now = 0; done < N_STREAMS && now < 600000; now++) {
        for (int s = 1; s <= N_STREAMS; s++) { /* arrivals and the FIFO, in serial order */
            if (finished[s] || now < arrive[s] || admitted[s])
                continue;
            zkv_copy_admit a = zkv_copythrottle_admit(&t, (uint64_t)s);
            CU_ASSERT(a != ZKV_COPY_QUEUED || !queued[s]);
            queued[s] = queued[s] || a == ZKV_COPY_QUEUED;
            if (a == ZKV_COPY_GO) {
                admitted[s] = true;
                admitted_order[n_admitted++] = s;
                last_chunk[s] = now;
            }
        }
        int sending = 0;
        for (int s = 1; s <= N_STREAMS; s++)
            sending += admitted[s] && !finished[s];
        CU_ASSERT(sending <= 3);
        for (int s = 1; s <= N_STREAMS; s++) {
            if (!admitted[s] || finished[s])
                continue;
            if (zkv_copythrottle_allowance(&t, (uint64_t)s, now) > 0) {
                zkv_copythrottle_spend(&t, (uint64_t)s, QUANTUM, now);
                left[s] -= QUANTUM;
                if (sending > 1 && now - last_chunk[s] > worst_gap)
                    worst_gap = now - last_chunk[s];
                last_chunk[s] = now;
                if (left[s] == 0) {
                    finished[s] = true;
                    done++;
                    zkv_copythrottle_release(&t, (uint64_t)s);
                }
            }
        }
    }
    CU_ASSERT_EQUAL(done, N_STREAMS);
    CU_ASSERT_EQUAL(n_admitted, N_STREAMS);
    for (int i = 0; i < n_admitted; i++)
        CU_ASSERT_EQUAL(admitted_order[i], i + 1); /* arrival order */
    /* three streams sharing 16 quanta a second take turns: each gets a chunk every 3
     * quanta's time (187.5 ms), a newcomer included (it queues behind those waiting) */
    CU_ASSERT(worst_gap <= (3 * QUANTUM * 1000 + rate - 1) / rate + 1);
    /* the whole thing took about the bytes over the rate */
    uint64_t bytes = 0;
    rng = 12345;
    for (int s = 1; s <= N_STREAMS; s++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        bytes += QUANTUM * (1 + (rng >> 33) % 12);
    }
    CU_ASSERT(now * rate / 1000 + QUANTUM >= bytes);
    CU_ASSERT(now <= bytes * 1000 / rate + arrive[1] + 1000);
    CU_ASSERT_EQUAL(zkv_copythrottle_active(&t), 0);
    CU_ASSERT_EQUAL(zkv_copythrottle_waiting(&t), 0);
    zkv_copythrottle_free(&t);
}

/* Two active streams wanting bytes all the time, always asked in the same order, split the
 * rate about evenly. */
static void test_turns_share_the_rate(void)
{
    zkv_copythrottle t;
    CU_ASSERT_FATAL(zkv_copythrottle_init(&t, 2 * MIB, 2, QUANTUM) == 0);
    CU_ASSERT_FATAL(zkv_copythrottle_admit(&t, 10) == ZKV_COPY_GO);
    CU_ASSERT_FATAL(zkv_copythrottle_admit(&t, 20) == ZKV_COPY_GO);
    uint64_t a = 0, b = 0;
    for (uint64_t now = 0; now < 20000; now++) {
        a += pump(&t, 10, now, QUANTUM, 4);
        b += pump(&t, 20, now, QUANTUM, 4);
    }
    CU_ASSERT(a + b >= 39 * MIB);
    CU_ASSERT(a <= b + QUANTUM && b <= a + QUANTUM);
    zkv_copythrottle_free(&t);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_copythrottle", NULL, NULL);
    CU_add_test(s, "the rate over every window of simulated time", test_rate_over_time);
    CU_add_test(s, "the wake-up time, chunks above the quantum", test_wake_time);
    CU_add_test(s, "the burst after idling", test_burst_bound);
    CU_add_test(s, "unlimited rate, copies still counted", test_unlimited);
    CU_add_test(s, "admission order and release", test_admission);
    CU_add_test(s, "no starvation: FIFO admission, turns", test_no_starvation);
    CU_add_test(s, "active streams share the rate", test_turns_share_the_rate);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
