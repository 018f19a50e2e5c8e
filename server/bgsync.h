/* bgsync.h: durability barriers (and the closing of deleted files) on a thread of their own. The
 * value log's GC may delete a file only once the copies it moved and the data records pointing at
 * them are on disk; an fdatasync of hundreds of MB of freshly written value log takes hundreds of
 * ms, which the loop thread must not wait for. A barrier fdatasyncs the files it is given, then
 * runs the caller's db_sync (a synced LevelDB write: LevelDB is thread-safe), and is done; the loop
 * polls for it. Barriers complete in order. */
#ifndef ZKV_SERVER_BGSYNC_H
#define ZKV_SERVER_BGSYNC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zkv_bgsync zkv_bgsync;
/* db_sync runs on the thread with the request's mark (what the barrier makes durable, for
 * the caller to record); 0, or -1 for a failure. */
typedef int (*zkv_bgsync_db_fn)(void *ctx, uint64_t mark);

/* Starts the thread. NULL when it cannot. */
zkv_bgsync *zkv_bgsync_create(zkv_bgsync_db_fn db_sync, void *ctx);
/* Finishes the barriers asked for, then stops the thread. NULL is a no-op. */
void zkv_bgsync_free(zkv_bgsync *b);
/* Asks for a barrier over fds[0..n) (taken: the thread closes them) that passes mark to
 * db_sync. Returns its ticket (from 1, in order), or 0 out of memory (the fds are closed). */
uint64_t zkv_bgsync_request(zkv_bgsync *b, int *fds, size_t n, uint64_t mark);
/* Closes fd on the thread, in turn with the barriers (no sync, no db_sync; it takes no
 * ticket): the last close of a deleted file frees its blocks, which with the `discard`
 * mount option waits for the device (tens of ms for 64 MiB here). 0, or -1 out of memory
 * (fd is then closed here). */
int zkv_bgsync_close(zkv_bgsync *b, int fd);
/* The last ticket done; *failed once any barrier failed (an fdatasync or db_sync error). */
uint64_t zkv_bgsync_done(zkv_bgsync *b, bool *failed);

#endif
