/* auth.c: the credentials file and their check (see auth.h). */
#include "common/auth.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct client_token {
    char name[64];
    char token[ZKV_AUTH_MAX_SECRET + 1];
} client_token;

struct zkv_auth {
    char cluster[ZKV_AUTH_MAX_SECRET + 1]; /* "" when none */
    client_token *clients;
    size_t n_clients;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Constant-time equality of a presented credential with a secret (lengths leak, which a
 * minimum length makes harmless). */
static bool same(const char *cred, const char *secret)
{
    size_t a = strlen(cred), b = strlen(secret);
    unsigned char diff = (unsigned char)(a != b);
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned char)(cred[i < a ? i : 0] ^ secret[i]);
    return diff == 0 && b > 0;
}

static bool word_ok(const char *w, size_t min, size_t max)
{
    size_t n = strlen(w);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (w[i] <= ' ' || w[i] > '~')
            return false;
    return true;
}

static int add_line(zkv_auth *a, char *line, int no, char *err, size_t errlen)
{
    line[strcspn(line, "#")] = '\0'; /* a comment to the end of the line */
    char *save = NULL, *kind = strtok_r(line, " \t", &save);
    if (!kind)
        return 0;
    char *w1 = strtok_r(NULL, " \t", &save), *w2 = strtok_r(NULL, " \t", &save);
    if (strtok_r(NULL, " \t", &save))
        return fail(err, errlen, "line %d: too many words", no);
    if (strcmp(kind, "cluster") == 0) {
        if (!w1 || w2)
            return fail(err, errlen, "line %d: 'cluster SECRET' expected", no);
        if (a->cluster[0])
            return fail(err, errlen, "line %d: a second cluster secret", no);
        if (!word_ok(w1, ZKV_AUTH_MIN_SECRET, ZKV_AUTH_MAX_SECRET))
            return fail(err, errlen,
                        "line %d: the cluster secret must be %d to %d printable characters "
                        "without spaces",
                        no, ZKV_AUTH_MIN_SECRET, ZKV_AUTH_MAX_SECRET);
        snprintf(a->cluster, sizeof(a->cluster), "%s", w1);
        return 0;
    }
    if (strcmp(kind, "client") == 0) {
        if (!w1 || !w2)
            return fail(err, errlen, "line %d: 'client NAME TOKEN' expected", no);
        if (!word_ok(w1, 1, 63))
            return fail(err, errlen, "line %d: a client name is 1 to 63 printable characters", no);
        if (!word_ok(w2, ZKV_AUTH_MIN_SECRET, ZKV_AUTH_MAX_SECRET))
            return fail(err, errlen,
                        "line %d: client %s: a token must be %d to %d printable characters "
                        "without spaces",
                        no, w1, ZKV_AUTH_MIN_SECRET, ZKV_AUTH_MAX_SECRET);
        client_token *nc = realloc(a->clients, (a->n_clients + 1) * sizeof(*nc));
        if (!nc)
            return fail(err, errlen, "out of memory");
        a->clients = nc;
        snprintf(nc[a->n_clients].name, sizeof(nc->name), "%s", w1);
        snprintf(nc[a->n_clients].token, sizeof(nc->token), "%s", w2);
        a->n_clients++;
        return 0;
    }
    return fail(err, errlen, "line %d: unknown entry '%s' (cluster or client)", no, kind);
}

int zkv_auth_parse(const char *text, size_t len, zkv_auth **out, char *err, size_t errlen)
{
    *out = NULL;
    zkv_auth *a = calloc(1, sizeof(*a));
    char *copy = malloc(len + 1);
    if (!a || !copy) {
        free(a);
        free(copy);
        return fail(err, errlen, "out of memory");
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    int no = 0, rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && rc == 0;
         line = strtok_r(NULL, "\n", &save)) {
        no++;
        line[strcspn(line, "\r")] = '\0';
        rc = add_line(a, line, no, err, errlen);
    }
    free(copy);
    if (rc == 0 && !a->cluster[0] && a->n_clients == 0)
        rc = fail(err, errlen, "no credentials (a 'cluster' or 'client' line)");
    if (rc != 0) {
        zkv_auth_free(a);
        return -1;
    }
    *out = a;
    return 0;
}

int zkv_auth_load(const char *path, zkv_auth **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077)) {
        fclose(f);
        return fail(err, errlen, "%s: group or others may read it (chmod 600 %s)", path, path);
    }
    char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf), f);
    bool big = n == sizeof(buf);
    fclose(f);
    if (big)
        return fail(err, errlen, "%s: larger than %zu bytes", path, sizeof(buf) - 1);
    char why[200];
    if (zkv_auth_parse(buf, n, out, why, sizeof(why)) != 0)
        return fail(err, errlen, "%s: %s", path, why);
    return 0;
}

void zkv_auth_free(zkv_auth *a)
{
    if (!a)
        return;
    free(a->clients);
    free(a);
}

const char *zkv_auth_cluster_secret(const zkv_auth *a)
{
    return a && a->cluster[0] ? a->cluster : NULL;
}

zkv_auth_role zkv_auth_check(const zkv_auth *a, const char *cred, const char **name)
{
    if (name)
        *name = NULL;
    if (!a || !cred || !cred[0])
        return ZKV_AUTH_REFUSED;
    if (a->cluster[0] && same(cred, a->cluster))
        return ZKV_AUTH_NODE;
    for (size_t i = 0; i < a->n_clients; i++)
        if (same(cred, a->clients[i].token)) {
            if (name)
                *name = a->clients[i].name;
            return ZKV_AUTH_CLIENT;
        }
    return ZKV_AUTH_REFUSED;
}
