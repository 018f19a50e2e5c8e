/* dbstats.c: LevelDB's "leveldb.stats" text into numbers (dbstats.h). The text is LevelDB's
 * DBImpl::GetProperty: a title line, a header of column names, a dashed line, then one row
 * per level that has files or compaction work. */
#include "dbstats.h"

#include <stdio.h>
#include <string.h>

int zkv_dbstats_parse(const char *text, zkv_dbstats *out)
{
    memset(out, 0, sizeof(*out));
    const char *p =
        text ? strstr(text, "Level  Files Size(MB) Time(sec) Read(MB) Write(MB)") : NULL;
    if (!p)
        return -1;
    p = strchr(p, '\n');                /* the header */
    p = p ? strchr(p + 1, '\n') : NULL; /* the dashes */
    while (p && *++p) {
        int level;
        unsigned long long files;
        double mb, secs, read_mb, write_mb;
        if (sscanf(p, " %d %llu %lf %lf %lf %lf", &level, &files, &mb, &secs, &read_mb,
                   &write_mb) != 6)
            break;
        if (level >= 0 && level < ZKV_DB_LEVELS) {
            const double mib = 1048576.0;
            out->files[level] = files;
            out->level_bytes[level] = (uint64_t)(mb * mib);
            out->size_bytes += out->level_bytes[level];
            out->compaction_ms += (uint64_t)(secs * 1000.0);
            out->compaction_read_bytes += (uint64_t)(read_mb * mib);
            out->compaction_write_bytes += (uint64_t)(write_mb * mib);
        }
        p = strchr(p, '\n');
    }
    return 0;
}
