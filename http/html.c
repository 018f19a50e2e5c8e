/* html.c: HTML for the /status pages (html.h). */
#include "html.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void add(zkv_html *h, const char *s, size_t n)
{
    if (zkv_buf_append(h->b, s, n) != 0)
        h->failed = 1;
}

void zkv_html_text(zkv_html *h, const char *text)
{
    for (const char *p = text ? text : ""; *p; p++) {
        switch (*p) {
        case '&':
            add(h, "&amp;", 5);
            break;
        case '<':
            add(h, "&lt;", 4);
            break;
        case '>':
            add(h, "&gt;", 4);
            break;
        case '"':
            add(h, "&quot;", 6);
            break;
        case '\'':
            add(h, "&#39;", 5);
            break;
        default:
            add(h, p, 1);
        }
    }
}

void zkv_html_raw(zkv_html *h, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    add(h, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void zkv_html_begin(zkv_html *h, zkv_buf *b, const char *title)
{
    h->b = b;
    h->failed = 0;
    zkv_html_raw(h, "%s",
                 "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                 "<meta http-equiv=\"refresh\" content=\"5\"><title>");
    zkv_html_text(h, title);
    zkv_html_raw(h, "%s",
                 "</title><style>body{font-family:sans-serif;margin:1.5em}"
                 "table{border-collapse:collapse;margin-bottom:1.5em}"
                 "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
                 "th{background:#f2f2f2}.bad{color:#b00;font-weight:bold}"
                 ".ok{color:#070}</style></head><body>\n<h1>");
    zkv_html_text(h, title);
    zkv_html_raw(h, "%s", "</h1>\n");
}

void zkv_html_row(zkv_html *h, const char *name, const char *value)
{
    zkv_html_raw(h, "%s", "<tr><th>");
    zkv_html_text(h, name);
    zkv_html_raw(h, "%s", "</th><td>");
    zkv_html_text(h, value);
    zkv_html_raw(h, "%s", "</td></tr>\n");
}

int zkv_html_end(zkv_html *h)
{
    zkv_html_raw(h, "%s",
                 "<p>Refreshed every 5 seconds; the figures are at most a second "
                 "old. Prometheus figures: <a href=\"/metrics\">/metrics</a>.</p>\n"
                 "</body></html>\n");
    return h->failed ? -1 : 0;
}
