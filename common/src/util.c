/* util.c: small shared helpers: clocks, host:port parsing, random bytes and ids, and
 * file helpers. Random bytes come from getrandom(2) (no seeding, safe in threads);
 * zkv_write_file_atomic uses write-temp, fsync, rename, fsync-directory so a crash
 * leaves either the old or the new content, never a torn file. */
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t zkv_now_ms(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000000u;
}

uint64_t zkv_now_us(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000u;
}

uint64_t zkv_wall_ms(void)
{
    return clock_ns(CLOCK_REALTIME) / 1000000u;
}

void zkv_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* a signal ends it early; callers look at their flags next */
}

void zkv_iso8601(uint64_t wall_ms, char *out, size_t outlen)
{
    if (!out || outlen == 0)
        return;
    time_t secs = (time_t)(wall_ms / 1000u);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(out, outlen, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(wall_ms % 1000u));
}

static int parse_port(const char *s, int *port)
{
    if (*s == '\0')
        return -1;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > 65535)
            return -1;
    }
    *port = (int)v;
    return 0;
}

int zkv_parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    if (!s || !host || hostlen == 0 || !port)
        return -1;
    const char *h;
    size_t hlen;
    const char *portstr;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        h = s + 1;
        hlen = (size_t)(close - h);
        portstr = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon)
            return -1;
        h = s;
        hlen = (size_t)(colon - s);
        if (memchr(h, ':', hlen))
            return -1; /* bare IPv6 without brackets is ambiguous */
        portstr = colon + 1;
    }
    if (hlen == 0 || hlen >= hostlen)
        return -1;
    int p;
    if (parse_port(portstr, &p) != 0)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = p;
    return 0;
}

int zkv_resolve_tcp(const char *addr, struct addrinfo **res, char *err, size_t errlen)
{
    char host[256], portstr[16];
    int port = 0;
    if (!addr || zkv_parse_hostport(addr, host, sizeof(host), &port) != 0) {
        snprintf(err, errlen, "not host:port");
        return ZKV_RESOLVE_BADADDR;
    }
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    *res = NULL;
    int gai = getaddrinfo(host, portstr, &hints, res);
    if (gai != 0 || !*res) {
        snprintf(err, errlen, "%s", gai != 0 ? gai_strerror(gai) : "no address");
        return ZKV_RESOLVE_FAILED;
    }
    return 0;
}

int zkv_random_bytes(void *out, size_t n)
{
    uint8_t *p = out;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int zkv_random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t tmp[64];
    size_t done = 0;
    while (done < nbytes) {
        size_t chunk = nbytes - done < sizeof tmp ? nbytes - done : sizeof tmp;
        if (zkv_random_bytes(tmp, chunk) != 0)
            return -1;
        for (size_t i = 0; i < chunk; i++) {
            out[2 * (done + i)] = hex[tmp[i] >> 4];
            out[2 * (done + i) + 1] = hex[tmp[i] & 15];
        }
        done += chunk;
    }
    out[2 * nbytes] = '\0';
    return 0;
}

char *zkv_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                close(fd);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static int write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int zkv_write_file_atomic(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    /* Make the rename itself durable. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}

int zkv_mkdirs(const char *path)
{
    if (!path || !*path) {
        errno = ENOENT;
        return -1;
    }
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            *p = '/';
            return -1;
        }
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0) {
        if (errno != EEXIST)
            return -1;
        struct stat st;
        if (stat(buf, &st) != 0)
            return -1;
        if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            return -1;
        }
    }
    return 0;
}
