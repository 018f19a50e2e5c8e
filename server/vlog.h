/* vlog.h: the value log, where a node stores each large value once (docs/internals.md,
 * "Value log"). Values above the store's inline limit are appended to numbered files in
 * <db dir>/vlog; the data record and the log entry hold a pointer (file, offset, lengths)
 * instead of the value, so LevelDB's compactions never copy them. Records carry the range
 * id, seq and key they were written for (garbage collection checks them against the data
 * records) and a CRC-32C.
 *
 * Appends go to a batch that zkv_vlog_flush writes (and with sync fdatasyncs) before the
 * store writes the LevelDB batch that points at them; a batch that grows large is handed to
 * a writer thread in parts while it grows, and the flush waits for them. A file is closed for
 * appends once it holds file_bytes; the next flush starts a new one. Open never appends to an old
 * file. Not thread-safe: the store's thread owns it. Errors: 0, or -1 with a reason in err. */
#ifndef ZKV_SERVER_VLOG_H
#define ZKV_SERVER_VLOG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "record.h" /* zkv_vptr */

#define ZKV_VLOG_REC_HDR 22u /* crc, kind, id length, key length, value length, seq */
#define ZKV_VLOG_DEFAULT_FILE_BYTES ((uint64_t)64 << 20)

typedef struct zkv_vlog zkv_vlog;

/* Opens (creating) the directory dir and lists its files; empty files are removed. */
int zkv_vlog_open(const char *dir, uint64_t file_bytes, zkv_vlog **out, char *err, size_t errlen);
void zkv_vlog_close(zkv_vlog *v); /* buffered records are dropped; NULL is a no-op */

/* Buffers the record of (range_id, seq, key, value); *p receives where it will be. */
int zkv_vlog_append(zkv_vlog *v, const char *range_id, uint64_t seq, const uint8_t *key,
                    size_t klen, const uint8_t *value, size_t vlen, zkv_vptr *p, char *err,
                    size_t errlen);
/* As zkv_vlog_append, but value is not copied: the flush writes it from where it is, and
 * reads of the record before and just after the flush copy it from there. Its bytes must
 * stay unchanged until the log hands owner to its release function (zkv_vlog_set_release,
 * which must be set): after the flush after the one that writes them, at a remove of their
 * file, or at close. -1 without owner or release, or as zkv_vlog_append (an append that
 * fails for memory after its head leaves the log failed). */
int zkv_vlog_append_ref(zkv_vlog *v, const char *range_id, uint64_t seq, const uint8_t *key,
                        size_t klen, const uint8_t *value, size_t vlen, void *owner, zkv_vptr *p,
                        char *err, size_t errlen);
typedef void (*zkv_vlog_release_fn)(void *owner);
void zkv_vlog_set_release(zkv_vlog *v, zkv_vlog_release_fn fn);
/* Bytes appended and not yet flushed. */
size_t zkv_vlog_buffered(const zkv_vlog *v);
/* Writes the buffered records to the file, fdatasyncs it when sync, and closes the file
 * for appends once it is full. A failed write leaves the log failed: later calls fail. */
int zkv_vlog_flush(zkv_vlog *v, bool sync, char *err, size_t errlen);
/* Copies of the descriptors of every file written since its last sync (the caller
 * fdatasyncs and closes them: a GC's durability barrier, bgsync.h), which count as synced
 * from now on. 0, or -1 out of memory or descriptors. */
int zkv_vlog_take_dirty(zkv_vlog *v, int **fds, size_t *n);

/* Reads the record at p into out (replacing its contents) and returns the value's start:
 * in out, or, for a record not yet written or written by the last flush, where the log holds
 * it (valid until the next append, flush or read). The record must check out: CRC, lengths, key
 * (when key is not NULL) and seq (when not 0: a record left in a reused file by an older write of
 * the key has another seq). */
const uint8_t *zkv_vlog_read(zkv_vlog *v, const zkv_vptr *p, const uint8_t *key, size_t klen,
                             uint64_t seq, zkv_buf *out, char *err, size_t errlen);

/* One record as zkv_vlog_scan sees it (pointers valid during the callback only). */
typedef struct zkv_vlog_rec {
    zkv_vptr at;
    const char *range_id; /* NUL-terminated */
    uint64_t seq;
    const uint8_t *key;
    size_t klen;
    const uint8_t *value;
    const uint8_t *raw; /* the whole record, at.rec_len bytes */
} zkv_vlog_rec;
/* Whether r's CRC checks out (a scan without check verifies framing only). */
bool zkv_vlog_rec_intact(const zkv_vlog_rec *r);
typedef int (*zkv_vlog_rec_fn)(void *ctx, const zkv_vlog_rec *r);
/* Visits file's records from *off on, about max_bytes of them (at least one), advancing
 * *off. check: each record's CRC is verified (its value is used), else only its framing
 * (lengths that add up: a GC measure reads keys only). Returns 1 while records remain, 0 at
 * the end (a damaged record ends the file: a torn tail after a crash; *damaged says so),
 * what fn returned when non-zero, or -1. */
int zkv_vlog_scan(zkv_vlog *v, uint32_t file, uint64_t *off, size_t max_bytes, bool check,
                  zkv_vlog_rec_fn fn, void *ctx, bool *damaged, char *err, size_t errlen);

/* The files, oldest first: numbers and sizes; returns the count (copies at most max). */
size_t zkv_vlog_files(const zkv_vlog *v, uint32_t *nums, uint64_t *bytes, size_t max);
/* Counts bytes of file's records as dead (their key was overwritten or deleted; the store
 * tells what it knows from its row cache): the GC's estimate of a file's live share between
 * its reads of it. Kept in memory only; unknown files are ignored. */
void zkv_vlog_note_dead(zkv_vlog *v, uint32_t file, uint64_t bytes);
/* The dead bytes counted for file since it was written or this process started (0: none). */
uint64_t zkv_vlog_dead(const zkv_vlog *v, uint32_t file);
/* The file appends go to (0: none yet). Every other file is closed for appends. */
uint32_t zkv_vlog_active(const zkv_vlog *v);
/* Deletes a file closed for appends. */
int zkv_vlog_remove(zkv_vlog *v, uint32_t file, char *err, size_t errlen);
/* Where zkv_vlog_remove hands the open descriptor of a file it unlinked: its last close
 * frees the file's blocks, which with the `discard` mount option waits for the device
 * (the store closes it on its sync thread). Without one (the default) it is closed at once. */
typedef void (*zkv_vlog_close_fn)(void *ctx, int fd);
void zkv_vlog_set_closer(zkv_vlog *v, zkv_vlog_close_fn fn, void *ctx);
/* Descriptors the log holds open (at most 128 for closed files, plus the active one's);
 * zkv__vlog_set_max_open changes the cap (tests). */
size_t zkv_vlog_open_fds(const zkv_vlog *v);
void zkv__vlog_set_max_open(zkv_vlog *v, size_t n);
/* The bytes a batch grows by before they go to the writer thread (0: never; tests). */
void zkv__vlog_set_submit_min(zkv_vlog *v, size_t bytes);
/* Hands every byte of the batch not yet handed over to the writer thread, then fn(arg) to
 * run there once they are written (vlog_writer.h); the next flush waits for it too. 0, or
 * -1 (no writer thread, nothing to hand over, out of memory, failed): nothing was queued. */
int zkv_vlog_after_written(zkv_vlog *v, int (*fn)(void *arg), void *arg);
/* Waits for everything handed to the writer thread (writes and calls). */
void zkv_vlog_wait_writer(zkv_vlog *v);
/* Cuts the file taking appends to what was written to it: a reused spare holds its earlier
 * records past that, which would otherwise count as written after a restart (the store
 * calls it at a clean close). 0, or -1 (the file keeps its size). */
int zkv_vlog_trim(zkv_vlog *v);
/* Where the flushed records end: the newest file and its size; false without files. Every
 * record flushed so far lies before it (files are numbered in the order they are written). */
bool zkv_vlog_end(const zkv_vlog *v, uint32_t *file, uint64_t *off);
/* The size at which a file is closed for appends. */
uint64_t zkv_vlog_file_bytes(const zkv_vlog *v);
/* What the writer thread did since open: bytes handed to it, and the microseconds flushes
 * spent waiting for it (a writer that keeps up leaves little to wait for). */
void zkv_vlog_writer_stats(const zkv_vlog *v, uint64_t *handed, uint64_t *wait_us);
/* Files and bytes on disk (flushed). */
void zkv_vlog_totals(const zkv_vlog *v, uint64_t *files, uint64_t *bytes);

#endif
