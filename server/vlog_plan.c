/* vlog_plan.c: the value log's GC decisions (see vlog_plan.h). */
#include "vlog_plan.h"

long zkv_vlog_plan_pick(const zkv_vlog_file_gc *f, size_t n, uint64_t appended, uint64_t every,
                        uint64_t recheck, uint64_t pass)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t at = f[i].measured_at;
        if (pass) {
            if (f[i].pass != pass)
                return (long)i;
        } else if (at == ZKV_VLOG_NEVER) {
            return (long)i;
        } else if (f[i].pinned) {
            return appended - at >= recheck ? (long)i : -1;
        } else if (appended - at >= every) {
            return (long)i;
        }
    }
    return -1;
}

uint64_t zkv_vlog_plan_every(uint64_t total, uint64_t file_bytes)
{
    uint64_t every = total;
    return every > file_bytes ? every : file_bytes;
}

bool zkv_vlog_plan_rewrite(const zkv_vlog_file_gc *f, double max_live)
{
    return f->measured_at != ZKV_VLOG_NEVER && f->pinned == 0 &&
           (double)f->live <= (double)f->bytes * max_live;
}

uint64_t zkv_vlog_plan_credit(uint64_t credit, uint64_t before, uint64_t now, uint64_t cap)
{
    uint64_t add = now > before ? (now - before) * ZKV_VLOG_GC_CREDIT : 0;
    uint64_t c = credit + add < credit ? UINT64_MAX : credit + add;
    return c > cap ? cap : c;
}
