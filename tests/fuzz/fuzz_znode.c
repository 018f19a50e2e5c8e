/* fuzz_znode.c: libFuzzer target for the JSON codecs of the znodes (common/src/znode.c).
 * Why: every program reads cluster, nodes/, ranges/, map, ops/ and stats/ from ZooKeeper,
 * where anyone with access can write anything, and the decoders check every field by
 * hand. The first input byte picks the codec, the rest is the znode's data (not
 * NUL-terminated, as ZooKeeper hands it over). Checked, beyond ASan and UBSan:
 * - a decoder that refuses says why (a non-empty reason);
 * - what a decoder accepts, its encoder writes (never failing), the decoder reads back,
 *   and the encoder writes the same JSON again: nothing written is lost or changed;
 * - the range decoder keeps its promises: valid ids, start < end when both are bounded,
 *   at most ZKV_MAX_REPLICAS replicas and in_sync entries, two parents at most. */
#include <string.h>

#include "common/keyrange.h"
#include "common/znode.h"
#include "fuzz_common.h"

typedef enum { Z_CLUSTER, Z_NODE, Z_RANGE, Z_OP, Z_MAPVER, Z_STATS, Z_KINDS } znode_kind;

/* Decodes json of kind into out (a struct of that kind); 0 or -1 with a reason. */
static int decode(znode_kind k, const char *json, size_t len, void *out)
{
    char err[256] = "";
    int rc = -1;
    switch (k) {
    case Z_CLUSTER:
        rc = zkv_cluster_from_json(json, len, out, err, sizeof err);
        break;
    case Z_NODE:
        rc = zkv_node_from_json(json, len, out, err, sizeof err);
        break;
    case Z_RANGE:
        rc = zkv_range_from_json(json, len, out, err, sizeof err);
        break;
    case Z_OP:
        rc = zkv_op_from_json(json, len, out, err, sizeof err);
        break;
    default:
        rc = zkv_mapver_from_json(json, len, out, err, sizeof err);
        break;
    }
    FUZZ_CHECK(rc == 0 || (rc == -1 && err[0]), "refused without a reason (rc %d)", rc);
    return rc;
}

static char *encode(znode_kind k, const void *v)
{
    switch (k) {
    case Z_CLUSTER:
        return zkv_cluster_to_json(v);
    case Z_NODE:
        return zkv_node_to_json(v);
    case Z_RANGE:
        return zkv_range_to_json(v);
    case Z_OP:
        return zkv_op_to_json(v);
    default:
        return zkv_mapver_to_json(*(const int64_t *)v);
    }
}

static void check_range(const zkv_range *r)
{
    FUZZ_CHECK(zkv_id_valid(r->id), "range id");
    FUZZ_CHECK(r->owner[0] == '\0' || zkv_id_valid(r->owner), "owner");
    FUZZ_CHECK(r->n_replicas >= 0 && r->n_replicas <= ZKV_MAX_REPLICAS && r->n_in_sync >= 0 &&
                   r->n_in_sync <= ZKV_MAX_REPLICAS && r->n_parents >= 0 && r->n_parents <= 2,
               "counts %d %d %d", r->n_replicas, r->n_in_sync, r->n_parents);
    for (int i = 0; i < r->n_replicas; i++)
        FUZZ_CHECK(zkv_id_valid(r->replicas[i]), "replica %d", i);
    for (int i = 0; i < r->n_in_sync; i++)
        FUZZ_CHECK(zkv_id_valid(r->in_sync[i]), "in_sync %d", i);
    FUZZ_CHECK((r->start == NULL) == (r->start_len == 0) && (r->end == NULL) == (r->end_len == 0),
               "bounds");
    FUZZ_CHECK(!r->start_len || !r->end_len ||
                   zkv_key_cmp(r->start, r->start_len, r->end, r->end_len) < 0,
               "start >= end");
}

static void count_stats(void *ctx, const char *range_id, double bytes, double writes_per_s)
{
    FUZZ_CHECK(range_id != NULL, "stats entry without an id");
    (void)bytes;
    (void)writes_per_s;
    (*(int *)ctx)++;
}

/* Room for any decoded znode. */
typedef union {
    zkv_cluster_info cluster;
    zkv_node_info node;
    zkv_range range;
    zkv_op op;
    int64_t version;
} any_znode;

static void release(znode_kind k, any_znode *v)
{
    if (k == Z_RANGE)
        zkv_range_clear(&v->range);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    znode_kind k = (znode_kind)(data[0] % Z_KINDS);
    char *json = (char *)fuzz_dup(data + 1, size - 1); /* exactly the data, no NUL after */
    size_t len = size - 1;
    if (k == Z_STATS) {
        int calls = 0;
        int n = zkv_stats_parse(json, len, count_stats, &calls);
        FUZZ_CHECK(n == -1 ? calls == 0 : n == calls, "stats: %d entries, %d calls", n, calls);
        free(json);
        return 0;
    }
    static any_znode first, second;
    if (decode(k, json, len, &first) == 0) {
        if (k == Z_RANGE)
            check_range(&first.range);
        char *once = encode(k, &first);
        FUZZ_CHECK(once != NULL, "encoder failed");
        FUZZ_CHECK(decode(k, once, strlen(once), &second) == 0, "cannot read back %s", once);
        char *twice = encode(k, &second);
        FUZZ_CHECK(twice != NULL && strcmp(once, twice) == 0, "changed: %s then %s", once,
                   twice ? twice : "(null)");
        free(once);
        free(twice);
        release(k, &first);
        release(k, &second);
    }
    free(json);
    return 0;
}
