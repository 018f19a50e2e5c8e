/* store_vlog.h: what the value log's garbage collection (vlog_gc.c) and its check after a
 * machine restart (store_recover.c) need of the store (store.c), kept out of store.h: the
 * GC's state, the liveness of a value-log record, the move of a live value, a durable
 * commit, the durability mark and the database. Internal to the server. */
#ifndef ZKV_SERVER_STORE_VLOG_H
#define ZKV_SERVER_STORE_VLOG_H
#include <leveldb/c.h>
#include "store.h"
#include "vlog.h"

/* The LevelDB key of the value log's durability mark: u64be (file << 40 | offset), every
 * value-log byte before which was fdatasynced before the mark was written (synced). */
#define ZKV_STORE_VLOG_MARK_KEY "vsynced"

typedef struct zkv_vlog_gc zkv_vlog_gc;
zkv_vlog_gc *zkv__vlog_gc_create(void);
void zkv__vlog_gc_free(zkv_vlog_gc *g);
zkv_vlog_gc *zkv__store_gc(zkv_store *s);
const zkv_vlog_gc *zkv__store_gc_const(const zkv_store *s);
zkv_vlog *zkv__store_vlog(const zkv_store *s);
uint64_t zkv__store_vlog_appended(const zkv_store *s);
size_t zkv__store_snapshots(const zkv_store *s);

#define ZKV_VLOG_REF_DATA 1 /* the key's data record points at the record */
#define ZKV_VLOG_REF_LOG 2  /* a range's log may still hold an entry that does */
/* Which of the above hold for r (0: garbage), or ZKV_STORE_ERR. */
int zkv__store_vlog_refs(zkv_store *s, const zkv_vlog_rec *r, char *err, size_t errlen);
/* When the key's data record still points at r, appends r's value anew and stages the data
 * record pointing there (same version and expiry): 1, else 0, or ZKV_STORE_ERR (also for a
 * record whose CRC fails: its value is not copied under a fresh CRC). A record a range's log
 * may still point at (ZKV_VLOG_REF_LOG) is not moved: ZKV_VLOG_MOVE_PINNED. */
#define ZKV_VLOG_MOVE_PINNED 2
int zkv__store_vlog_move(zkv_store *s, const zkv_vlog_rec *r, char *err, size_t errlen);
/* Commits, then asks for everything written so far to be made durable on a thread
 * (bgsync.h: the value log's files fdatasynced, then a synced LevelDB write). Returns the
 * barrier's ticket (0: durable already, with --sync), or -1. */
int64_t zkv__store_barrier(zkv_store *s, char *err, size_t errlen);
/* 1 when the barrier of ticket is done, 0 not yet, ZKV_STORE_ERR when a barrier failed (the
 * store is failed then). */
int zkv__store_barrier_done(zkv_store *s, int64_t ticket, char *err, size_t errlen);
/* The durability mark as a position (file 0, offset 0: none recorded). */
int zkv__store_vlog_mark_read(zkv_store *s, zkv_vptr *w, char *err, size_t errlen);
leveldb_t *zkv__store_db(const zkv_store *s);
/* Closes s as a crash would leave it: without the mark of a clean close (tests). */
void zkv__store_abandon(zkv_store *s);

/* The value log's check after a restart reads back what it gathered every n pointers
 * (0: the default, about a million); tests make it small (store_recover.c). */
void zkv__store_recover_batch(size_t n);

#endif
