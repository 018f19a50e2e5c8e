/* internal.h: what the harness's own files share and tests do not use. */
#ifndef ZKT_INTERNAL_H
#define ZKT_INTERNAL_H

/* The run's temp dir path or "" (for signal handlers: no allocation, no locking). */
const char *zkt__tmpdir_peek(void);

#endif
