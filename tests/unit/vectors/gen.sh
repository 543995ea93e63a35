#!/bin/sh
# Makes the fixed inputs of the jwks/jws unit tests with the openssl
# command line, so that what the tests check was produced by a tool
# independent of tokend's code:
#
#   - test keys (generated once: an existing key file is kept, so running
#     this again does not invalidate what the tests know about them);
#   - jwks.json, the JWKS that publishes their public halves;
#   - tokens.txt, one JWT per algorithm (all 13), signed by `openssl dgst`
#     / `openssl pkeyutl` over fixed claims.  ECDSA signatures come out of
#     openssl as DER and are turned into JWS's raw r||s here; RSA-PSS uses
#     MGF1 with the same hash and a salt as long as the hash (RFC 7518 3.5).
#
# The outputs are committed, so the tests never depend on random keys.
# Needs openssl, xxd and basenc (coreutils).
set -eu
cd "$(dirname "$0")"

[ -f rsa.pem ] || openssl genpkey -algorithm RSA \
    -pkeyopt rsa_keygen_bits:2048 -out rsa.pem
[ -f rsa1024.pem ] || openssl genpkey -algorithm RSA \
    -pkeyopt rsa_keygen_bits:1024 -out rsa1024.pem
for c in P-256:ec.pem P-384:ec384.pem P-521:ec521.pem; do
	[ -f "${c#*:}" ] || openssl genpkey -algorithm EC \
	    -pkeyopt "ec_paramgen_curve:${c%%:*}" \
	    -pkeyopt ec_param_enc:named_curve -out "${c#*:}"
done
[ -f ed25519.pem ] || openssl genpkey -algorithm ED25519 -out ed25519.pem
# The HS* shared secret: 64 characters, enough for HS512 (RFC 7518 3.2).
[ -f hs.secret ] || openssl rand -hex 32 | tr -d '\n' > hs.secret

b64u() { basenc --base64url -w0 | tr -d '='; }

rsa_n() {	# pem
	openssl rsa -in "$1" -noout -modulus | sed 's/^Modulus=//' |
	    xxd -r -p | b64u
}
# EC: the SubjectPublicKeyInfo ends with the uncompressed point 04||x||y.
ec_xy() {	# pem coordinate-bytes -> "x y"
	openssl pkey -in "$1" -pubout -outform DER | tail -c $(($2 * 2)) \
	    > xy.tmp
	printf '%s %s' "$(head -c "$2" xy.tmp | b64u)" \
	    "$(tail -c "$2" xy.tmp | b64u)"
	rm xy.tmp
}
set -- $(ec_xy ec.pem 32)
ec_x=$1 ec_y=$2
set -- $(ec_xy ec384.pem 48)
ec384_x=$1 ec384_y=$2
set -- $(ec_xy ec521.pem 66)
ec521_x=$1 ec521_y=$2
# Ed25519: the SubjectPublicKeyInfo ends with the 32-byte public key.
ed_x=$(openssl pkey -in ed25519.pem -pubout -outform DER | tail -c 32 | b64u)

cat > jwks.json <<JSON
{"keys":[
 {"kty":"RSA","kid":"rsa1","use":"sig","e":"AQAB",
  "n":"$(rsa_n rsa.pem)"},
 {"kty":"EC","kid":"ec1","use":"sig","alg":"ES256","crv":"P-256",
  "x":"$ec_x","y":"$ec_y"},
 {"kty":"EC","kid":"ec384","use":"sig","alg":"ES384","crv":"P-384",
  "x":"$ec384_x","y":"$ec384_y"},
 {"kty":"EC","kid":"ec521","crv":"P-521",
  "x":"$ec521_x","y":"$ec521_y"},
 {"kty":"OKP","kid":"ed1","crv":"Ed25519","x":"$ed_x"}
]}
JSON

# A real 1024-bit key, which a JWKS may not publish.
cat > rsa1024.jwks.json <<JSON
{"keys":[{"kty":"RSA","kid":"weak","e":"AQAB","n":"$(rsa_n rsa1024.pem)"}]}
JSON

# DER ECDSA-Sig-Value on stdin -> raw r||s of 2 x $1 bytes on stdout.
der_to_raw() {
	cat > der.tmp
	openssl asn1parse -inform DER -in der.tmp |
	    sed -n 's/.*INTEGER *://p' | while read -r h; do
		printf "%$(($1 * 2))s" "$h" | tr ' ' 0
	done | xxd -r -p
	rm der.tmp
}

# Claims valid at the tests' NOW (1700000000) with their 60 s leeway.
claims='{"iss":"https://idp.example","aud":"tokend","sub":"alice@example.com","iat":1699999990,"exp":1700000300}'
pay=$(printf '%s' "$claims" | b64u)

sign() {	# alg kid -> raw signature of the signing input in.tmp
	case $1 in
	RS*) openssl dgst -sha"${1#RS}" -sign rsa.pem in.tmp ;;
	PS*) openssl dgst -sha"${1#PS}" -sign rsa.pem \
	    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest \
	    -sigopt rsa_mgf1_md:sha"${1#PS}" in.tmp ;;
	ES256) openssl dgst -sha256 -sign ec.pem in.tmp | der_to_raw 32 ;;
	ES384) openssl dgst -sha384 -sign ec384.pem in.tmp | der_to_raw 48 ;;
	ES512) openssl dgst -sha512 -sign ec521.pem in.tmp | der_to_raw 66 ;;
	EdDSA) openssl pkeyutl -sign -inkey ed25519.pem -rawin -in in.tmp ;;
	HS*) openssl dgst -sha"${1#HS}" -mac HMAC \
	    -macopt "key:$(cat hs.secret)" -binary in.tmp ;;
	esac
}

: > tokens.txt
for a in RS256:rsa1 RS384:rsa1 RS512:rsa1 PS256:rsa1 PS384:rsa1 \
    PS512:rsa1 ES256:ec1 ES384:ec384 ES512:ec521 EdDSA:ed1 HS256: HS384: \
    HS512:; do
	alg=${a%%:*} kid=${a#*:}
	if [ -n "$kid" ]; then
		hdr="{\"alg\":\"$alg\",\"kid\":\"$kid\",\"typ\":\"JWT\"}"
	else
		hdr="{\"alg\":\"$alg\",\"typ\":\"JWT\"}"
	fi
	printf '%s.%s' "$(printf '%s' "$hdr" | b64u)" "$pay" > in.tmp
	printf '%s %s.%s\n' "$alg" "$(cat in.tmp)" "$(sign "$alg" | b64u)" \
	    >> tokens.txt
done
rm in.tmp
