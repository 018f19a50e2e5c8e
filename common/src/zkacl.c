/* zkacl.c: digest credentials and the ACL of what zkv creates (see zkacl.h). */
#include "common/zkacl.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define BOUND_MAX 64

typedef struct bound {
    zhandle_t *zh;
    struct ACL acl[2];
    struct ACL_vector vec;
    char id[320];
    unsigned long long used; /* when bound (the oldest slot goes when the table is full) */
} bound;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bound table[BOUND_MAX];
static unsigned long long clock_;

static int fail(char *err, size_t errlen, const char *what, const char *detail)
{
    snprintf(err, errlen, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
    return -1;
}

int zkv_zk_cred_parse(const char *user_password, zkv_zk_cred *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    const char *colon = user_password ? strchr(user_password, ':') : NULL;
    size_t n = user_password ? strlen(user_password) : 0;
    if (!colon || colon == user_password || n - (size_t)(colon - user_password) - 1 < 8 ||
        n >= sizeof(out->user_password))
        return fail(err, errlen,
                    "ZooKeeper credentials must be USER:PASSWORD, a password of 8 "
                    "to 200 bytes",
                    NULL);
    for (size_t i = 0; i < n; i++)
        if (user_password[i] <= ' ' || user_password[i] > '~')
            return fail(err, errlen, "ZooKeeper credentials must be printable, without spaces",
                        NULL);
    memcpy(out->user_password, user_password, n + 1);
    unsigned char sha[EVP_MAX_MD_SIZE];
    unsigned int shalen = 0;
    char b64[64];
    if (EVP_Digest(user_password, n, sha, &shalen, EVP_sha1(), NULL) != 1 || shalen != 20 ||
        EVP_EncodeBlock((unsigned char *)b64, sha, (int)shalen) <= 0)
        return fail(err, errlen, "cannot compute the digest (OpenSSL)", NULL);
    snprintf(out->id, sizeof(out->id), "%.*s:%s", (int)(colon - user_password), user_password, b64);
    return 0;
}

int zkv_zk_cred_load(const char *path, zkv_zk_cred *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(err, errlen, path, strerror(errno));
    struct stat st;
    char line[512] = "";
    bool open_mode = fstat(fileno(f), &st) != 0 || (st.st_mode & 077);
    bool got = !open_mode && fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    if (open_mode) {
        snprintf(err, errlen, "%s: group or others may read it (chmod 600 %s)", path, path);
        return -1;
    }
    line[strcspn(line, "\r\n")] = '\0';
    char why[200];
    if (!got || zkv_zk_cred_parse(line, out, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s: %s", path, got ? why : "empty");
        return -1;
    }
    return 0;
}

static void auth_done(int rc, const void *data)
{
    (void)rc;
    (void)data;
}

void zkv_zk_cred_bind(zhandle_t *zh, const zkv_zk_cred *cred)
{
    if (!zh)
        return;
    if (cred && cred->user_password[0])
        zoo_add_auth(zh, "digest", cred->user_password, (int)strlen(cred->user_password), auth_done,
                     NULL);
    pthread_mutex_lock(&lock);
    bound *slot = NULL;
    for (size_t i = 0; i < BOUND_MAX && !slot; i++)
        if (table[i].zh == zh)
            slot = &table[i];
    for (size_t i = 0; i < BOUND_MAX && !slot; i++)
        if (!table[i].zh)
            slot = &table[i];
    for (size_t i = 0; i < BOUND_MAX && !slot; i++) /* full: the oldest goes */
        if (!slot || table[i].used < slot->used)
            slot = &table[i];
    memset(slot, 0, sizeof(*slot));
    slot->zh = zh;
    slot->used = ++clock_;
    if (cred && cred->id[0]) {
        snprintf(slot->id, sizeof(slot->id), "%s", cred->id);
        slot->acl[0] =
            (struct ACL){.perms = ZOO_PERM_ALL, .id = {.scheme = "digest", .id = slot->id}};
        slot->acl[1] =
            (struct ACL){.perms = ZOO_PERM_READ, .id = {.scheme = "world", .id = "anyone"}};
        slot->vec = (struct ACL_vector){.count = 2, .data = slot->acl};
    }
    pthread_mutex_unlock(&lock);
}

struct ACL_vector *zkv_zk_acl(zhandle_t *zh)
{
    struct ACL_vector *v = &ZOO_OPEN_ACL_UNSAFE;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < BOUND_MAX; i++)
        if (table[i].zh == zh && table[i].vec.count)
            v = &table[i].vec;
    pthread_mutex_unlock(&lock);
    return v;
}
