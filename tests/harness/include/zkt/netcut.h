/* netcut.h: real network partitions between processes on loopback, with the kernel's
 * packet filter: each process is put in a cgroup v1 net_cls group of its own (so its
 * sockets carry a classid), and nft rules in a table of the test's own drop the packets a
 * process sends to chosen ports (`meta cgroup CLASSID tcp dport PORT drop`). Dropped
 * packets vanish as on a cut cable: TCP retransmits, connections time out, nothing is
 * reset. Healing deletes the rules; zkt_netcut_free deletes the table and the groups.
 *
 * Needs root, the nft program and a kernel with net_cls (mounted here at
 * /sys/fs/cgroup/net_cls when not mounted yet). zkt_netcut_open says why when it cannot
 * be had, so a test can fall back to the userspace proxy (proxy.h) and say which ran;
 * ZKT_NO_NFT=1 in the environment makes it unavailable on purpose (to run the fallback).
 * Main thread only. */
#ifndef ZKT_NETCUT_H
#define ZKT_NETCUT_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct zkt_netcut zkt_netcut;

/* A fresh nft table "zkt_<pid>" and a cgroup directory for this test run. NULL when
 * unavailable, the reason in why. */
zkt_netcut *zkt_netcut_open(char *why, size_t whylen);
/* Moves pid (all its threads and sockets) into a net_cls group of its own. Returns 0 or
 * -1. A process moved already keeps its group. */
int zkt_netcut_add(zkt_netcut *nc, pid_t pid);
/* Drops every TCP packet pid sends to 127.0.0.1:port (pid must have been added). Returns
 * 0 or -1. */
int zkt_netcut_drop(zkt_netcut *nc, pid_t pid, int port);
/* Deletes every drop rule (the partition heals). Returns 0 or -1. */
int zkt_netcut_heal(zkt_netcut *nc);
/* Heals, deletes the table and the groups (their processes go back to the root group).
 * NULL is a no-op. */
void zkt_netcut_free(zkt_netcut *nc);

#endif
