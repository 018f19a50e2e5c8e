/* vlog_recover_plan.c: the value log's check after a restart, its decisions (see
 * vlog_recover_plan.h). */
#include "vlog_recover_plan.h"

#include <stdlib.h>

static int cmp_at(const zkv_vptr *a, const zkv_vptr *b)
{
    if (a->file != b->file)
        return a->file < b->file ? -1 : 1;
    if (a->off != b->off)
        return a->off < b->off ? -1 : 1;
    return 0;
}

static int cmp_qsort(const void *a, const void *b)
{
    return cmp_at(a, b);
}

bool zkv_vlog_beyond_mark(const zkv_vptr *p, const zkv_vptr *mark)
{
    return cmp_at(p, mark) >= 0;
}

bool zkv_vlog_recovery_all(zkv_vptr *log_lost, size_t nlog, const zkv_vptr *data_lost, size_t ndata)
{
    if (nlog > 1)
        qsort(log_lost, nlog, sizeof *log_lost, cmp_qsort);
    for (size_t i = 0; i < ndata; i++) {
        if (nlog == 0 || !bsearch(&data_lost[i], log_lost, nlog, sizeof *log_lost, cmp_qsort))
            return true;
    }
    return false;
}
