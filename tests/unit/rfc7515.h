/*
 * rfc7515.h - the examples of RFC 7515 appendix A, for the unit tests of
 * the JOSE reader (test_jose.c) and of JWT verification (test_jws.c).
 * Published vectors, written once: a test that mistypes one cannot pass.
 */
#ifndef TOKEND_TEST_RFC7515_H
#define TOKEND_TEST_RFC7515_H

/* RFC 7515 A.1 (HS256), A.2 (RS256) and A.3 (ES256): the same payload. */
#define RFC_PAYLOAD "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0" \
    "dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
#define RFC_EXP	INT64_C(1300819380)
/* A.1's header and payload as they decode, CR LF and all. */
#define A1_HDR_JSON "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}"
#define RFC_PAYLOAD_JSON "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n " \
    "\"http://example.com/is_root\":true}"
#define A1_HDR	"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
#define A1_JWS	A1_HDR "." RFC_PAYLOAD "." \
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define A1_KEY	"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3" \
    "Yj0iPS4hcgUuTwjAzZr1Z9CAow"
#define A2_JWS	"eyJhbGciOiJSUzI1NiJ9." RFC_PAYLOAD "." \
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7" \
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4" \
    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K" \
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv" \
    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB" \
    "p0igcN_IoypGlUPQGe77Rw"
#define A3_JWS	"eyJhbGciOiJFUzI1NiJ9." RFC_PAYLOAD "." \
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSA" \
    "pmWQxfKTUJqPP3-Kg6NU1Q"
/* RFC 7515 A.4: ES512 (P-521) over the payload "Payload". */
#define A4_INPUT "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA"
#define A4_JWS	A4_INPUT "." \
    "AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZq" \
    "wqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8Kp" \
    "EHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn"
/* A.5: an unsecured JWS, {"alg":"none"}, whose signature is empty. */
#define A5_JWS	"eyJhbGciOiJub25lIn0." RFC_PAYLOAD "."

#endif
