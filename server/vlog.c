/* vlog.c: value-log files (see vlog.h). A record:
 *   u32be crc32c of what follows, u8 kind (1), u8 range id length, u32be key length,
 *   u32be value length, u64be seq, range id, key, value
 * Files are "<dir>/NNNNNNNN.vlog", numbered from 1; the newest is the one appended to.
 * A removed file is kept as a spare ("spare-N.vlog", at most SPARES) and becomes the next
 * new file, written over from its start: its pages stay in the page cache, and writing
 * over cached pages costs a third of filling new ones (measured here: 5.1 against 1.6
 * GB/s; RocksDB recycles its WAL files for the same reason). What lies past the written
 * part is old records: no pointer names them (pointers carry the new file's number and
 * are checked against the key), and a scan stops at the first that does not follow. */
#include "vlog.h"

#include "common/util.h"
#include "crc32c.h"
#include "record.h"
#include "vlog_batch.h"
#include "vlog_writer.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC_KIND 1u
#define SPARES 4
/* Descriptors of closed files kept open at most (a value log of a terabyte is 16,000 files
 * of 64 MiB; reads of old files reopen theirs, a clock hand picks which to close). */
#define MAX_OPEN 128
/* A batch that grows past this many bytes not yet handed over gives them to the writer
 * thread, which copies them into the page cache while the loop stages more (vlog_writer.h);
 * a smaller batch is written at its flush by the loop itself, without a handover. */
#define SUBMIT_MIN ((size_t)512 * 1024)

typedef struct vfile {
    uint32_t num;
    int fd;        /* -1 until read or written */
    uint64_t size; /* bytes flushed */
    bool dirty;    /* written since its last fdatasync */
    uint64_t dead; /* bytes of its records known overwritten or deleted (zkv_vlog_note_dead) */
} vfile;

struct zkv_vlog {
    char *dir;
    uint64_t file_bytes;
    vfile *files; /* by number, oldest first; the last is the active one when active */
    size_t n, cap;
    bool active; /* files[n-1] takes appends */
    uint32_t next_num;
    zkv_vbatch wbuf; /* appended, not yet flushed (for files[n-1] once active) */
    /* What the last flush wrote, kept for reads: the shipper reads a commit's entries right
     * after it, and those come from memory, without a read or a CRC check. */
    zkv_vbatch recent;
    zkv_vlog_release_fn release; /* lets go of a referred value's owner (append_ref) */
    zkv_vwriter *writer;         /* started at the first handover; NULL: none (yet) */
    size_t submitted;            /* bytes of wbuf handed to the writer */
    size_t submit_min;           /* SUBMIT_MIN (0: never hand over) */
    uint64_t handed, wait_us;    /* zkv_vlog_writer_stats */
    uint32_t recent_file;
    uint64_t recent_off;
    bool failed;
    uint64_t total;                /* bytes flushed to every file */
    unsigned n_spares;             /* spare files kept for reuse: spare-0 .. spare-(n-1) */
    size_t n_open, max_open, hand; /* descriptors open, their cap, the clock hand */
    zkv_vlog_close_fn closer;      /* takes a deleted file's descriptor (NULL: close it) */
    void *closer_ctx;
    uint8_t *map; /* zkv_vlog_scan's file, mapped (map_file 0: none) */
    size_t map_len;
    uint32_t map_file;
};

static void unmap_scan(zkv_vlog *v);

/* f takes appends (every other file is closed). */
static bool is_active(const zkv_vlog *v, const vfile *f)
{
    return v->active && f == &v->files[v->n - 1];
}

static int fail(char *err, size_t errlen, const char *what, const char *path, int e)
{
    if (err && errlen)
        snprintf(err, errlen, "value log: %s%s%s%s%s", what, path ? " " : "", path ? path : "",
                 e ? ": " : "", e ? strerror(e) : "");
    return -1;
}

static void file_path(const zkv_vlog *v, uint32_t num, char *out, size_t len)
{
    snprintf(out, len, "%s/%08u.vlog", v->dir, num);
}

static vfile *find(const zkv_vlog *v, uint32_t num)
{
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v->files[mid].num < num)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->n && v->files[lo].num == num ? &v->files[lo] : NULL;
}

static int push(zkv_vlog *v, uint32_t num, uint64_t size)
{
    if (v->n == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 16;
        vfile *nf = realloc(v->files, ncap * sizeof(*nf));
        if (!nf)
            return -1;
        v->files = nf;
        v->cap = ncap;
    }
    v->files[v->n++] = (vfile){.num = num, .fd = -1, .size = size};
    return 0;
}

static int cmp_file(const void *a, const void *b)
{
    uint32_t x = ((const vfile *)a)->num, y = ((const vfile *)b)->num;
    return x < y ? -1 : x > y;
}

static int list_files(zkv_vlog *v, char *err, size_t errlen)
{
    DIR *d = opendir(v->dir);
    if (!d)
        return fail(err, errlen, "cannot open", v->dir, errno);
    struct dirent *de;
    int rc = 0;
    char path[4096];
    while (rc == 0 && (de = readdir(d)) != NULL) {
        unsigned num;
        char tail[8];
        if (strncmp(de->d_name, "spare-", 6) == 0) { /* spares of an earlier run: gone */
            snprintf(path, sizeof(path), "%s/%s", v->dir, de->d_name);
            if (unlink(path) != 0)
                rc = fail(err, errlen, "cannot remove", path, errno);
            continue;
        }
        if (sscanf(de->d_name, "%8u.%5s", &num, tail) != 2 || strcmp(tail, "vlog") != 0 || num == 0)
            continue;
        file_path(v, num, path, sizeof(path));
        struct stat st;
        if (stat(path, &st) != 0) {
            rc = fail(err, errlen, "cannot stat", path, errno);
        } else if (st.st_size == 0) {
            if (unlink(path) != 0)
                rc = fail(err, errlen, "cannot remove empty", path, errno);
        } else if (push(v, num, (uint64_t)st.st_size) != 0) {
            rc = fail(err, errlen, "out of memory", NULL, 0);
        } else {
            v->total += (uint64_t)st.st_size;
        }
        if (num >= v->next_num)
            v->next_num = num + 1;
    }
    closedir(d);
    if (rc == 0 && v->n > 1)
        qsort(v->files, v->n, sizeof(*v->files), cmp_file);
    return rc;
}

int zkv_vlog_open(const char *dir, uint64_t file_bytes, zkv_vlog **out, char *err, size_t errlen)
{
    *out = NULL;
    zkv_vlog *v = calloc(1, sizeof(*v));
    if (!v || !(v->dir = strdup(dir))) {
        free(v);
        return fail(err, errlen, "out of memory", NULL, 0);
    }
    v->file_bytes = file_bytes ? file_bytes : ZKV_VLOG_DEFAULT_FILE_BYTES;
    v->max_open = MAX_OPEN;
    v->submit_min = SUBMIT_MIN;
    v->next_num = 1;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fail(err, errlen, "cannot create", dir, errno);
        zkv_vlog_close(v);
        return -1;
    }
    if (list_files(v, err, errlen) != 0) {
        zkv_vlog_close(v);
        return -1;
    }
    *out = v;
    return 0;
}

void zkv_vlog_close(zkv_vlog *v)
{
    if (!v)
        return;
    zkv_vwriter_free(v->writer); /* (after the writes handed over, which use the batch) */
    unmap_scan(v);
    for (size_t i = 0; i < v->n; i++)
        if (v->files[i].fd >= 0)
            close(v->files[i].fd);
    free(v->files);
    zkv_vbatch_free(&v->wbuf, v->release);
    zkv_vbatch_free(&v->recent, v->release);
    free(v->dir);
    free(v);
}

/* Closes a descriptor of a closed file (not f's) while the cap is reached. */
static void make_room(zkv_vlog *v, const vfile *f)
{
    for (size_t k = 0; k < 2 * v->n && v->n_open >= v->max_open; k++) {
        vfile *c = &v->files[v->hand++ % v->n];
        if (c->fd < 0 || c == f || is_active(v, c))
            continue;
        close(c->fd);
        c->fd = -1;
        v->n_open--;
    }
}

static int file_fd(zkv_vlog *v, vfile *f, bool create, char *err, size_t errlen)
{
    if (f->fd >= 0)
        return f->fd;
    make_room(v, f);
    char path[4096];
    file_path(v, f->num, path, sizeof(path));
    f->fd = open(path, create ? O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0600);
    if (f->fd < 0)
        return fail(err, errlen, "cannot open", path, errno);
    v->n_open++;
    return f->fd;
}

static void spare_path(const zkv_vlog *v, unsigned k, char *out, size_t len)
{
    snprintf(out, len, "%s/spare-%u.vlog", v->dir, k);
}

/* Opens f, a new file: a spare renamed, or created. */
static int new_file(zkv_vlog *v, vfile *f, char *err, size_t errlen)
{
    if (v->n_spares) {
        char from[4096], to[4096];
        spare_path(v, --v->n_spares, from, sizeof(from));
        file_path(v, f->num, to, sizeof(to));
        make_room(v, f);
        if (rename(from, to) == 0) {
            f->fd = open(to, O_RDWR | O_CLOEXEC);
            if (f->fd >= 0) {
                v->n_open++;
                return f->fd;
            }
        }
        unlink(to); /* a spare that does not open: created anew below */
    }
    return file_fd(v, f, true, err, errlen);
}

/* Hands the batch's bytes not yet handed over to the writer thread (started on first use).
 * Whatever it cannot hand over (no thread, no memory) the flush writes. */
static void hand_over(zkv_vlog *v)
{
    if (!v->writer && !(v->writer = zkv_vwriter_create())) {
        v->submit_min = 0;
        return;
    }
    const vfile *f = &v->files[v->n - 1];
    struct iovec iov[ZKV_VBATCH_MAX_IOV];
    size_t bytes, k;
    while ((k = zkv_vbatch_iov(&v->wbuf, v->submitted, iov, ZKV_VBATCH_MAX_IOV, &bytes)) > 0 &&
           zkv_vwriter_submit(v->writer, f->fd, (off_t)(f->size + v->submitted), iov, k) == 0) {
        v->submitted += bytes;
        v->handed += bytes;
    }
}

int zkv_vlog_after_written(zkv_vlog *v, int (*fn)(void *arg), void *arg)
{
    if (v->failed || !v->active || !v->submit_min || v->wbuf.len == 0)
        return -1;
    if (v->submitted < v->wbuf.len)
        hand_over(v);
    if (!v->writer || v->submitted < v->wbuf.len)
        return -1; /* not all of it went: the flush writes the rest, fn would run too soon */
    return zkv_vwriter_submit_call(v->writer, fn, arg);
}

/* zkv_vlog_append with the value copied into the batch (owner NULL) or referred to. */
static int append(zkv_vlog *v, const char *range_id, uint64_t seq, const uint8_t *key, size_t klen,
                  const uint8_t *value, size_t vlen, void *owner, zkv_vptr *p, char *err,
                  size_t errlen)
{
    size_t idlen = strlen(range_id);
    size_t rec_len = ZKV_VLOG_REC_HDR + idlen + klen + vlen;
    if (idlen > 255 || rec_len > UINT32_MAX)
        return fail(err, errlen, "record too large", NULL, 0);
    if (v->failed)
        return fail(err, errlen, "failed after a write error", NULL, 0);
    if (!v->active) {
        if (push(v, v->next_num, 0) != 0)
            return fail(err, errlen, "out of memory", NULL, 0);
        v->next_num++;
        if (new_file(v, &v->files[v->n - 1], err, errlen) < 0) {
            v->n--;
            return -1;
        }
        v->active = true;
    }
    const vfile *f = &v->files[v->n - 1];
    *p = (zkv_vptr){.file = f->num,
                    .off = f->size + v->wbuf.len,
                    .rec_len = (uint32_t)rec_len,
                    .vlen = (uint32_t)vlen};
    size_t own = owner ? rec_len - vlen : rec_len;
    uint8_t *r = zkv_vbatch_reserve(&v->wbuf, own);
    if (!r)
        return fail(err, errlen, "out of memory", NULL, 0);
    r[4] = REC_KIND;
    r[5] = (uint8_t)idlen;
    zkv_put_u32be(r + 6, (uint32_t)klen);
    zkv_put_u32be(r + 10, (uint32_t)vlen);
    zkv_put_u64be(r + 14, seq);
    uint8_t *q = r + ZKV_VLOG_REC_HDR;
    memcpy(q, range_id, idlen); // NOLINT(bugprone-not-null-terminated-result): length-prefixed
    if (klen)
        memcpy(q + idlen, key, klen);
    if (vlen && !owner)
        memcpy(q + idlen + klen, value, vlen);
    uint32_t crc = zkv_crc32c(0, r + 4, own - 4);
    zkv_put_u32be(r, owner ? zkv_crc32c(crc, value, vlen) : crc);
    if (owner && zkv_vbatch_refer(&v->wbuf, value, vlen, owner) != 0) {
        v->failed = true; /* a head without its value cannot be taken back */
        return fail(err, errlen, "out of memory", NULL, 0);
    }
    if (v->submit_min && v->wbuf.len - v->submitted >= v->submit_min)
        hand_over(v);
    return 0;
}

int zkv_vlog_append(zkv_vlog *v, const char *range_id, uint64_t seq, const uint8_t *key,
                    size_t klen, const uint8_t *value, size_t vlen, zkv_vptr *p, char *err,
                    size_t errlen)
{
    return append(v, range_id, seq, key, klen, value, vlen, NULL, p, err, errlen);
}

int zkv_vlog_append_ref(zkv_vlog *v, const char *range_id, uint64_t seq, const uint8_t *key,
                        size_t klen, const uint8_t *value, size_t vlen, void *owner, zkv_vptr *p,
                        char *err, size_t errlen)
{
    if (!owner || !v->release)
        return fail(err, errlen, "a referred value needs an owner and a release", NULL, 0);
    return append(v, range_id, seq, key, klen, value, vlen, owner, p, err, errlen);
}

size_t zkv_vlog_buffered(const zkv_vlog *v)
{
    return v->wbuf.len;
}

static int sync_file(zkv_vlog *v, vfile *f, char *err, size_t errlen)
{
    if (!f->dirty)
        return 0;
    if (fdatasync(f->fd) != 0) {
        v->failed = true;
        return fail(err, errlen, "fdatasync failed", NULL, errno);
    }
    f->dirty = false;
    return 0;
}

int zkv_vlog_flush(zkv_vlog *v, bool sync, char *err, size_t errlen)
{
    if (v->failed)
        return fail(err, errlen, "failed after a write error", NULL, 0);
    if (!v->active)
        return 0;
    vfile *f = &v->files[v->n - 1];
    size_t done = 0;
    /* what was not handed over, then the wait for what was */
    int e = zkv_vbatch_write(&v->wbuf, v->submitted, f->fd, (off_t)f->size, &done);
    int we = 0;
    if (v->submitted) {
        uint64_t t0 = zkv_now_us();
        we = zkv_vwriter_wait(v->writer);
        v->wait_us += zkv_now_us() - t0;
    }
    v->submitted = 0;
    if (e || we) {
        v->failed = true;
        return fail(err, errlen, "write failed", NULL, e ? e : we);
    }
    v->recent_file = f->num;
    v->recent_off = f->size;
    f->size += done;
    v->total += done;
    f->dirty = f->dirty || done > 0;
    zkv_vbatch_clear(&v->recent, v->release); /* the flushed bytes become the recent ones */
    zkv_vbatch t = v->recent;
    v->recent = v->wbuf;
    v->wbuf = t;
    if (sync && sync_file(v, f, err, errlen) != 0)
        return -1;
    if (f->size >= v->file_bytes)
        v->active = false; /* the next append starts a new file */
    return 0;
}

int zkv_vlog_take_dirty(zkv_vlog *v, int **fds, size_t *n)
{
    *n = 0;
    *fds = malloc((v->n ? v->n : 1) * sizeof(int));
    if (!*fds)
        return -1;
    for (size_t i = 0; i < v->n; i++) {
        if (!v->files[i].dirty)
            continue;
        /* (a dirty file's descriptor may have been closed for the cap: fsync works on any) */
        int fd;
        if (v->files[i].fd >= 0) {
            fd = dup(v->files[i].fd);
        } else {
            char path[4096];
            file_path(v, v->files[i].num, path, sizeof(path));
            fd = open(path, O_RDONLY | O_CLOEXEC);
        }
        if (fd < 0) {
            while (*n)
                close((*fds)[--*n]);
            free(*fds);
            *fds = NULL;
            return -1;
        }
        (*fds)[(*n)++] = fd;
    }
    for (size_t i = 0; i < v->n; i++)
        v->files[i].dirty = false;
    return 0;
}

/* Checks the record at r[0..len) (len = its rec_len) and fills out. */
static bool rec_parse(const uint8_t *r, size_t len, bool crc, zkv_vlog_rec *out, char *id)
{
    if (len < ZKV_VLOG_REC_HDR || r[4] != REC_KIND)
        return false;
    size_t idlen = r[5], klen = zkv_get_u32be(r + 6), vlen = zkv_get_u32be(r + 10);
    if (ZKV_VLOG_REC_HDR + idlen + klen + vlen != len ||
        (crc && zkv_get_u32be(r) != zkv_crc32c(0, r + 4, len - 4)))
        return false;
    memcpy(id, r + ZKV_VLOG_REC_HDR, idlen);
    id[idlen] = '\0';
    out->range_id = id;
    out->seq = zkv_get_u64be(r + 14);
    out->key = r + ZKV_VLOG_REC_HDR + idlen;
    out->klen = klen;
    out->value = out->key + klen;
    out->raw = r;
    out->at.rec_len = (uint32_t)len;
    out->at.vlen = (uint32_t)vlen;
    return true;
}

static int read_at(vfile *f, uint8_t *dst, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(f->fd, dst + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -EIO;
        done += (size_t)r;
    }
    return 0;
}

/* A failed read of p: what went wrong, and in which file (formatted only then: reads are
 * on the GET and shipping paths). NULL. */
static const uint8_t *read_fail(const zkv_vlog *v, const zkv_vptr *p, const char *what, int e,
                                char *err, size_t errlen)
{
    char path[4096];
    file_path(v, p->file, path, sizeof(path));
    fail(err, errlen, what, path, e);
    return NULL;
}

const uint8_t *zkv_vlog_read(zkv_vlog *v, const zkv_vptr *p, const uint8_t *key, size_t klen,
                             uint64_t seq, zkv_buf *out, char *err, size_t errlen)
{
    vfile *f = find(v, p->file);
    if (!f)
        return read_fail(v, p, "missing file", 0, err, errlen);
    out->len = out->off = 0;
    if (zkv_buf_reserve(out, p->rec_len) != 0) {
        fail(err, errlen, "out of memory", NULL, 0);
        return NULL;
    }
    bool buffered = is_active(v, f) && p->off >= f->size;
    bool recent = p->file == v->recent_file && p->off >= v->recent_off &&
                  p->off + p->rec_len <= v->recent_off + v->recent.len;
    const uint8_t *value = NULL; /* where the value is, when not in out */
    if (buffered || recent) {
        if (buffered && p->off + p->rec_len > f->size + v->wbuf.len)
            return read_fail(v, p, "pointer past the end of", 0, err, errlen);
        const zkv_vbatch *b = buffered ? &v->wbuf : &v->recent;
        size_t at = (size_t)(p->off - (buffered ? f->size : v->recent_off));
        size_t head = p->vlen < p->rec_len ? p->rec_len - p->vlen : p->rec_len;
        /* The head is copied; the value is seen where it is when one piece holds it. */
        zkv_vbatch_copy(b, at, head, out->data);
        value = zkv_vbatch_span(b, at + head, p->rec_len - head);
        if (!value)
            zkv_vbatch_copy(b, at + head, p->rec_len - head, out->data + head);
    } else {
        if (p->off + p->rec_len > f->size)
            return read_fail(v, p, "pointer past the end of", 0, err, errlen);
        if (file_fd(v, f, false, err, errlen) < 0)
            return NULL;
        int rc = read_at(f, out->data, p->rec_len, p->off);
        if (rc != 0)
            return read_fail(v, p, "read failed in", -rc, err, errlen);
    }
    out->len = p->rec_len;
    zkv_vlog_rec rec;
    char id[256];
    /* (without the CRC check rec_parse reads the head only: the value may be elsewhere) */
    if (!rec_parse(out->data, p->rec_len, !buffered && !recent, &rec, id) ||
        rec.at.vlen != p->vlen || (seq && rec.seq != seq) ||
        (key && (rec.klen != klen || (klen && memcmp(rec.key, key, klen) != 0)))) {
        char path[4096];
        file_path(v, p->file, path, sizeof(path));
        if (err && errlen)
            snprintf(err, errlen,
                     "value log: damaged record at %s offset %llu (rebuild this node's copy "
                     "from the others: docs/guarantees.md)",
                     path, (unsigned long long)p->off);
        return NULL;
    }
    return value ? value : rec.value;
}

/* The scanned file's mapping (one at a time: the GC works through one file). */
static void unmap_scan(zkv_vlog *v)
{
    if (v->map)
        munmap(v->map, v->map_len);
    v->map = NULL;
    v->map_len = 0;
    v->map_file = 0;
}

int zkv_vlog_scan(zkv_vlog *v, uint32_t file, uint64_t *off, size_t max_bytes, bool check,
                  zkv_vlog_rec_fn fn, void *ctx, bool *damaged, char *err, size_t errlen)
{
    *damaged = false;
    vfile *f = find(v, file);
    if (!f || is_active(v, f))
        return fail(err, errlen, "no such closed file", NULL, 0);
    if (v->map_file != file) {
        unmap_scan(v);
        if (file_fd(v, f, false, err, errlen) < 0)
            return -1;
        void *m = mmap(NULL, (size_t)f->size, PROT_READ, MAP_SHARED, f->fd, 0);
        if (m == MAP_FAILED)
            return fail(err, errlen, "cannot map a file", NULL, errno);
        (void)madvise(m, (size_t)f->size, MADV_SEQUENTIAL);
        v->map = m;
        v->map_len = (size_t)f->size;
        v->map_file = file;
    }
    const uint8_t *base = v->map;
    /* f is not used past here: fn may append, and a new file reallocates v->files */
    const uint64_t size = f->size;
    size_t seen = 0;
    char id[256];
    for (;;) {
        if (*off >= size) {
            unmap_scan(v); /* done with it */
            return 0;
        }
        if (seen > 0 && seen >= max_bytes)
            return 1;
        uint64_t left = size - *off;
        const uint8_t *h = base + *off;
        uint64_t rl = left < ZKV_VLOG_REC_HDR ? UINT64_MAX
                                              : (uint64_t)ZKV_VLOG_REC_HDR + h[5] +
                                                    zkv_get_u32be(h + 6) + zkv_get_u32be(h + 10);
        zkv_vlog_rec rec;
        if (rl > left || !rec_parse(h, (size_t)rl, check, &rec, id)) {
            *damaged = true; /* a torn tail after a crash, or damage: the rest is not read */
            unmap_scan(v);
            return 0;
        }
        rec.at.file = file;
        rec.at.off = *off;
        int rc = fn(ctx, &rec);
        if (rc != 0)
            return rc;
        *off += rl;
        seen += (size_t)rl;
    }
}

size_t zkv_vlog_files(const zkv_vlog *v, uint32_t *nums, uint64_t *bytes, size_t max)
{
    for (size_t i = 0; i < v->n && i < max; i++) {
        nums[i] = v->files[i].num;
        bytes[i] = v->files[i].size;
    }
    return v->n;
}

void zkv_vlog_note_dead(zkv_vlog *v, uint32_t file, uint64_t bytes)
{
    vfile *f = find(v, file);
    if (f)
        f->dead += bytes;
}

uint64_t zkv_vlog_dead(const zkv_vlog *v, uint32_t file)
{
    const vfile *f = find(v, file);
    return f ? f->dead : 0;
}

uint32_t zkv_vlog_active(const zkv_vlog *v)
{
    return v->active ? v->files[v->n - 1].num : 0;
}

int zkv_vlog_remove(zkv_vlog *v, uint32_t file, char *err, size_t errlen)
{
    vfile *f = find(v, file);
    if (!f || is_active(v, f))
        return fail(err, errlen, "no such closed file", NULL, 0);
    char path[4096], spare[4096];
    file_path(v, file, path, sizeof(path));
    spare_path(v, v->n_spares, spare, sizeof(spare));
    if (v->map_file == file)
        unmap_scan(v); /* (before the descriptor's close below: the mapping holds the file) */
    int fd = f->fd;    /* the log's own descriptor, if open */
    if (fd >= 0)
        v->n_open--;
    f->fd = -1;
    if (v->n_spares < SPARES && rename(path, spare) == 0) {
        v->n_spares++;
        if (fd >= 0)
            close(fd); /* still linked: a cheap close */
    } else {
        /* Held open across the unlink, so that the last close, which frees the blocks, is
         * the closer's. */
        if (fd < 0 && v->closer)
            fd = open(path, O_RDONLY | O_CLOEXEC);
        if (unlink(path) != 0 && errno != ENOENT) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            return fail(err, errlen, "cannot remove", path, e);
        }
        if (fd >= 0 && v->closer)
            v->closer(v->closer_ctx, fd);
        else if (fd >= 0)
            close(fd);
    }
    v->total -= f->size;
    if (v->recent_file == file)
        zkv_vbatch_clear(&v->recent, v->release);
    size_t i = (size_t)(f - v->files);
    memmove(f, f + 1, (v->n - i - 1) * sizeof(*f));
    v->n--;
    return 0;
}

bool zkv_vlog_rec_intact(const zkv_vlog_rec *r)
{
    return zkv_get_u32be(r->raw) == zkv_crc32c(0, r->raw + 4, r->at.rec_len - 4u);
}

void zkv__vlog_set_submit_min(zkv_vlog *v, size_t bytes)
{
    v->submit_min = bytes;
}

void zkv__vlog_set_max_open(zkv_vlog *v, size_t n)
{
    v->max_open = n ? n : 1;
}

size_t zkv_vlog_open_fds(const zkv_vlog *v)
{
    return v->n_open;
}

void zkv_vlog_wait_writer(zkv_vlog *v)
{
    if (v->writer) {
        int e = zkv_vwriter_wait(v->writer);
        if (e)
            v->failed = true; /* a write of the batch failed: the next flush says so */
    }
}

int zkv_vlog_trim(zkv_vlog *v)
{
    if (v->writer)
        (void)zkv_vwriter_wait(v->writer); /* (an unflushed batch's writes land first) */
    if (!v->active || v->failed)
        return 0;
    vfile *f = &v->files[v->n - 1];
    if (f->fd < 0 || ftruncate(f->fd, (off_t)f->size) != 0)
        return -1;
    f->dirty = true; /* the new size goes with the next sync */
    return 0;
}

bool zkv_vlog_end(const zkv_vlog *v, uint32_t *file, uint64_t *off)
{
    if (v->n == 0)
        return false;
    *file = v->files[v->n - 1].num;
    *off = v->files[v->n - 1].size;
    return true;
}

uint64_t zkv_vlog_file_bytes(const zkv_vlog *v)
{
    return v->file_bytes;
}

void zkv_vlog_writer_stats(const zkv_vlog *v, uint64_t *handed, uint64_t *wait_us)
{
    *handed = v->handed;
    *wait_us = v->wait_us;
}

void zkv_vlog_totals(const zkv_vlog *v, uint64_t *files, uint64_t *bytes)
{
    *files = v->n;
    *bytes = v->total;
}

void zkv_vlog_set_closer(zkv_vlog *v, zkv_vlog_close_fn fn, void *ctx)
{
    v->closer = fn;
    v->closer_ctx = ctx;
}

void zkv_vlog_set_release(zkv_vlog *v, zkv_vlog_release_fn fn)
{
    v->release = fn;
}
