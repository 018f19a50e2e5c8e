/* admin_render.h: what "zkv admin status" prints, from the JSON of zkv_admin_status (pure):
 * a table ID KIND ARGS STEP UPDATED ERROR of the operations (ARGS as "r0003 node-2",
 * "node-3", "R=2"; "-" for an empty cell), then "drained: node-3 node-4" (or "drained: -"),
 * or the JSON itself. And the operation's state for "zkv admin wait": running, done (gone
 * from ops/), failed (with its error). Returns a malloc'd string ending in '\n' (the caller
 * frees it), or NULL with a reason in err. */
#ifndef ZKV_REPL_ADMIN_RENDER_H
#define ZKV_REPL_ADMIN_RENDER_H
#include <stdbool.h>
#include <stddef.h>

char *zkv_repl_admin_render(const char *json, bool as_json, char *err, size_t errlen);

typedef enum {
    ZKV_REPL_OP_RUNNING, /* listed, not failed */
    ZKV_REPL_OP_DONE,    /* not listed: finished and deleted */
    ZKV_REPL_OP_FAILED,  /* listed with step "failed" */
    ZKV_REPL_OP_BAD,     /* the status could not be parsed */
} zkv_repl_op_state;

/* The state of operation id in a zkv_admin_status document; with FAILED its error and
 * with RUNNING its step go to detail. */
zkv_repl_op_state zkv_repl_admin_op_state(const char *json, const char *id, char *detail,
                                          size_t detail_len);

#endif
