/* reclaim_plan.c: the pure plan of what a node may delete (see reclaim_plan.h). Parts are
 * kept sorted and disjoint; bounds are copies, an empty end meaning the end of the key
 * space. */
#include "reclaim_plan.h"

#include <stdlib.h>
#include <string.h>
#include "common/keyrange.h"
#include "reshape.h"

typedef struct bound {
    uint8_t *k; /* owned; NULL when empty */
    size_t n;
} bound;

typedef struct piece {
    bound start, end;
    uint64_t since;
    bool clean;
} piece;

typedef struct unheld_id {
    char id[ZKV_ID_MAX];
    uint64_t since;
} unheld_id;

struct zkv_reclaim_plan {
    piece *v;
    size_t n;
    unheld_id *ids;
    size_t n_ids;
};

static int set_bound(bound *b, const uint8_t *k, size_t n)
{
    uint8_t *c = NULL;
    if (n && !(c = malloc(n)))
        return -1;
    if (n)
        memcpy(c, k, n);
    free(b->k);
    b->k = c;
    b->n = n;
    return 0;
}

static void clear_pieces(piece *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].start.k);
        free(v[i].end.k);
    }
    free(v);
}

zkv_reclaim_plan *zkv_reclaim_plan_new(void)
{
    return calloc(1, sizeof(zkv_reclaim_plan));
}

void zkv_reclaim_plan_free(zkv_reclaim_plan *p)
{
    if (!p)
        return;
    clear_pieces(p->v, p->n);
    free(p->ids);
    free(p);
}

/* Ends compare with an empty end as +infinity. */
static int end_cmp(const bound *a, const bound *b)
{
    if (!a->n || !b->n)
        return (a->n == 0) - (b->n == 0);
    return zkv_key_cmp(a->k, a->n, b->k, b->n);
}

/* Whether end e lies after start s ([s, e) is not empty). */
static bool after(const bound *e, const bound *s)
{
    return zkv_end_cmp(e->k, e->n, s->k, s->n) > 0;
}

/* A growing list of pieces under construction. */
typedef struct list {
    piece *v;
    size_t n, cap;
    bool oom;
} list;

/* Appends [s, e) (when not empty) with since and clean; joins it to the last piece when
 * they touch and agree. */
static void add(list *l, const bound *s, const bound *e, uint64_t since, bool clean)
{
    if (l->oom || !after(e, s))
        return;
    piece *last = l->n ? &l->v[l->n - 1] : NULL;
    if (last && last->since == since && last->clean == clean && last->end.n &&
        last->end.n == s->n && zkv_key_cmp(last->end.k, last->end.n, s->k, s->n) == 0) {
        l->oom = set_bound(&last->end, e->k, e->n) != 0;
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        piece *nv = realloc(l->v, cap * sizeof(*nv));
        if (!nv) {
            l->oom = true;
            return;
        }
        l->v = nv;
        l->cap = cap;
    }
    piece *x = &l->v[l->n++];
    memset(x, 0, sizeof(*x));
    x->since = since;
    x->clean = clean;
    l->oom = set_bound(&x->start, s->k, s->n) != 0 || set_bound(&x->end, e->k, e->n) != 0;
}

static const bound *min_end(const bound *a, const bound *b)
{
    return end_cmp(a, b) <= 0 ? a : b;
}

static const bound *max_start(const bound *a, const bound *b)
{
    return zkv_key_cmp(a->k, a->n, b->k, b->n) >= 0 ? a : b;
}

/* The unheld part [us, ue) against the old pieces from *j on: covered parts keep their
 * time and state, the rest starts at now. */
static void take_part(list *out, const zkv_reclaim_plan *p, size_t *j, const bound *us,
                      const bound *ue, uint64_t now)
{
    bound cur = *us; /* borrowed bytes */
    while (*j < p->n && !after(&p->v[*j].end, &cur))
        (*j)++; /* old pieces wholly before */
    for (size_t k = *j; k < p->n && after(ue, &p->v[k].start); k++) {
        const piece *o = &p->v[k];
        if (zkv_key_cmp(o->start.k, o->start.n, cur.k, cur.n) > 0)
            add(out, &cur, &o->start, now, false);
        const bound *s = max_start(&cur, &o->start), *e = min_end(ue, &o->end);
        add(out, s, e, o->since, o->clean);
        cur = *e;
        if (!cur.n)
            return; /* reached the end of the key space */
    }
    add(out, &cur, ue, now, false);
}

static bool id_listed(const unheld_id *v, size_t n, const char *id, uint64_t *since)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].id, id) == 0) {
            *since = v[i].since;
            return true;
        }
    return false;
}

static bool held_id(const zkv_rangemap *m, const char *me, const char *id)
{
    for (size_t i = 0; i < m->n_ranges; i++)
        if (strcmp(m->ranges[i].id, id) == 0)
            return zkv_reshape_holds(&m->ranges[i], me);
    return false;
}

static int observe_ids(zkv_reclaim_plan *p, const zkv_rangemap *m, const char *me,
                       const char *const *ids, size_t n_ids, uint64_t now)
{
    unheld_id *v = calloc(n_ids ? n_ids : 1, sizeof(*v));
    if (!v)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < n_ids; i++) {
        if (!ids[i] || strlen(ids[i]) >= ZKV_ID_MAX || held_id(m, me, ids[i]))
            continue;
        uint64_t since = now;
        id_listed(p->ids, p->n_ids, ids[i], &since);
        memcpy(v[n].id, ids[i], strlen(ids[i]) + 1);
        v[n++].since = since;
    }
    free(p->ids);
    p->ids = v;
    p->n_ids = n;
    return 0;
}

int zkv_reclaim_plan_observe(zkv_reclaim_plan *p, const zkv_rangemap *m, const char *me,
                             const char *const *ids, size_t n_ids, uint64_t now_ms)
{
    list out = {0};
    size_t j = 0;
    for (size_t i = 0; m && i < m->n_ranges; i++) {
        const zkv_range *r = &m->ranges[i];
        if (zkv_reshape_holds(r, me))
            continue;
        bound s = {r->start, r->start_len}, e = {r->end, r->end_len};
        take_part(&out, p, &j, &s, &e, now_ms);
    }
    clear_pieces(p->v, p->n);
    p->v = out.v;
    p->n = out.n;
    if (!out.oom && m && observe_ids(p, m, me, ids, n_ids, now_ms) == 0)
        return 0;
    /* out of memory (or no map): an empty plan deletes nothing */
    clear_pieces(p->v, p->n);
    p->v = NULL;
    p->n = 0;
    free(p->ids);
    p->ids = NULL;
    p->n_ids = 0;
    return m ? -1 : 0;
}

static bool due(uint64_t since, uint64_t now, uint64_t delay)
{
    return now >= since && now - since >= delay;
}

zkv_reclaim_step zkv_reclaim_plan_next(const zkv_reclaim_plan *p, uint64_t now_ms,
                                       uint64_t delay_ms)
{
    zkv_reclaim_step st = {.kind = ZKV_RECLAIM_NONE};
    for (size_t i = 0; i < p->n_ids; i++)
        if (due(p->ids[i].since, now_ms, delay_ms)) {
            st.kind = ZKV_RECLAIM_FORGET;
            st.range_id = p->ids[i].id;
            return st;
        }
    if (p->n_ids)
        return st; /* data waits until no unheld range has a position */
    for (size_t i = 0; i < p->n; i++) {
        const piece *x = &p->v[i];
        if (x->clean || !due(x->since, now_ms, delay_ms))
            continue;
        st.kind = ZKV_RECLAIM_DELETE;
        st.piece = i;
        st.start = x->start.k;
        st.slen = x->start.n;
        st.end = x->end.k;
        st.elen = x->end.n;
        return st;
    }
    return st;
}

void zkv_reclaim_plan_forgot(zkv_reclaim_plan *p, const char *range_id)
{
    for (size_t i = 0; i < p->n_ids; i++)
        if (strcmp(p->ids[i].id, range_id) == 0) {
            p->ids[i] = p->ids[--p->n_ids];
            return;
        }
}

int zkv_reclaim_plan_cleaned(zkv_reclaim_plan *p, size_t i, const uint8_t *next, size_t next_len)
{
    if (i >= p->n)
        return 0;
    piece *x = &p->v[i];
    bound nb = {(uint8_t *)next, next_len};
    if (!next_len || !after(&x->end, &nb)) {
        x->clean = true;
        return 0;
    }
    if (zkv_key_cmp(next, next_len, x->start.k, x->start.n) <= 0)
        return 0; /* nothing below next */
    /* [start, next) clean, [next, end) as it was: one piece more */
    piece *nv = realloc(p->v, (p->n + 1) * sizeof(*nv));
    if (!nv)
        return -1;
    p->v = nv;
    x = &p->v[i];
    piece rest = {.since = x->since, .clean = false};
    if (set_bound(&rest.start, next, next_len) != 0)
        return -1;
    rest.end = x->end; /* moves */
    x->end = (bound){0};
    if (set_bound(&x->end, next, next_len) != 0) {
        x->end = rest.end;
        free(rest.start.k);
        return -1;
    }
    x->clean = true;
    memmove(&p->v[i + 2], &p->v[i + 1], (p->n - i - 1) * sizeof(*p->v));
    p->v[i + 1] = rest;
    p->n++;
    return 0;
}

void zkv_reclaim_plan_pending(const zkv_reclaim_plan *p, size_t *pieces, size_t *ids)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++)
        k += !p->v[i].clean;
    *pieces = k;
    *ids = p->n_ids;
}
