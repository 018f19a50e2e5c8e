/* wait.c: bounded polling of a condition every ~20 ms. */
#include "zkt/wait.h"

#include <errno.h>
#include <time.h>
#include "zkt/util.h"

void zkt_pause_ms(int ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

bool zkt_wait_for(bool (*cond)(void *), void *arg, int timeout_ms)
{
    uint64_t deadline = zkt_now_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
    for (;;) {
        if (cond(arg))
            return true;
        uint64_t now = zkt_now_ms();
        if (now >= deadline)
            return cond(arg);
        uint64_t left = deadline - now;
        zkt_pause_ms(left < ZKT_POLL_MS ? (int)left : ZKT_POLL_MS);
    }
}
