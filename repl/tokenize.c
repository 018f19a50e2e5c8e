/* tokenize.c: the REPL's argument splitter (see tokenize.h for the syntax). One pass over
 * the line with a small state machine; each argument is built in a growable buffer. Also
 * its inverse, the quoted form --quoted prints. */
#include "tokenize.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/keyrange.h"

typedef struct buf {
    char *data;
    size_t len, cap;
    bool quoted; /* a quote or an escape was part of the argument */
} buf;

/* Makes room for one more byte and the NUL; allocates even for an empty argument. */
static int buf_reserve(buf *b)
{
    if (!b->data || b->len + 2 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 32;
        char *p = realloc(b->data, cap);
        if (!p)
            return -1;
        b->data = p;
        b->cap = cap;
        b->data[b->len] = '\0';
    }
    return 0;
}

static int buf_push(buf *b, char c)
{
    if (buf_reserve(b) < 0)
        return -1;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}

static int args_push(zkv_repl_args *a, size_t *cap, buf *b)
{
    if (a->argc == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        zkv_repl_arg *p = realloc(a->argv, ncap * sizeof(*p));
        if (!p)
            return -1;
        a->argv = p;
        *cap = ncap;
    }
    if (buf_reserve(b) < 0) /* an empty argument still owns a "" buffer */
        return -1;
    a->argv[a->argc].data = b->data;
    a->argv[a->argc].len = b->len;
    a->argv[a->argc].bare = !b->quoted;
    a->argc++;
    b->data = NULL;
    b->len = b->cap = 0;
    b->quoted = false;
    return 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Decodes the escape at s (s[0] == '\\') in unquoted or double-quoted text. Returns the
 * number of characters consumed and the byte in *out, or 0 with a message in err. */
static size_t decode_escape(const char *s, size_t column, char *out, char *err, size_t errlen)
{
    switch (s[1]) {
    case '\\':
    case '"':
    case '\'':
        *out = s[1];
        return 2;
    case 'n':
        *out = '\n';
        return 2;
    case 'r':
        *out = '\r';
        return 2;
    case 't':
        *out = '\t';
        return 2;
    case 'x': {
        int hi = s[2] ? zkv_hex_digit(s[2]) : -1;
        int lo = hi >= 0 && s[3] ? zkv_hex_digit(s[3]) : -1;
        if (hi < 0 || lo < 0) {
            snprintf(err, errlen, "bad escape at column %zu: \\x needs two hex digits", column);
            return 0;
        }
        *out = (char)(hi * 16 + lo);
        return 4;
    }
    case '\0':
        snprintf(err, errlen, "trailing backslash at column %zu", column);
        return 0;
    default:
        if ((unsigned char)s[1] >= 0x20 && (unsigned char)s[1] < 0x7f)
            snprintf(err, errlen, "bad escape '\\%c' at column %zu (use \\xHH for a byte)", s[1],
                     column);
        else
            snprintf(err, errlen, "bad escape at column %zu (use \\xHH for a byte)", column);
        return 0;
    }
}

int zkv_repl_tokenize(const char *line, zkv_repl_args *out, char *err, size_t errlen)
{
    enum { BLANK, WORD, DQUOTE, SQUOTE } state = BLANK;
    buf b = {0};
    size_t cap = 0, i = 0, quote_col = 0;
    int rc = 0;

    out->argc = 0;
    out->argv = NULL;
    if (errlen)
        err[0] = '\0';
    while (line[i] && is_blank(line[i]))
        i++;
    if (line[i] == '#')
        return 0;

    for (;; i++) {
        char c = line[i];
        size_t column = i + 1;
        if (state == BLANK) {
            if (c == '\0')
                break;
            if (is_blank(c))
                continue;
            state = WORD;
            /* fall through to WORD handling of this character */
        }
        if (c == '\\' && state != SQUOTE) { /* unquoted and in double quotes alike */
            char byte;
            size_t n = decode_escape(line + i, column, &byte, err, errlen);
            if (!n)
                goto syntax;
            b.quoted = true;
            if (buf_push(&b, byte) < 0)
                goto nomem;
            i += n - 1;
            continue;
        }
        if (state == WORD) {
            if (c == '\0' || is_blank(c)) {
                if (args_push(out, &cap, &b) < 0)
                    goto nomem;
                state = BLANK;
                if (c == '\0')
                    break;
            } else if (c == '"' || c == '\'') {
                state = c == '"' ? DQUOTE : SQUOTE;
                quote_col = column;
                b.quoted = true;
                if (buf_reserve(&b) < 0) /* "" is an argument */
                    goto nomem;
            } else if (buf_push(&b, c) < 0) {
                goto nomem;
            }
        } else if (state == DQUOTE) {
            if (c == '\0') {
                snprintf(err, errlen, "unterminated double quote (opened at column %zu)",
                         quote_col);
                goto syntax;
            } else if (c == '"') {
                state = WORD;
            } else if (buf_push(&b, c) < 0) {
                goto nomem;
            }
        } else { /* SQUOTE */
            if (c == '\0') {
                snprintf(err, errlen, "unterminated single quote (opened at column %zu)",
                         quote_col);
                goto syntax;
            } else if (c == '\'') {
                state = WORD;
            } else if (c == '\\' && (line[i + 1] == '\'' || line[i + 1] == '\\')) {
                if (buf_push(&b, line[i + 1]) < 0)
                    goto nomem;
                i++;
            } else if (buf_push(&b, c) < 0) {
                goto nomem;
            }
        }
    }
    free(b.data);
    return 0;

nomem:
    snprintf(err, errlen, "out of memory");
    rc = -2;
    goto fail;
syntax:
    rc = -1;
fail:
    free(b.data);
    zkv_repl_args_free(out);
    return rc;
}

int zkv_repl_args_from_argv(int argc, char *const *argv, zkv_repl_args *out)
{
    out->argc = 0;
    out->argv = NULL;
    if (argc <= 0)
        return 0;
    out->argv = calloc((size_t)argc, sizeof(*out->argv));
    if (!out->argv)
        return -2;
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(argv[i]);
        char *p = malloc(len + 1);
        if (!p) {
            zkv_repl_args_free(out);
            return -2;
        }
        memcpy(p, argv[i], len + 1);
        out->argv[i].data = p;
        out->argv[i].len = len;
        out->argv[i].bare = true;
        out->argc++;
    }
    return 0;
}

int zkv_repl_arg_is(const zkv_repl_arg *a, const char *s)
{
    size_t n = strlen(s);
    return a->len == n && memcmp(a->data, s, n) == 0;
}

void zkv_repl_args_free(zkv_repl_args *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->argc; i++)
        free(a->argv[i].data);
    free(a->argv);
    a->argv = NULL;
    a->argc = 0;
}

/* The letter of the two-character escape of c (\n ...), or 0 when it has none. */
static char short_escape(unsigned char c)
{
    switch (c) {
    case '"':
    case '\\':
        return (char)c;
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case '\t':
        return 't';
    default:
        return 0;
    }
}

size_t zkv_repl_quote(const void *data, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data;
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        char esc = short_escape(c);
        if (esc) {
            out[o++] = '\\';
            out[o++] = esc;
        } else if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return o;
}
