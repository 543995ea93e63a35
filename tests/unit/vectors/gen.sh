#!/bin/sh
# Regenerates the fixed test keys of the jwks/jws unit tests and the JWKS
# that publishes their public halves.  Run once by hand; the outputs are
# committed so the tests never depend on random keys.  Needs openssl, xxd
# and basenc (coreutils).
set -eu
cd "$(dirname "$0")"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -pkeyopt ec_param_enc:named_curve -out ec.pem
openssl genpkey -algorithm ED25519 -out ed25519.pem

b64u() { basenc --base64url -w0 | tr -d '='; }

# RSA: n from the modulus; e is 65537 (genpkey's default) = "AQAB".
rsa_n=$(openssl rsa -in rsa.pem -noout -modulus | sed 's/^Modulus=//' |
    xxd -r -p | b64u)
# EC: the SubjectPublicKeyInfo ends with the uncompressed point 04||x||y.
openssl pkey -in ec.pem -pubout -outform DER | tail -c 64 > ec.xy
ec_x=$(head -c 32 ec.xy | b64u)
ec_y=$(tail -c 32 ec.xy | b64u)
rm ec.xy
# Ed25519: the SubjectPublicKeyInfo ends with the 32-byte public key.
ed_x=$(openssl pkey -in ed25519.pem -pubout -outform DER | tail -c 32 | b64u)

cat > jwks.json <<JSON
{"keys":[
 {"kty":"RSA","kid":"rsa1","use":"sig","alg":"RS256","e":"AQAB",
  "n":"$rsa_n"},
 {"kty":"EC","kid":"ec1","use":"sig","alg":"ES256","crv":"P-256",
  "x":"$ec_x","y":"$ec_y"},
 {"kty":"OKP","kid":"ed1","crv":"Ed25519","x":"$ed_x"}
]}
JSON
