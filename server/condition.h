/* condition.h: whether a conditional PUT or DELETE may be applied (docs/api.md,
 * "Conditional writes"): put-if-absent, and put or delete if the key's version is the one
 * given (compare-and-set). A key's version is the (epoch, seq) of its last write; a
 * missing key has none, which IF_VERSION 0:0 asks for. Pure; dispatch.c does the lookups. */
#ifndef ZKV_SERVER_CONDITION_H
#define ZKV_SERVER_CONDITION_H
#include <stdbool.h>
#include <stdint.h>
#include "zkv.pb-c.h"

/* The key as the owner has it now: found, with its version. */
typedef struct zkv_cond_key {
    bool found;
    uint64_t epoch, seq;
} zkv_cond_key;

/* Whether cond (with if_epoch, if_seq for IF_VERSION) holds for key. An unknown condition
 * does not. */
bool zkv_cond_holds(Zkv__Condition cond, uint64_t if_epoch, uint64_t if_seq,
                    const zkv_cond_key *key);

#endif
