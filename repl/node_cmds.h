/* node_cmds.h: zkv's commands that look at nodes one by one: ping, info and latency
 * (the I/O around libzkv's zkv_nodes, zkv_ping and zkv_info; rendering is node_render.h).
 * Each returns the command's exit status: 0, or 2 after reporting the failure. */
#ifndef ZKV_REPL_NODE_CMDS_H
#define ZKV_REPL_NODE_CMDS_H
#include "session.h"

int zkv_repl_cmd_ping(zkv_repl_session *s, const zkv_repl_args *a);
int zkv_repl_cmd_info(zkv_repl_session *s, const zkv_repl_args *a);
/* Runs until --samples are taken or SIGINT (Ctrl-C), which it catches while it runs. */
int zkv_repl_cmd_latency(zkv_repl_session *s, const zkv_repl_args *a);

#endif
