/* latbuckets.h: the latency buckets every zkv-server histogram uses (requests, LevelDB
 * writes): upper bounds in microseconds and as Prometheus's le labels show them. Pure. */
#ifndef ZKV_SERVER_LATBUCKETS_H
#define ZKV_SERVER_LATBUCKETS_H
#include <stddef.h>
#include <stdint.h>

#define ZKV_LAT_NB 15
extern const uint64_t zkv_lat_bounds_us[ZKV_LAT_NB];
/* The same bounds in seconds ("5e-05" .. "5"). */
extern const char *const zkv_lat_le[ZKV_LAT_NB];

/* The bucket of a duration of us microseconds: the first bound >= us, or ZKV_LAT_NB (+Inf). */
size_t zkv_lat_bucket(uint64_t us);

#endif
