/*
 * jose.c - the JOSE reader both verifiers share (jose.h): splitting and
 * decoding a compact JWS, bounded JSON, the time and audience claims, and
 * the one table of refusals; and the few key and signature steps that
 * jws.c, jwks.c and browserid.c would otherwise each keep a copy of.
 *
 * The bounds are the security argument, so they hold for every token that
 * reaches a verifier, JWT or BrowserID:
 *
 *   - a part is strict unpadded base64url (one token has one spelling);
 *   - a header decodes to at most JOSE_MAX_HEADER bytes, refused before it
 *     is parsed;
 *   - JSON nests at most JOSE_MAX_DEPTH deep, far below jansson's own
 *     bound (2048, which is about its stack): no honest token looks like
 *     that, and the check costs one pass over bytes already in cache;
 *   - a header or payload holds at most JOSE_MAX_MEMBERS members, counted
 *     in the same pass: jansson's hash seed is chosen once and shared by
 *     every tokend process (docs/security.md, Hash flooding), so the
 *     tables it builds are kept too small for collisions to matter;
 *   - duplicate members are refused, so header or claims cannot say one
 *     thing to us and another to a different parser;
 *   - an integer beyond int64_t or a real beyond double fails the parse
 *     (jansson reports it as such) instead of being clamped;
 *   - a time claim is a JSON integer: a real, 1.5 or 1.0 alike, is a type
 *     error, never rounded, and a client-chosen time is never part of an
 *     addition (exp + leeway <= now is written exp <= now - leeway, the
 *     server's side saturated).
 *
 * A bad token is the client's problem, so nothing here logs.
 */
#include "identity/jose.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "core/b64.h"

#define C	JOSE_CLASS_CREDENTIALS
#define T	JOSE_CLASS_TIMESTAMP

/*
 * Each code's sentence, which the client reads, and its class.  The time
 * failures are told apart from other bad credentials, so that a client
 * with a wrong clock can tell (tokenserver's invalid-timestamp).
 */
static const struct {
	const char	*text;
	enum jose_class	 class;
} errs[JOSE_ERR_COUNT] = {
	[JOSE_OK] = { "ok", C },
	[JOSE_ERR_TOO_LARGE] = { "assertion too large", C },
	[JOSE_ERR_MALFORMED] = { "assertion is not three dot-separated parts "
	    "with a signature", C },
	[JOSE_ERR_BASE64] = { "assertion part is not unpadded base64url", C },
	[JOSE_ERR_HEADER_TOO_LARGE] = { "JWS header too large", C },
	[JOSE_ERR_HEADER] = { "JWS header is not valid JSON", C },
	[JOSE_ERR_HEADER_NOT_OBJECT] = { "JWS header is not a JSON object", C },
	[JOSE_ERR_PAYLOAD] = { "JWT payload is not valid JSON", C },
	[JOSE_ERR_PAYLOAD_NOT_OBJECT] = { "JWT payload is not a JSON object",
	    C },
	[JOSE_ERR_DUPLICATE_MEMBER] = { "JSON member appears twice in the "
	    "header or claims", C },
	[JOSE_ERR_JSON_DEPTH] = { "JSON in the header or claims is nested too "
	    "deeply", C },
	[JOSE_ERR_JSON_MEMBERS] = { "JSON in the header or claims has too "
	    "many members", C },
	[JOSE_ERR_NUMBER_RANGE] = { "number in the header or claims out of "
	    "range", C },
	[JOSE_ERR_ALG_MISSING] = { "JWS header has no \"alg\"", C },
	[JOSE_ERR_ALG_UNSUPPORTED] = { "signature algorithm not supported", C },
	[JOSE_ERR_CLAIM_TYPE] = { "time claim (exp, nbf, iat) is not an "
	    "integer", C },
	[JOSE_ERR_EXP_MISSING] = { "no expiry (exp) claim", C },
	[JOSE_ERR_EXPIRED] = { "token expired", T },
	[JOSE_ERR_NOT_YET_VALID] = { "token not yet valid (nbf)", T },
	[JOSE_ERR_IAT_FUTURE] = { "token issued in the future (iat)", T },
	[JOSE_ERR_AUD_TYPE] = { "audience (aud) is not a string (or, in a "
	    "JWT, an array of strings)", C },
	/* Only when aud_sentence() has none: see there. */
	[JOSE_ERR_AUDIENCE] = { "audience (aud) does not name the audience "
	    "required of this issuer", C },
	[JOSE_ERR_ISS_UNKNOWN] = { "issuer (iss) is not trusted", C },
	[JOSE_ERR_KEY_MISMATCH] = { "key type does not fit the algorithm", C },
	[JOSE_ERR_SIG_LENGTH] = { "signature has the wrong length", C },
	[JOSE_ERR_SERVICE_NOT_ALLOWED] = { "issuer not allowed for this "
	    "service: its assertions are not accepted for this service", C },
	[JOSE_ERR_INTERNAL] = { "internal error while verifying",
	    JOSE_CLASS_INTERNAL },
	[JOSE_ERR_ALG_NONE] = { "unsigned tokens (alg \"none\") are not "
	    "accepted", C },
	[JOSE_ERR_CRIT] = { "critical header extensions (crit) are not "
	    "supported", C },
	[JOSE_ERR_KID_TYPE] = { "key id (kid) is not a string", C },
	[JOSE_ERR_ISS_MISSING] = { "no issuer (iss) claim", C },
	[JOSE_ERR_HS_NO_SECRET] = { "HMAC algorithm (HS256/HS384/HS512) not "
	    "accepted: the issuer has no shared secret", C },
	[JOSE_ERR_ALG_DISALLOWED] = { "algorithm not allowed for this issuer",
	    C },
	[JOSE_ERR_NO_KEYS] = { "the issuer's keys are not available", C },
	[JOSE_ERR_KID_UNKNOWN] = { "unknown key id (kid)", C },
	[JOSE_ERR_KEYS_REFRESHING] = { "unknown key id (the issuer's key set "
	    "is being refreshed; retry)", C },
	[JOSE_ERR_KID_REQUIRED] = { "key id (kid) required: the issuer has "
	    "several keys", C },
	[JOSE_ERR_NO_FITTING_KEY] = { "no key of the issuer fits the "
	    "algorithm", C },
	[JOSE_ERR_CURVE_MISMATCH] = { "key is on another curve than the "
	    "algorithm uses", C },
	[JOSE_ERR_JWK_ALG_MISMATCH] = { "key is published for another "
	    "algorithm (JWK alg)", C },
	[JOSE_ERR_SIGNATURE] = { "signature does not verify", C },
	[JOSE_ERR_CLAIM_REQUIRED] = { "a claim the issuer requires is missing "
	    "or has another value", C },
	[JOSE_ERR_SUB_MISSING] = { "subject (sub) missing, empty or too long",
	    C },
	[JOSE_ERR_EMAIL_MISSING] = { "email claim missing, too long or not an "
	    "address", C },
	[JOSE_ERR_NOT_BACKED] = { "BrowserID assertion is not "
	    "certificate~assertion with no empty part", C },
	[JOSE_ERR_CERT_CHAIN] = { "BrowserID certificate chains are not "
	    "accepted: one certificate, signed by the issuer", C },
	[JOSE_ERR_CERT_CLAIMS] = { "BrowserID certificate lacks iss, exp or "
	    "public-key", C },
	[JOSE_ERR_PRINCIPAL] = { "BrowserID certificate has no valid "
	    "principal email", C },
	[JOSE_ERR_ISSUER_DOMAIN] = { "BrowserID issuer may not vouch for the "
	    "email's domain", C },
	[JOSE_ERR_KEY_TOO_SMALL] = { "BrowserID certified key too small (at "
	    "least 1024 bits)", C },
	[JOSE_ERR_CERT_SIGNATURE] = { "BrowserID certificate signature does "
	    "not verify", C },
	[JOSE_ERR_CERT_EXPIRED] = { "BrowserID certificate expired", T },
	[JOSE_ERR_CERT_NOT_YET_VALID] = { "BrowserID certificate issued in the "
	    "future (iat)", T },
	[JOSE_ERR_CERT_KEY] = { "BrowserID certified public-key is not a "
	    "valid RS or DS key", C },
	[JOSE_ERR_ASSERTION_SIGNATURE] = { "BrowserID assertion signature does "
	    "not verify", C },
	[JOSE_ERR_ASSERTION_EXP_MISSING] = { "BrowserID assertion has no "
	    "expiry (exp)", C },
	[JOSE_ERR_ASSERTION_EXPIRED] = { "BrowserID assertion expired", T },
	[JOSE_ERR_ASSERTION_IAT_FUTURE] = { "BrowserID assertion issued in the "
	    "future (iat)", T },
};

#undef C
#undef T

/*
 * A wrong audience is told with the audience that was required (the
 * issuer's `audience` setting): "does not name this service" sent
 * operators to the service's settings.  A refusal reaches the client
 * through jose_strerror() with its code alone, so jose_check_aud()
 * records the audience it wanted.  Each audience's sentence is written
 * once and kept for the thread's life: a reply that waits in a worker's
 * outbox still points at its own.  The table holds more audiences than a
 * config plausibly has; past it, the table's general sentence is given.
 * Per thread, since a worker verifies on one.
 */
#define AUD_SENTENCES		32
#define AUD_SENTENCE_MAX	200
#define AUD_SHOWN		120	/* bytes of an audience quoted */

static _Thread_local char	 aud_text[AUD_SENTENCES][AUD_SENTENCE_MAX];
static _Thread_local int	 aud_count;
static _Thread_local const char	*aud_last;	/* of the last refusal */

static void
aud_sentence(const char *audience)
{
	char	s[AUD_SENTENCE_MAX];
	int	i;

	snprintf(s, sizeof(s), "audience (aud) must name \"%.*s%s\", the "
	    "audience required of this issuer", AUD_SHOWN, audience,
	    strlen(audience) > AUD_SHOWN ? "..." : "");
	for (i = 0; i < aud_count; i++)
		if (strcmp(aud_text[i], s) == 0)
			break;
	if (i == AUD_SENTENCES) {
		aud_last = NULL;
		return;
	}
	if (i == aud_count)
		memcpy(aud_text[aud_count++], s, sizeof(s));
	aud_last = aud_text[i];
}

const char *
jose_strerror(enum jose_err e)
{
	if ((unsigned)e >= JOSE_ERR_COUNT || errs[e].text == NULL)
		return "unknown assertion error";
	if (e == JOSE_ERR_AUDIENCE && aud_last != NULL)
		return aud_last;
	return errs[e].text;
}

enum jose_class
jose_err_class(enum jose_err e)
{
	if ((unsigned)e >= JOSE_ERR_COUNT)
		return JOSE_CLASS_INTERNAL;
	return errs[e].class;
}

void
jose_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- splitting and decoding ---- */

/* Decodes in[0..len) into buf; NULL if not base64url or buf is full. */
static const uint8_t *
decode_part(struct jose_buf *buf, const char *in, size_t len, size_t *outlen)
{
	uint8_t	*out = buf->p + buf->used;

	if (b64url_declen(len) > buf->size - buf->used)
		return NULL;
	if (b64url_decode(out, outlen, in, len, B64_NOPAD) == -1)
		return NULL;
	buf->used += *outlen;
	return out;
}

enum jose_err
jose_split(struct jose_buf *buf, const char *tok, size_t len,
    struct jose_jws *p)
{
	const char	*end = tok + len, *d1, *d2;

	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', (size_t)(end - d1 - 1))) == NULL ||
	    memchr(d2 + 1, '.', (size_t)(end - d2 - 1)) != NULL)
		return JOSE_ERR_MALFORMED;
	if (d1 == tok || d2 == d1 + 1 || d2 + 1 == end)
		return JOSE_ERR_MALFORMED;
	p->input = tok;
	p->inputlen = (size_t)(d2 - tok);
	if ((p->hdr = decode_part(buf, tok, (size_t)(d1 - tok),
	    &p->hdrlen)) == NULL ||
	    (p->pay = decode_part(buf, d1 + 1, (size_t)(d2 - d1 - 1),
	    &p->paylen)) == NULL ||
	    (p->sig = decode_part(buf, d2 + 1, (size_t)(end - d2 - 1),
	    &p->siglen)) == NULL)
		return JOSE_ERR_BASE64;
	if (p->hdrlen > JOSE_MAX_HEADER)
		return JOSE_ERR_HEADER_TOO_LARGE;
	return JOSE_OK;
}

/* ---- bounded JSON ---- */

/*
 * The bounds of a JSON text, in one pass before jansson reads it: arrays
 * and objects nest at most JOSE_MAX_DEPTH deep, and its objects hold at
 * most JOSE_MAX_MEMBERS members in all (each ':' outside a string is one),
 * so that no attacker-chosen hash table is ever built.  Brackets and
 * colons inside strings do not count.  Malformed JSON is left for jansson
 * to refuse.  JOSE_OK, JSON_DEPTH or JSON_MEMBERS, whichever comes first.
 */
static enum jose_err
json_bounds(const uint8_t *buf, size_t len)
{
	size_t	 i;
	int	 depth = 0, members = 0, in_str = 0;

	for (i = 0; i < len; i++) {
		if (in_str) {
			if (buf[i] == '\\')
				i++;
			else if (buf[i] == '"')
				in_str = 0;
			continue;
		}
		switch (buf[i]) {
		case '"':
			in_str = 1;
			break;
		case '[':
		case '{':
			if (++depth > JOSE_MAX_DEPTH)
				return JOSE_ERR_JSON_DEPTH;
			break;
		case ']':
		case '}':
			depth--;
			break;
		case ':':
			if (++members > JOSE_MAX_MEMBERS)
				return JOSE_ERR_JSON_MEMBERS;
			break;
		}
	}
	return JOSE_OK;
}

/*
 * A JSON object from buf into *out.  What is wrong with it is told apart,
 * because each is its own kind of attack or mistake: duplicates (a second
 * parser might read the other member), depth, numbers out of range, not
 * JSON at all (bad_json), JSON but no object (not_object).
 */
static enum jose_err
load_object(const uint8_t *buf, size_t len, enum jose_err bad_json,
    enum jose_err not_object, json_t **out)
{
	json_error_t	 jerr;
	json_t		*j;
	enum jose_err	 e;

	*out = NULL;
	if ((e = json_bounds(buf, len)) != JOSE_OK)
		return e;
	/*
	 * jansson also refuses "\u0000" in strings unless told otherwise.
	 * JSON_DECODE_ANY: a bare string or number is JSON, just no object.
	 */
	j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES |
	    JSON_DECODE_ANY, &jerr);
	if (j == NULL) {
		switch (json_error_code(&jerr)) {
		case json_error_duplicate_key:
			return JOSE_ERR_DUPLICATE_MEMBER;
		case json_error_numeric_overflow:
			return JOSE_ERR_NUMBER_RANGE;
		case json_error_stack_overflow:
			return JOSE_ERR_JSON_DEPTH;
		case json_error_out_of_memory:
			return JOSE_ERR_INTERNAL;
		default:
			return bad_json;
		}
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return not_object;
	}
	*out = j;
	return JOSE_OK;
}

enum jose_err
jose_header(const struct jose_jws *p, json_t **hdr, const char **alg,
    size_t *alglen)
{
	json_t		*a;
	enum jose_err	 rc;

	if ((rc = load_object(p->hdr, p->hdrlen, JOSE_ERR_HEADER,
	    JOSE_ERR_HEADER_NOT_OBJECT, hdr)) != JOSE_OK)
		return rc;
	a = json_object_get(*hdr, "alg");
	if (!json_is_string(a)) {
		json_decref(*hdr);
		*hdr = NULL;
		return JOSE_ERR_ALG_MISSING;
	}
	*alg = json_string_value(a);
	*alglen = json_string_length(a);
	return JOSE_OK;
}

enum jose_err
jose_payload(const struct jose_jws *p, json_t **claims)
{
	return load_object(p->pay, p->paylen, JOSE_ERR_PAYLOAD,
	    JOSE_ERR_PAYLOAD_NOT_OBJECT, claims);
}

int
jose_str_eq(json_t *v, const char *want)
{
	size_t	 len = strlen(want);

	return json_is_string(v) && json_string_length(v) == len &&
	    memcmp(json_string_value(v), want, len) == 0;
}

/* ---- claims ---- */

/* a + b clamped to the int64_t range, so no claim value can overflow. */
static int64_t
sat_add(int64_t a, int64_t b)
{
	int64_t	 r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/*
 * An optional time claim: absent, or a JSON integer.  A real is a type
 * error even when it has no fraction: what a time is must not depend on
 * how a number was spelt.
 */
static enum jose_err
time_claim(json_t *claims, const char *name, int *present, int64_t *v)
{
	json_t	*j = json_object_get(claims, name);

	*present = j != NULL;
	if (j == NULL)
		return JOSE_OK;
	if (!json_is_integer(j))
		return JOSE_ERR_CLAIM_TYPE;
	*v = json_integer_value(j);
	return JOSE_OK;
}

enum jose_err
jose_check_times(json_t *claims, const struct jose_clock *clk,
    const struct jose_times *te, int64_t *exp)
{
	int64_t		 nbf, iat, leeway;
	int		 has;
	enum jose_err	 rc;

	/* Configured leeway is at most an hour; saturate all the same. */
	if (__builtin_mul_overflow(clk->leeway, clk->unit, &leeway))
		leeway = INT64_MAX;
	if ((rc = time_claim(claims, "exp", &has, exp)) != JOSE_OK)
		return rc;
	if (!has)
		return te->missing;
	if (*exp <= sat_add(clk->now, -leeway))
		return te->expired;
	if (te->not_yet_valid != JOSE_OK) {
		if ((rc = time_claim(claims, "nbf", &has, &nbf)) != JOSE_OK)
			return rc;
		if (has && nbf > sat_add(clk->now, leeway))
			return te->not_yet_valid;
	}
	if ((rc = time_claim(claims, "iat", &has, &iat)) != JOSE_OK)
		return rc;
	if (has && iat > sat_add(clk->now, leeway))
		return te->issued_future;
	return JOSE_OK;
}

enum jose_err
jose_check_aud(json_t *claims, const char *audience, int arrays)
{
	json_t	*aud = json_object_get(claims, "aud"), *v;
	size_t	 i;
	int	 found = 0;

	if (aud != NULL && json_is_string(aud))
		found = jose_str_eq(aud, audience);
	else if (aud != NULL) {
		if (!arrays || !json_is_array(aud))
			return JOSE_ERR_AUD_TYPE;
		json_array_foreach(aud, i, v) {
			if (!json_is_string(v))
				return JOSE_ERR_AUD_TYPE;
			found |= jose_str_eq(v, audience);
		}
	}
	if (found)
		return JOSE_OK;
	aud_sentence(audience);
	return JOSE_ERR_AUDIENCE;
}

void
jose_email_fold(char *email)
{
	char	*p = strchr(email, '@');

	if (p == NULL)
		return;
	for (p++; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
}

/* ---- signatures ---- */

/*
 * OpenSSL verifies ECDSA and DSA signatures as DER, SEQUENCE { INTEGER r,
 * INTEGER s }.  The range of r and s is checked by OpenSSL's verification,
 * so any 2 * coord bytes may be converted.
 */
int
jose_rs_to_der(const uint8_t *sig, size_t coord,
    uint8_t der[JOSE_RS_DER_MAX], size_t *derlen)
{
	ECDSA_SIG	*es = NULL;
	BIGNUM		*r, *s;
	uint8_t		*p = der;
	int		 n, rc = -1;

	r = BN_bin2bn(sig, (int)coord, NULL);
	s = BN_bin2bn(sig + coord, (int)coord, NULL);
	if (r == NULL || s == NULL || (es = ECDSA_SIG_new()) == NULL)
		goto fail;
	if (ECDSA_SIG_set0(es, r, s) != 1)
		goto fail;
	r = s = NULL;		/* owned by es now */
	n = i2d_ECDSA_SIG(es, NULL);
	if (n <= 0 || n > JOSE_RS_DER_MAX || i2d_ECDSA_SIG(es, &p) != n)
		goto fail;
	*derlen = (size_t)n;
	rc = 0;
fail:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return rc;
}

enum jose_err
jose_digest_verify(EVP_PKEY *pkey, const EVP_MD *md, const uint8_t *sig,
    size_t siglen, const void *tbs, size_t tbslen)
{
	EVP_MD_CTX	*ctx;
	enum jose_err	 rc = JOSE_ERR_INTERNAL;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto fail;
	if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) != 1)
		goto fail;
	if (EVP_DigestVerify(ctx, sig, siglen, tbs, tbslen) == 1)
		rc = JOSE_OK;
	else
		rc = JOSE_ERR_SIGNATURE;
fail:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/* ---- keys ---- */

EVP_PKEY *
jose_pkey_fromdata(const char *type, OSSL_PARAM *params)
{
	EVP_PKEY_CTX	*ctx;
	EVP_PKEY	*pkey = NULL;

	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL)
		return NULL;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

/*
 * Reads at most size bytes, whatever fstat would say, so a file growing
 * under us is bounded too.  The byte count, or -1 with errno set.
 */
static ssize_t
read_bounded(int fd, char *buf, size_t size)
{
	size_t	 len = 0;
	ssize_t	 n;

	while (len < size) {
		n = read(fd, buf + len, size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (ssize_t)len;
}

char *
jose_read_file(const char *path, size_t max, size_t *len, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		*buf = NULL;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		jose_seterr(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		jose_seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		jose_seterr(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		jose_seterr(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	if ((n = read_bounded(fd, buf, max + 1)) == -1) {
		jose_seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if ((size_t)n > max) {
		jose_seterr(err, errlen, "%s: larger than %zu bytes", path,
		    max);
		goto fail;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	close(fd);
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}
