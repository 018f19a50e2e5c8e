/* latbuckets.c: the histogram buckets (latbuckets.h). */
#include "latbuckets.h"

const uint64_t zkv_lat_bounds_us[ZKV_LAT_NB] = {50,     100,    250,    500,     1000,
                                                2500,   5000,   10000,  25000,   50000,
                                                100000, 250000, 500000, 1000000, 5000000};
const char *const zkv_lat_le[ZKV_LAT_NB] = {"5e-05",  "0.0001", "0.00025", "0.0005", "0.001",
                                            "0.0025", "0.005",  "0.01",    "0.025",  "0.05",
                                            "0.1",    "0.25",   "0.5",     "1",      "5"};

size_t zkv_lat_bucket(uint64_t us)
{
    size_t b = 0;
    while (b < ZKV_LAT_NB && us > zkv_lat_bounds_us[b])
        b++;
    return b;
}
