/* datadir.h: the node's data directory (docs/internals.md):
 *   DIR/FORMAT       "2", the data-dir format version, checked at start; a format-1
 *                    dir is read as well and marked 2 once the store opened it (format 2
 *                    writes a range's 'r' record only when its log cannot tell the
 *                    position, see store.c: a format-1 build must not open it)
 *   DIR/node_id      the node id, written on first start
 *   DIR/incarnation  decimal, +1 on every start
 *   DIR/boot_id      the kernel's boot id at the last start (a machine restart since then
 *                    may have lost writes still in the page cache: store.h,
 *                    zkv_store_vlog_recover)
 *   DIR/db/          the LevelDB database (store.h)
 * Files are written with zkv_write_file_atomic. Errors: 0, or -1 with a reason in err;
 * zkv_datadir_identity returns ZKV_DATADIR_ID_MISMATCH for an --id that differs from the
 * persisted one (the caller exits 2). */
#ifndef ZKV_SERVER_DATADIR_H
#define ZKV_SERVER_DATADIR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/rangemap.h"

#define ZKV_DATADIR_FORMAT 2
#define ZKV_DATADIR_FORMAT_OLDEST 1 /* oldest format this build reads */
#define ZKV_DATADIR_ID_MISMATCH (-2)

/* Creates dir (mkdir -p) and checks (ZKV_DATADIR_FORMAT_OLDEST..ZKV_DATADIR_FORMAT) or
 * writes DIR/FORMAT. db_path receives DIR/db. */
int zkv_datadir_init(const char *dir, char *db_path, size_t db_path_len, char *err, size_t errlen);

/* Marks an older data dir ZKV_DATADIR_FORMAT; call once the store has opened it (the
 * database lock is held), before the first write. No-op for a current one. */
int zkv_datadir_upgrade(const char *dir, char *err, size_t errlen);

/* Settles the node id (persisted, else flag_id, else "node-" + 8 random hex digits) and
 * bumps DIR/incarnation. flag_id may be NULL. */
int zkv_datadir_identity(const char *dir, const char *flag_id, char node_id[ZKV_ID_MAX],
                         uint64_t *incarnation, char *err, size_t errlen);

/* Read-only early check, before the database lock is taken: ZKV_DATADIR_ID_MISMATCH when
 * flag_id differs from a persisted id, else 0 (also when nothing is persisted yet). */
int zkv_datadir_check_id(const char *dir, const char *flag_id, char *err, size_t errlen);

/* Whether the machine restarted since the node last started here: the boot id read from
 * source (ZKV_DATADIR_BOOT_ID_SOURCE) differs from DIR/boot_id. true when source cannot be
 * read; false for a dir without boot_id (kept since issue 14). zkv_datadir_boot_done
 * writes the current one to DIR/boot_id, once what a restart calls for is done. */
#define ZKV_DATADIR_BOOT_ID_SOURCE "/proc/sys/kernel/random/boot_id"
int zkv_datadir_boot(const char *dir, const char *source, bool *restarted, char *err,
                     size_t errlen);
int zkv_datadir_boot_done(const char *dir, const char *source, char *err, size_t errlen);

/* Pure parsers of the files' contents (trailing whitespace allowed). Return 0 or -1. */
int zkv_datadir_parse_u64(const char *text, uint64_t *out);
int zkv_datadir_parse_id(const char *text, char id[ZKV_ID_MAX]);

#endif
