/*
 * fuzz_jose.c - libFuzzer harness of the JOSE reader (src/identity/jose.c)
 * and, through it, of both verifiers of identity assertions: jwt_verify
 * (src/identity/jws.c) and browserid_verify (src/identity/browserid.c).
 *
 * An assertion is the first thing a worker reads of a client's request,
 * in the process that holds every secret, so any bytes must get a code of
 * enum jose_err, never a crash, a leak or a hang.  Beyond that the harness
 * checks what each layer promises:
 *
 *   - jose.c, called directly on each '~'-separated part of the input:
 *     the decoded parts lie in the caller's buffer and re-encode to the
 *     very characters they came from (one spelling per signature); a
 *     header or payload it accepts is a JSON object within the nesting
 *     and member caps; jose_check_times and jose_check_aud give exactly
 *     the code a plain reading of RFC 7519 gives for those claims;
 *   - the verifiers: whatever verifies names a configured issuer, an
 *     identity of the allowed size and an exp not yet past;
 *   - unforgeability: an assertion that verifies, with any one byte
 *     replaced, dropped or added, never verifies.
 *
 * The world is fixed once in LLVMFuzzerInitialize and never changes: the
 * unit tests' test-only keys (tests/unit/vectors: jwks.json, hs.secret,
 * browserid/), three [issuer] sections and two [browserid] ones, and the
 * unit tests' clock.  It builds one valid assertion of each kind there:
 * RS256, ES256 and EdDSA JWTs signed by jwtgen (tokenctl's signer, written
 * apart from the verifier), an HS256 JWT and an RS256 BrowserID backed
 * assertion signed here.  ECDSA draws a random nonce, so jwtgen signs with
 * a fixed random source: every run builds the same bytes.
 *
 * Signatures stop random bytes before the claims, so two modes sign what
 * the input says, to fuzz what only an issuer's signature reaches.
 *
 * Input, by its first byte:
 *   0x00 W EDITS   built assertion W (mod their number), changed by each
 *                  3-byte edit alone: op (2 bits) and position (14 bits,
 *                  mod the length), then a byte V.  op 0 replaces by V,
 *                  1 by the V-th character of base64url, 2 drops, 3
 *                  inserts V.  A change must not verify; an "edit" that
 *                  leaves the assertion as it was must still verify.
 *   0x01 CLAIMS    a JWT of these claims, HS256-signed with the issuers'
 *                  shared secret.
 *   0x02 C 0xff A  a backed assertion: certificate claims C, signed by the
 *                  idp issuer's root key, and assertion claims A, signed
 *                  by the user key the seeds' certificates certify.
 *   else           the assertion itself: a JWT, or certificate~assertion.
 *
 * The harness runs from the top of the tree (tests/fuzz/smoke does), or
 * with TOKEND_VECTORS naming the vectors directory, as the unit tests.
 */
/* RAND_set_rand_method, deprecated, is the one way to fix ECDSA's nonce. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "core/b64.h"
#include "core/hkdf.h"
#include "identity/browserid.h"
#include "identity/issuer.h"
#include "identity/jose.h"
#include "identity/jwks.h"
#include "identity/jws.h"
#include "tools/jwtgen.h"

#include "../fuzz.h"

#define NOW		INT64_C(1700000000)	/* the unit tests' clock */
#define NOW_MS		(NOW * 1000)
#define LEEWAY		60
#define VECTORS		"tests/unit/vectors"
#define AUD_JWT		"tokend"
#define AUD_BROWSERID	"https://token.example"
#define SIG_MAX		512
#define MAX_EDITS	32	/* per input: each edit costs a verification */
#define KEY_FILE_MAX	65536
#define HS256_HDR	"{\"alg\":\"HS256\"}"
#define RS256_HDR	"{\"alg\":\"RS256\"}"

static const char	 alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

enum { ISS_IDP, ISS_MAIL, ISS_NOKEYS, NISSUERS };
enum { BID_IDP, BID_FALLBACK, NBID };

static struct issuer		 issuers[NISSUERS];
static struct browserid_issuer	 bids[NBID];
static struct jwks		*jwks;
static uint8_t			*hs_secret;
static size_t			 hs_len;
static struct claim_req		 mail_require = { "email_verified", 1, 1,
				    NULL };

/*
 * The private halves of the idp root key and of the user key it
 * certifies, for the backed assertions signed here (compact() signs with
 * the HS secret when given no key).
 */
static EVP_PKEY			*idp_root, *user_key;
static char			*user_pub;	/* user_key's "public-key" */

/* The valid assertions of mode 0x00: three by jwtgen, two by this file. */
#define NBUILT	5
struct built {
	int	 backed;
	char	*s;
	size_t	 len;
};
static struct built	 built[NBUILT];
static size_t		 nbuilt;

/* ---- the fixed world ---------------------------------------------------- */

static const char *
vector(const char *name)
{
	static char	 path[4096];
	const char	*dir = getenv("TOKEND_VECTORS");

	snprintf(path, sizeof(path), "%s/%s", dir != NULL ? dir : VECTORS,
	    name);
	return path;
}

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "fuzz_jose: %s: %s\n", what, why);
	abort();
}

/* A whole vector file, NUL-terminated, in memory the caller frees. */
static char *
slurp(const char *name, size_t *len)
{
	char	 err[512], *s;

	if ((s = jose_read_file(vector(name), KEY_FILE_MAX, len, err,
	    sizeof(err))) == NULL)
		die(name, err);
	return s;
}

/* A decimal member of a BrowserID key file, for OSSL_PARAM_BLD. */
static BIGNUM *
dec_member(json_t *key, const char *name)
{
	BIGNUM	*bn = NULL;

	if (BN_dec2bn(&bn, json_string_value(json_object_get(key, name))) == 0)
		die(name, "not a decimal member");
	return bn;
}

/*
 * The RSA private key of a BrowserID key file (PyBrowserID's form: n, e, d
 * in decimal), and in *pub its public half as a "public-key" claim.
 */
static EVP_PKEY *
browserid_private(const char *name, char **pub)
{
	size_t		 len;
	char		*text = slurp(name, &len);
	json_t		*j = json_loadb(text, len, 0, NULL);
	BIGNUM		*n, *e, *d;
	OSSL_PARAM_BLD	*bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM	*params = NULL;
	EVP_PKEY_CTX	*ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY	*k = NULL;

	if (j == NULL || bld == NULL || ctx == NULL)
		die(name, "cannot read");
	n = dec_member(j, "n");
	e = dec_member(j, "e");
	d = dec_member(j, "d");
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params) != 1)
		die(name, "not an RSA private key");
	json_object_del(j, "d");
	if (pub != NULL && (*pub = json_dumps(j, JSON_COMPACT)) == NULL)
		die(name, "cannot write its public half");
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	BN_free(e);
	BN_free(d);
	json_decref(j);
	free(text);
	return k;
}

/* Signs input[0..len) with key (RS256), or with the HS secret if NULL. */
static size_t
sign(EVP_PKEY *key, const char *input, size_t len, uint8_t sig[SIG_MAX])
{
	EVP_MD_CTX	*ctx;
	size_t		 siglen = SIG_MAX;

	if (key == NULL) {
		if (hmac_sha256(sig, hs_secret, hs_len, input, len) == -1)
			abort();
		return SHA256_LEN;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)input,
	    len) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
	return siglen;
}

/* header.payload.signature of the JSON texts given; owned, NUL-ended. */
static char *
compact(EVP_PKEY *key, const void *hdr, size_t hl, const void *pay,
    size_t paylen)
{
	size_t	 len, siglen;
	uint8_t	 sig[SIG_MAX];
	char	*s;

	if ((s = malloc(b64url_enclen(hl, B64_NOPAD) + b64url_enclen(paylen,
	    B64_NOPAD) + b64url_enclen(SIG_MAX, B64_NOPAD) + 3)) == NULL)
		abort();
	len = b64url_encode(s, hdr, hl, B64_NOPAD);
	s[len++] = '.';
	len += b64url_encode(s + len, pay, paylen, B64_NOPAD);
	siglen = sign(key, s, len, sig);
	s[len++] = '.';
	b64url_encode(s + len, sig, siglen, B64_NOPAD);
	return s;
}

/* certificate~assertion of the two claim texts; owned, NUL-ended. */
static char *
backed(const void *cert, size_t certlen, const void *asr, size_t asrlen)
{
	char	*c = compact(idp_root, RS256_HDR, strlen(RS256_HDR), cert,
		    certlen);
	char	*a = compact(user_key, RS256_HDR, strlen(RS256_HDR), asr,
		    asrlen);
	size_t	 cl = strlen(c), al = strlen(a);
	char	*s;

	if ((s = malloc(cl + al + 2)) == NULL)
		abort();
	memcpy(s, c, cl);
	s[cl] = '~';
	memcpy(s + cl + 1, a, al + 1);
	free(c);
	free(a);
	return s;
}

/*
 * A random source that is not random, installed only while jwtgen signs
 * at start: ECDSA's nonce would otherwise make the ES256 JWT, and so what
 * an input of mode 0x00 changes, differ from one run to the next.
 */
static int
fixed_bytes(unsigned char *buf, int num)
{
	memset(buf, 0x5a, (size_t)num);
	return 1;
}

static int
fixed_status(void)
{
	return 1;
}

static const RAND_METHOD fixed_rand = {
	NULL, fixed_bytes, NULL, NULL, fixed_bytes, fixed_status,
};

static void
add_built(int is_backed, char *s)
{
	FUZZ_CHECK(nbuilt < NBUILT);
	built[nbuilt].backed = is_backed;
	built[nbuilt].s = s;
	built[nbuilt++].len = strlen(s);
}

static void
build_jwt(const char *pem, const char *kid)
{
	char	 err[512], *jwt;

	RAND_set_rand_method(&fixed_rand);
	jwt = jwtgen_sign(vector(pem), kid, "https://idp.example", AUD_JWT,
	    "alice@example.com", NOW, 600, err, sizeof(err));
	RAND_set_rand_method(NULL);
	if (jwt == NULL)
		die(pem, err);
	add_built(0, jwt);
}

/* The claims of the HS256 JWT and of the backed assertion built at start. */
#define MAIL_CLAIMS	"{\"iss\":\"https://mail.example\"," \
	"\"aud\":[\"x\",\"tokend\"],\"email\":\"Bob@Mail.Example\"," \
	"\"email_verified\":true,\"exp\":1700000600}"
#define ASSERTION_CLAIMS "{\"exp\":1700000120000,\"aud\":\"" \
	AUD_BROWSERID "\"}"

static void
build_assertions(void)
{
	char	*cert;
	int	 n;

	build_jwt("rsa.pem", "rsa1");
	build_jwt("ec.pem", "ec1");
	build_jwt("ed25519.pem", "ed1");
	add_built(0, compact(NULL, HS256_HDR, strlen(HS256_HDR), MAIL_CLAIMS,
	    strlen(MAIL_CLAIMS)));
	n = asprintf(&cert, "{\"iss\":\"idp.example\",\"iat\":%lld,"
	    "\"exp\":%lld,\"public-key\":%s,\"principal\":{\"email\":"
	    "\"alice@idp.example\"}}", (long long)(NOW_MS - 60000),
	    (long long)(NOW_MS + 3600000), user_pub);
	if (n == -1)
		abort();
	add_built(1, backed(cert, (size_t)n, ASSERTION_CLAIMS,
	    strlen(ASSERTION_CLAIMS)));
	free(cert);
}

static void
set_issuer(struct issuer *is, const char *iss, struct jwks *set,
    unsigned algs)
{
	is->name = (char *)iss;
	is->iss = (char *)iss;
	is->audience = AUD_JWT;
	is->jwks = set;
	is->hs_secret = (struct issuer_secret){ hs_secret, hs_len };
	is->algorithms = algs;
	is->leeway = LEEWAY;
}

static void
set_browserid(struct browserid_issuer *b, const char *issuer,
    const char *keyfile, int secondary)
{
	char	err[512];

	b->name = (char *)issuer;
	b->issuer = (char *)issuer;
	if ((b->key = browserid_key_load(vector(keyfile), err,
	    sizeof(err))) == NULL)
		die(keyfile, err);
	b->audience = AUD_BROWSERID;
	b->secondary = secondary;
	b->leeway = LEEWAY;
}

static int	jwt_verifies(const char *, size_t);
static int	backed_verifies(const char *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	err[512];
	size_t	i;

	json_object_seed(1);
	if ((jwks = jwks_load(vector("jwks.json"), err, sizeof(err))) == NULL)
		die("jwks.json", err);
	hs_secret = (uint8_t *)slurp("hs.secret", &hs_len);
	/* Every algorithm: the unit tests' tokens.txt seeds all verify. */
	set_issuer(&issuers[ISS_IDP], "https://idp.example", jwks,
	    (1u << JWS_ALG_COUNT) - 1);
	set_issuer(&issuers[ISS_MAIL], "https://mail.example", jwks,
	    JWS_ALG_BIT(JWS_ALG_RS256) | JWS_ALG_BIT(JWS_ALG_HS256));
	issuers[ISS_MAIL].identity = IDENTITY_EMAIL;
	issuers[ISS_MAIL].require = &mail_require;
	issuers[ISS_MAIL].nrequire = 1;
	/* jwks_url not fetched yet: no key set, and no HS secret. */
	set_issuer(&issuers[ISS_NOKEYS], "https://nokeys.example", NULL,
	    JWS_ALG_BIT(JWS_ALG_RS256) | JWS_ALG_BIT(JWS_ALG_ES256));
	issuers[ISS_NOKEYS].hs_secret.len = 0;
	set_browserid(&bids[BID_IDP], "idp.example", "browserid/idp.pub.json",
	    0);
	set_browserid(&bids[BID_FALLBACK], "fallback.example",
	    "browserid/fallback.pub.json", 1);
	idp_root = browserid_private("browserid/idp.key.json", NULL);
	user_key = browserid_private("browserid/user-rsa2048.key.json",
	    &user_pub);
	build_assertions();
	/* Each is good, or mode 0x00 would prove nothing. */
	for (i = 0; i < nbuilt; i++)
		FUZZ_CHECK(built[i].backed ? backed_verifies(built[i].s,
		    built[i].len) : jwt_verifies(built[i].s, built[i].len));
	return 0;
}

/* ---- what jose.c promises ----------------------------------------------- */

static void
check_code(enum jose_err rc)
{
	FUZZ_CHECK((unsigned)rc < JOSE_ERR_COUNT);
	FUZZ_CHECK(jose_strerror(rc) != NULL);
	FUZZ_CHECK((unsigned)jose_err_class(rc) <= JOSE_CLASS_INTERNAL);
}

/* The deepest nesting under v (v itself counts) and its members in all. */
static int
json_shape(json_t *v, size_t *members)
{
	const char	*k;
	json_t		*e;
	size_t		 i;
	int		 d, deepest = 0;

	if (json_is_object(v)) {
		*members += json_object_size(v);
		json_object_foreach(v, k, e)
			if ((d = json_shape(e, members)) > deepest)
				deepest = d;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			if ((d = json_shape(e, members)) > deepest)
				deepest = d;
	} else
		return 0;
	return deepest + 1;
}

/* A header or payload jose.c accepted: an object within its caps. */
static void
check_document(json_t *doc)
{
	size_t	members = 0;

	FUZZ_CHECK(json_is_object(doc));
	FUZZ_CHECK(json_shape(doc, &members) <= JOSE_MAX_DEPTH);
	FUZZ_CHECK(members <= JOSE_MAX_MEMBERS);
}

/* part[0..len) decoded into dec[0..declen) re-encodes to the same text. */
static void
check_spelling(const char *part, size_t len, const uint8_t *dec,
    size_t declen)
{
	char	*enc;

	FUZZ_CHECK(declen > 0 && declen <= len);
	if ((enc = malloc(b64url_enclen(declen, B64_NOPAD) + 1)) == NULL)
		abort();
	FUZZ_CHECK(b64url_encode(enc, dec, declen, B64_NOPAD) == len);
	FUZZ_CHECK(memcmp(enc, part, len) == 0);
	free(enc);
}

/* jose_split's parts: in buf, one after the other, spelt one way. */
static void
check_parts(const struct jose_buf *buf, const char *tok, size_t len,
    const struct jose_jws *p)
{
	const char	*d1 = memchr(tok, '.', len);
	const char	*d2 = tok + p->inputlen;

	FUZZ_CHECK(d1 != NULL && d1 < d2 && *d2 == '.');
	FUZZ_CHECK(p->input == tok && p->inputlen < len);
	FUZZ_CHECK(p->hdr == buf->p && p->pay == p->hdr + p->hdrlen &&
	    p->sig == p->pay + p->paylen);
	FUZZ_CHECK(p->hdrlen + p->paylen + p->siglen == buf->used &&
	    buf->used <= buf->size);
	check_spelling(tok, (size_t)(d1 - tok), p->hdr, p->hdrlen);
	check_spelling(d1 + 1, (size_t)(d2 - d1 - 1), p->pay, p->paylen);
	check_spelling(d2 + 1, len - p->inputlen - 1, p->sig, p->siglen);
}

/* An optional integer claim: 0 absent, 1 an integer in *v, -1 other. */
static int
int_claim(json_t *claims, const char *name, int64_t *v)
{
	json_t	*j = json_object_get(claims, name);

	if (j == NULL)
		return 0;
	if (!json_is_integer(j))
		return -1;
	*v = json_integer_value(j);
	return 1;
}

/* RFC 7519 4.1.4-6, read plainly: the code jose_check_times must give. */
static enum jose_err
times_model(json_t *claims, const struct jose_clock *clk, int64_t *exp)
{
	int64_t	lw = clk->leeway * clk->unit, nbf, iat;
	int	has;

	if ((has = int_claim(claims, "exp", exp)) == -1)
		return JOSE_ERR_CLAIM_TYPE;
	if (has == 0)
		return JOSE_ERR_EXP_MISSING;
	if (*exp <= clk->now - lw)
		return JOSE_ERR_EXPIRED;
	if ((has = int_claim(claims, "nbf", &nbf)) == -1)
		return JOSE_ERR_CLAIM_TYPE;
	if (has == 1 && nbf > clk->now + lw)
		return JOSE_ERR_NOT_YET_VALID;
	if ((has = int_claim(claims, "iat", &iat)) == -1)
		return JOSE_ERR_CLAIM_TYPE;
	if (has == 1 && iat > clk->now + lw)
		return JOSE_ERR_IAT_FUTURE;
	return JOSE_OK;
}

/* RFC 7519 4.1.3: the code jose_check_aud must give. */
static enum jose_err
aud_model(json_t *claims, const char *want, int arrays)
{
	json_t	*aud = json_object_get(claims, "aud"), *v;
	size_t	 i;
	int	 found = 0;

	if (json_is_string(aud) || aud == NULL)
		return jose_str_eq(aud, want) ? JOSE_OK : JOSE_ERR_AUDIENCE;
	if (!arrays || !json_is_array(aud))
		return JOSE_ERR_AUD_TYPE;
	json_array_foreach(aud, i, v) {
		if (!json_is_string(v))
			return JOSE_ERR_AUD_TYPE;
		found |= jose_str_eq(v, want);
	}
	return found ? JOSE_OK : JOSE_ERR_AUDIENCE;
}

static void
check_claims(json_t *claims)
{
	static const struct jose_times	 codes = { JOSE_ERR_EXP_MISSING,
	    JOSE_ERR_EXPIRED, JOSE_ERR_NOT_YET_VALID, JOSE_ERR_IAT_FUTURE };
	static const struct jose_clock	 clocks[] = {
		{ NOW, LEEWAY, JOSE_SECONDS },
		{ NOW_MS, LEEWAY, JOSE_MILLISECONDS },
	};
	int64_t				 exp, want_exp;
	enum jose_err			 rc, want;
	size_t				 i;

	for (i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
		want = times_model(claims, &clocks[i], &want_exp);
		rc = jose_check_times(claims, &clocks[i], &codes, &exp);
		FUZZ_CHECK(rc == want);
		if (rc == JOSE_OK)
			FUZZ_CHECK(exp == want_exp);
	}
	for (i = 0; i < 2; i++) {
		rc = jose_check_aud(claims, AUD_JWT, (int)i);
		FUZZ_CHECK(rc == aud_model(claims, AUD_JWT, (int)i));
		check_code(rc);
	}
}

/* One compact serialization through the reader, step by step. */
static void
check_reader(const char *tok, size_t len)
{
	struct jose_buf	 buf;
	struct jose_jws	 p;
	json_t		*hdr, *a, *claims;
	const char	*alg;
	size_t		 alglen;
	enum jose_err	 rc;

	/* Decoded parts never outnumber their characters: len will do. */
	if (len == 0 || (buf.p = malloc(len)) == NULL)
		return;
	buf.size = len;
	buf.used = 0;
	rc = jose_split(&buf, tok, len, &p);
	FUZZ_CHECK(rc == JOSE_OK || rc == JOSE_ERR_MALFORMED ||
	    rc == JOSE_ERR_BASE64 || rc == JOSE_ERR_HEADER_TOO_LARGE);
	if (rc == JOSE_ERR_HEADER_TOO_LARGE)
		FUZZ_CHECK(p.hdrlen > JOSE_MAX_HEADER);
	if (rc != JOSE_OK)
		goto done;
	check_parts(&buf, tok, len, &p);
	rc = jose_header(&p, &hdr, &alg, &alglen);
	check_code(rc);
	if (rc == JOSE_OK) {
		check_document(hdr);
		a = json_object_get(hdr, "alg");
		FUZZ_CHECK(json_is_string(a) && json_string_value(a) == alg &&
		    json_string_length(a) == alglen);
		json_decref(hdr);
	} else
		FUZZ_CHECK(hdr == NULL);
	rc = jose_payload(&p, &claims);
	check_code(rc);
	if (rc != JOSE_OK) {
		FUZZ_CHECK(claims == NULL);
		goto done;
	}
	check_document(claims);
	check_claims(claims);
	json_decref(claims);
done:
	free(buf.p);
}

/* Each '~'-separated part (BrowserID's certificate, its assertion). */
static void
check_reader_parts(const char *s, size_t len)
{
	const char	*end = s + len, *t;

	for (;;) {
		t = memchr(s, '~', (size_t)(end - s));
		check_reader(s, (size_t)((t != NULL ? t : end) - s));
		if (t == NULL)
			return;
		s = t + 1;
	}
}

/* ---- what the verifiers promise ----------------------------------------- */

/* An email's domain holds no upper-case ASCII (jose_email_fold). */
static void
check_folded(const char *email)
{
	const char	*at = strchr(email, '@');

	FUZZ_CHECK(at != NULL && at != email && at[1] != '\0');
	for (at++; *at != '\0'; at++)
		FUZZ_CHECK(*at < 'A' || *at > 'Z');
}

/* s[0..len) as a JWT: 1 if it verifies (and what it says holds), or 0. */
static int
jwt_verifies(const char *s, size_t len)
{
	struct jwt_identity	 id;
	enum jose_err		 rc;
	size_t			 n;

	rc = jwt_verify(issuers, NISSUERS, s, len, NOW, &id);
	check_code(rc);
	FUZZ_CHECK(id.issuer == NULL ||
	    (id.issuer >= issuers && id.issuer < issuers + NISSUERS));
	if (rc != JOSE_OK)
		return 0;
	FUZZ_CHECK(id.issuer != NULL);
	n = strnlen(id.ident, sizeof(id.ident));
	FUZZ_CHECK(n > 0 && n <= JWT_MAX_SUB);
	FUZZ_CHECK(id.exp > NOW - LEEWAY);
	if (id.issuer->identity == IDENTITY_EMAIL)
		check_folded(id.ident);
	return 1;
}

/* The same for a backed assertion. */
static int
backed_verifies(const char *s, size_t len)
{
	struct browserid_identity	 id;
	enum jose_err			 rc;
	const char			*dom;
	size_t				 n;

	rc = browserid_verify(bids, NBID, s, len, NOW_MS, &id);
	check_code(rc);
	if (rc != JOSE_OK)
		return 0;
	FUZZ_CHECK(id.issuer >= bids && id.issuer < bids + NBID);
	n = strnlen(id.email, sizeof(id.email));
	FUZZ_CHECK(n > 0 && n <= BROWSERID_MAX_EMAIL);
	check_folded(id.email);
	FUZZ_CHECK(id.exp_ms > NOW_MS - LEEWAY * 1000);
	dom = strchr(id.email, '@') + 1;
	if (!id.issuer->secondary)
		FUZZ_CHECK(strcasecmp(dom, id.issuer->issuer) == 0);
	return 1;
}

/* Either verifier; an assertion is never good for both. */
static int
verifies(const char *s, size_t len)
{
	int	jwt = jwt_verifies(s, len), bid = backed_verifies(s, len);

	FUZZ_CHECK(!(jwt && bid));
	return jwt || bid;
}

/* Whether position i of s[0..len) is a part's first or last character. */
static int
at_edge(const char *s, size_t len, size_t i)
{
	return i == 0 || i + 1 == len || strchr(".~", s[i - 1]) != NULL ||
	    strchr(".~", s[i + 1]) != NULL || strchr(".~", s[i]) != NULL;
}

/*
 * s verifies: no character of it may be replaced with it still good.
 * Every position would cost a second per backed assertion, so about
 * SWEEP positions are tried, evenly spread, and every part's edges, where
 * base64url's spare bits and the separators are; mode 0x00 lets the
 * fuzzer choose the others.  The replacement is a base64url character,
 * so that the change gets past decoding, a different one by position.
 */
#define SWEEP	48
static void
check_unforgeable(const char *s, size_t len)
{
	size_t	 i, stride = len / SWEEP + 1, n = sizeof(alphabet) - 1;
	char	*t;

	if ((t = malloc(len)) == NULL)
		abort();
	memcpy(t, s, len);
	for (i = 0; i < len; i++) {
		if (i % stride != 0 && !at_edge(s, len, i))
			continue;
		t[i] = alphabet[i % n] != s[i] ? alphabet[i % n] :
		    alphabet[(i + 1) % n];
		FUZZ_CHECK(!verifies(t, len));
		t[i] = s[i];
	}
	free(t);
}

/*
 * One edit of mode 0x00 applied to b into t (room for b->len + 1): the
 * new length.
 */
static size_t
apply_edit(const struct built *b, const uint8_t e[3], char *t)
{
	unsigned	op = e[0] >> 6;
	size_t		pos = ((size_t)(e[0] & 0x3f) << 8 | e[1]) % b->len;

	memcpy(t, b->s, b->len);
	switch (op) {
	case 0:
		t[pos] = (char)e[2];
		return b->len;
	case 1:
		t[pos] = alphabet[e[2] % (sizeof(alphabet) - 1)];
		return b->len;
	case 2:
		memmove(t + pos, t + pos + 1, b->len - pos - 1);
		return b->len - 1;
	default:
		memmove(t + pos + 1, t + pos, b->len - pos);
		t[pos] = (char)e[2];
		return b->len + 1;
	}
}

static void
forge(const uint8_t *data, size_t size)
{
	const struct built	*b;
	char			*t;
	size_t			 i, tlen;
	int			 same;

	if (size < 1)
		return;
	b = &built[data[0] % nbuilt];
	if ((t = malloc(b->len + 1)) == NULL)
		abort();
	for (i = 1; i + 3 <= size && i / 3 < MAX_EDITS; i += 3) {
		tlen = apply_edit(b, data + i, t);
		same = tlen == b->len && memcmp(t, b->s, tlen) == 0;
		FUZZ_CHECK((b->backed ? backed_verifies(t, tlen) :
		    jwt_verifies(t, tlen)) == same);
	}
	free(t);
}

/*
 * Mode 0x01: data[0..size) are the claims of an HS256 JWT.  The reader
 * also gets them as a header, the one document random base64url seldom
 * spells: its caps and its "alg" get fuzzed as the payload's do.
 */
static void
signed_jwt(const uint8_t *data, size_t size)
{
	char	*jwt = compact(NULL, HS256_HDR, strlen(HS256_HDR), data, size);
	size_t	 len = strlen(jwt);

	check_reader(jwt, len);
	jwt_verifies(jwt, len);
	free(jwt);
	jwt = compact(NULL, data, size, "{}", 2);
	check_reader(jwt, strlen(jwt));
	free(jwt);
}

/* Mode 0x02: certificate claims, 0xff, assertion claims. */
static void
signed_backed(const uint8_t *data, size_t size)
{
	const uint8_t	*ff = memchr(data, 0xff, size);
	size_t		 certlen = ff != NULL ? (size_t)(ff - data) : size;
	char		*s;

	s = backed(data, certlen, ff != NULL ? ff + 1 : data + size,
	    ff != NULL ? size - certlen - 1 : 0);
	backed_verifies(s, strlen(s));
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data;

	if (size > 0 && data[0] == 0x00)
		forge(data + 1, size - 1);
	else if (size > 0 && data[0] == 0x01)
		signed_jwt(data + 1, size - 1);
	else if (size > 0 && data[0] == 0x02)
		signed_backed(data + 1, size - 1);
	else {
		check_reader_parts(s, size);
		if (verifies(s, size))
			check_unforgeable(s, size);
	}
	return 0;
}
