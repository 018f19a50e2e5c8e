#!/usr/bin/env bash
# test-ca.sh DIR: makes a throwaway certificate authority and the certificates zkv's TLS
# tests need, with the openssl command-line tool, into DIR (made when missing; re-running
# overwrites). EC P-256 keys, so the whole set takes a fraction of a second and tests can
# make a fresh one every run instead of keeping keys in the repository.
#
#   ca.pem ca.key                 "zkv test CA", the CA the tests trust
#   node.pem node.key             CN=zkv-node, SAN IP:127.0.0.1 IP:::1 DNS:localhost,
#                                 serverAuth+clientAuth (a node, as server and as peer)
#   client.pem client.key         CN=app, clientAuth (an application's client certificate)
#   expired.pem expired.key       like node, but already expired
#   other-ca.pem other-ca.key     a second, unrelated CA
#   other-node.pem other-node.key like node, but signed by other-ca
#
# Private keys are mode 600. Never use these outside tests.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: test-ca.sh DIR" >&2
  exit 2
fi
dir="$1"
mkdir -p "$dir"
umask 077 # keys are born private; certificates are made readable below
trap 'rm -f "$dir"/*.csr "$dir"/*.ext "$dir"/*.srl' EXIT

node_san="subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"

# run CMD...: CMD quietly (openssl x509 -req chats on stderr), its output shown if it fails.
run() {
  local out
  if ! out="$("$@" 2>&1)"; then
    printf 'test-ca.sh: %s failed:\n%s\n' "$*" "$out" >&2
    return 1
  fi
}

# key NAME: a new EC P-256 private key in DIR/NAME.key.
key() {
  run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$1.key"
  chmod 600 "$dir/$1.key"
}

# ca NAME SUBJECT: a self-signed CA certificate DIR/NAME.pem, valid 3650 days.
ca() {
  key "$1"
  run openssl req -new -x509 -sha256 -key "$dir/$1.key" -subj "$2" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/$1.pem"
  chmod 644 "$dir/$1.pem"
}

# leaf NAME CA CN DAYS EXT-LINES...: DIR/NAME.pem for CN, signed by DIR/CA.pem, with the
# extensions given one per argument (through a temporary extension file).
leaf() {
  local name="$1" ca="$2" cn="$3" days="$4"
  shift 4
  key "$name"
  run openssl req -new -key "$dir/$name.key" -subj "/CN=$cn" -out "$dir/$name.csr"
  printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "$@" >"$dir/$name.ext"
  run openssl x509 -req -sha256 -in "$dir/$name.csr" -CA "$dir/$ca.pem" -CAkey "$dir/$ca.key" \
    -CAcreateserial -days "$days" -extfile "$dir/$name.ext" -out "$dir/$name.pem"
  chmod 644 "$dir/$name.pem"
  rm -f "$dir/$name.csr" "$dir/$name.ext"
}

ca ca "/CN=zkv test CA"
ca other-ca "/CN=zkv other test CA"
leaf node ca zkv-node 825 "$node_san" "extendedKeyUsage=serverAuth,clientAuth"
leaf client ca app 825 "extendedKeyUsage=clientAuth"
# -days -1: notAfter a day before now (OpenSSL 3.0 takes it), so the certificate is expired.
leaf expired ca zkv-node -1 "$node_san" "extendedKeyUsage=serverAuth,clientAuth"
leaf other-node other-ca zkv-node 825 "$node_san" "extendedKeyUsage=serverAuth,clientAuth"
echo "test CA in $dir"
