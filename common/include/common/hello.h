/* hello.h: the HELLO that opens every connection of the protocol, built and checked in one
 * place for every program that speaks it: the blocking and async clients, the shipper's
 * replication links, the coordinator's position client (zkv_hello_request,
 * zkv_hello_check) and the node that answers (zkv_hello_admit). A node of another cluster
 * answers the status WRONG_CLUSTER, so nobody reads the error text to tell; its message
 * does not name the cluster the node belongs to. A node with credentials (auth.h) admits
 * only a HELLO that presents one (AUTH_FAILED otherwise), and believes a HELLO's node_id
 * only with the cluster secret. No I/O; tested by tests/unit/test_common_hello.c. */
#ifndef ZKV_COMMON_HELLO_H
#define ZKV_COMMON_HELLO_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "common/auth.h"
#include "zkv.pb-c.h"

#define ZKV_PROTOCOL_VERSION 1u /* the protocol this release speaks (HELLO's protocol) */
/* The node id the coordinator says HELLO with (its position queries); nodes count such a
 * connection as a peer's (server/connlimits.h). */
#define ZKV_COORDINATOR_NODE_ID "coordinator"

typedef struct zkv_hello {
    const char *cluster_id;  /* the cluster the sender expects the node to belong to */
    const char *node_id;     /* NULL or "": a client; else the sending node's id */
    const char *client_name; /* for the node's logs (NULL: "") */
    uint64_t map_version;    /* the sender's routing version (0: none yet) */
    const char *auth;        /* NULL or "": no credential; else a token or the secret */
} zkv_hello;

/* Initialises req as the HELLO of h (its id is left 0 for the caller). The strings are
 * borrowed: they must outlive req's encoding. */
void zkv_hello_request(Zkv__Request *req, const zkv_hello *h);

typedef enum {
    ZKV_HELLO_OK = 0,
    ZKV_HELLO_WRONG_CLUSTER, /* the node belongs to another cluster */
    ZKV_HELLO_AUTH_FAILED,   /* the node wants a credential this sender lacks */
    ZKV_HELLO_REFUSED        /* any other refusal: resp->status says which */
} zkv_hello_outcome;

/* Checks the node's answer to the HELLO of cluster_id; on anything but OK, why gets a
 * sentence (the node's message, or the status name). */
zkv_hello_outcome zkv_hello_check(const Zkv__Response *resp, const char *cluster_id, char *why,
                                  size_t whylen);

/* The node's side: whether the HELLO req may open a session on a node of cluster_id that
 * accepts the credentials auth (NULL: any sender, as without --auth-file). cert_cn is the
 * common name of the client certificate the connection presented, verified against the
 * node's --tls-client-ca (NULL: none): it admits the sender without a credential, and as
 * a node only when it is ZKV_TLS_NODE_CN (or the cluster secret comes with it). Returns
 * ZKV__STATUS__OK with *as_node (the HELLO's node_id is to be believed: a node
 * certificate, the cluster secret, or no credentials configured), or the status to answer
 * (WRONG_CLUSTER; AUTH_FAILED; BAD_REQUEST for a protocol this node does not speak) with
 * why. */
Zkv__Status zkv_hello_admit(const Zkv__Request *req, const char *cluster_id, const zkv_auth *auth,
                            const char *cert_cn, bool *as_node, char *why, size_t whylen);

#endif
