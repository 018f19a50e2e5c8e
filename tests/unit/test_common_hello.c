/* test_common_hello.c: the HELLO exchange built and checked in one place (common/hello.c):
 * the request every program sends, the node's admission (wrong cluster as its own status,
 * without naming the node's cluster; a protocol it does not speak), and the sender's check
 * of the answer, the cluster id of an OK answer included. */
#include <CUnit/Basic.h>
#include <stdbool.h>
#include <string.h>

#include "common/frame.h"
#include "common/hello.h"
#include "common/tls.h"

static void test_request(void)
{
    Zkv__Request req;
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = "cid-1",
                                         .node_id = "node-3",
                                         .client_name = "replication",
                                         .map_version = 12});
    CU_ASSERT_EQUAL(req.op, ZKV__OP__HELLO);
    CU_ASSERT_EQUAL(req.protocol, ZKV_PROTOCOL_VERSION);
    CU_ASSERT_STRING_EQUAL(req.cluster_id, "cid-1");
    CU_ASSERT_STRING_EQUAL(req.node_id, "node-3");
    CU_ASSERT_STRING_EQUAL(req.client_name, "replication");
    CU_ASSERT_EQUAL(req.map_version, 12);
    CU_ASSERT_EQUAL(req.id, 0);
    /* a client: no node id, no name */
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = "cid-1"});
    CU_ASSERT_STRING_EQUAL(req.node_id, "");
    CU_ASSERT_STRING_EQUAL(req.client_name, "");
    /* it encodes and decodes as what it is */
    req.id = 1;
    uint8_t buf[256];
    size_t n = zkv__request__pack(&req, buf);
    Zkv__Request *back = zkv__request__unpack(NULL, n, buf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    if (!back)
        return; /* (the assertion has returned already; for the analysers) */
    CU_ASSERT_EQUAL(back->protocol, ZKV_PROTOCOL_VERSION);
    CU_ASSERT_STRING_EQUAL(back->cluster_id, "cid-1");
    zkv__request__free_unpacked(back, NULL);
    /* with a credential, through the framing every program uses: the credential arrives
     * (the hand encoder leaves such a HELLO to protobuf-c) */
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = "cid-1", .auth = "tok-0123456789abcdef"});
    zkv_buf out;
    zkv_buf_init(&out);
    CU_ASSERT_EQUAL_FATAL(zkv_frame_append_request(&out, &req), 0);
    const uint8_t *payload;
    size_t plen, used;
    CU_ASSERT_EQUAL_FATAL(zkv_frame_parse(out.data, out.len, 1 << 20, &payload, &plen, &used),
                          ZKV_FRAME_OK);
    back = zkv__request__unpack(NULL, plen, payload);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    if (!back)
        return; /* (the assertion has returned already; for the analysers) */
    CU_ASSERT_STRING_EQUAL(back->auth, "tok-0123456789abcdef");
    zkv__request__free_unpacked(back, NULL);
    zkv_buf_free(&out);
}

static void test_admit(void)
{
    char why[160];
    bool node = true;
    Zkv__Request req;
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = "cid-1"});
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-1", NULL, NULL, &node, why, sizeof why),
                    ZKV__STATUS__OK);
    req.protocol = 0; /* a sender from before the field */
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-1", NULL, NULL, &node, why, sizeof why),
                    ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-9", NULL, NULL, &node, why, sizeof why),
                    ZKV__STATUS__WRONG_CLUSTER);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "another cluster"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "cid-1")); /* what the sender expects */
    CU_ASSERT_PTR_NULL(strstr(why, "cid-9"));     /* never what the node is */
    req.cluster_id = NULL;
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-9", NULL, NULL, &node, why, sizeof why),
                    ZKV__STATUS__WRONG_CLUSTER);
    req.cluster_id = "cid-9";
    req.protocol = ZKV_PROTOCOL_VERSION + 1;
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-9", NULL, NULL, &node, why, sizeof why),
                    ZKV__STATUS__BAD_REQUEST);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "protocol 2"));
}

/* A node with credentials: a HELLO without one, or with an unknown one, is refused; a
 * client token is a client whatever node_id it claims; the cluster secret makes node_id
 * believed. Without credentials configured, node_id is believed as before. */
static void test_admit_with_credentials(void)
{
    const char *file = "cluster s3cret-of-the-cluster-0123\nclient web tok-for-the-web-tier-01\n";
    zkv_auth *auth = NULL;
    char why[160];
    CU_ASSERT_EQUAL_FATAL(zkv_auth_parse(file, strlen(file), &auth, why, sizeof why), 0);
    bool node = true;
    Zkv__Request req;
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = "cid-1"});
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-1", auth, NULL, &node, why, sizeof why),
                    ZKV__STATUS__AUTH_FAILED);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "no credential"));
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = "cid-1", .auth = "tok-for-the-web-tier-02"});
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-1", auth, NULL, &node, why, sizeof why),
                    ZKV__STATUS__AUTH_FAILED);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "not accepted"));
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = "cid-1", .auth = "tok-for-the-web-tier-01"});
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-1", auth, NULL, &node, why, sizeof why),
                    ZKV__STATUS__OK);
    CU_ASSERT_FALSE(node);
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = "cid-1",
                                         .node_id = "node-2",
                                         .auth = "tok-for-the-web-tier-01"});
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-1", auth, NULL, &node, why, sizeof why),
                    ZKV__STATUS__AUTH_FAILED);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "cannot speak for node"));
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = "cid-1",
                                         .node_id = "node-2",
                                         .auth = "s3cret-of-the-cluster-0123"});
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-1", auth, NULL, &node, why, sizeof why),
                    ZKV__STATUS__OK);
    CU_ASSERT_TRUE(node);
    /* the wrong cluster is told before anything about credentials */
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-9", auth, NULL, &node, why, sizeof why),
                    ZKV__STATUS__WRONG_CLUSTER);
    /* without credentials configured */
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = "cid-1", .node_id = "node-2"});
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-1", NULL, NULL, &node, why, sizeof why),
                    ZKV__STATUS__OK);
    CU_ASSERT_TRUE(node);
    /* mutual TLS: a verified client certificate admits without a credential; only a node
     * certificate (or the cluster secret) makes node_id believed */
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = "cid-1"});
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-1", auth, "app", &node, why, sizeof why),
                    ZKV__STATUS__OK);
    CU_ASSERT_FALSE(node);
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = "cid-1", .node_id = "node-2"});
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-1", auth, "app", &node, why, sizeof why),
                    ZKV__STATUS__AUTH_FAILED);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "client certificate"));
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-1", NULL, "app", &node, why, sizeof why),
                    ZKV__STATUS__AUTH_FAILED);
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-1", auth, ZKV_TLS_NODE_CN, &node, why, sizeof why),
                    ZKV__STATUS__OK);
    CU_ASSERT_TRUE(node);
    zkv_hello_request(&req, &(zkv_hello){.cluster_id = "cid-1",
                                         .node_id = "node-2",
                                         .auth = "s3cret-of-the-cluster-0123"});
    CU_ASSERT_EQUAL(zkv_hello_admit(&req, "cid-1", auth, "app", &node, why, sizeof why),
                    ZKV__STATUS__OK);
    CU_ASSERT_TRUE(node);
    zkv_auth_free(auth);
    /* the sender's side */
    Zkv__Response resp = ZKV__RESPONSE__INIT;
    resp.status = ZKV__STATUS__AUTH_FAILED;
    resp.message = "node n1: authentication required: no credential given";
    CU_ASSERT_EQUAL(zkv_hello_check(&resp, "cid-1", why, sizeof why), ZKV_HELLO_AUTH_FAILED);
    CU_ASSERT_STRING_EQUAL(why, resp.message);
}

static void test_check(void)
{
    char why[160];
    Zkv__Response resp = ZKV__RESPONSE__INIT;
    resp.status = ZKV__STATUS__OK;
    resp.cluster_id = "cid-1";
    CU_ASSERT_EQUAL(zkv_hello_check(&resp, "cid-1", why, sizeof why), ZKV_HELLO_OK);
    resp.cluster_id = ""; /* a node that does not say */
    CU_ASSERT_EQUAL(zkv_hello_check(&resp, "cid-1", why, sizeof why), ZKV_HELLO_OK);
    resp.cluster_id = "cid-2"; /* an OK from another cluster is still the wrong cluster */
    CU_ASSERT_EQUAL(zkv_hello_check(&resp, "cid-1", why, sizeof why), ZKV_HELLO_WRONG_CLUSTER);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "cid-2"));
    resp.status = ZKV__STATUS__WRONG_CLUSTER;
    resp.message = "node n1: this node belongs to another cluster than id \"cid-1\"";
    CU_ASSERT_EQUAL(zkv_hello_check(&resp, "cid-1", why, sizeof why), ZKV_HELLO_WRONG_CLUSTER);
    CU_ASSERT_STRING_EQUAL(why, resp.message);
    /* a refusal whose text mentions a cluster is not taken for a wrong cluster */
    resp.status = ZKV__STATUS__UNAVAILABLE;
    resp.message = "node not ready: cluster c1 not joined yet";
    CU_ASSERT_EQUAL(zkv_hello_check(&resp, "cid-1", why, sizeof why), ZKV_HELLO_REFUSED);
    resp.message = "";
    CU_ASSERT_EQUAL(zkv_hello_check(&resp, "cid-1", why, sizeof why), ZKV_HELLO_REFUSED);
    CU_ASSERT_STRING_EQUAL(why, "UNAVAILABLE");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("common_hello", NULL, NULL);
    CU_add_test(s, "the HELLO every program sends", test_request);
    CU_add_test(s, "the node's admission", test_admit);
    CU_add_test(s, "the sender's check of the answer", test_check);
    CU_add_test(s, "admission with credentials", test_admit_with_credentials);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
