/* since.c: the first-seen table (see since.h): an array of (key, first seen, seen in this
 * pass), searched linearly; it holds a few dozen keys (down nodes, pending requests). */
#include "since.h"

#include <stdlib.h>
#include <string.h>

typedef struct since_entry {
    char *key;
    uint64_t first_ms;
    bool seen;
} since_entry;

struct zkv_since {
    since_entry *v;
    size_t n, cap;
};

zkv_since *zkv_since_create(void)
{
    return calloc(1, sizeof(zkv_since));
}

void zkv_since_free(zkv_since *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].key);
    free(t->v);
    free(t);
}

void zkv_since_begin_pass(zkv_since *t)
{
    for (size_t i = 0; i < t->n; i++)
        t->v[i].seen = false;
}

uint64_t zkv_since_seen(zkv_since *t, const char *key, uint64_t now_ms)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].key, key) == 0) {
            t->v[i].seen = true;
            return t->v[i].first_ms;
        }
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        since_entry *nv = realloc(t->v, ncap * sizeof(*nv));
        if (!nv)
            return now_ms;
        t->v = nv;
        t->cap = ncap;
    }
    char *k = strdup(key);
    if (!k)
        return now_ms;
    t->v[t->n++] = (since_entry){.key = k, .first_ms = now_ms, .seen = true};
    return now_ms;
}

void zkv_since_end_pass(zkv_since *t)
{
    size_t w = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].seen)
            t->v[w++] = t->v[i];
        else
            free(t->v[i].key);
    }
    t->n = w;
}

size_t zkv_since_count(const zkv_since *t)
{
    return t->n;
}
