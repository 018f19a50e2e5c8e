/* hello.c: the HELLO exchange, built and checked in one place (see hello.h). */
#include "common/hello.h"
#include "common/tls.h"

#include <stdio.h>
#include <string.h>
#include "common/frame.h"

void zkv_hello_request(Zkv__Request *req, const zkv_hello *h)
{
    zkv__request__init(req);
    req->op = ZKV__OP__HELLO;
    req->protocol = ZKV_PROTOCOL_VERSION;
    req->cluster_id = (char *)(h->cluster_id ? h->cluster_id : "");
    req->node_id = (char *)(h->node_id ? h->node_id : "");
    req->client_name = (char *)(h->client_name ? h->client_name : "");
    req->map_version = h->map_version;
    req->auth = (char *)(h->auth ? h->auth : "");
}

zkv_hello_outcome zkv_hello_check(const Zkv__Response *resp, const char *cluster_id, char *why,
                                  size_t whylen)
{
    const char *msg = resp->message && resp->message[0] ? resp->message : NULL;
    if (resp->status == ZKV__STATUS__WRONG_CLUSTER) {
        snprintf(why, whylen, "%s", msg ? msg : "it belongs to another cluster");
        return ZKV_HELLO_WRONG_CLUSTER;
    }
    if (resp->status == ZKV__STATUS__AUTH_FAILED) {
        snprintf(why, whylen, "%s", msg ? msg : "authentication failed");
        return ZKV_HELLO_AUTH_FAILED;
    }
    if (resp->status != ZKV__STATUS__OK) {
        snprintf(why, whylen, "%s", msg ? msg : zkv_status_name((int)resp->status));
        return ZKV_HELLO_REFUSED;
    }
    if (resp->cluster_id && resp->cluster_id[0] && strcmp(resp->cluster_id, cluster_id) != 0) {
        snprintf(why, whylen, "it belongs to cluster id %s, not %s", resp->cluster_id, cluster_id);
        return ZKV_HELLO_WRONG_CLUSTER;
    }
    return ZKV_HELLO_OK;
}

Zkv__Status zkv_hello_admit(const Zkv__Request *req, const char *cluster_id, const zkv_auth *auth,
                            const char *cert_cn, bool *as_node, char *why, size_t whylen)
{
    *as_node = false;
    if (req->protocol > ZKV_PROTOCOL_VERSION) { /* 0: a sender from before the field */
        snprintf(why, whylen, "protocol %u is not spoken here (this node speaks %u)",
                 (unsigned)req->protocol, ZKV_PROTOCOL_VERSION);
        return ZKV__STATUS__BAD_REQUEST;
    }
    const char *want = req->cluster_id ? req->cluster_id : "";
    if (strcmp(want, cluster_id) != 0) {
        snprintf(why, whylen, "this node belongs to another cluster than id \"%.64s\"", want);
        return ZKV__STATUS__WRONG_CLUSTER;
    }
    const char *node = req->node_id ? req->node_id : "";
    if (cert_cn) { /* mutual TLS: the certificate authenticates the sender */
        bool node_cert = strcmp(cert_cn, ZKV_TLS_NODE_CN) == 0;
        if (node[0] && !node_cert &&
            !(auth && zkv_auth_check(auth, req->auth, NULL) == ZKV_AUTH_NODE)) {
            snprintf(why, whylen,
                     "a client certificate (CN \"%.64s\") cannot speak for node \"%.64s\"", cert_cn,
                     node);
            return ZKV__STATUS__AUTH_FAILED;
        }
        *as_node = node[0] != '\0';
        return ZKV__STATUS__OK;
    }
    if (!auth) {
        *as_node = node[0] != '\0';
        return ZKV__STATUS__OK;
    }
    zkv_auth_role role = zkv_auth_check(auth, req->auth, NULL);
    if (role == ZKV_AUTH_REFUSED) {
        snprintf(why, whylen, "%s",
                 req->auth && req->auth[0] ? "the credential is not accepted"
                                           : "authentication required: no credential given");
        return ZKV__STATUS__AUTH_FAILED;
    }
    if (node[0] && role != ZKV_AUTH_NODE) {
        snprintf(why, whylen, "a client credential cannot speak for node \"%.64s\"", node);
        return ZKV__STATUS__AUTH_FAILED;
    }
    *as_node = node[0] != '\0';
    return ZKV__STATUS__OK;
}
