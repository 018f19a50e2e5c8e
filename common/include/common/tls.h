/* tls.h: TLS for every connection of the protocol, as a filter with no I/O of its own
 * (OpenSSL over memory BIOs): the caller moves ciphertext between the socket and the
 * session however its loop does I/O (poll(2) in the clients and the coordinator, libuv in
 * the node), and gets plaintext in and out. One implementation thus serves every shell.
 * A context holds the certificates and keys loaded from files; a node makes new contexts
 * on SIGHUP, and sessions keep the context they started with (OpenSSL counts references),
 * so a reload drops no connection. Errors are returned as sentences, never printed.
 * Why and how: docs/security.md. */
#ifndef ZKV_COMMON_TLS_H
#define ZKV_COMMON_TLS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"

/* The files of one program's TLS set-up (NULL or "": not given). */
typedef struct zkv_tls_files {
    const char *cert;      /* our certificate chain (PEM) */
    const char *key;       /* its private key (PEM) */
    const char *ca;        /* the CAs we trust to sign the nodes we connect to */
    const char *client_ca; /* server side: require client certificates signed by these */
} zkv_tls_files;

/* Whether f asks for TLS at all: a certificate, or a CA to trust. */
bool zkv_tls_wanted(const zkv_tls_files *f);

typedef struct zkv_tls_ctx zkv_tls_ctx;

/* A server context (needs cert and key; client_ca makes client certificates required)
 * or a client context (verifies servers against ca, or the system's CAs without one;
 * presents cert and key when given, for nodes that require client certificates).
 * 0 with *out, or -1 with err naming the file and what is wrong with it. */
int zkv_tls_ctx_new(zkv_tls_ctx **out, bool server, const zkv_tls_files *f, char *err,
                    size_t errlen);
/* Frees the context; sessions made from it keep what they need. NULL is a no-op. */
void zkv_tls_ctx_free(zkv_tls_ctx *ctx);

/* A node's two contexts from its files: accept (server side: cert, key, client_ca) and
 * connect (to other nodes: ca, and cert/key for nodes that require client certificates).
 * Both NULL when f has no certificate (a plain node); a CA or client CA without one is an
 * error. 0, or -1 with err (and nothing made). */
int zkv_tls_node_ctxs(const zkv_tls_files *f, zkv_tls_ctx **accept, zkv_tls_ctx **connect,
                      char *err, size_t errlen);

typedef struct zkv_tls zkv_tls;

/* A session of ctx. On a client, peer_host (the host part of the address connected to)
 * is what the server's certificate must name (an IP address or a DNS name); NULL on a
 * server. NULL when out of memory. */
zkv_tls *zkv_tls_new(const zkv_tls_ctx *ctx, const char *peer_host);
void zkv_tls_free(zkv_tls *t);

enum { ZKV_TLS_OK = 0, ZKV_TLS_FAILED = -1, ZKV_TLS_CLOSED = -2 };

/* Takes len bytes of ciphertext from the network and appends the plaintext they carry to
 * plain (nothing while the handshake runs). ZKV_TLS_OK, ZKV_TLS_CLOSED when the peer
 * ended the session, or ZKV_TLS_FAILED (zkv_tls_error says why). Afterwards the outbox
 * may hold bytes to send (handshake messages, and plaintext sent before it completed). */
int zkv_tls_recv(zkv_tls *t, const void *cipher, size_t len, zkv_buf *plain);
/* Takes all of plain (kept inside until the handshake completes) and puts its ciphertext
 * in the outbox. ZKV_TLS_OK or ZKV_TLS_FAILED. */
int zkv_tls_send(zkv_tls *t, zkv_buf *plain);
/* Starts a client's handshake (its first message into the outbox). */
int zkv_tls_start(zkv_tls *t);
/* Ciphertext waiting to be written to the network, consumed by the caller. */
zkv_buf *zkv_tls_outbox(zkv_tls *t);
/* Bytes held: the outbox plus plaintext waiting for the handshake (output caps count it). */
size_t zkv_tls_held(const zkv_tls *t);
bool zkv_tls_established(const zkv_tls *t);
/* Why the session failed: a sentence such as "certificate verify failed: certificate has
 * expired". */
const char *zkv_tls_error(const zkv_tls *t);
/* The subject common name of the peer's verified certificate: true with out filled, false
 * when the peer presented none. */
bool zkv_tls_peer_cn(const zkv_tls *t, char *out, size_t outlen);

/* Whether the first bytes a node received open a TLS handshake (a handshake record of
 * TLS 1.x) rather than a frame: a frame of that length would be far past any limit, so
 * the two cannot be confused. Needs 2 bytes. */
bool zkv_tls_looks_like_tls(const uint8_t *b, size_t len);

/* The common name node certificates carry: a peer presenting one, verified against the
 * node's --tls-client-ca, is believed when it says it is a node of the cluster. */
#define ZKV_TLS_NODE_CN "zkv-node"

#endif
