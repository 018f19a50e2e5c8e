/* lease.c: the serving lease of lease.h: pure arithmetic over confirmed round trips. */
#include "lease.h"

static uint64_t lease_end(uint64_t sent_ms, int timeout_ms)
{
    uint64_t t = timeout_ms > 0 ? (uint64_t)timeout_ms : 0;
    return sent_ms + t * 3 / 4;
}

void zkv_lease_confirm(zkv_lease *l, int64_t session, uint64_t sent_ms, int timeout_ms)
{
    uint64_t end = lease_end(sent_ms, timeout_ms);
    if (l->session != session) {
        l->session = session;
        l->until_ms = end;
    } else if (end > l->until_ms) {
        l->until_ms = end;
    }
}

bool zkv_lease_valid(const zkv_lease *l, int64_t map_session, uint64_t now_ms)
{
    return l->session != 0 && l->session == map_session && now_ms < l->until_ms;
}

uint64_t zkv_lease_confirm_interval_ms(int timeout_ms)
{
    uint64_t i = timeout_ms > 0 ? (uint64_t)timeout_ms / 4 : 0;
    return i < 20 ? 20 : i;
}
