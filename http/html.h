/* html.h: the little HTML the /status pages need (zkv-server's status_page.c and
 * zkv-coordinator's cmetrics.c): a page's head and tail and text escaped for it, appended
 * to a zkv_buf; an append that fails (out of memory) marks the page failed. Pure. */
#ifndef ZKV_HTTP_HTML_H
#define ZKV_HTTP_HTML_H
#include "common/buf.h"

typedef struct zkv_html {
    zkv_buf *b;
    int failed;
} zkv_html;

/* The doctype, a title (escaped), a 5-second refresh and a small style sheet, <body> and
 * an <h1> with the title. */
void zkv_html_begin(zkv_html *h, zkv_buf *b, const char *title);
/* text with &, <, >, " and ' escaped. */
void zkv_html_text(zkv_html *h, const char *text);
/* fmt as printf, appended as it is: HTML of the caller's (arguments it escaped itself). */
void zkv_html_raw(zkv_html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A table row of two cells: a header (escaped) and a value (escaped). */
void zkv_html_row(zkv_html *h, const char *name, const char *value);
/* </body></html>. Returns 0, or -1 when any append of the page failed (out of memory). */
int zkv_html_end(zkv_html *h);

#endif
