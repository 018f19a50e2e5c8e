/* vlog_writer.h: writes the value log's bytes on a thread of its own while the loop thread
 * stages more requests. A group commit of large values spends most of its time in the
 * kernel's copy into the page cache (docs/performance.md, "Where the time goes"); with a
 * batch handed over in parts as it grows, that copy runs beside the loop's own work, and
 * the commit waits only for the part still being written. Jobs are pwritev calls at
 * explicit offsets, or calls, done in order; the bytes they name must stay put until
 * zkv_vwriter_wait returns. Not for more than one submitting thread. */
#ifndef ZKV_SERVER_VLOG_WRITER_H
#define ZKV_SERVER_VLOG_WRITER_H
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct zkv_vwriter zkv_vwriter;

/* Starts the thread. NULL when it cannot. */
zkv_vwriter *zkv_vwriter_create(void);
/* Waits for the jobs handed over, then stops the thread. NULL is a no-op. */
void zkv_vwriter_free(zkv_vwriter *w);
/* Hands over the write of iov[0..n) (copied) to fd at off. 0, or -1 out of memory (nothing
 * handed over: the caller writes it itself). */
int zkv_vwriter_submit(zkv_vwriter *w, int fd, off_t off, const struct iovec *iov, size_t n);
/* Hands over a call of fn(arg) on the thread, after every job handed over before it (the
 * store's LevelDB records follow the values they point to: store.c, zkv_store_progress).
 * fn returns 0 or an errno, kept as a write's failure is. A call behind a write that
 * failed (since the last zkv_vwriter_wait) is not made. 0, or -1 out of memory. */
int zkv_vwriter_submit_call(zkv_vwriter *w, int (*fn)(void *arg), void *arg);
/* Waits until every job handed over is done. 0, or the errno of the first that failed (a
 * write that makes no progress is EIO); the failure is then cleared. */
int zkv_vwriter_wait(zkv_vwriter *w);

#endif
