/* vlog_batch.h: the value log's unwritten (and last written) records as one run of bytes
 * made of pieces: bytes the batch owns (record heads, small values) and large values it
 * only refers to where they already are (a pinned row-cache entry), so that a value is
 * not copied once more on its way to the file. Owned bytes live in chunks that never move,
 * so a part of the batch can be handed to the writer thread (vlog_writer.h) while the batch
 * grows. Written with pwritev; read back by position. Each referred piece has an owner,
 * handed to a release function once the batch is cleared. Not thread-safe. */
#ifndef ZKV_SERVER_VLOG_BATCH_H
#define ZKV_SERVER_VLOG_BATCH_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct zkv_vseg zkv_vseg;
typedef struct zkv_vchunk zkv_vchunk;
typedef void (*zkv_vbatch_release_fn)(void *owner);

typedef struct zkv_vbatch {
    zkv_vchunk *chunks; /* owned bytes; chunks[cur] takes the next ones */
    size_t n_chunks, cap_chunks, cur;
    zkv_vseg *segs;
    size_t n, cap;
    size_t len; /* bytes in all */
} zkv_vbatch;

/* n more owned bytes at the end: where to write them (they stay there until the batch is
 * cleared), or NULL out of memory (the batch is unchanged). */
uint8_t *zkv_vbatch_reserve(zkv_vbatch *b, size_t n);
/* n bytes at p, not copied: they must stay as they are until owner is released. -1 out of
 * memory (the batch is unchanged). */
int zkv_vbatch_refer(zkv_vbatch *b, const uint8_t *p, size_t n, void *owner);
/* Copies bytes [from, from + n) of the batch (within its length) to dst. */
void zkv_vbatch_copy(const zkv_vbatch *b, size_t from, size_t n, uint8_t *dst);
/* Where bytes [from, from + n) of the batch are when one piece holds them all (valid until
 * the batch is cleared), else NULL. */
const uint8_t *zkv_vbatch_span(const zkv_vbatch *b, size_t from, size_t n);
/* The pieces from byte from on, as at most max iovecs; *bytes gets how many bytes they
 * cover. Returns how many it filled (0 at the end). */
size_t zkv_vbatch_iov(const zkv_vbatch *b, size_t from, struct iovec *iov, size_t max,
                      size_t *bytes);
/* The pieces a pwritev takes (Linux's IOV_MAX). */
#define ZKV_VBATCH_MAX_IOV 1024
/* Writes all of iov[0..n) to fd at off, in pwritev calls of at most ZKV_VBATCH_MAX_IOV
 * pieces, past short writes (iov is used up). 0, or an errno (a write that makes no
 * progress is EIO). */
int zkv_vbatch_pwritev_all(int fd, off_t off, struct iovec *iov, size_t n);
/* Writes the batch from byte from on to fd at offset at + from. 0, or an errno (*done says
 * how far the batch is known written: through from, and past every part that went whole). */
int zkv_vbatch_write(const zkv_vbatch *b, size_t from, int fd, off_t at, size_t *done);
/* Empties the batch, releasing each referred piece's owner with fn (NULL: none to call). */
void zkv_vbatch_clear(zkv_vbatch *b, zkv_vbatch_release_fn fn);
/* zkv_vbatch_clear, then frees the batch's memory. */
void zkv_vbatch_free(zkv_vbatch *b, zkv_vbatch_release_fn fn);

#endif
