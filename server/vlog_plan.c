/* vlog_plan.c: the value log's GC decisions (see vlog_plan.h). */
#include "vlog_plan.h"

/* ln(y) for y >= 1: 2 atanh((y - 1) / (y + 1)) by its series (no libm). */
static double ln_ge1(double y)
{
    double z = (y - 1) / (y + 1), z2 = z * z, term = z, sum = 0;
    for (int k = 1; k < 40; k += 2) {
        sum += term / k;
        term *= z2;
    }
    return 2 * sum;
}

uint64_t zkv_vlog_plan_wait(double share, double max_live, uint64_t live_total)
{
    if (share <= max_live || max_live <= 0)
        return 0;
    return (uint64_t)((double)live_total * ln_ge1(share / max_live));
}

uint64_t zkv_vlog_plan_live(const zkv_vlog_file_gc *f)
{
    uint64_t base = f->measured_at == ZKV_VLOG_NEVER ? f->bytes : f->live;
    uint64_t since = f->measured_at == ZKV_VLOG_NEVER ? f->dead
                     : f->dead > f->dead_at           ? f->dead - f->dead_at
                                                      : 0;
    return base > since ? base - since : 0;
}

bool zkv_vlog_plan_low(const zkv_vlog_file_gc *f, double max_live)
{
    return f->bytes > 0 && (double)zkv_vlog_plan_live(f) <= (double)f->bytes * max_live;
}

/* wait, at least recheck. */
static uint64_t wait_or(uint64_t wait, uint64_t recheck)
{
    return wait > recheck ? wait : recheck;
}

long zkv_vlog_plan_pick(const zkv_vlog_file_gc *f, size_t n, uint64_t appended, uint64_t live_total,
                        uint64_t recheck, double max_live, double low_live, uint64_t pass)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t at = f[i].measured_at;
        if (pass) {
            if (f[i].pass != pass)
                return (long)i;
            continue;
        }
        if (f[i].pinned)
            return appended - at >= recheck ? (long)i : -1;
        if (zkv_vlog_plan_low(&f[i], low_live))
            return (long)i;
        if (at == ZKV_VLOG_NEVER) {
            if (f[i].listed_at == ZKV_VLOG_NEVER)
                return (long)i; /* from before this start: its deaths unknown */
            /* Once uniform overwrites would have taken it to max_live, a file whose counted
             * deaths fall short of that (by a tenth) is measured: the row cache did not see
             * all of them. Else the counts make it low; failing that it is measured once
             * they would have taken it to half of low_live. */
            uint64_t since = appended - f[i].listed_at;
            bool silent = (double)f[i].dead < (double)f[i].bytes * (1 - max_live) * 0.9;
            if ((silent &&
                 since >= wait_or(zkv_vlog_plan_wait(1.0, max_live, live_total), recheck)) ||
                since >= wait_or(zkv_vlog_plan_wait(1.0, low_live / 2, live_total), recheck))
                return (long)i;
            return -1; /* oldest first: younger files die later under uniform overwrites */
        }
        double share = f[i].bytes ? (double)zkv_vlog_plan_live(&f[i]) / (double)f[i].bytes : 0;
        if (appended - at >= wait_or(zkv_vlog_plan_wait(share, max_live, live_total), recheck))
            return (long)i;
    }
    return -1;
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

bool zkv_vlog_plan_yield(bool force, uint64_t step_us, uint64_t credit, uint64_t cap,
                         uint64_t elapsed_us)
{
    return !force && step_us > 0 && credit < cap / 2 && elapsed_us >= step_us;
}
