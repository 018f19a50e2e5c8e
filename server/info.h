/* info.h: the INFO request's shell on zkv-server: reads the node's figures (map, store,
 * counters, process) and has nodeinfo.h make the JSON. Runs on the loop thread. */
#ifndef ZKV_SERVER_INFO_H
#define ZKV_SERVER_INFO_H

/* The dispatch hook (zkv_dispatch_env.info; ctx: the zkv_server). malloc'd JSON, NULL out
 * of memory. */
char *zkv_server_info(void *ctx);

#endif
