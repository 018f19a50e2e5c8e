/* mapbump.c: the retry rule of writes that bump the map (mapbump.h). */
#include "mapbump.h"

#include "common/zk.h"

int zkv_mapbump_verdict(int rc, const zoo_op_result_t *results, int n, bool last_try)
{
    if (rc == ZOK)
        return ZOK;
    bool map_only = results[n].err == ZBADVERSION;
    /* the ops that would have gone through come back as ZRUNTIMEINCONSISTENCY */
    for (int i = 0; i < n; i++)
        if (results[i].err != ZOK && results[i].err != ZRUNTIMEINCONSISTENCY)
            map_only = false;
    if (!map_only)
        return rc;
    return last_try ? ZKV_ZK_MAPRACE : ZKV_MAPBUMP_AGAIN;
}
