/* lease.h: the node's right to serve its owned ranges, derived from confirmed ZooKeeper
 * round trips (fencing).
 *
 * ZooKeeper expires a session only after hearing nothing from it for the session timeout
 * T. A request sent at time s and answered within the same session proves the server
 * heard from that session at or after s, so the session lives at least until s + T, and
 * no successor can be chosen before then. The node serves only while
 * now < s + T * 3/4 for the latest confirmed s (the last quarter is margin for clock-rate
 * differences and a loop turn's delay), and only with a range map read under that same
 * session: after a session expiry the new session must re-read the map first.
 * Pure functions; the membership thread confirms, the loop thread checks. */
#ifndef ZKV_SERVER_LEASE_H
#define ZKV_SERVER_LEASE_H
#include <stdbool.h>
#include <stdint.h>

typedef struct zkv_lease {
    int64_t session;   /* ZooKeeper session id the lease belongs to (0: none) */
    uint64_t until_ms; /* monotonic ms; serving is allowed strictly before this */
} zkv_lease;

/* Records a round trip of session sent at sent_ms (monotonic) and answered. A confirmation
 * of another session replaces the lease; one of the same session only extends it. */
void zkv_lease_confirm(zkv_lease *l, int64_t session, uint64_t sent_ms, int timeout_ms);

/* true when a node whose map was read under map_session may serve at now_ms. */
bool zkv_lease_valid(const zkv_lease *l, int64_t map_session, uint64_t now_ms);

/* How often to confirm: a quarter of the timeout (at least 20 ms), so three confirmations
 * fit in a lease and one lost round trip does not fence a healthy node. */
uint64_t zkv_lease_confirm_interval_ms(int timeout_ms);

#endif
