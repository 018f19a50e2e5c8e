/* it_http.h: reading a node's --metrics in integration tests (test_metrics, test_reclaim):
 * one HTTP/1.0 GET over a plain socket to 127.0.0.1, and the value of one sample line of
 * the exposition text. */
#ifndef ZKV_IT_HTTP_H
#define ZKV_IT_HTTP_H
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* One HTTP/1.0 GET of path on the port: the status code (-1 on a socket error),
 * the Content-Type header value and the body (malloc'd, NUL-terminated; caller frees). */
typedef struct it_http_answer {
    int code;
    char ctype[128];
    char *body;
} it_http_answer;

static inline it_http_answer it_http_get(int port, const char *path)
{
    it_http_answer a = {.code = -1};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    struct timeval tv = {.tv_sec = 5};
    if (fd < 0)
        return a;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || write(fd, req, (size_t)n) != n) {
        close(fd);
        return a;
    }
    static char buf[1 << 20]; /* a few KiB expected; full means truncated: a failure */
    size_t len = 0;
    while (len < sizeof buf - 1) {
        ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (len == sizeof buf - 1)
        return a;
    buf[len] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &a.code) != 1 || !end) {
        a.code = -1;
        return a;
    }
    *end = '\0';
    char *ct = strcasestr(buf, "\r\nContent-Type: ");
    if (ct)
        sscanf(ct + 16, "%127[^\r]", a.ctype);
    a.body = strdup(end + 4);
    return a;
}

/* The value of the sample line that starts with prefix ("name{labels} "), or -1. */
static inline long long it_sample_value(const char *body, const char *prefix)
{
    size_t pl = strlen(prefix);
    for (const char *p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, prefix, pl) == 0)
            return strtoll(p + pl, NULL, 10);
    return -1;
}

#endif
