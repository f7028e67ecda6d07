#!/usr/bin/env bash
# Regenerates the test certificates (kept in the repository, valid for a century, so the tests
# need no tool at run time): a CA, server certificates for localhost / 127.0.0.1 with EC (PKCS#8
# and SEC1), RSA (PKCS#1) and Ed25519 keys, a second server certificate (renewal after HUP), and
# client certificates from the CA and from an unknown CA.
set -euo pipefail
cd "$(dirname "$0")"
DAYS=36500
SAN="subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# CA
ec_key ca.key
openssl req -x509 -new -key ca.key -sha256 -days $DAYS -subj "/O=Pyrite Test/CN=Pyrite Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.pem
# An unrelated CA, whose client certificates the server must refuse.
ec_key other-ca.key
openssl req -x509 -new -key other-ca.key -sha256 -days $DAYS -subj "/CN=Other CA" \
    -addext "basicConstraints=critical,CA:TRUE" -out other-ca.pem

# sign NAME SUBJECT EXT CA: NAME.csr from NAME.key → NAME.leaf.pem
sign() {
    openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
    openssl x509 -req -in "$1.csr" -CA "$4.pem" -CAkey "$4.key" -CAcreateserial -days $DAYS \
        -sha256 -extfile <(printf '%s\n' "$3") -out "$1.leaf.pem" 2>/dev/null
    rm -f "$1.csr"
}

server_ext="$SAN
basicConstraints=CA:FALSE
extendedKeyUsage=serverAuth"
client_ext="basicConstraints=CA:FALSE
extendedKeyUsage=clientAuth"

# server: EC P-256, PKCS#8 key; the cert file holds the chain (leaf, then CA).
ec_key server.key
sign server "/O=Pyrite Test/CN=localhost" "$server_ext" ca
cat server.leaf.pem ca.pem >server.pem && rm server.leaf.pem
# server2: the renewed certificate (another serial and subject), SEC1 EC key.
openssl ecparam -name prime256v1 -genkey -noout -out server2.key
sign server2 "/O=Pyrite Test/CN=localhost renewed" "$server_ext" ca
cat server2.leaf.pem ca.pem >server2.pem && rm server2.leaf.pem
# server-rsa: RSA 2048, PKCS#1 key.
openssl genrsa -traditional -out server-rsa.key 2048 2>/dev/null
sign server-rsa "/CN=localhost" "$server_ext" ca
mv server-rsa.leaf.pem server-rsa.pem
# server-ed25519
openssl genpkey -algorithm ED25519 -out server-ed25519.key
sign server-ed25519 "/CN=localhost" "$server_ext" ca
mv server-ed25519.leaf.pem server-ed25519.pem

# client certificates
ec_key client.key
sign client "/C=US/O=Pyrite Test/CN=alice" "$client_ext" ca
mv client.leaf.pem client.pem
ec_key stranger.key
sign stranger "/CN=mallory" "$client_ext" other-ca
mv stranger.leaf.pem stranger.pem
rm -f ./*.srl other-ca.key
