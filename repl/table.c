/* table.c: column-aligned plain-text tables (see table.h). Cells are stored row-major,
 * the header as row 0; widths are computed at render time. */
#include "table.h"

#include <stdlib.h>
#include <string.h>

struct zkv_repl_table {
    size_t ncols;
    size_t nrows; /* header included */
    size_t cap;   /* rows allocated */
    char **cells; /* nrows * ncols strings */
    zkv_repl_align *align;
};

static char *dup_cell(const char *s)
{
    return strdup(s ? s : "");
}

zkv_repl_table *zkv_repl_table_create(size_t ncols, const char *const *headers)
{
    if (ncols == 0)
        return NULL;
    zkv_repl_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ncols = ncols;
    t->align = calloc(ncols, sizeof(*t->align));
    if (!t->align || zkv_repl_table_add_row(t, headers) < 0) {
        zkv_repl_table_free(t);
        return NULL;
    }
    return t;
}

void zkv_repl_table_free(zkv_repl_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->align);
    free(t);
}

void zkv_repl_table_set_align(zkv_repl_table *t, size_t col, zkv_repl_align align)
{
    if (col < t->ncols)
        t->align[col] = align;
}

int zkv_repl_table_add_row(zkv_repl_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        char **p = realloc(t->cells, cap * t->ncols * sizeof(*p));
        if (!p)
            return -1;
        t->cells = p;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        row[c] = dup_cell(cells ? cells[c] : NULL);
        if (!row[c]) {
            while (c--)
                free(row[c]);
            return -1;
        }
    }
    t->nrows++;
    return 0;
}

size_t zkv_repl_table_rows(const zkv_repl_table *t)
{
    return t->nrows - 1;
}

size_t zkv_repl_table_width(const zkv_repl_table *t, size_t col)
{
    size_t w = 0;
    for (size_t r = 0; r < t->nrows && col < t->ncols; r++) {
        size_t len = strlen(t->cells[r * t->ncols + col]);
        if (len > w)
            w = len;
    }
    return w;
}

char *zkv_repl_table_render(const zkv_repl_table *t)
{
    size_t *width = calloc(t->ncols, sizeof(*width));
    if (!width)
        return NULL;
    size_t line = 0;
    for (size_t c = 0; c < t->ncols; c++) {
        width[c] = zkv_repl_table_width(t, c);
        line += width[c] + 2;
    }
    char *out = malloc(t->nrows * (line + 1) + 1);
    if (!out) {
        free(width);
        return NULL;
    }
    char *p = out;
    for (size_t r = 0; r < t->nrows; r++) {
        char *line_start = p;
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            size_t len = strlen(cell), pad = width[c] - len;
            int last = c + 1 == t->ncols;
            if (t->align[c] == ZKV_REPL_ALIGN_RIGHT) {
                memset(p, ' ', pad);
                p += pad;
                memcpy(p, cell, len);
                p += len;
            } else {
                memcpy(p, cell, len);
                p += len;
                if (!last) {
                    memset(p, ' ', pad);
                    p += pad;
                }
            }
            if (!last) {
                memcpy(p, "  ", 2);
                p += 2;
            }
        }
        while (p > line_start && p[-1] == ' ') /* an empty last cell leaves blanks */
            p--;
        *p++ = '\n';
    }
    *p = '\0';
    free(width);
    return out;
}
