/* datadir.c: FORMAT, node_id and incarnation files of the data directory (see datadir.h). */
#include "datadir.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/util.h"
#include "common/znode.h"

static size_t trimmed_len(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    return n;
}

int zkv_datadir_parse_u64(const char *text, uint64_t *out)
{
    size_t n = trimmed_len(text);
    if (n == 0 || n > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)text[i]))
            return -1;
        uint64_t d = (uint64_t)(text[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int zkv_datadir_parse_id(const char *text, char id[ZKV_ID_MAX])
{
    size_t n = trimmed_len(text);
    if (n == 0 || n >= ZKV_ID_MAX)
        return -1;
    memcpy(id, text, n);
    id[n] = '\0';
    return zkv_id_valid(id) ? 0 : -1;
}

static int path_join(char *out, size_t outlen, const char *dir, const char *name)
{
    int n = snprintf(out, outlen, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Writes text to dir/name atomically. */
static int write_text(const char *dir, const char *name, const char *text, char *err, size_t errlen)
{
    char path[4096];
    if (path_join(path, sizeof(path), dir, name) != 0) {
        snprintf(err, errlen, "data dir path too long");
        return -1;
    }
    if (zkv_write_file_atomic(path, text, strlen(text)) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Reads dir/name: returns the malloc'd text, or NULL with *missing set when it does not
 * exist (other errors: NULL, *missing false, reason in err). */
static char *read_text(const char *dir, const char *name, bool *missing, char *err, size_t errlen)
{
    char path[4096];
    *missing = false;
    if (path_join(path, sizeof(path), dir, name) != 0) {
        snprintf(err, errlen, "data dir path too long");
        return NULL;
    }
    size_t len;
    char *text = zkv_read_file(path, &len);
    if (!text) {
        if (errno == ENOENT)
            *missing = true;
        else
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    }
    return text;
}

int zkv_datadir_init(const char *dir, char *db_path, size_t db_path_len, char *err, size_t errlen)
{
    if (zkv_mkdirs(dir) != 0) {
        snprintf(err, errlen, "cannot create data dir %s: %s", dir, strerror(errno));
        return -1;
    }
    if (path_join(db_path, db_path_len, dir, "db") != 0) {
        snprintf(err, errlen, "data dir path too long");
        return -1;
    }
    bool missing;
    char *text = read_text(dir, "FORMAT", &missing, err, errlen);
    if (!text) {
        if (!missing)
            return -1;
        char buf[16];
        snprintf(buf, sizeof(buf), "%d\n", ZKV_DATADIR_FORMAT);
        return write_text(dir, "FORMAT", buf, err, errlen);
    }
    uint64_t fmt;
    int rc = zkv_datadir_parse_u64(text, &fmt);
    free(text);
    if (rc != 0 || fmt < ZKV_DATADIR_FORMAT_OLDEST || fmt > ZKV_DATADIR_FORMAT) {
        snprintf(err, errlen, "%s/FORMAT: unsupported data dir format (this build reads %d to %d)",
                 dir, ZKV_DATADIR_FORMAT_OLDEST, ZKV_DATADIR_FORMAT);
        return -1;
    }
    return 0;
}

int zkv_datadir_upgrade(const char *dir, char *err, size_t errlen)
{
    bool missing;
    char *text = read_text(dir, "FORMAT", &missing, err, errlen);
    if (!text)
        return -1;
    uint64_t fmt;
    int rc = zkv_datadir_parse_u64(text, &fmt);
    free(text);
    if (rc != 0) {
        snprintf(err, errlen, "%s/FORMAT: unreadable", dir);
        return -1;
    }
    if (fmt >= ZKV_DATADIR_FORMAT)
        return 0;
    char buf[16];
    snprintf(buf, sizeof(buf), "%d\n", ZKV_DATADIR_FORMAT);
    return write_text(dir, "FORMAT", buf, err, errlen);
}

int zkv_datadir_check_id(const char *dir, const char *flag_id, char *err, size_t errlen)
{
    if (!flag_id)
        return 0;
    bool missing;
    char *text = read_text(dir, "node_id", &missing, err, errlen);
    if (!text)
        return 0; /* zkv_datadir_identity reports real errors */
    char id[ZKV_ID_MAX];
    int rc = 0;
    if (zkv_datadir_parse_id(text, id) == 0 && strcmp(id, flag_id) != 0) {
        snprintf(err, errlen,
                 "--id %s differs from the node id %s persisted in %s/node_id (use a fresh "
                 "data dir for a new node)",
                 flag_id, id, dir);
        rc = ZKV_DATADIR_ID_MISMATCH;
    }
    free(text);
    return rc;
}

int zkv_datadir_identity(const char *dir, const char *flag_id, char node_id[ZKV_ID_MAX],
                         uint64_t *incarnation, char *err, size_t errlen)
{
    bool missing;
    char *text = read_text(dir, "node_id", &missing, err, errlen);
    if (text) {
        int rc = zkv_datadir_parse_id(text, node_id);
        free(text);
        if (rc != 0) {
            snprintf(err, errlen, "%s/node_id does not hold a valid node id", dir);
            return -1;
        }
        if (flag_id && strcmp(flag_id, node_id) != 0) {
            snprintf(err, errlen,
                     "--id %s differs from the node id %s persisted in %s/node_id (use a "
                     "fresh data dir for a new node)",
                     flag_id, node_id, dir);
            return ZKV_DATADIR_ID_MISMATCH;
        }
    } else {
        if (!missing)
            return -1;
        if (flag_id) {
            if (!zkv_id_valid(flag_id)) {
                snprintf(err, errlen, "invalid node id '%s'", flag_id);
                return ZKV_DATADIR_ID_MISMATCH;
            }
            snprintf(node_id, ZKV_ID_MAX, "%s", flag_id);
        } else {
            char hex[9];
            if (zkv_random_hex(hex, 4) != 0) {
                snprintf(err, errlen, "cannot generate a node id: %s", strerror(errno));
                return -1;
            }
            snprintf(node_id, ZKV_ID_MAX, "node-%s", hex);
        }
        char buf[ZKV_ID_MAX + 2];
        snprintf(buf, sizeof(buf), "%s\n", node_id);
        if (write_text(dir, "node_id", buf, err, errlen) != 0)
            return -1;
    }
    uint64_t inc = 0;
    text = read_text(dir, "incarnation", &missing, err, errlen);
    if (text) {
        int rc = zkv_datadir_parse_u64(text, &inc);
        free(text);
        if (rc != 0) {
            snprintf(err, errlen, "%s/incarnation does not hold a number", dir);
            return -1;
        }
    } else if (!missing) {
        return -1;
    }
    inc++;
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64 "\n", inc);
    if (write_text(dir, "incarnation", buf, err, errlen) != 0)
        return -1;
    *incarnation = inc;
    return 0;
}

/* The kernel's boot id read from source, trailing whitespace cut (malloc'd), or NULL. */
static char *read_boot_id(const char *source)
{
    size_t len;
    char *id = zkv_read_file(source, &len);
    if (id)
        id[trimmed_len(id)] = '\0';
    return id;
}

int zkv_datadir_boot(const char *dir, const char *source, bool *restarted, char *err, size_t errlen)
{
    char *now = read_boot_id(source);
    *restarted = true; /* without a boot id, assume the worst */
    if (!now)
        return 0;
    bool missing;
    char *was = read_text(dir, "boot_id", &missing, err, errlen);
    if (!was && !missing) {
        free(now);
        return -1;
    }
    size_t n = strlen(now);
    /* A dir from before boot ids were kept: as after a clean stop (there is no mark to
     * check against either). */
    *restarted = was && (trimmed_len(was) != n || memcmp(was, now, n) != 0);
    free(was);
    free(now);
    return 0;
}

int zkv_datadir_boot_done(const char *dir, const char *source, char *err, size_t errlen)
{
    char *now = read_boot_id(source);
    if (!now)
        return 0;
    int rc = write_text(dir, "boot_id", now, err, errlen);
    free(now);
    return rc;
}
