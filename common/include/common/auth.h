/* auth.h: the credentials a node accepts at HELLO (docs/security.md, "Authentication"),
 * read from an --auth-file: the cluster secret that nodes and coordinators present (and
 * that alone makes a HELLO's node_id believed), and named client tokens. Lines:
 *   cluster SECRET          at most one; every node and coordinator of the cluster
 *   client NAME TOKEN       any number; a client presents TOKEN
 * '#' starts a comment to the end of the line; blank lines are skipped. Secrets and
 * tokens are 16 to 256 bytes of printable ASCII without spaces or '#'. The file must not be
 * readable by group or others. Compared in constant time. */
#ifndef ZKV_COMMON_AUTH_H
#define ZKV_COMMON_AUTH_H
#include <stddef.h>

#define ZKV_AUTH_MIN_SECRET 16
#define ZKV_AUTH_MAX_SECRET 256

typedef struct zkv_auth zkv_auth;

typedef enum {
    ZKV_AUTH_REFUSED = 0, /* no credential, or an unknown one */
    ZKV_AUTH_CLIENT,      /* a client token */
    ZKV_AUTH_NODE         /* the cluster secret: a node or a coordinator */
} zkv_auth_role;

/* Parses the file's text. 0, or -1 with a reason naming the line in err. */
int zkv_auth_parse(const char *text, size_t len, zkv_auth **out, char *err, size_t errlen);
/* Reads and parses path (refused when group or others may read it). 0 or -1 (err). */
int zkv_auth_load(const char *path, zkv_auth **out, char *err, size_t errlen);
void zkv_auth_free(zkv_auth *a); /* NULL is a no-op */
/* The cluster secret, or NULL when the file has none. */
const char *zkv_auth_cluster_secret(const zkv_auth *a);
/* Who presents cred (NULL: none); *name gets the client's name (may be NULL). */
zkv_auth_role zkv_auth_check(const zkv_auth *a, const char *cred, const char **name);

#endif
