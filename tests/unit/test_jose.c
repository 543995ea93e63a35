/*
 * test_jose.c - the JOSE reader both verifiers share (src/identity/jose.c).
 *
 * RFC 7515's appendix A examples show the split and decode agree with the
 * rest of the world, byte for byte, including the CR LF inside A.1's
 * header and payload, and that A.4's payload ("Payload") and A.5's
 * unsecured JWS are refused for what they are.  Then every bound at its
 * edge (the last accepted value and the first refused one): header size,
 * nesting depth, numbers beyond int64_t and double, duplicate members; the
 * time claims in seconds and in milliseconds against a clock with leeway,
 * reals refused whether or not they have a fraction; aud as string and
 * array; and the one table of sentences and classes.  jws.c and
 * browserid.c are tested through it in test_jws.c and test_browserid.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/b64.h"
#include "identity/jose.h"
#include "rfc7515.h"

#define BUFSZ	16384

static uint8_t	 dec[BUFSZ];

/* Splits tok into *p with a fresh buffer of BUFSZ bytes. */
static enum jose_err
split(const char *tok, struct jose_jws *p)
{
	struct jose_buf	 buf = { dec, sizeof(dec), 0 };

	return jose_split(&buf, tok, strlen(tok), p);
}

/* header.payload.AA of two JSON texts; free() it. */
static char *
compact(const char *hdr, const char *pay)
{
	size_t	 hl = strlen(hdr), pl = strlen(pay);
	char	*s = malloc(b64url_enclen(hl, B64_NOPAD) +
		    b64url_enclen(pl, B64_NOPAD) + 8);
	size_t	 n;

	assert_non_null(s);
	n = b64url_encode(s, hdr, hl, B64_NOPAD);
	s[n++] = '.';
	n += b64url_encode(s + n, pay, pl, B64_NOPAD);
	strcpy(s + n, ".AA");
	return s;
}

/* What jose_header says of header text hdr (payload {}). */
static enum jose_err
header_of(const char *hdr)
{
	struct jose_jws	 p;
	json_t		*h;
	const char	*alg;
	size_t		 alglen;
	char		*tok = compact(hdr, "{}");
	enum jose_err	 rc;

	if ((rc = split(tok, &p)) == JOSE_OK) {
		rc = jose_header(&p, &h, &alg, &alglen);
		if (rc == JOSE_OK)
			json_decref(h);
		else
			assert_null(h);
	}
	free(tok);
	return rc;
}

/* What jose_payload says of payload text pay; the claims in *out. */
static enum jose_err
payload_of(const char *pay, json_t **out)
{
	struct jose_jws	 p;
	json_t		*claims;
	char		*tok = compact("{\"alg\":\"RS256\"}", pay);
	enum jose_err	 rc;

	assert_int_equal(split(tok, &p), JOSE_OK);
	rc = jose_payload(&p, &claims);
	free(tok);
	if (rc != JOSE_OK)
		assert_null(claims);
	if (out != NULL)
		*out = claims;
	else
		json_decref(claims);
	return rc;
}

/* A JSON text of n nested arrays around 1. */
static char *
nested(int n)
{
	char	*s = malloc(2 * (size_t)n + 2);
	int	 i;

	assert_non_null(s);
	for (i = 0; i < n; i++)
		s[i] = '[';
	s[n] = '1';
	for (i = 0; i < n; i++)
		s[n + 1 + i] = ']';
	s[2 * n + 1] = '\0';
	return s;
}

/* ---- RFC 7515 appendix A ---------------------------------------------- */

static void
test_rfc7515_a1(void **state)
{
	static const char	 hdr[] = A1_HDR_JSON;
	static const char	 tok[] = A1_JWS;
	struct jose_jws		 p;
	json_t			*h, *claims;
	const char		*alg;
	size_t			 alglen;

	assert_int_equal(split(tok, &p), JOSE_OK);
	/* The signing input is header.payload exactly as received. */
	assert_ptr_equal(p.input, tok);
	assert_int_equal(p.inputlen, strlen(A1_HDR) + 1 + strlen(RFC_PAYLOAD));
	assert_int_equal(p.hdrlen, strlen(hdr));
	assert_memory_equal(p.hdr, hdr, p.hdrlen);
	assert_int_equal(p.paylen, strlen(RFC_PAYLOAD_JSON));
	assert_memory_equal(p.pay, RFC_PAYLOAD_JSON, p.paylen);
	assert_int_equal(p.siglen, 32);		/* HMAC-SHA256 */
	assert_int_equal(p.sig[0], 0x74);	/* A.1.1: 116 */
	assert_int_equal(p.sig[31], 0x79);	/* ... 121 */

	assert_int_equal(jose_header(&p, &h, &alg, &alglen), JOSE_OK);
	assert_int_equal(alglen, 5);
	assert_memory_equal(alg, "HS256", 5);
	assert_true(jose_str_eq(json_object_get(h, "typ"), "JWT"));
	json_decref(h);
	assert_int_equal(jose_payload(&p, &claims), JOSE_OK);
	assert_true(jose_str_eq(json_object_get(claims, "iss"), "joe"));
	assert_true(json_integer_value(json_object_get(claims, "exp")) ==
	    RFC_EXP);
	assert_true(json_is_true(json_object_get(claims,
	    "http://example.com/is_root")));
	json_decref(claims);
}

static void
test_rfc7515_a2_a3(void **state)
{
	struct jose_jws	 p;
	json_t		*h;
	const char	*alg;
	size_t		 alglen;

	assert_int_equal(split(A2_JWS, &p), JOSE_OK);
	assert_int_equal(p.siglen, 256);	/* RSA 2048 */
	assert_int_equal(p.paylen, strlen(RFC_PAYLOAD_JSON));
	assert_int_equal(jose_header(&p, &h, &alg, &alglen), JOSE_OK);
	assert_memory_equal(alg, "RS256", alglen);
	json_decref(h);

	assert_int_equal(split(A3_JWS, &p), JOSE_OK);
	assert_int_equal(p.siglen, 64);		/* P-256 r || s */
	assert_int_equal(jose_header(&p, &h, &alg, &alglen), JOSE_OK);
	assert_memory_equal(alg, "ES256", alglen);
	json_decref(h);
}

/* A.4 signs a payload that is no JSON: split, but no claims. */
static void
test_rfc7515_a4(void **state)
{
	struct jose_jws	 p;
	json_t		*claims;

	assert_int_equal(split(A4_JWS, &p), JOSE_OK);
	assert_int_equal(p.siglen, 132);	/* P-521 r || s */
	assert_int_equal(p.paylen, 7);
	assert_memory_equal(p.pay, "Payload", 7);
	assert_int_equal(jose_payload(&p, &claims), JOSE_ERR_PAYLOAD);
	assert_null(claims);
}

/* A.5, unsecured: its empty signature is no third part. */
static void
test_rfc7515_a5(void **state)
{
	struct jose_jws	 p;

	assert_int_equal(split(A5_JWS, &p), JOSE_ERR_MALFORMED);
}

/* ---- splitting and decoding ------------------------------------------- */

static void
test_split_shapes(void **state)
{
	static const struct {
		const char	*s;
		enum jose_err	 want;
	} t[] = {
		{ "", JOSE_ERR_MALFORMED },
		{ "e30", JOSE_ERR_MALFORMED },
		{ "e30.e30", JOSE_ERR_MALFORMED },
		{ "e30.e30.AA.AA", JOSE_ERR_MALFORMED },
		{ ".e30.AA", JOSE_ERR_MALFORMED },
		{ "e30..AA", JOSE_ERR_MALFORMED },
		{ "e30.e30.", JOSE_ERR_MALFORMED },
		{ "..", JOSE_ERR_MALFORMED },
		{ "e30.e30.AA", JOSE_OK },
		{ "e30=.e30.AA", JOSE_ERR_BASE64 },	/* padded */
		{ "e30.e30.A", JOSE_ERR_BASE64 },	/* impossible length */
		{ "e3+.e30.AA", JOSE_ERR_BASE64 },	/* standard alphabet */
		{ "e30.e3 0.AA", JOSE_ERR_BASE64 },	/* white space */
		{ "e30.e30.AB", JOSE_ERR_BASE64 },	/* trailing bits */
	};
	struct jose_jws	 p;
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (split(t[i].s, &p) != t[i].want)
			fail_msg("\"%s\": got %s", t[i].s,
			    jose_strerror(split(t[i].s, &p)));
}

/* The length counts, not a NUL; the parts go to the caller's buffer. */
static void
test_split_length_and_buffer(void **state)
{
	static const char	 s[] = "e30.e30.AA.junk";
	uint8_t			 small[4];
	struct jose_buf		 buf = { dec, sizeof(dec), 0 };
	struct jose_jws		 p;

	assert_int_equal(jose_split(&buf, s, 10, &p), JOSE_OK);
	assert_int_equal(buf.used, 2 + 2 + 1);
	/* A second token goes after the first, in the same buffer. */
	assert_int_equal(jose_split(&buf, s, 10, &p), JOSE_OK);
	assert_int_equal(buf.used, 10);
	assert_ptr_equal(p.hdr, dec + 5);
	/* A full buffer is refused, never overrun. */
	buf = (struct jose_buf){ small, sizeof(small), 0 };
	assert_int_equal(jose_split(&buf, s, 10, &p), JOSE_ERR_BASE64);
}

/* The header cap holds at its edge, before any JSON is read. */
static void
test_header_size(void **state)
{
	char	 hdr[JOSE_MAX_HEADER + 2];
	int	 fixed = (int)strlen("{\"alg\":\"RS256\",\"x\":\"\"}");

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"x\":\"%0*d\"}",
	    JOSE_MAX_HEADER - fixed, 0);
	assert_int_equal(strlen(hdr), JOSE_MAX_HEADER);
	assert_int_equal(header_of(hdr), JOSE_OK);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"x\":\"%0*d\"}",
	    JOSE_MAX_HEADER - fixed + 1, 0);
	assert_int_equal(header_of(hdr), JOSE_ERR_HEADER_TOO_LARGE);
	/* Not even JSON: the size is what refuses it. */
	memset(hdr, '{', JOSE_MAX_HEADER + 1);
	hdr[JOSE_MAX_HEADER + 1] = '\0';
	assert_int_equal(header_of(hdr), JOSE_ERR_HEADER_TOO_LARGE);
}

/* ---- bounded JSON ------------------------------------------------------ */

static void
test_header_json(void **state)
{
	assert_int_equal(header_of("{\"alg\":\"RS256\"}"), JOSE_OK);
	assert_int_equal(header_of("{alg:RS256}"), JOSE_ERR_HEADER);
	assert_int_equal(header_of(" "), JOSE_ERR_HEADER);
	assert_int_equal(header_of("{\"alg\":\"RS256\"} {}"), JOSE_ERR_HEADER);
	assert_int_equal(header_of("{\"alg\":\"a\\u0000b\"}"), JOSE_ERR_HEADER);
	assert_int_equal(header_of("[\"alg\"]"), JOSE_ERR_HEADER_NOT_OBJECT);
	assert_int_equal(header_of("\"RS256\""), JOSE_ERR_HEADER_NOT_OBJECT);
	assert_int_equal(header_of("{}"), JOSE_ERR_ALG_MISSING);
	assert_int_equal(header_of("{\"alg\":256}"), JOSE_ERR_ALG_MISSING);
	assert_int_equal(header_of("{\"alg\":null}"), JOSE_ERR_ALG_MISSING);
	assert_int_equal(header_of("{\"alg\":\"RS256\",\"alg\":\"none\"}"),
	    JOSE_ERR_DUPLICATE_MEMBER);
	assert_int_equal(header_of("{\"alg\":\"RS256\",\"n\":1e400}"),
	    JOSE_ERR_NUMBER_RANGE);
}

static void
test_payload_json(void **state)
{
	json_t	*c;

	assert_int_equal(payload_of("{}", NULL), JOSE_OK);
	assert_int_equal(payload_of("{\"a\":", NULL), JOSE_ERR_PAYLOAD);
	assert_int_equal(payload_of("[1,2]", NULL),
	    JOSE_ERR_PAYLOAD_NOT_OBJECT);
	assert_int_equal(payload_of("42", NULL), JOSE_ERR_PAYLOAD_NOT_OBJECT);
	/* Duplicates, however deep: one parser must not read another value. */
	assert_int_equal(payload_of("{\"aud\":\"a\",\"aud\":\"b\"}", NULL),
	    JOSE_ERR_DUPLICATE_MEMBER);
	assert_int_equal(payload_of("{\"p\":{\"e\":\"a\",\"e\":\"b\"}}",
	    NULL), JOSE_ERR_DUPLICATE_MEMBER);
	/* The same name escaped differently is the same member. */
	assert_int_equal(payload_of("{\"aud\":\"a\",\"\\u0061ud\":\"b\"}",
	    NULL), JOSE_ERR_DUPLICATE_MEMBER);

	/* Integers up to int64_t exactly, then refused, not clamped. */
	assert_int_equal(payload_of("{\"exp\":9223372036854775807}", &c),
	    JOSE_OK);
	assert_true(json_integer_value(json_object_get(c, "exp")) ==
	    INT64_MAX);
	json_decref(c);
	assert_int_equal(payload_of("{\"exp\":-9223372036854775808}", &c),
	    JOSE_OK);
	assert_true(json_integer_value(json_object_get(c, "exp")) ==
	    INT64_MIN);
	json_decref(c);
	assert_int_equal(payload_of("{\"exp\":9223372036854775808}", NULL),
	    JOSE_ERR_NUMBER_RANGE);
	assert_int_equal(payload_of("{\"exp\":-9223372036854775809}", NULL),
	    JOSE_ERR_NUMBER_RANGE);
	assert_int_equal(payload_of("{\"x\":[1e309]}", NULL),
	    JOSE_ERR_NUMBER_RANGE);
}

/* Depth counts arrays and objects, never brackets inside strings. */
static void
test_depth(void **state)
{
	char	*deep, *pay;

	/* The claims object is depth 1: JOSE_MAX_DEPTH - 1 arrays fit. */
	deep = nested(JOSE_MAX_DEPTH - 1);
	assert_non_null(pay = malloc(strlen(deep) + 16));
	sprintf(pay, "{\"x\":%s}", deep);
	assert_int_equal(payload_of(pay, NULL), JOSE_OK);
	free(deep);
	free(pay);
	deep = nested(JOSE_MAX_DEPTH);
	assert_non_null(pay = malloc(strlen(deep) + 16));
	sprintf(pay, "{\"x\":%s}", deep);
	assert_int_equal(payload_of(pay, NULL), JOSE_ERR_JSON_DEPTH);
	free(pay);
	free(deep);
	/* Too deep is told before anything else: here, not JSON at all. */
	deep = nested(JOSE_MAX_DEPTH + 1);
	deep[JOSE_MAX_DEPTH + 2] = '\0';
	assert_int_equal(payload_of(deep, NULL), JOSE_ERR_JSON_DEPTH);
	free(deep);
	/* Brackets in strings, an escaped quote among them, count nothing. */
	assert_int_equal(payload_of("{\"x\":\"[[[[[[[[[[[[[[[[[[[[[[[[\\\""
	    "{{{{{{{{{{{{{{{{{{{{{{{{\"}", NULL), JOSE_OK);
	assert_int_equal(header_of("{\"alg\":\"RS256\",\"x\":[[[[[[[[[[[[[["
	    "[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]}"), JOSE_ERR_JSON_DEPTH);
}

/* ---- claims ------------------------------------------------------------ */

#define NOW	INT64_C(1700000000)

/* The codes tell which check spoke; 0 (JOSE_OK) for nbf: not read. */
static const struct jose_times jwt = {
	JOSE_ERR_EXP_MISSING, JOSE_ERR_EXPIRED, JOSE_ERR_NOT_YET_VALID,
	JOSE_ERR_IAT_FUTURE
};
static const struct jose_times no_nbf = {
	JOSE_ERR_ASSERTION_EXP_MISSING, JOSE_ERR_ASSERTION_EXPIRED, JOSE_OK,
	JOSE_ERR_ASSERTION_IAT_FUTURE
};

/* jose_check_times of claims text pay. */
static enum jose_err
times(const char *pay, int64_t now, int64_t leeway, int64_t unit,
    const struct jose_times *te)
{
	struct jose_clock	 clk = { now, leeway, unit };
	json_error_t		 jerr;
	json_t			*c = json_loads(pay, 0, &jerr);
	int64_t			 exp = -1;
	enum jose_err		 rc;

	assert_non_null(c);
	rc = jose_check_times(c, &clk, te, &exp);
	json_decref(c);
	return rc;
}

static char *
claims(const char *fmt, int64_t v)
{
	static char	 buf[256];

	snprintf(buf, sizeof(buf), fmt, (long long)v);
	return buf;
}

static void
test_times_seconds(void **state)
{
	const int64_t	 l = 60;

	assert_int_equal(times("{}", NOW, l, JOSE_SECONDS, &jwt),
	    JOSE_ERR_EXP_MISSING);
	/* exp + leeway <= now is expired: the edge on either side. */
	assert_int_equal(times(claims("{\"exp\":%lld}", NOW - l), NOW, l,
	    JOSE_SECONDS, &jwt), JOSE_ERR_EXPIRED);
	assert_int_equal(times(claims("{\"exp\":%lld}", NOW - l + 1), NOW, l,
	    JOSE_SECONDS, &jwt), JOSE_OK);
	/* nbf - leeway > now is not yet valid. */
	assert_int_equal(times(claims("{\"exp\":9999999999,\"nbf\":%lld}",
	    NOW + l), NOW, l, JOSE_SECONDS, &jwt), JOSE_OK);
	assert_int_equal(times(claims("{\"exp\":9999999999,\"nbf\":%lld}",
	    NOW + l + 1), NOW, l, JOSE_SECONDS, &jwt),
	    JOSE_ERR_NOT_YET_VALID);
	/* iat alike. */
	assert_int_equal(times(claims("{\"exp\":9999999999,\"iat\":%lld}",
	    NOW + l), NOW, l, JOSE_SECONDS, &jwt), JOSE_OK);
	assert_int_equal(times(claims("{\"exp\":9999999999,\"iat\":%lld}",
	    NOW + l + 1), NOW, l, JOSE_SECONDS, &jwt), JOSE_ERR_IAT_FUTURE);
	/* Without leeway the edge is now itself. */
	assert_int_equal(times(claims("{\"exp\":%lld}", NOW), NOW, 0,
	    JOSE_SECONDS, &jwt), JOSE_ERR_EXPIRED);
	assert_int_equal(times(claims("{\"exp\":%lld}", NOW + 1), NOW, 0,
	    JOSE_SECONDS, &jwt), JOSE_OK);
}

/* BrowserID's milliseconds: the leeway is seconds all the same. */
static void
test_times_milliseconds(void **state)
{
	const int64_t	 now = NOW * 1000, l = 60;

	assert_int_equal(times(claims("{\"exp\":%lld}", now - 60000), now, l,
	    JOSE_MILLISECONDS, &no_nbf), JOSE_ERR_ASSERTION_EXPIRED);
	assert_int_equal(times(claims("{\"exp\":%lld}", now - 59999), now, l,
	    JOSE_MILLISECONDS, &no_nbf), JOSE_OK);
	assert_int_equal(times(claims("{\"exp\":9999999999999,\"iat\":%lld}",
	    now + 60000), now, l, JOSE_MILLISECONDS, &no_nbf), JOSE_OK);
	assert_int_equal(times(claims("{\"exp\":9999999999999,\"iat\":%lld}",
	    now + 60001), now, l, JOSE_MILLISECONDS, &no_nbf),
	    JOSE_ERR_ASSERTION_IAT_FUTURE);
	assert_int_equal(times("{\"iat\":1}", now, l, JOSE_MILLISECONDS,
	    &no_nbf), JOSE_ERR_ASSERTION_EXP_MISSING);
	/* The same exp in seconds is long expired in milliseconds. */
	assert_int_equal(times(claims("{\"exp\":%lld}", NOW + 3600), now, l,
	    JOSE_MILLISECONDS, &no_nbf), JOSE_ERR_ASSERTION_EXPIRED);
	/* No nbf where the kind has none: not read, not even its type. */
	assert_int_equal(times("{\"exp\":9999999999999,\"nbf\":\"later\"}",
	    now, l, JOSE_MILLISECONDS, &no_nbf), JOSE_OK);
	assert_int_equal(times("{\"exp\":9999999999,\"nbf\":\"later\"}",
	    NOW, l, JOSE_SECONDS, &jwt), JOSE_ERR_CLAIM_TYPE);
}

/* A time is a JSON integer: any real, fraction or not, is refused. */
static void
test_times_not_integers(void **state)
{
	static const char *const bad[] = {
		"{\"exp\":1700000100.5}",
		"{\"exp\":1700000100.0}",
		"{\"exp\":1.7000001e9}",
		"{\"exp\":\"1700000100\"}",
		"{\"exp\":true}",
		"{\"exp\":null}",
		"{\"exp\":[1700000100]}",
		"{\"exp\":1700000100,\"iat\":1699999999.5}",
		"{\"exp\":1700000100,\"nbf\":1699999999.0}",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (times(bad[i], NOW, 60, JOSE_SECONDS, &jwt) !=
		    JOSE_ERR_CLAIM_TYPE)
			fail_msg("%s: not refused as CLAIM_TYPE", bad[i]);
	assert_int_equal(times("{\"exp\":1700000100.5}", NOW * 1000, 60,
	    JOSE_MILLISECONDS, &no_nbf), JOSE_ERR_CLAIM_TYPE);
}

/*
 * The extremes of int64_t: the server's side of each comparison saturates
 * instead of wrapping (UBSan would also stop a signed overflow), and the
 * client's values are never added to.
 */
static void
test_times_extremes(void **state)
{
	assert_int_equal(times("{\"exp\":9223372036854775807,"
	    "\"iat\":-9223372036854775808,\"nbf\":-9223372036854775808}",
	    NOW, 3600, JOSE_SECONDS, &jwt), JOSE_OK);
	assert_int_equal(times("{\"exp\":-9223372036854775808}", NOW, 3600,
	    JOSE_SECONDS, &jwt), JOSE_ERR_EXPIRED);
	/* now - leeway below INT64_MIN: a wrap would expire everything. */
	assert_int_equal(times("{\"exp\":-9223372036854775807}", INT64_MIN,
	    3600, JOSE_MILLISECONDS, &no_nbf), JOSE_OK);
	/* now + leeway above INT64_MAX: a wrap would put iat in the future. */
	assert_int_equal(times("{\"exp\":9223372036854775807,"
	    "\"iat\":9223372036854775807}", INT64_MAX, 3600,
	    JOSE_MILLISECONDS, &no_nbf), JOSE_OK);
	/* A leeway whose milliseconds do not fit saturates too. */
	assert_int_equal(times("{\"exp\":1,\"iat\":9223372036854775807}", 0,
	    INT64_MAX, JOSE_MILLISECONDS, &no_nbf), JOSE_OK);
}

/* aud against claims text pay. */
static enum jose_err
aud(const char *pay, int arrays)
{
	json_error_t	 jerr;
	json_t		*c = json_loads(pay, 0, &jerr);
	enum jose_err	 rc;

	assert_non_null(c);
	rc = jose_check_aud(c, "tokend", arrays);
	json_decref(c);
	return rc;
}

static void
test_aud(void **state)
{
	assert_int_equal(aud("{\"aud\":\"tokend\"}", 0), JOSE_OK);
	assert_int_equal(aud("{\"aud\":\"tokend\"}", 1), JOSE_OK);
	assert_int_equal(aud("{}", 1), JOSE_ERR_AUDIENCE);
	assert_int_equal(aud("{\"aud\":\"tokend2\"}", 1), JOSE_ERR_AUDIENCE);
	assert_int_equal(aud("{\"aud\":\"token\"}", 1), JOSE_ERR_AUDIENCE);
	assert_int_equal(aud("{\"aud\":\"\"}", 1), JOSE_ERR_AUDIENCE);
	/* RFC 7519 4.1.3: an array that names us, where the kind takes one. */
	assert_int_equal(aud("{\"aud\":[\"x\",\"tokend\"]}", 1), JOSE_OK);
	assert_int_equal(aud("{\"aud\":[\"x\",\"y\"]}", 1), JOSE_ERR_AUDIENCE);
	assert_int_equal(aud("{\"aud\":[]}", 1), JOSE_ERR_AUDIENCE);
	assert_int_equal(aud("{\"aud\":[\"tokend\",1]}", 1), JOSE_ERR_AUD_TYPE);
	assert_int_equal(aud("{\"aud\":[\"tokend\"]}", 0), JOSE_ERR_AUD_TYPE);
	assert_int_equal(aud("{\"aud\":1}", 1), JOSE_ERR_AUD_TYPE);
	assert_int_equal(aud("{\"aud\":null}", 0), JOSE_ERR_AUD_TYPE);
	assert_int_equal(aud("{\"aud\":{\"tokend\":1}}", 1), JOSE_ERR_AUD_TYPE);
}

/* ---- the rest ---------------------------------------------------------- */

/* One table: a distinct sentence for every code, and its class. */
static void
test_strerror_table(void **state)
{
	int	 i, j;

	for (i = 0; i < JOSE_ERR_COUNT; i++) {
		assert_true(strlen(jose_strerror(i)) > 1);
		assert_string_not_equal(jose_strerror(i),
		    "unknown assertion error");
		for (j = 0; j < i; j++)
			assert_string_not_equal(jose_strerror(i),
			    jose_strerror(j));
	}
	assert_string_equal(jose_strerror(JOSE_ERR_SIGNATURE),
	    "signature does not verify");
	assert_string_equal(jose_strerror(JOSE_ERR_EXPIRED), "token expired");
	assert_string_equal(jose_strerror(JOSE_ERR_KID_UNKNOWN),
	    "unknown key id (kid)");
	assert_string_equal(jose_strerror(JOSE_ERR_COUNT),
	    "unknown assertion error");
	assert_string_equal(jose_strerror(-1), "unknown assertion error");
	/* The words each verifier's clients have been told all along. */
	assert_non_null(strstr(jose_strerror(JOSE_ERR_SERVICE_NOT_ALLOWED),
	    "not allowed for this service"));
	assert_non_null(strstr(jose_strerror(JOSE_ERR_SERVICE_NOT_ALLOWED),
	    "not accepted for this service"));
	assert_non_null(strstr(jose_strerror(JOSE_ERR_MALFORMED),
	    "three dot-separated parts"));
}

static void
test_err_class(void **state)
{
	static const enum jose_err clock[] = {
		JOSE_ERR_EXPIRED, JOSE_ERR_NOT_YET_VALID, JOSE_ERR_IAT_FUTURE,
		JOSE_ERR_CERT_EXPIRED, JOSE_ERR_CERT_NOT_YET_VALID,
		JOSE_ERR_ASSERTION_EXPIRED, JOSE_ERR_ASSERTION_IAT_FUTURE,
	};
	size_t	 i, n = sizeof(clock) / sizeof(clock[0]), ntime = 0;
	int	 e;

	for (i = 0; i < n; i++)
		assert_int_equal(jose_err_class(clock[i]),
		    JOSE_CLASS_TIMESTAMP);
	assert_int_equal(jose_err_class(JOSE_ERR_INTERNAL),
	    JOSE_CLASS_INTERNAL);
	/* Everything else is a bad credential, a missing exp among them. */
	for (e = 0; e < JOSE_ERR_COUNT; e++)
		if (jose_err_class(e) == JOSE_CLASS_TIMESTAMP)
			ntime++;
		else if (e != JOSE_ERR_INTERNAL)
			assert_int_equal(jose_err_class(e),
			    JOSE_CLASS_CREDENTIALS);
	assert_int_equal(ntime, n);
	assert_int_equal(jose_err_class(JOSE_ERR_EXP_MISSING),
	    JOSE_CLASS_CREDENTIALS);
	assert_int_equal(jose_err_class(JOSE_ERR_COUNT), JOSE_CLASS_INTERNAL);
}

/* r || s as DER: minimal INTEGERs, a zero byte before a high bit. */
static void
test_rs_to_der(void **state)
{
	static const uint8_t	 want[] = {
		0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80
	};
	uint8_t			 sig[64] = { 0 }, der[JOSE_RS_DER_MAX];
	size_t			 derlen;

	sig[31] = 0x01;
	sig[63] = 0x80;
	assert_int_equal(jose_rs_to_der(sig, 32, der, &derlen), 0);
	assert_int_equal(derlen, sizeof(want));
	assert_memory_equal(der, want, sizeof(want));
}

static void
test_seterr(void **state)
{
	char	 err[8];

	jose_seterr(err, sizeof(err), "%s %d", "abcdef", 42);
	assert_string_equal(err, "abcdef ");
	jose_seterr(NULL, 0, "%s", "nowhere");
	err[0] = 'x';
	jose_seterr(err, 0, "%s", "nothing");
	assert_int_equal(err[0], 'x');
}

/* ---- hash flooding ---------------------------------------------------- */

/* A JSON object of n members: first, then "mI":I up to n; free() it. */
static char *
object_of(const char *first, int n)
{
	char	*s;
	size_t	 len;
	int	 i;

	assert_non_null(s = malloc(strlen(first) + 24 * (size_t)n + 4));
	len = (size_t)sprintf(s, "{%s", first);
	for (i = 1; i < n; i++)
		len += (size_t)sprintf(s + len, ",\"m%d\":%d", i, i);
	strcpy(s + len, "}");
	return s;
}

/*
 * Hash flooding: a header or payload holds at most JOSE_MAX_MEMBERS
 * members in all, nested objects counted, refused before jansson builds a
 * table of them: the last accepted count and the first refused one.
 */
static void
test_members(void **state)
{
	char	*s;

	s = object_of("\"alg\":\"RS256\"", JOSE_MAX_MEMBERS);
	assert_int_equal(header_of(s), JOSE_OK);
	free(s);
	s = object_of("\"alg\":\"RS256\"", JOSE_MAX_MEMBERS + 1);
	assert_int_equal(header_of(s), JOSE_ERR_JSON_MEMBERS);
	free(s);
	s = object_of("\"m0\":0", JOSE_MAX_MEMBERS);
	assert_int_equal(payload_of(s, NULL), JOSE_OK);
	free(s);
	s = object_of("\"m0\":0", JOSE_MAX_MEMBERS + 1);
	assert_int_equal(payload_of(s, NULL), JOSE_ERR_JSON_MEMBERS);
	free(s);
	/* Members of a nested object count: "o" and its two are three. */
	s = object_of("\"o\":{\"a\":1,\"b\":{}}", JOSE_MAX_MEMBERS - 2);
	assert_int_equal(payload_of(s, NULL), JOSE_OK);
	free(s);
	s = object_of("\"o\":{\"a\":1,\"b\":{}}", JOSE_MAX_MEMBERS - 1);
	assert_int_equal(payload_of(s, NULL), JOSE_ERR_JSON_MEMBERS);
	free(s);
	/* Told before anything else: 1000 members, one of them twice. */
	s = object_of("\"m1\":0", 1000);
	assert_int_equal(payload_of(s, NULL), JOSE_ERR_JSON_MEMBERS);
	free(s);
}

/* Colons in strings, after an escaped quote too, are no members. */
static void
test_members_not_in_strings(void **state)
{
	char	 pay[512], colons[2 * JOSE_MAX_MEMBERS + 1];

	memset(colons, ':', sizeof(colons) - 1);
	colons[sizeof(colons) - 1] = '\0';
	snprintf(pay, sizeof(pay), "{\"x\":\"\\\"%s\",\"%s\":1}", colons,
	    colons);
	assert_int_equal(payload_of(pay, NULL), JOSE_OK);
	snprintf(pay, sizeof(pay), "{\"alg\":\"RS256\",\"%s\":\"\\\"%s\"}",
	    colons, colons);
	assert_int_equal(header_of(pay), JOSE_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7515_a1),
		cmocka_unit_test(test_rfc7515_a2_a3),
		cmocka_unit_test(test_rfc7515_a4),
		cmocka_unit_test(test_rfc7515_a5),
		cmocka_unit_test(test_split_shapes),
		cmocka_unit_test(test_split_length_and_buffer),
		cmocka_unit_test(test_header_size),
		cmocka_unit_test(test_header_json),
		cmocka_unit_test(test_payload_json),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_times_seconds),
		cmocka_unit_test(test_times_milliseconds),
		cmocka_unit_test(test_times_not_integers),
		cmocka_unit_test(test_times_extremes),
		cmocka_unit_test(test_aud),
		cmocka_unit_test(test_strerror_table),
		cmocka_unit_test(test_err_class),
		cmocka_unit_test(test_rs_to_der),
		cmocka_unit_test(test_seterr),
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_members_not_in_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
