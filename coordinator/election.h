/* election.h: leader election among coordinators (the ZooKeeper recipe). Each session
 * creates one ephemeral sequential coordinator/c- with {"id","pid","host"}; the lowest
 * sequence number leads; every other one watches only its predecessor, so a departure
 * wakes one coordinator, not all of them.
 * Errors: 0, or a ZooKeeper error code (the caller retries; session errors mean a new
 * session). */
#ifndef ZKV_COORDINATOR_ELECTION_H
#define ZKV_COORDINATOR_ELECTION_H
#include "coord.h"

/* Joins when c has no znode in this session, then decides: c->elect becomes LEADING
 * (with a watch on our own znode) or STANDBY (with a watch on the predecessor). Logs
 * each transition. Call again after every ZKV_EV_ELECTION. */
int zkv_election_step(zkv_coord *c);

/* Forgets the znode of the previous session and leaves any leading state, logging
 * "stepping down: reason" if it led. */
void zkv_election_reset(zkv_coord *c, const char *reason);

/* Parses the sequence number of a "c-0000000007" child; -1 if it is not one. Pure. */
long long zkv_election_seq(const char *name);

/* Given the children of coordinator/ and our own child name, returns the index of the
 * child we must watch (the highest sequence below ours), -1 when we are the lowest,
 * or -2 when our child is not among them. Pure. */
int zkv_election_predecessor(const char *const *children, int n, const char *mine);

#endif
