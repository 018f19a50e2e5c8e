/* table.h: plain-text tables with column widths taken from their content (pure).
 *
 *   ID     RANGE         OWNER
 *   r0000  -inf..\x20\x00  node-1a2b3c4d
 *
 * Columns are separated by two spaces; each is as wide as its widest cell (header
 * included); the last column is not padded, so lines carry no trailing blanks. Widths
 * count bytes: cells are expected to be printable ASCII (keys are escaped first).
 * Ownership: the table copies every string it is given; zkv_repl_table_render returns a
 * malloc'd string that the caller frees. zkv_repl_table_free(NULL) is a no-op. */
#ifndef ZKV_REPL_TABLE_H
#define ZKV_REPL_TABLE_H
#include <stddef.h>

typedef struct zkv_repl_table zkv_repl_table;

typedef enum { ZKV_REPL_ALIGN_LEFT = 0, ZKV_REPL_ALIGN_RIGHT = 1 } zkv_repl_align;

/* A table with ncols columns and these headers. NULL when out of memory. */
zkv_repl_table *zkv_repl_table_create(size_t ncols, const char *const *headers);
void zkv_repl_table_free(zkv_repl_table *t);
/* Right-aligns a column (numbers). */
void zkv_repl_table_set_align(zkv_repl_table *t, size_t col, zkv_repl_align align);
/* Appends a row of ncols cells (NULL cells print as empty). Returns 0 or -1 (ENOMEM). */
int zkv_repl_table_add_row(zkv_repl_table *t, const char *const *cells);
size_t zkv_repl_table_rows(const zkv_repl_table *t);
/* Width of a column: the longest cell, header included. */
size_t zkv_repl_table_width(const zkv_repl_table *t, size_t col);
/* The header line and every row, each ending in '\n'. NULL when out of memory. */
char *zkv_repl_table_render(const zkv_repl_table *t);

#endif
