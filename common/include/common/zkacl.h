/* zkacl.h: ZooKeeper ACLs on what zkv creates (docs/security.md, "ZooKeeper"). With digest
 * credentials (USER:PASSWORD, from --zk-auth FILE or libzkv's zkv_options_set_zk_auth), a
 * session authenticates (zoo_add_auth, scheme "digest") and every znode zkv creates under
 * /zkv/NAME gets the ACL: every permission for that digest identity, READ for anyone, so
 * operators read with zkCli.sh and change only after `addauth digest USER:PASSWORD`.
 * Without credentials the ACL is open, as before. zkv_zk_connect binds a handle to its
 * credentials (a small table of handles, so every create site asks zkv_zk_acl(zh)). */
#ifndef ZKV_COMMON_ZKACL_H
#define ZKV_COMMON_ZKACL_H
#include <stddef.h>
#include <zookeeper/zookeeper.h>

typedef struct zkv_zk_cred {
    char user_password[256]; /* USER:PASSWORD, as zoo_add_auth takes it */
    char id[320];            /* USER:base64(sha1(USER:PASSWORD)), the ACL's digest id */
} zkv_zk_cred;

/* From "USER:PASSWORD" (USER without ':', PASSWORD at least 8 bytes). 0 or -1 (err). */
int zkv_zk_cred_parse(const char *user_password, zkv_zk_cred *out, char *err, size_t errlen);
/* From the first line of path (refused when group or others may read it). 0 or -1. */
int zkv_zk_cred_load(const char *path, zkv_zk_cred *out, char *err, size_t errlen);
/* Authenticates zh's session with cred (NULL: none) and remembers it for zkv_zk_acl. */
void zkv_zk_cred_bind(zhandle_t *zh, const zkv_zk_cred *cred);
/* The ACL for a znode created through zh: the digest identity's and READ for anyone, or
 * open when zh has no credentials. Valid while zh is bound. */
struct ACL_vector *zkv_zk_acl(zhandle_t *zh);

#endif
