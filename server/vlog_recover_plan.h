/* vlog_recover_plan.h: the decisions of the value log's check after a machine restart
 * (store_recover.c), pure for unit tests: which pointers need reading, and whether the
 * lost values found can be pinned on ranges or every range must be rebuilt. */
#ifndef ZKV_SERVER_VLOG_RECOVER_PLAN_H
#define ZKV_SERVER_VLOG_RECOVER_PLAN_H
#include <stdbool.h>
#include <stddef.h>
#include "record.h" /* zkv_vptr */

/* Whether the record at p may be lost: it starts at or beyond the durability mark (every
 * record before the mark was flushed whole before the mark's fdatasync). */
bool zkv_vlog_beyond_mark(const zkv_vptr *p, const zkv_vptr *mark);

/* Whether every range must be forgotten: some lost data record (data_lost) is not one a lost
 * log entry (log_lost) points at too. A write stores its data record and log entry in one
 * LevelDB batch with the same pointer, so its range is known from the entry; a GC move or a
 * snapshot item changes the data record alone, and the data key's range is not known at
 * start. Sorts log_lost. */
bool zkv_vlog_recovery_all(zkv_vptr *log_lost, size_t nlog, const zkv_vptr *data_lost,
                           size_t ndata);

#endif
