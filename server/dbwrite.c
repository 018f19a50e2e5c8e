/* dbwrite.c: judging and counting the store's LevelDB writes (dbwrite.h). */
#include "dbwrite.h"

zkv_dbwrite_cause zkv_dbwrite_cause_of(uint64_t us, uint64_t l0_files, bool sync)
{
    if (us < ZKV_DBW_WAIT_US)
        return ZKV_DBW_NONE;
    if (l0_files >= ZKV_DBW_L0_STOP)
        return ZKV_DBW_LEVEL0_STOP;
    if (l0_files >= ZKV_DBW_L0_SLOWDOWN)
        return ZKV_DBW_LEVEL0_SLOWDOWN;
    return sync ? ZKV_DBW_SYNC : ZKV_DBW_MEMTABLE;
}

const char *zkv_dbwrite_cause_name(zkv_dbwrite_cause c)
{
    static const char *const names[ZKV_DBW_NCAUSE] = {"none", "level0_slowdown", "level0_stop",
                                                      "memtable", "sync"};
    return (unsigned)c < ZKV_DBW_NCAUSE ? names[c] : "none";
}

void zkv_dbwrite_observe(zkv_dbwrite_stats *st, uint64_t us, zkv_dbwrite_cause c)
{
    st->n[zkv_lat_bucket(us)]++;
    st->sum_us += us;
    if (us > st->max_us)
        st->max_us = us;
    if (c != ZKV_DBW_NONE && (unsigned)c < ZKV_DBW_NCAUSE) {
        st->waits[c]++;
        st->wait_us[c] += us;
    }
}
