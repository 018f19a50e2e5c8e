/* config_file.c: the settings files' syntax (config_file.h), parsed line by line into
 * name/value pairs; which names exist and what their values mean is flags.c's business. */
#include "common/config_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void zkv_config_free(zkv_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].name);
        free(c->e[i].value);
    }
    free(c->e);
    c->e = NULL;
    c->n = 0;
}

static int fail(zkv_config *c, char *err, size_t errlen, int line, const char *why)
{
    snprintf(err, errlen, "line %d: %s", line, why);
    zkv_config_free(c);
    return -1;
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

static int name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
            return 0;
    }
    return s[0] != '-';
}

/* One "name = value" line (no newline) appended to c. */
static int add_line(zkv_config *c, const char *p, size_t len, int line, char *err, size_t errlen)
{
    while (len && is_blank(*p))
        p++, len--;
    while (len && is_blank(p[len - 1]))
        len--;
    if (len == 0 || p[0] == '#')
        return 0;
    const char *eq = memchr(p, '=', len);
    if (!eq)
        return fail(c, err, errlen, line, "expected 'name = value'");
    size_t nlen = (size_t)(eq - p);
    while (nlen && is_blank(p[nlen - 1]))
        nlen--;
    if (!name_ok(p, nlen))
        return fail(c, err, errlen, line,
                    "a name is a long flag's name without '--' (lower case, digits, '-')");
    const char *v = eq + 1;
    size_t vlen = len - (size_t)(v - p);
    while (vlen && is_blank(*v))
        v++, vlen--;
    if (vlen && v[0] == '"') {
        if (vlen < 2 || v[vlen - 1] != '"')
            return fail(c, err, errlen, line, "unterminated quote");
        v++;
        vlen -= 2;
    }
    for (size_t i = 0; i < c->n; i++)
        if (strlen(c->e[i].name) == nlen && memcmp(c->e[i].name, p, nlen) == 0) {
            char why[160];
            snprintf(why, sizeof why, "'%.*s' was set on line %d already", (int)nlen, p,
                     c->e[i].line);
            return fail(c, err, errlen, line, why);
        }
    zkv_config_entry *e = realloc(c->e, (c->n + 1) * sizeof *e);
    if (!e)
        return fail(c, err, errlen, line, "out of memory");
    c->e = e;
    e = &c->e[c->n];
    e->name = strndup(p, nlen);
    e->value = strndup(v, vlen);
    e->line = line;
    if (!e->name || !e->value) {
        free(e->name);
        free(e->value);
        return fail(c, err, errlen, line, "out of memory");
    }
    c->n++;
    return 0;
}

int zkv_config_parse(const char *text, size_t len, zkv_config *out, char *err, size_t errlen)
{
    out->e = NULL;
    out->n = 0;
    if (len && memchr(text, '\0', len))
        return fail(out, err, errlen, 1, "a NUL byte: not a text file");
    int line = 1;
    for (size_t at = 0; at < len; line++) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (add_line(out, text + at, end - at, line, err, errlen) != 0)
            return -1;
        at = end + 1;
    }
    return 0;
}

int zkv_config_load(const char *path, zkv_config *out, char *err, size_t errlen)
{
    out->e = NULL;
    out->n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    enum { MAX = 1 << 20 };
    char *buf = malloc(MAX + 1);
    size_t len = buf ? fread(buf, 1, MAX + 1, f) : 0;
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad || len > MAX) {
        snprintf(err, errlen, "%s: %s", path,
                 !buf  ? "out of memory"
                 : bad ? "read error"
                       : "larger than 1 MiB");
        free(buf);
        return -1;
    }
    char why[256];
    int rc = zkv_config_parse(buf, len, out, why, sizeof why);
    free(buf);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", path, why);
    return rc;
}

int zkv_config_bool(const char *v)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                "off", "0"};
    for (size_t i = 0; v && i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return 1;
        if (strcasecmp(v, no[i]) == 0)
            return 0;
    }
    return -1;
}
