/* log.c: one line per event on stderr. Each line is formatted into a stack buffer and
 * written with a single write(2), so lines from different threads never interleave and
 * no lock is needed. The component and minimum level are set once before threads start. */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/util.h"

#define ZKV_LOG_LINE_MAX 4096

static char g_component[32] = "zkv";
static zkv_log_level g_min_level = ZKV_LOG_INFO;
static bool g_json;

static const char *const level_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
static const char *const json_levels[] = {"debug", "info", "warn", "error"};

void zkv_log_set_json(bool json)
{
    g_json = json;
}

int zkv_log_format_parse(const char *name)
{
    if (name && strcasecmp(name, "text") == 0)
        return 0;
    if (name && strcasecmp(name, "json") == 0)
        return 1;
    return -1;
}

/* s as the inside of a JSON string into out (cap bytes, NUL-terminated, cut at a whole
 * escape): quotes, backslashes and control bytes escaped, and bytes past ASCII too
 * (\u00XX), so a message holding a key's raw bytes still makes valid JSON. */
static size_t json_escape(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && cap; p++) {
        char esc[7];
        size_t n = 0;
        if (*p == '"' || *p == '\\') {
            esc[n++] = '\\';
            esc[n++] = (char)*p;
        } else if (*p < 0x20 || *p >= 0x7f) {
            esc[n++] = '\\';
            esc[n++] = 'u';
            esc[n++] = '0';
            esc[n++] = '0';
            esc[n++] = hex[*p >> 4];
            esc[n++] = hex[*p & 15];
        } else {
            esc[n++] = (char)*p;
        }
        if (o + n >= cap)
            break;
        memcpy(out + o, esc, n);
        o += n;
    }
    if (cap)
        out[o] = '\0';
    return o;
}

void zkv_log_init(const char *component, zkv_log_level min_level)
{
    if (component)
        snprintf(g_component, sizeof g_component, "%s", component);
    if (min_level >= ZKV_LOG_DEBUG && min_level <= ZKV_LOG_ERROR)
        g_min_level = min_level;
}

int zkv_log_level_parse(const char *name)
{
    if (!name)
        return -1;
    if (strcasecmp(name, "debug") == 0)
        return ZKV_LOG_DEBUG;
    if (strcasecmp(name, "info") == 0)
        return ZKV_LOG_INFO;
    if (strcasecmp(name, "warn") == 0 || strcasecmp(name, "warning") == 0)
        return ZKV_LOG_WARN;
    if (strcasecmp(name, "error") == 0)
        return ZKV_LOG_ERROR;
    return -1;
}

__attribute__((format(printf, 2, 0))) static void log_write(zkv_log_level level, const char *fmt,
                                                            va_list ap)
{
    if (level < g_min_level)
        return;
    if (level < ZKV_LOG_DEBUG || level > ZKV_LOG_ERROR)
        level = ZKV_LOG_ERROR;
    char line[ZKV_LOG_LINE_MAX];
    char ts[32];
    zkv_iso8601(zkv_wall_ms(), ts, sizeof ts);
    size_t pos;
    if (g_json) {
        char msg[ZKV_LOG_LINE_MAX / 2], esc[ZKV_LOG_LINE_MAX - 160]; /* (the rest fits 160) */
        int m = vsnprintf(msg, sizeof msg, fmt, ap);
        size_t ml = m < 0 ? 0 : (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1;
        while (ml > 0 && (msg[ml - 1] == '\n' || msg[ml - 1] == '\r'))
            ml--;
        msg[ml] = '\0';
        json_escape(msg, esc, sizeof esc);
        int n = snprintf(line, sizeof line,
                         "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",\"msg\":\"%s\"}", ts,
                         json_levels[level], g_component, esc);
        if (n < 0)
            return;
        pos = (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
    } else {
        int n = snprintf(line, sizeof line, "%s %s %s: ", ts, level_names[level], g_component);
        if (n < 0)
            return;
        pos = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
        int m = vsnprintf(line + pos, sizeof line - pos, fmt, ap);
        if (m < 0)
            m = 0;
        pos += (size_t)m;
        if (pos > sizeof line - 2)
            pos = sizeof line - 2; /* truncated: keep room for the newline */
        /* Strip trailing newlines the caller may have added; we add exactly one. */
        while (pos > 0 && (line[pos - 1] == '\n' || line[pos - 1] == '\r'))
            pos--;
    }
    line[pos++] = '\n';
    const char *p = line;
    while (pos > 0) {
        ssize_t w = write(STDERR_FILENO, p, pos);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        pos -= (size_t)w;
    }
}

void zkv_log(zkv_log_level level, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    log_write(level, fmt, ap);
    va_end(ap);
    errno = saved;
}

void zkv_log_zookeeper(const char *message)
{
    /* The ZooKeeper client repeats its connection errors many times a second while a
     * server is down; the programs log session state changes themselves, so the
     * client's own lines are detail for --log-level debug. */
    if (message)
        zkv_log(ZKV_LOG_DEBUG, "zookeeper: %s", message);
}
