/* credentials.c: the coordinator's cluster secret and TLS context from its files
 * (credentials.h). Both are read in full before either replaces what is in force, so a
 * reload applies all of it or none. */
#include "credentials.h"

#include <stdio.h>
#include <string.h>

#include "common/auth.h"
#include "common/log.h"
#include "common/tls.h"

int zkv_coord_load_credentials(zkv_coord *c)
{
    char err[512];
    char secret[sizeof c->auth_secret] = "";
    const char *file = c->cfg.auth_file;
    if (file) {
        zkv_auth *auth = NULL;
        if (zkv_auth_load(file, &auth, err, sizeof err) != 0) {
            ZKV_ERROR("--auth-file %s", err);
            return -1;
        }
        const char *s = zkv_auth_cluster_secret(auth);
        if (!s) {
            ZKV_ERROR("--auth-file %s has no 'cluster SECRET' line for the coordinator to "
                      "present",
                      file);
            zkv_auth_free(auth);
            return -1;
        }
        snprintf(secret, sizeof secret, "%s", s);
        zkv_auth_free(auth);
    }
    zkv_tls_ctx *tls = NULL;
    if (zkv_tls_wanted(&c->cfg.tls) && zkv_tls_ctx_new(&tls, false, &c->cfg.tls, err, sizeof err)) {
        ZKV_ERROR("%s", err);
        memset(secret, 0, sizeof secret);
        return -1;
    }
    memcpy(c->auth_secret, secret, sizeof secret);
    memset(secret, 0, sizeof secret);
    zkv_tls_ctx_free(c->tls);
    c->tls = tls;
    return 0;
}

void zkv_coord_free_credentials(zkv_coord *c)
{
    zkv_tls_ctx_free(c->tls);
    c->tls = NULL;
    memset(c->auth_secret, 0, sizeof c->auth_secret);
}
