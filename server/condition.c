/* condition.c: the rule of conditional writes (condition.h). */
#include "condition.h"

bool zkv_cond_holds(Zkv__Condition cond, uint64_t if_epoch, uint64_t if_seq,
                    const zkv_cond_key *key)
{
    switch (cond) {
    case ZKV__CONDITION__COND_NONE:
        return true;
    case ZKV__CONDITION__IF_ABSENT:
        return !key->found;
    case ZKV__CONDITION__IF_VERSION:
        if (if_epoch == 0 && if_seq == 0)
            return !key->found;
        return key->found && key->epoch == if_epoch && key->seq == if_seq;
    default:
        return false;
    }
}
