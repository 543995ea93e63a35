/*
 * test_browserid.c - BrowserID backed assertions (src/identity/browserid.c) and the
 * [browserid NAME] config section (src/config.c).
 *
 * Three kinds of evidence.  Published assertions made by other
 * implementations: the BrowserID spec's own example (a mockmyid.com RS256
 * certificate and a DS128 assertion), another mockmyid.com assertion
 * signed RS256 by a different encoder, and PyBrowserID's expired
 * browserid.org assertion (DS256; its root key was never published, so
 * only the assertion's signature is checked, with the certified key).
 * Then tests/unit/vectors/browserid/cases.txt, written once by
 * tests/browserid_gen.py, an independent generator (plain-Python RSA and
 * DSA, from the spec and PyBrowserID), itself checked against the
 * published vectors: every case is a backed assertion built like a valid
 * one with exactly one thing changed, and names the code it must get, so
 * a verifier that accepted everything, or refused everything, could not
 * pass.  Then key parsing, the service list, and config_load().  Last,
 * mint_token() with a loaded config: a request that names its kind
 * reaches that verifier only, and an email gets one uid on either path.
 *
 * Every case is checked at the fixed time NOW_MS with these sections:
 *   idp       idp.example, idp.pub.json (RSA 2048), secondary off
 *   fallback  fallback.example, fallback.pub.json (DSA 2048/256),
 *             secondary on
 *   idp8443   idp.example:8443, idp.pub.json (an email domain with a port)
 *   example   example.com, idp.pub.json, secondary off (for the domain
 *             names that are a prefix or an extension of its own)
 * all with audience https://token.example and 60 seconds of leeway.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>

#include "core/b64.h"
#include "identity/browserid.h"
#include "identity/issuer.h"
#include "config.h"
#include "mint.h"
#include "pool/protocol.h"
#include "testutil.h"

#define NOW_MS		INT64_C(1700000000000)
#define AUD		"https://token.example"
#define LEEWAY		60

/* The spec's example: cert iat 1347994401401, exp 1347998001401. */
#define SPEC_NOW	INT64_C(1347994500000)
#define SPEC_ASR_EXP	INT64_C(1347994698140)
#define SPEC_CERT_IAT	INT64_C(1347994401401)
#define SPEC_CERT_EXP	INT64_C(1347998001401)
#define SPEC_AUD	"http://localhost:10001"
/* The other mockmyid.com assertion: cert iat 1354597087870. */
#define JAVA_NOW	INT64_C(1354597100000)
#define JAVA_AUD	"http://localhost:8080"

/*
 * Every case of cases.txt, in its order; test_cases_all_listed fails if
 * the file has one this list lacks, so none is skipped silently.
 */
#define CASES \
	X(ok_rs256_rsa2048) \
	X(ok_ds128_dsa1024) \
	X(ok_ds256_dsa2048) \
	X(ok_rs128_rsa1024) \
	X(ok_rs64_rsa2048) \
	X(ok_cert_signed_rs128) \
	X(ok_iat_and_extra_claims) \
	X(ok_secondary_other_domain) \
	X(ok_secondary_own_domain) \
	X(ok_expired_within_leeway) \
	X(ok_iat_future_within_leeway) \
	X(ok_email_with_port) \
	X(ok_email_domain_case_folded) \
	X(ok_secondary_domain_case_folded) \
	X(ok_secondary_domain_lower) \
	X(ok_secondary_local_part_kept) \
	X(ok_example_com_own_domain) \
	X(ok_rsa_sig_leading_zero_dropped) \
	X(ok_dsa_sig_leading_zero_dropped) \
	X(cert_tampered_payload) \
	X(cert_tampered_signature) \
	X(cert_signed_by_stranger) \
	X(assertion_tampered_payload) \
	X(assertion_tampered_signature) \
	X(assertion_signed_by_other_key) \
	X(assertion_signed_by_issuer) \
	X(alg_ds_with_rsa_key) \
	X(alg_rs_with_dsa_key) \
	X(alg_ds256_with_160bit_q) \
	X(alg_unsupported_hs256) \
	X(alg_unsupported_none) \
	X(alg_unsupported_rs512_cert) \
	X(alg_missing) \
	X(user_key_rsa512) \
	X(cert_key_algorithm_ec) \
	X(cert_key_n_hex) \
	X(cert_key_dsa_y_one) \
	X(cert_key_dsa_y_not_in_group) \
	X(cert_key_private_member) \
	X(rsa_sig_too_long) \
	X(dsa_sig_too_long) \
	X(issuer_unknown) \
	X(email_domain_mismatch_no_secondary) \
	X(email_subdomain_not_issuer) \
	X(email_domain_prefix_of_issuer) \
	X(email_domain_short_prefix) \
	X(email_domain_extends_issuer) \
	X(email_missing) \
	X(email_invalid_no_at) \
	X(email_invalid_space) \
	X(cert_iss_missing) \
	X(cert_public_key_missing) \
	X(cert_exp_missing) \
	X(cert_expired) \
	X(cert_iat_future) \
	X(assertion_expired) \
	X(assertion_iat_future) \
	X(assertion_exp_missing) \
	X(assertion_exp_seconds_real) \
	X(assertion_exp_string) \
	X(cert_iat_string) \
	X(audience_wrong) \
	X(audience_missing) \
	X(audience_array) \
	X(audience_prefix) \
	X(chain_mallory_certifies_alice) \
	X(chain_intermediate_iss_user_email) \
	X(chain_secondary_other_domain) \
	X(chain_2) \
	X(chain_4) \
	X(chain_5) \
	X(payload_duplicate_member) \
	X(payload_not_object) \
	X(header_not_json) \
	X(no_certificate) \
	X(no_assertion) \
	X(empty_middle) \
	X(no_tilde_jwt_only) \
	X(assertion_two_parts) \
	X(assertion_four_parts) \
	X(cert_padded_base64) \
	X(cert_standard_alphabet)

enum { B_IDP, B_FALLBACK, B_IDP8443, B_EXAMPLE, NB };

static struct browserid_issuer	 bid[NB];
static struct config		 cfg;
static struct browserid_key	*k_idp, *k_fallback, *k_mockmyid;
static char			 err[1024];

/* A case of cases.txt: "NAME EXPECTED..." then the assertion. */
struct vcase {
	char	*name;
	char	*want;		/* "ok EMAIL SECTION" or a code name */
	char	*assertion;
};

static struct vcase	*vcases;
static size_t		 nvcases;

/* Fixed inputs live in tests/unit/vectors/browserid. */
static const char *
vec(const char *name)
{
	return tu_vector("browserid/%s", name);
}

/* A whole vector file, NUL-terminated, trailing newline removed. */
static char *
slurp(const char *name)
{
	size_t	 len;
	char	*buf = tu_read_file(vec(name), &len);

	while (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	return buf;
}

static struct browserid_key *
load_key(const char *name)
{
	struct browserid_key	*k = browserid_key_load(vec(name), err,
				    sizeof(err));

	if (k == NULL)
		fprintf(stderr, "%s\n", err);
	return k;
}

static int
read_cases(void)
{
	FILE	*f = fopen(vec("cases.txt"), "r");
	char	*line = NULL, *sp;
	size_t	 cap = 0;
	ssize_t	 n;

	if (f == NULL)
		return -1;
	while ((n = getline(&line, &cap, f)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (line[0] == '#')
			continue;
		if (nvcases % 16 == 0 && (vcases = reallocarray(vcases,
		    nvcases + 16, sizeof(*vcases))) == NULL)
			return -1;
		if ((sp = strchr(line, ' ')) == NULL)
			return -1;
		*sp = '\0';
		vcases[nvcases].name = strdup(line);
		vcases[nvcases].want = strdup(sp + 1);
		if ((n = getline(&line, &cap, f)) == -1)
			return -1;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		vcases[nvcases++].assertion = strdup(line);
	}
	free(line);
	fclose(f);
	return nvcases > 0 ? 0 : -1;
}

static void
set_issuer(struct browserid_issuer *b, const char *name, const char *issuer,
    struct browserid_key *key, const char *audience, int secondary)
{
	memset(b, 0, sizeof(*b));
	b->name = (char *)name;
	b->issuer = (char *)issuer;
	b->key = key;
	b->audience = (char *)audience;
	b->secondary = secondary;
	b->leeway = LEEWAY;
}

static int
setup(void **state)
{
	if ((k_idp = load_key("idp.pub.json")) == NULL ||
	    (k_fallback = load_key("fallback.pub.json")) == NULL ||
	    (k_mockmyid = load_key("mockmyid.pub.json")) == NULL)
		return -1;
	set_issuer(&bid[B_IDP], "idp", "idp.example", k_idp, AUD, 0);
	set_issuer(&bid[B_FALLBACK], "fallback", "fallback.example",
	    k_fallback, AUD, 1);
	set_issuer(&bid[B_IDP8443], "idp8443", "idp.example:8443", k_idp, AUD,
	    0);
	set_issuer(&bid[B_EXAMPLE], "example", "example.com", k_idp, AUD, 0);
	cfg.browserid = bid;
	cfg.nbrowserid = NB;
	return read_cases();
}

static int
teardown(void **state)
{
	size_t	 i;

	for (i = 0; i < nvcases; i++) {
		free(vcases[i].name);
		free(vcases[i].want);
		free(vcases[i].assertion);
	}
	free(vcases);
	browserid_key_free(k_idp);
	browserid_key_free(k_fallback);
	browserid_key_free(k_mockmyid);
	return 0;
}

static enum jose_err
verify_str(const struct config *c, const char *s, int64_t now,
    struct browserid_identity *id)
{
	return browserid_verify(c->browserid, c->nbrowserid, s, strlen(s), now,
	    id);
}

/* Asserts code e with its name in the message when it differs. */
#define assert_code(got, want) do {					\
	enum jose_err g_ = (got), w_ = (want);			\
	if (g_ != w_)							\
		fail_msg("got %d (%s), want %d (%s)", g_,		\
		    jose_strerror(g_), w_, jose_strerror(w_));	\
} while (0)

/* ---- the cases of cases.txt ------------------------------------------- */

/*
 * The names cases.txt gives the codes: a code's name less JOSE_ERR_, but
 * for the five that the generator named before JWT and BrowserID shared
 * one enum (JWS, MALFORMED, ISSUER_UNKNOWN, EMAIL, SERVICE).
 */
static const struct {
	const char	*name;
	enum jose_err	 code;
} codes[] = {
#define E(x) { #x, JOSE_ERR_##x }
	E(TOO_LARGE), E(CERT_CHAIN), E(BASE64), E(HEADER), E(ALG_MISSING),
	E(PAYLOAD_NOT_OBJECT), E(DUPLICATE_MEMBER), E(ALG_UNSUPPORTED),
	E(CERT_CLAIMS), E(ISSUER_DOMAIN), E(KEY_MISMATCH), E(KEY_TOO_SMALL),
	E(SIG_LENGTH), E(CERT_SIGNATURE), E(CLAIM_TYPE), E(AUD_TYPE),
	E(CERT_EXPIRED), E(CERT_NOT_YET_VALID), E(CERT_KEY),
	E(ASSERTION_SIGNATURE), E(ASSERTION_EXP_MISSING),
	E(ASSERTION_EXPIRED), E(ASSERTION_IAT_FUTURE), E(AUDIENCE),
	E(INTERNAL),
#undef E
	{ "JWS", JOSE_ERR_MALFORMED },
	{ "MALFORMED", JOSE_ERR_NOT_BACKED },
	{ "ISSUER_UNKNOWN", JOSE_ERR_ISS_UNKNOWN },
	{ "EMAIL", JOSE_ERR_PRINCIPAL },
	{ "SERVICE", JOSE_ERR_SERVICE_NOT_ALLOWED },
};

static const struct vcase *
find_case(const char *name)
{
	size_t	 i;

	for (i = 0; i < nvcases; i++)
		if (strcmp(vcases[i].name, name) == 0)
			return &vcases[i];
	fail_msg("case %s is not in cases.txt", name);
	return NULL;
}

static void
run_case(const char *name)
{
	const struct vcase		*c = find_case(name);
	struct browserid_identity	 id;
	enum jose_err		 got;
	char				 email[300], section[64];
	size_t				 i;

	got = verify_str(&cfg, c->assertion, NOW_MS, &id);
	if (sscanf(c->want, "ok %299s %63s", email, section) == 2) {
		assert_code(got, JOSE_OK);
		assert_string_equal(id.email, email);
		assert_non_null(id.issuer);
		assert_string_equal(id.issuer->name, section);
		assert_true(id.exp_ms > NOW_MS - LEEWAY * 1000);
		return;
	}
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(codes[i].name, c->want) == 0) {
			assert_code(got, codes[i].code);
			return;
		}
	fail_msg("case %s: unknown expectation \"%s\"", name, c->want);
}

#define X(n) static void test_case_##n(void **s) { run_case(#n); }
CASES
#undef X

static void
test_cases_all_listed(void **state)
{
	static const char *const listed[] = {
#define X(n) #n,
		CASES
#undef X
	};
	size_t	 i, j, n = sizeof(listed) / sizeof(listed[0]), ok = 0, bad = 0;

	for (i = 0; i < nvcases; i++) {
		for (j = 0; j < n; j++)
			if (strcmp(vcases[i].name, listed[j]) == 0)
				break;
		if (j == n)
			fail_msg("cases.txt has %s, which CASES lacks",
			    vcases[i].name);
		if (strncmp(vcases[i].want, "ok ", 3) == 0)
			ok++;
		else
			bad++;
	}
	assert_int_equal(nvcases, n);
	assert_true(ok >= 10 && bad >= 40);
}

/* ---- published assertions --------------------------------------------- */

static void
spec_config(struct config *c, struct browserid_issuer *b, const char *aud)
{
	memset(c, 0, sizeof(*c));
	set_issuer(b, "mockmyid", "mockmyid.com", k_mockmyid, aud, 0);
	c->browserid = b;
	c->nbrowserid = 1;
}

/* The spec's example verifies whole: RS256 root, DS128 user key. */
static void
test_spec_example(void **state)
{
	struct config			 c;
	struct browserid_issuer		 b;
	struct browserid_identity	 id;
	char				*s = slurp("spec-mockmyid.txt");

	assert_int_equal(k_mockmyid->kty, BROWSERID_KTY_RS);
	/* A "2048-bit" modulus of 2047 bits, as jwcrypto made them. */
	assert_int_equal(EVP_PKEY_get_bits(k_mockmyid->pkey), 2047);
	spec_config(&c, &b, SPEC_AUD);
	assert_code(verify_str(&c, s, SPEC_NOW, &id), JOSE_OK);
	assert_string_equal(id.email, "warner@mockmyid.com");
	assert_ptr_equal(id.issuer, &b);
	assert_true(id.exp_ms == SPEC_ASR_EXP);
	/* Still good within the leeway, then expired. */
	assert_code(verify_str(&c, s, SPEC_ASR_EXP + 59999, &id),
	    JOSE_OK);
	assert_code(verify_str(&c, s, SPEC_ASR_EXP + 60000, &id),
	    JOSE_ERR_ASSERTION_EXPIRED);
	assert_code(verify_str(&c, s, SPEC_CERT_IAT - 60001, &id),
	    JOSE_ERR_CERT_NOT_YET_VALID);
	assert_code(verify_str(&c, s, SPEC_CERT_EXP + 60000, &id),
	    JOSE_ERR_CERT_EXPIRED);
	spec_config(&c, &b, "http://localhost:10002");
	assert_code(verify_str(&c, s, SPEC_NOW, &id), JOSE_ERR_AUDIENCE);
	/* Under another issuer's key the certificate does not verify. */
	b.key = k_idp;
	assert_code(verify_str(&c, s, SPEC_NOW, &id),
	    JOSE_ERR_CERT_SIGNATURE);
	/* Not configured at all. */
	assert_code(verify_str(&cfg, s, SPEC_NOW, &id),
	    JOSE_ERR_ISS_UNKNOWN);
	free(s);
}

/* Another encoder: {"alg":"RS256","typ":"JWT"}, "http:\/\/...", iss. */
static void
test_java_mockmyid(void **state)
{
	struct config			 c;
	struct browserid_issuer		 b;
	struct browserid_identity	 id;
	char				*s = slurp("java-mockmyid.txt");

	spec_config(&c, &b, JAVA_AUD);
	assert_code(verify_str(&c, s, JAVA_NOW, &id), JOSE_OK);
	assert_string_equal(id.email, "test@mockmyid.com");
	spec_config(&c, &b, SPEC_AUD);
	assert_code(verify_str(&c, s, JAVA_NOW, &id), JOSE_ERR_AUDIENCE);
	free(s);
}

/*
 * The claims of one part of a backed assertion (0: first certificate),
 * decoded without any check, and that part's signing input and signature.
 */
static json_t *
part_of(const char *backed, int idx, char **input, uint8_t **sig,
    size_t *siglen)
{
	const char	*p = backed, *dot1, *dot2, *end;
	uint8_t		 buf[8192];
	size_t		 len;
	json_t		*j;

	while (idx-- > 0)
		p = strchr(p, '~') + 1;
	end = strchr(p, '~');
	if (end == NULL)
		end = p + strlen(p);
	dot1 = strchr(p, '.');
	dot2 = strchr(dot1 + 1, '.');
	assert_int_equal(b64url_decode(buf, &len, dot1 + 1,
	    (size_t)(dot2 - dot1 - 1), B64_NOPAD), 0);
	j = json_loadb((const char *)buf, len, 0, NULL);
	assert_non_null(j);
	*input = strndup(p, (size_t)(dot2 - p));
	*sig = malloc(b64url_declen((size_t)(end - dot2 - 1)));
	assert_int_equal(b64url_decode(*sig, siglen, dot2 + 1,
	    (size_t)(end - dot2 - 1), B64_NOPAD), 0);
	return j;
}

/* The certified key of part idx as a parsed BrowserID key. */
static struct browserid_key *
certified_key(json_t *claims, int min_bytes)
{
	char			*txt = json_dumps(json_object_get(claims,
				    "public-key"), 0);
	struct browserid_key	*k;

	assert_non_null(txt);
	k = browserid_key_parse(txt, strlen(txt), min_bytes, 1, err,
	    sizeof(err));
	free(txt);
	return k;
}

/*
 * PyBrowserID's EXPIRED_ASSERTION: browserid.org never published the key
 * that signed the certificate, so the whole fails there; the DS256
 * assertion verifies with the key the certificate names.
 */
static void
test_pybrowserid_ds256(void **state)
{
	struct config			 c;
	struct browserid_issuer		 b;
	struct browserid_identity	 id;
	struct browserid_key		*user;
	char				*s = slurp("pybrowserid-expired.txt");
	char				*cin, *ain;
	uint8_t				*csig, *asig;
	size_t				 clen, alen;
	json_t				*cert, *asr;

	cert = part_of(s, 0, &cin, &csig, &clen);
	asr = part_of(s, 1, &ain, &asig, &alen);
	user = certified_key(cert, BROWSERID_SIGNER_MIN_BYTES);
	assert_non_null(user);
	assert_int_equal(user->kty, BROWSERID_KTY_DS);
	assert_int_equal(user->qbytes, 32);
	assert_int_equal(user->bytes, 256);
	assert_int_equal(alen, 64);
	assert_code(browserid_verify_sig(user, BROWSERID_ALG_DS256, ain,
	    strlen(ain), asig, alen), JOSE_OK);
	asig[10] ^= 1;
	assert_code(browserid_verify_sig(user, BROWSERID_ALG_DS256, ain,
	    strlen(ain), asig, alen), JOSE_ERR_ASSERTION_SIGNATURE);
	asig[10] ^= 1;
	assert_code(browserid_verify_sig(user, BROWSERID_ALG_DS128, ain,
	    strlen(ain), asig, alen), JOSE_ERR_KEY_MISMATCH);
	assert_code(browserid_verify_sig(user, BROWSERID_ALG_RS256, ain,
	    strlen(ain), asig, alen), JOSE_ERR_KEY_MISMATCH);
	assert_code(browserid_verify_sig(k_idp, BROWSERID_ALG_RS256, cin,
	    strlen(cin), csig, clen), JOSE_ERR_ASSERTION_SIGNATURE);
	memset(&c, 0, sizeof(c));
	set_issuer(&b, "browserid", "browserid.org", k_idp,
	    "http://myfavoritebeer.org", 1);
	c.browserid = &b;
	c.nbrowserid = 1;
	assert_code(verify_str(&c, s, INT64_C(1323899700000), &id),
	    JOSE_ERR_CERT_SIGNATURE);
	browserid_key_free(user);
	json_decref(cert);
	json_decref(asr);
	free(cin);
	free(ain);
	free(csig);
	free(asig);
	free(s);
}

/* The spec's DS128 user key (1024/160) and its assertion, by themselves. */
static void
test_spec_ds128_signature(void **state)
{
	struct browserid_key	*user;
	char			*s = slurp("spec-mockmyid.txt");
	char			*cin, *ain;
	uint8_t			*csig, *asig;
	size_t			 clen, alen;
	json_t			*cert, *asr;

	cert = part_of(s, 0, &cin, &csig, &clen);
	asr = part_of(s, 1, &ain, &asig, &alen);
	/* 1024 bits: a user key, never a certificate signer. */
	assert_null(certified_key(cert, BROWSERID_SIGNER_MIN_BYTES));
	assert_non_null(strstr(err, "under 256 bytes"));
	user = certified_key(cert, BROWSERID_USER_MIN_BYTES);
	assert_non_null(user);
	assert_int_equal(user->qbytes, 20);
	assert_int_equal(alen, 40);
	assert_code(browserid_verify_sig(user, BROWSERID_ALG_DS128, ain,
	    strlen(ain), asig, alen), JOSE_OK);
	/* A dropped leading zero byte is restored; one byte more is not. */
	assert_code(browserid_verify_sig(user, BROWSERID_ALG_DS128, ain,
	    strlen(ain), asig, 41), JOSE_ERR_SIG_LENGTH);
	assert_code(browserid_verify_sig(user, BROWSERID_ALG_DS256, ain,
	    strlen(ain), asig, alen), JOSE_ERR_KEY_MISMATCH);
	assert_code(browserid_verify_sig(k_mockmyid, BROWSERID_ALG_RS256, cin,
	    strlen(cin), csig, clen), JOSE_OK);
	assert_code(browserid_verify_sig(k_mockmyid, BROWSERID_ALG_RS64, cin,
	    strlen(cin), csig, clen), JOSE_OK);
	assert_code(browserid_verify_sig(k_mockmyid, BROWSERID_ALG_RS256, cin,
	    strlen(cin) - 1, csig, clen), JOSE_ERR_ASSERTION_SIGNATURE);
	assert_code(browserid_verify_sig(k_mockmyid, BROWSERID_ALG_RS256, cin,
	    strlen(cin), csig, 0), JOSE_ERR_SIG_LENGTH);
	browserid_key_free(user);
	json_decref(cert);
	json_decref(asr);
	free(cin);
	free(ain);
	free(csig);
	free(asig);
	free(s);
}

/* ---- structure, without signatures ------------------------------------ */

static void
test_size_bound(void **state)
{
	struct browserid_identity	 id;
	char				*s = malloc(BROWSERID_MAX_BYTES + 2);

	assert_non_null(s);
	memset(s, 'a', BROWSERID_MAX_BYTES + 1);
	s[100] = '~';
	s[BROWSERID_MAX_BYTES + 1] = '\0';
	assert_code(verify_str(&cfg, s, NOW_MS, &id),
	    JOSE_ERR_TOO_LARGE);
	/* At the limit it is looked at (and is no JWS). */
	s[BROWSERID_MAX_BYTES] = '\0';
	assert_code(verify_str(&cfg, s, NOW_MS, &id), JOSE_ERR_MALFORMED);
	free(s);
}

static void
test_malformed_shapes(void **state)
{
	static const struct {
		const char	*s;
		enum jose_err	 want;
	} t[] = {
		{ "", JOSE_ERR_NOT_BACKED },
		{ "~", JOSE_ERR_NOT_BACKED },
		{ "a.b.c", JOSE_ERR_NOT_BACKED },
		{ "a.b.c~", JOSE_ERR_NOT_BACKED },
		{ "~a.b.c", JOSE_ERR_NOT_BACKED },
		{ "a.b.c~~a.b.c", JOSE_ERR_NOT_BACKED },
		/* A second certificate is refused before any decoding. */
		{ "a.b.c~a.b.c~a.b.c", JOSE_ERR_CERT_CHAIN },
		{ "a.b.c~a.b.c~a.b.c~a.b.c~a.b.c~a.b.c",
		    JOSE_ERR_CERT_CHAIN },
		{ "!~!~!", JOSE_ERR_CERT_CHAIN },
		{ "~~~~~", JOSE_ERR_NOT_BACKED },
		{ "a.b.c~a.b.c~", JOSE_ERR_NOT_BACKED },
		{ "a.b~a.b.c", JOSE_ERR_MALFORMED },
		{ "a..c~a.b.c", JOSE_ERR_MALFORMED },
		{ "a.b.c.d~a.b.c", JOSE_ERR_MALFORMED },
		{ "a.b.~a.b.c", JOSE_ERR_MALFORMED },
		{ "e30.e30.AA~e30.e30.A", JOSE_ERR_BASE64 },
		{ "e30=.e30.AA~e30.e30.AA", JOSE_ERR_BASE64 },
		{ "e3+.e30.AA~e30.e30.AA", JOSE_ERR_BASE64 },
		/* {} has no alg */
		{ "e30.e30.AA~e30.e30.AA", JOSE_ERR_ALG_MISSING },
		/* {"alg":"RS256"} . [] */
		{ "eyJhbGciOiJSUzI1NiJ9.W10.AA~e30.e30.AA",
		    JOSE_ERR_PAYLOAD_NOT_OBJECT },
		/* {"alg":"RS256"} . {} : no iss */
		{ "eyJhbGciOiJSUzI1NiJ9.e30.AA~eyJhbGciOiJSUzI1NiJ9.e30.AA",
		    JOSE_ERR_CERT_CLAIMS },
		/* {"alg":"ES256"} */
		{ "eyJhbGciOiJFUzI1NiJ9.e30.AA~e30.e30.AA",
		    JOSE_ERR_ALG_UNSUPPORTED },
		/* {"alg":"rs256"}: names are case-sensitive */
		{ "eyJhbGciOiJyczI1NiJ9.e30.AA~e30.e30.AA",
		    JOSE_ERR_ALG_UNSUPPORTED },
	};
	struct browserid_identity	 id;
	size_t				 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum jose_err got = verify_str(&cfg, t[i].s, NOW_MS, &id);

		if (got != t[i].want)
			fail_msg("\"%s\": got %s, want %s", t[i].s,
			    jose_strerror(got),
			    jose_strerror(t[i].want));
	}
}

/* The length counts, not a NUL: the bytes past len are never read. */
static void
test_length_not_nul(void **state)
{
	const struct vcase		*c = find_case("ok_rs256_rsa2048");
	struct browserid_identity	 id;
	size_t				 len = strlen(c->assertion);
	char				*s = malloc(len + 8);

	assert_non_null(s);
	memcpy(s, c->assertion, len);
	memcpy(s + len, "~junk~x", 8);
	assert_code(browserid_verify(bid, NB, s, len, NOW_MS, &id),
	    JOSE_OK);
	/* One character less leaves a length base64 cannot have. */
	assert_code(browserid_verify(bid, NB, s, len - 1, NOW_MS, &id),
	    JOSE_ERR_BASE64);
	free(s);
}

/* No [browserid] section at all: nothing is trusted. */
static void
test_no_sections(void **state)
{
	struct config			 empty;
	struct browserid_identity	 id;
	const struct vcase		*c = find_case("ok_rs256_rsa2048");

	memset(&empty, 0, sizeof(empty));
	assert_code(verify_str(&empty, c->assertion, NOW_MS, &id),
	    JOSE_ERR_ISS_UNKNOWN);
}

/* secondary is what lets an issuer vouch for other domains. */
static void
test_secondary_switch(void **state)
{
	const struct vcase		*c = find_case(
					    "ok_secondary_other_domain");
	struct browserid_identity	 id;

	bid[B_FALLBACK].secondary = 0;
	assert_code(verify_str(&cfg, c->assertion, NOW_MS, &id),
	    JOSE_ERR_ISSUER_DOMAIN);
	bid[B_FALLBACK].secondary = 1;
	assert_code(verify_str(&cfg, c->assertion, NOW_MS, &id),
	    JOSE_OK);
	c = find_case("email_domain_mismatch_no_secondary");
	bid[B_IDP].secondary = 1;
	assert_code(verify_str(&cfg, c->assertion, NOW_MS, &id),
	    JOSE_OK);
	assert_string_equal(id.email, "bob@elsewhere.example");
	bid[B_IDP].secondary = 0;
}

/* Leeway is the section's: none at all, then the boundary. */
static void
test_leeway_boundary(void **state)
{
	const struct vcase		*c = find_case("ok_expired_within_leeway");
	struct browserid_identity	 id;

	/* Both expired 30 s before NOW_MS. */
	bid[B_IDP].leeway = 30;
	assert_code(verify_str(&cfg, c->assertion, NOW_MS, &id),
	    JOSE_ERR_CERT_EXPIRED);
	bid[B_IDP].leeway = 31;
	assert_code(verify_str(&cfg, c->assertion, NOW_MS, &id),
	    JOSE_OK);
	assert_code(verify_str(&cfg, c->assertion, NOW_MS + 1000, &id),
	    JOSE_ERR_CERT_EXPIRED);
	bid[B_IDP].leeway = LEEWAY;
	c = find_case("ok_rs256_rsa2048");
	assert_code(verify_str(&cfg, c->assertion, INT64_MAX, &id),
	    JOSE_ERR_CERT_EXPIRED);
	assert_code(verify_str(&cfg, c->assertion, INT64_MIN, &id),
	    JOSE_ERR_CERT_NOT_YET_VALID);
}

/* ---- the JWT path's bounds, on signed assertions ---------------------- */

/*
 * A backed assertion made here, RS256, with the test-only private keys of
 * vectors/browserid: idp signs the certificate, user-rsa2048 the
 * assertion.  Each bound is shown on a document that verifies without the
 * fault and at its edge, so that it is the bound that refuses.
 */
static EVP_PKEY		*k_idp_priv, *k_user_priv;
static char		*user_pub;	/* the user key's public-key JSON */

static EVP_PKEY *
rs_private(const char *name, char **pub)
{
	json_error_t	 jerr;
	json_t		*j = json_load_file(vec(name), 0, &jerr);
	BIGNUM		*n = NULL, *e = NULL, *d = NULL;
	OSSL_PARAM_BLD	*bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM	*params;
	EVP_PKEY_CTX	*ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY	*k = NULL;

	assert_non_null(j);
	assert_non_null(bld);
	assert_non_null(ctx);
	assert_true(BN_dec2bn(&n, json_string_value(json_object_get(j,
	    "n"))) > 0);
	assert_true(BN_dec2bn(&e, json_string_value(json_object_get(j,
	    "e"))) > 0);
	assert_true(BN_dec2bn(&d, json_string_value(json_object_get(j,
	    "d"))) > 0);
	assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n),
	    1);
	assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e),
	    1);
	assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d),
	    1);
	assert_non_null(params = OSSL_PARAM_BLD_to_param(bld));
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params),
	    1);
	json_object_del(j, "d");
	assert_non_null(*pub = json_dumps(j, JSON_COMPACT));
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	BN_free(e);
	BN_free(d);
	json_decref(j);
	return k;
}

/* base64url of s appended at *p. */
static void
put_b64(char **p, const void *s, size_t len)
{
	*p += b64url_encode(*p, s, len, B64_NOPAD);
}

/* hdr.pay.sig, RS256 with k; free() it. */
static char *
signed_token(EVP_PKEY *k, const char *hdr, const char *pay)
{
	size_t		 hl = strlen(hdr), pl = strlen(pay), siglen;
	char		*tok = malloc(2 * (hl + pl) + 1024), *p = tok;
	uint8_t		 sig[512];
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();

	assert_non_null(tok);
	assert_non_null(ctx);
	put_b64(&p, hdr, hl);
	*p++ = '.';
	put_b64(&p, pay, pl);
	siglen = sizeof(sig);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k),
	    1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, (uint8_t *)tok,
	    (size_t)(p - tok)), 1);
	*p++ = '.';
	put_b64(&p, sig, siglen);
	*p = '\0';
	EVP_MD_CTX_free(ctx);
	return tok;
}

#define RS256_HDR	"{\"alg\":\"RS256\"}"

/*
 * certificate~assertion from their header texts and the claims each adds
 * (text starting with ',', or ""), or that replace the standard ones
 * (text starting with '{').  free() it.
 */
static char *
signed_backed(const char *chdr, const char *cextra, const char *ahdr,
    const char *aextra)
{
	char	*cpay, *apay, *cert, *asr, *s;

	if (*cextra == '{')
		cpay = strdup(cextra);
	else if (asprintf(&cpay, "{\"iss\":\"idp.example\",\"iat\":%lld,"
	    "\"exp\":%lld,\"public-key\":%s,\"principal\":{\"email\":"
	    "\"alice@idp.example\"}%s}", (long long)(NOW_MS - 60000),
	    (long long)(NOW_MS + 3600000), user_pub, cextra) == -1)
		cpay = NULL;
	if (*aextra == '{')
		apay = strdup(aextra);
	else if (asprintf(&apay, "{\"exp\":%lld,\"aud\":\"" AUD "\"%s}",
	    (long long)(NOW_MS + 120000), aextra) == -1)
		apay = NULL;
	assert_non_null(cpay);
	assert_non_null(apay);
	cert = signed_token(k_idp_priv, chdr, cpay);
	asr = signed_token(k_user_priv, ahdr, apay);
	assert_true(asprintf(&s, "%s~%s", cert, asr) > 0);
	free(cpay);
	free(apay);
	free(cert);
	free(asr);
	return s;
}

/* browserid_verify's code for a backed assertion made as above. */
static enum jose_err
verify_signed(const char *chdr, const char *cextra, const char *ahdr,
    const char *aextra)
{
	struct browserid_identity	 id;
	char				*s = signed_backed(chdr, cextra, ahdr,
					    aextra);
	enum jose_err			 rc;

	rc = browserid_verify(bid, NB, s, strlen(s), NOW_MS, &id);
	if (rc == JOSE_OK)
		assert_string_equal(id.email, "alice@idp.example");
	free(s);
	return rc;
}

static int
signed_setup(void **state)
{
	k_idp_priv = rs_private("idp.key.json", &user_pub);
	free(user_pub);
	k_user_priv = rs_private("user-rsa2048.key.json", &user_pub);
	return 0;
}

static int
signed_teardown(void **state)
{
	EVP_PKEY_free(k_idp_priv);
	EVP_PKEY_free(k_user_priv);
	free(user_pub);
	return 0;
}

/* The construction itself verifies: every refusal below is the fault's. */
static void
test_signed_baseline(void **state)
{
	assert_code(verify_signed(RS256_HDR, "", RS256_HDR, ""), JOSE_OK);
	assert_code(verify_signed(RS256_HDR, ",\"x\":[1]", RS256_HDR,
	    ",\"iat\":1699999999000"), JOSE_OK);
}

/* ,"x": and n arrays around 1, for a document's extra claims. */
static const char *
nested_claim(int n)
{
	static char	 buf[96];	/* ,"x": 1 and 32 brackets each way */

	assert_true(n <= JOSE_MAX_DEPTH && JOSE_MAX_DEPTH <= 32);
	snprintf(buf, sizeof(buf), ",\"x\":%.*s1%.*s", n,
	    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", n,
	    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	return buf;
}

/* A claim nested past JOSE_MAX_DEPTH, in either document. */
static void
test_bound_depth(void **state)
{
	char	 ok[96];

	/* The claims object is depth 1: JOSE_MAX_DEPTH - 1 arrays fit. */
	strcpy(ok, nested_claim(JOSE_MAX_DEPTH - 1));
	assert_code(verify_signed(RS256_HDR, ok, RS256_HDR, ok), JOSE_OK);
	assert_code(verify_signed(RS256_HDR, nested_claim(JOSE_MAX_DEPTH),
	    RS256_HDR, ""), JOSE_ERR_JSON_DEPTH);
	assert_code(verify_signed(RS256_HDR, "", RS256_HDR,
	    nested_claim(JOSE_MAX_DEPTH)), JOSE_ERR_JSON_DEPTH);
}

/* A header of more than JOSE_MAX_HEADER decoded bytes, in either. */
static void
test_bound_header_size(void **state)
{
	char	 hdr[JOSE_MAX_HEADER + 2];
	int	 fixed = (int)strlen("{\"alg\":\"RS256\",\"x\":\"\"}");

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"x\":\"%0*d\"}",
	    JOSE_MAX_HEADER - fixed, 0);
	assert_int_equal(strlen(hdr), JOSE_MAX_HEADER);
	assert_code(verify_signed(hdr, "", hdr, ""), JOSE_OK);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"x\":\"%0*d\"}",
	    JOSE_MAX_HEADER - fixed + 1, 0);
	assert_code(verify_signed(hdr, "", RS256_HDR, ""),
	    JOSE_ERR_HEADER_TOO_LARGE);
	assert_code(verify_signed(RS256_HDR, "", hdr, ""),
	    JOSE_ERR_HEADER_TOO_LARGE);
}

/* The certificate's claims with iat and exp as written. */
static const char *
cert_times(const char *iat, const char *exp)
{
	static char	 buf[2048];

	snprintf(buf, sizeof(buf), "{\"iss\":\"idp.example\",\"iat\":%s,"
	    "\"exp\":%s,\"public-key\":%s,\"principal\":{\"email\":"
	    "\"alice@idp.example\"}}", iat, exp, user_pub);
	return buf;
}

/* Integers beyond int64_t (and reals beyond double) are refused. */
static void
test_bound_number_range(void **state)
{
	/* 2^63 - 1 is an exp far ahead; 2^63 is no int64_t. */
	assert_code(verify_signed(RS256_HDR, cert_times("1699999940000",
	    "9223372036854775807"), RS256_HDR, ""), JOSE_OK);
	assert_code(verify_signed(RS256_HDR, cert_times("1699999940000",
	    "9223372036854775808"), RS256_HDR, ""), JOSE_ERR_NUMBER_RANGE);
	assert_code(verify_signed(RS256_HDR, cert_times(
	    "-9223372036854775809", "1700003600000"), RS256_HDR, ""),
	    JOSE_ERR_NUMBER_RANGE);
	assert_code(verify_signed(RS256_HDR, "", RS256_HDR,
	    "{\"exp\":18446744073709551616,\"aud\":\"" AUD "\"}"),
	    JOSE_ERR_NUMBER_RANGE);
	assert_code(verify_signed(RS256_HDR, ",\"x\":1e400", RS256_HDR, ""),
	    JOSE_ERR_NUMBER_RANGE);
}

/* A time that is a real, with a fraction or without, is no time. */
static void
test_bound_fractional_times(void **state)
{
	assert_code(verify_signed(RS256_HDR, cert_times("1699999940000",
	    "1700003600000"), RS256_HDR, ""), JOSE_OK);
	assert_code(verify_signed(RS256_HDR, cert_times("1699999940000.5",
	    "1700003600000"), RS256_HDR, ""), JOSE_ERR_CLAIM_TYPE);
	assert_code(verify_signed(RS256_HDR, cert_times("1699999940000.0",
	    "1700003600000"), RS256_HDR, ""), JOSE_ERR_CLAIM_TYPE);
	assert_code(verify_signed(RS256_HDR, cert_times("1699999940000",
	    "1.7000036e12"), RS256_HDR, ""), JOSE_ERR_CLAIM_TYPE);
	assert_code(verify_signed(RS256_HDR, "", RS256_HDR,
	    ",\"iat\":1699999999000.5"), JOSE_ERR_CLAIM_TYPE);
	assert_code(verify_signed(RS256_HDR, "", RS256_HDR,
	    "{\"exp\":1700000120000.0,\"aud\":\"" AUD "\"}"),
	    JOSE_ERR_CLAIM_TYPE);
}

/* A member twice: in a header, a certificate, an assertion, nested. */
static void
test_bound_duplicates(void **state)
{
	assert_code(verify_signed("{\"alg\":\"RS256\",\"alg\":\"RS256\"}", "",
	    RS256_HDR, ""), JOSE_ERR_DUPLICATE_MEMBER);
	assert_code(verify_signed(RS256_HDR, ",\"iss\":\"idp.example\"",
	    RS256_HDR, ""), JOSE_ERR_DUPLICATE_MEMBER);
	assert_code(verify_signed(RS256_HDR, ",\"x\":{\"e\":1,\"e\":1}",
	    RS256_HDR, ""), JOSE_ERR_DUPLICATE_MEMBER);
	assert_code(verify_signed(RS256_HDR, "", RS256_HDR,
	    ",\"aud\":\"https://evil.example\""), JOSE_ERR_DUPLICATE_MEMBER);
}

/* ---- keys ------------------------------------------------------------- */

static struct browserid_key *
parse(const char *json, int min_bytes)
{
	return browserid_key_parse(json, strlen(json), min_bytes, 1, err,
	    sizeof(err));
}

static void
refused(const char *json, int min_bytes, const char *words)
{
	struct browserid_key	*k = parse(json, min_bytes);

	if (k != NULL)
		fail_msg("accepted %s", json);
	if (strstr(err, words) == NULL)
		fail_msg("%s: \"%s\" lacks \"%s\"", json, err, words);
}

static void
test_key_files(void **state)
{
	struct browserid_key	*k;

	assert_int_equal(k_idp->kty, BROWSERID_KTY_RS);
	assert_int_equal(k_idp->bytes, 256);
	assert_int_equal(k_fallback->kty, BROWSERID_KTY_DS);
	assert_int_equal(k_fallback->qbytes, 32);
	/* A support document holds the key as "public-key". */
	k = load_key("idp.support.json");
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_eq(k->pkey, k_idp->pkey), 1);
	browserid_key_free(k);
	/* RSA 1024 as a root key. */
	assert_null(browserid_key_load(vec("small-root.pub.json"), err,
	    sizeof(err)));
	assert_non_null(strstr(err, "small-root.pub.json: RSA modulus of 128 "
	    "bytes is under 256 bytes"));
	/* A private key file: the secret in the wrong place. */
	assert_null(browserid_key_load(vec("idp.key.json"), err, sizeof(err)));
	assert_non_null(strstr(err, "private member"));
	assert_null(browserid_key_load(vec("no-such-file"), err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
	/* A directory, and a FIFO that nobody writes: refused, not waited on. */
	assert_null(browserid_key_load("/", err, sizeof(err)));
	assert_non_null(strstr(err, "/: not a regular file"));
	{
		char		 fifo[64];
		const char	*path;

		assert_non_null(tu_tmpdir(fifo, sizeof(fifo), "bidfifo"));
		path = tu_path(fifo, "key");
		assert_int_equal(mkfifo(path, 0600), 0);
		assert_null(browserid_key_load(path, err, sizeof(err)));
		assert_non_null(strstr(err, "not a regular file"));
		assert_int_equal(tu_rmtree(fifo), 0);
	}
}

static void
test_key_rejections(void **state)
{
	struct browserid_key	*ok;
	json_t			*j;
	const char		*nn;
	char			 k2[2048];

	refused("[]", 128, "not a JSON object");
	refused("{\"algorithm\":\"RS\"", 128, "not JSON");
	refused("{\"algorithm\":\"EC\",\"n\":\"3\",\"e\":\"3\"}", 128,
	    "\"algorithm\" is not");
	refused("{\"n\":\"3\",\"e\":\"3\"}", 128, "\"algorithm\" is not");
	refused("{\"algorithm\":\"RS\",\"e\":\"65537\"}", 128,
	    "\"n\" is missing");
	refused("{\"algorithm\":\"RS\",\"n\":12345,\"e\":\"65537\"}", 128,
	    "\"n\" is missing or not a string");
	refused("{\"algorithm\":\"RS\",\"n\":\"-12345\",\"e\":\"65537\"}",
	    128, "\"n\" is not a decimal number");
	refused("{\"algorithm\":\"RS\",\"n\":\"0x12345\",\"e\":\"65537\"}",
	    128, "\"n\" is not a decimal number");
	refused("{\"algorithm\":\"RS\",\"n\":\" 12345\",\"e\":\"65537\"}",
	    128, "\"n\" is not a decimal number");
	refused("{\"algorithm\":\"RS\",\"n\":\"\",\"e\":\"65537\"}",
	    128, "\"n\" is empty");
	refused("{\"algorithm\":\"RS\",\"n\":\"12345\",\"e\":\"65537\"}",
	    128, "RSA modulus of 2 bytes is under 128 bytes");
	refused("{\"algorithm\":\"RS\",\"algorithm\":\"RS\"}", 128,
	    "not JSON");
	/* The mockmyid key with a bad exponent: even, 1, over 64 bits. */
	j = json_load_file(vec("mockmyid.pub.json"), 0, NULL);
	assert_non_null(j);
	nn = json_string_value(json_object_get(j, "n"));
	snprintf(k2, sizeof(k2), "{\"algorithm\":\"RS\",\"n\":\"%s\","
	    "\"e\":\"65536\"}", nn);
	refused(k2, 128, "exponent");
	snprintf(k2, sizeof(k2), "{\"algorithm\":\"RS\",\"n\":\"%s\","
	    "\"e\":\"1\"}", nn);
	refused(k2, 128, "exponent");
	snprintf(k2, sizeof(k2), "{\"algorithm\":\"RS\",\"n\":\"%s\","
	    "\"e\":\"36893488147419103233\"}", nn);	/* 2^65 + 1 */
	refused(k2, 128, "exponent");
	snprintf(k2, sizeof(k2), "{\"algorithm\":\"RS\",\"n\":\"%s\","
	    "\"e\":\"65537\",\"kid\":\"extra members are ignored\"}", nn);
	ok = parse(k2, 256);
	assert_non_null(ok);
	assert_int_equal(EVP_PKEY_eq(ok->pkey, k_mockmyid->pkey), 1);
	browserid_key_free(ok);
	json_decref(j);
}

/* DSA: the group checks, on the spec's 1024/160 parameters. */
static void
test_key_dsa_checks(void **state)
{
	static const char p[] = "ff600483db6abfc5b45eab78594b3533d550d9f1bf2a99"
	    "2a7a8daa6dc34f8045ad4e6e0c429d334eeeaaefd7e23d4810be00e4cc1492cb"
	    "a325ba81ff2d5a5b305a8d17eb3bf4a06a349d392e00d329744a5179380344e8"
	    "2a18c47933438f891e22aeef812d69c8f75e326cb70ea000c3f776dfdbd60463"
	    "8c2ef717fc26d02e17";
	static const char q[] = "e21e04f911d1ed7991008ecaab3bf775984309c3";
	static const char g[] = "c52a4a0ff3b7e61fdf1867ce84138369a6154f4afa929"
	    "66e3c827e25cfa6cf508b90e5de419e1337e07a2e9e2a3cd5dea704d175f8ebf"
	    "6af397d69e110b96afb17c7a03259329e4829b0d03bbc7896b15b4ade53e1308"
	    "58cc34d96269aa89041f409136c7242a38895c9d5bccad4f389af1d7a4bd1398"
	    "bd072dffa896233397a";
	/* y = g^x for the spec's example user, from its certificate. */
	static const char y[] = "2b0b6f44f58ec4fd5043be6c68433bc839bb867276f90"
	    "a9c7a68071097167d2cab2df53aa5ae928843d15a42412123ee24c4067d7b858"
	    "7850d1f09fa39cc5bb52f8b8844c3132440f2e455aea8235535b28a8f0158820"
	    "9f145ee1f265257fe9999bc90547ba985052ad4fb320fb9153878164bf3572dc"
	    "5c4fe493e66506f2b04";
	char			 buf[2048];
	struct browserid_key	*k;

#define DSKEY(P, Q, G, Y) (snprintf(buf, sizeof(buf), "{\"algorithm\":\"DS\"," \
	"\"p\":\"%s\",\"q\":\"%s\",\"g\":\"%s\",\"y\":\"%s\"}", P, Q, G, Y), buf)
	k = parse(DSKEY(p, q, g, y), 128);
	assert_non_null(k);
	assert_int_equal(k->bytes, 128);
	assert_int_equal(k->qbytes, 20);
	browserid_key_free(k);
	refused(DSKEY(p, q, g, y), 256, "DSA prime \"p\" of 128 bytes is "
	    "under 256");
	refused(DSKEY(p, q, g, "1"), 128, "\"y\" is not in 2..p-2");
	refused(DSKEY(p, q, "1", y), 128, "\"g\" or \"y\" is not in");
	refused(DSKEY(p, q, g, "2"), 128, "not of order q");
	refused(DSKEY(p, "e21e04f911d1ed7991008ecaab3bf775984309c5", g, y),
	    128, "does not divide");
	refused(DSKEY(p, "e21e04f911d1ed7991008ecaab3bf7759843", g, y), 128,
	    "neither 160 nor 256");
	refused(DSKEY(p, q, g, "0x2b0b"), 128, "not a hexadecimal number");
	refused(DSKEY(p, q, g, "-2b0b"), 128, "not a hexadecimal number");
	/* Upper-case hex is the same number. */
	{
		char	 up[sizeof(y)];
		size_t	 i;

		for (i = 0; i < sizeof(y); i++)
			up[i] = (y[i] >= 'a' && y[i] <= 'f') ? y[i] - 32 : y[i];
		k = parse(DSKEY(p, q, g, up), 128);
		assert_non_null(k);
		browserid_key_free(k);
	}
#undef DSKEY
}

/* ---- the rest of the API ---------------------------------------------- */

static void
test_alg_names(void **state)
{
	enum browserid_alg	 a;
	int			 i;

	for (i = 0; i < BROWSERID_ALG_COUNT; i++) {
		assert_int_equal(browserid_alg_parse(browserid_alg_name(i), &a),
		    0);
		assert_int_equal(a, i);
	}
	assert_int_equal(browserid_alg_parse("RS512", &a), -1);
	assert_int_equal(browserid_alg_parse("ds128", &a), -1);
	assert_int_equal(browserid_alg_parse("", &a), -1);
	assert_string_equal(browserid_alg_name(BROWSERID_ALG_COUNT),
	    "unknown");
}

static void
test_service_allowed(void **state)
{
	char			*names[] = { "sync-1.5", "other-1.0" };
	struct browserid_issuer	 b;

	memset(&b, 0, sizeof(b));
	assert_true(browserid_allows_service(&b, "anything", 8));
	b.services = names;
	b.nservices = 2;
	assert_true(browserid_allows_service(&b, "sync-1.5", 8));
	assert_true(browserid_allows_service(&b, "other-1.0", 9));
	assert_false(browserid_allows_service(&b, "sync-1.5x", 9));
	assert_false(browserid_allows_service(&b, "sync", 4));
	/* By length, not up to a NUL. */
	assert_true(browserid_allows_service(&b, "sync-1.5-and-more", 8));
}

/* ---- config_load ------------------------------------------------------ */

static char	 tmpdir[64];

/* The JWT issuer of the mint_token() tests: HS256 with this secret. */
#define MAIL_ISS	"https://mail.example"
#define HS_SECRET	"0123456789abcdef0123456789abcdef-hs256-shared-secret"

static struct config *
load_conf(const char *browserid_sections, const char *extra)
{
	char	 text[8192];

	snprintf(text, sizeof(text),
	    "[server]\nuid_secret_file = uid.secret\n\n"
	    "%s\n"
	    "[service sync-1.5]\nsecret_file = sync.secret\n"
	    "node = https://sync.example\n\n"
	    "[service other-1.0]\nsecret_file = sync.secret\n"
	    "node = https://other.example\n%s", browserid_sections, extra);
	return config_load(tu_write_file(tmpdir, "tokend.conf", text, 0644),
	    err, sizeof(err));
}

static void
conf_refused(const char *sections, int line, const char *words)
{
	struct config	*c = load_conf(sections, "");
	char		 want[PATH_MAX + 32];

	if (c != NULL)
		fail_msg("accepted:\n%s", sections);
	snprintf(want, sizeof(want), "%s/tokend.conf:%d: ", tmpdir, line);
	if (strncmp(err, want, strlen(want)) != 0 ||
	    strstr(err, words) == NULL)
		fail_msg("error \"%s\", want \"%s...%s\"", err, want, words);
}

/*
 * A fresh tmpdir with the files every config here names: the uid, sync
 * and HS256 secrets, and the idp and fallback root keys.
 */
static void
make_tmpdir(void)
{
	char	*key = slurp("idp.pub.json"), *dsa = slurp("fallback.pub.json");

	assert_non_null(tu_tmpdir(tmpdir, sizeof(tmpdir), "browserid"));
	tu_write_file(tmpdir, "uid.secret", "00112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff\n", 0600);
	tu_write_file(tmpdir, "sync.secret", "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef\n", 0600);
	tu_write_file(tmpdir, "hs.secret", HS_SECRET "\n", 0600);
	tu_write_file(tmpdir, "idp.json", key, 0644);
	tu_write_file(tmpdir, "fallback.json", dsa, 0644);
	free(key);
	free(dsa);
}

static void
test_config(void **state)
{
	struct config	*c;
	char		*small = slurp("small-root.pub.json");

	make_tmpdir();
	tu_write_file(tmpdir, "small.json", small, 0644);

	/* Lines: 1 [server], 2 uid, 3 blank, 4 [browserid idp], 5... */
	c = load_conf("[browserid idp]\nissuer = idp.example\n"
	    "public_key_file = idp.json\naudience = https://token.example\n\n"
	    "[browserid fallback]\nissuer = fallback.example\n"
	    "public_key_file = fallback.json\naudience = https://t.example\n"
	    "secondary = on\nleeway = 5\nservices = sync-1.5 other-1.0\n", "");
	if (c == NULL)
		fail_msg("%s", err);
	/* A [browserid] section alone is enough: no [issuer] needed. */
	assert_int_equal(c->nissuers, 0);
	assert_int_equal(c->nbrowserid, 2);
	assert_string_equal(c->browserid[0].name, "idp");
	assert_string_equal(c->browserid[0].issuer, "idp.example");
	assert_string_equal(c->browserid[0].audience, "https://token.example");
	assert_int_equal(c->browserid[0].secondary, 0);
	assert_int_equal(c->browserid[0].leeway, 60);
	assert_null(c->browserid[0].services);
	assert_int_equal(c->browserid[0].line, 4);
	assert_int_equal(EVP_PKEY_eq(c->browserid[0].key->pkey, k_idp->pkey),
	    1);
	assert_int_equal(c->browserid[1].secondary, 1);
	assert_int_equal(c->browserid[1].leeway, 5);
	assert_int_equal(c->browserid[1].nservices, 2);
	assert_string_equal(c->browserid[1].services[0], "sync-1.5");
	assert_string_equal(c->browserid[1].services[1], "other-1.0");
	assert_int_equal(c->browserid[1].key->kty, BROWSERID_KTY_DS);
	assert_true(browserid_allows_service(&c->browserid[1], "other-1.0",
	    9));
	/* The front drops the keys with the secrets. */
	config_purge_secrets(c);
	assert_null(c->browserid[0].key);
	assert_null(c->browserid[1].key);
	config_free(c);

	conf_refused("[browserid idp]\nissuer = idp.example\n"
	    "audience = a\n", 4, "missing required key \"public_key_file\"");
	conf_refused("[browserid idp]\nissuer = idp.example\n"
	    "public_key_file = small.json\naudience = a\n", 6,
	    "public_key_file: ");
	assert_non_null(strstr(err, "small.json: RSA modulus of 128 bytes is "
	    "under 256 bytes"));
	conf_refused("[browserid idp]\nissuer = idp.example\n"
	    "public_key_file = nothere.json\naudience = a\n", 6,
	    "No such file");
	conf_refused("[browserid idp]\nissuer = idp.example\n"
	    "public_key_file = idp.json\naudience = a\nsecondary = maybe\n", 8,
	    "secondary: expected on or off");
	conf_refused("[browserid idp]\nissuer = idp.example\n"
	    "public_key_file = idp.json\naudience = a\nservices = nosuch\n", 4,
	    "services: no [service nosuch] section");
	conf_refused("[browserid idp]\nissuer = idp.example\n"
	    "public_key_file = idp.json\naudience = a\n"
	    "[browserid again]\nissuer = idp.example\n"
	    "public_key_file = idp.json\naudience = b\n", 8,
	    "issuer \"idp.example\" is already that of [browserid idp]");
	conf_refused("[browserid idp]\nissuer = idp.example\n"
	    "public_key_file = idp.json\naudience = a\n"
	    "[browserid idp]\n", 8, "[browserid idp] appears twice");
	conf_refused("[browserid]\n", 4, "[browserid NAME]: NAME must be");
	conf_refused("[browserid idp]\njwks_file = idp.json\n", 5,
	    "unknown key \"jwks_file\"");
	free(small);
	assert_int_equal(tu_rmtree(tmpdir), 0);
}

/* ---- mint_token: the verifier a request names, and uids ------------- */


/*
 * A config of [issuer mail] (HS256, identity_claim = email), [browserid
 * idp] and [browserid fallback] (secondary) as in the cases, and one
 * service; extra lines end [issuer mail], fb_extra [browserid fallback].
 */
static struct config *
mint_conf(const char *extra, const char *fb_extra)
{
	char	 sections[2048];

	snprintf(sections, sizeof(sections),
	    "[issuer mail]\niss = " MAIL_ISS "\nhs_secret_file = hs.secret\n"
	    "algorithms = HS256\naudience = " AUD "\n"
	    "identity_claim = email\n%s\n"
	    "[browserid idp]\nissuer = idp.example\n"
	    "public_key_file = idp.json\naudience = " AUD "\n\n"
	    "[browserid fallback]\nissuer = fallback.example\n"
	    "public_key_file = fallback.json\naudience = " AUD "\n"
	    "secondary = on\n%s", extra, fb_extra);
	return load_conf(sections, "");
}

/* An HS256 JWT of [issuer mail] for email, valid at NOW_MS. */
static char *
mail_jwt(const char *email)
{
	char		 hdr[64], pay[256], *tok;
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen;
	size_t		 n;

	b64url_encode(hdr, "{\"alg\":\"HS256\"}", 15, B64_NOPAD);
	n = (size_t)snprintf(pay, sizeof(pay), "{\"iss\":\"" MAIL_ISS "\","
	    "\"aud\":\"" AUD "\",\"exp\":%lld,\"email\":\"%s\"}",
	    (long long)(NOW_MS / 1000 + 300), email);
	tok = malloc(strlen(hdr) + 1 + b64url_enclen(n, B64_NOPAD) + 1 +
	    b64url_enclen(32, B64_NOPAD) + 1);
	assert_non_null(tok);
	strcpy(tok, hdr);
	strcat(tok, ".");
	b64url_encode(tok + strlen(tok), pay, n, B64_NOPAD);
	assert_non_null(HMAC(EVP_sha256(), HS_SECRET, strlen(HS_SECRET),
	    (const unsigned char *)tok, strlen(tok), mac, &maclen));
	strcat(tok, ".");
	b64url_encode(tok + strlen(tok), mac, maclen, B64_NOPAD);
	return tok;
}

/* mint_token() of assertion a for sync-1.5 at NOW_MS, asking for kind. */
static void
mint(const struct config *c, const char *a, const char *kind,
    struct mint_result *res)
{
	struct mint_request	 req = { 0 };

	req.service = "sync-1.5";
	req.service_len = strlen(req.service);
	req.assertion = a;
	req.assertion_len = strlen(a);
	req.kind = kind;
	req.kind_len = kind != NULL ? strlen(kind) : 0;
	mint_token(c, &req, NOW_MS / 1000, res);
}

static uint64_t
minted_uid(const struct config *c, const char *a, const char *kind)
{
	struct mint_result	 res;

	mint(c, a, kind, &res);
	if (res.error != NULL)
		fail_msg("%s: %s", res.error, res.description);
	return res.uid;
}

static void
mint_refused(const struct config *c, const char *a, const char *kind,
    const char *words)
{
	struct mint_result	 res;

	mint(c, a, kind, &res);
	if (res.error == NULL)
		fail_msg("kind %s: minted uid %llu", kind,
		    (unsigned long long)res.uid);
	assert_string_equal(res.error, PROTO_ERR_INVALID_CREDENTIALS);
	assert_string_equal(res.error_name, "assertion");
	if (strstr(res.description, words) == NULL)
		fail_msg("kind %s: \"%s\" lacks \"%s\"", kind,
		    res.description, words);
}

/*
 * A request that names its kind (from the Authorization scheme or the
 * token type) reaches that verifier only, whatever the assertion looks
 * like; one that does not is told apart by the '~', as before.  Each
 * assertion here is valid for the verifier it was made for, so a
 * mismatch would be minted if it reached that one.
 */
static void
test_mint_kind_pairs_verifier(void **state)
{
	struct config	*c;
	char		*jwt;
	const char	*backed = find_case("ok_rs256_rsa2048")->assertion;
	char		 kind[16];
	struct mint_result res;

	make_tmpdir();
	if ((c = mint_conf("", "")) == NULL)
		fail_msg("%s", err);
	jwt = mail_jwt("alice@mail.example");
	/* Unnamed: by the look of it, as before. */
	minted_uid(c, jwt, NULL);
	minted_uid(c, backed, NULL);
	/* Named and matching. */
	minted_uid(c, jwt, "jwt");
	minted_uid(c, backed, "browserid");
	/* Named and not matching: refused, not sent to the other verifier. */
	mint_refused(c, backed, "jwt", "a JWT was expected");
	mint_refused(c, jwt, "browserid", "a BrowserID assertion was expected");
	mint_refused(c, "a~b", "jwt", "a JWT was expected");
	/* The kind is its length's bytes, not up to a NUL. */
	memcpy(kind, "jwtXbrowserid", 14);
	{
		struct mint_request	 req = { 0 };

		req.service = "sync-1.5";
		req.service_len = 8;
		req.assertion = backed;
		req.assertion_len = strlen(backed);
		req.kind = kind;
		req.kind_len = 3;
		mint_token(c, &req, NOW_MS / 1000, &res);
		assert_non_null(res.error);
		req.kind = kind + 4;
		req.kind_len = 9;
		mint_token(c, &req, NOW_MS / 1000, &res);
		assert_null(res.error);
	}
	free(jwt);
	config_free(c);
	assert_int_equal(tu_rmtree(tmpdir), 0);
}

/*
 * docs/tokens.md: the email's domain lower-cased, its local part kept,
 * on both paths; uids keyed by each section's uid_namespace (by default
 * the iss or the issuer domain), shared only when both sections say so.
 */
static void
test_mint_email_uids(void **state)
{
	struct config	*c;
	char		*upper = mail_jwt("Bob@X.Example");
	char		*lower = mail_jwt("Bob@x.example");
	char		*local = mail_jwt("bob@x.example");
	const char	*b_upper = find_case(
			    "ok_secondary_domain_case_folded")->assertion;
	const char	*b_lower = find_case("ok_secondary_domain_lower")->assertion;
	const char	*b_local = find_case(
			    "ok_secondary_local_part_kept")->assertion;
	uint64_t	 want, want_local;

	make_tmpdir();
	if ((c = mint_conf("", "")) == NULL)
		fail_msg("%s", err);
	/* JWT path, namespace = iss. */
	assert_int_equal(mint_uid(c, MAIL_ISS, "Bob@x.example", &want), 0);
	assert_int_equal(mint_uid(c, MAIL_ISS, "bob@x.example",
	    &want_local), 0);
	assert_true(want != want_local);
	assert_true(minted_uid(c, upper, "jwt") == want);
	assert_true(minted_uid(c, lower, "jwt") == want);
	assert_true(minted_uid(c, local, "jwt") == want_local);
	/* BrowserID path, namespace = the issuer domain. */
	assert_int_equal(mint_uid(c, "fallback.example", "Bob@x.example",
	    &want), 0);
	assert_int_equal(mint_uid(c, "fallback.example", "bob@x.example",
	    &want_local), 0);
	assert_true(minted_uid(c, b_upper, "browserid") == want);
	assert_true(minted_uid(c, b_lower, "browserid") == want);
	assert_true(minted_uid(c, b_local, "browserid") == want_local);
	/* The two paths agree only in one namespace, set in both. */
	assert_true(minted_uid(c, upper, NULL) != minted_uid(c, b_lower,
	    NULL));
	config_free(c);
	if ((c = mint_conf("uid_namespace = x.example\n",
	    "uid_namespace = x.example\n")) == NULL)
		fail_msg("%s", err);
	assert_int_equal(mint_uid(c, "x.example", "Bob@x.example", &want), 0);
	assert_true(minted_uid(c, upper, NULL) == want);
	assert_true(minted_uid(c, b_upper, NULL) == want);
	assert_true(minted_uid(c, local, NULL) != want);
	config_free(c);
	free(upper);
	free(lower);
	free(local);
	assert_int_equal(tu_rmtree(tmpdir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define X(n) cmocka_unit_test(test_case_##n),
		CASES
#undef X
		cmocka_unit_test(test_cases_all_listed),
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_java_mockmyid),
		cmocka_unit_test(test_pybrowserid_ds256),
		cmocka_unit_test(test_spec_ds128_signature),
		cmocka_unit_test(test_size_bound),
		cmocka_unit_test(test_malformed_shapes),
		cmocka_unit_test(test_length_not_nul),
		cmocka_unit_test_setup_teardown(test_signed_baseline,
		    signed_setup, signed_teardown),
		cmocka_unit_test_setup_teardown(test_bound_depth,
		    signed_setup, signed_teardown),
		cmocka_unit_test_setup_teardown(test_bound_header_size,
		    signed_setup, signed_teardown),
		cmocka_unit_test_setup_teardown(test_bound_number_range,
		    signed_setup, signed_teardown),
		cmocka_unit_test_setup_teardown(test_bound_fractional_times,
		    signed_setup, signed_teardown),
		cmocka_unit_test_setup_teardown(test_bound_duplicates,
		    signed_setup, signed_teardown),
		cmocka_unit_test(test_no_sections),
		cmocka_unit_test(test_secondary_switch),
		cmocka_unit_test(test_leeway_boundary),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_key_rejections),
		cmocka_unit_test(test_key_dsa_checks),
		cmocka_unit_test(test_alg_names),
		cmocka_unit_test(test_service_allowed),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_mint_kind_pairs_verifier),
		cmocka_unit_test(test_mint_email_uids),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
