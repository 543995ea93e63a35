/*
 * fernet.c - minting and checking Fernet tokens (layout in fernet.h and
 * docs/tokens.md).
 *
 * AES-128-CBC is fetched once per process and each thread keeps one cipher
 * context that it re-initialises per token, for the reason hkdf.c gives:
 * fetching and context creation cost more than encrypting 100 bytes.  The
 * per-thread context is released by a thread-specific destructor, since
 * libtokend-verify runs in services' threads, which come and go.
 *
 * On checking, the HMAC is compared (in constant time) before the
 * timestamp is looked at or a byte is decrypted: nothing about an
 * unauthenticated token is believed, and a padding failure can only be
 * reported for bytes the secret's holder wrote, so there is no padding
 * oracle.
 */
#include "tokens/fernet.h"

#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/b64.h"
#include "core/hkdf.h"
#include "tokens/secret.h"
#include "tokens/tokenlib.h"

#define INFO_SIGNING	"tokend/fernet/v1/signing"
#define INFO_ENCRYPTION	"tokend/fernet/v1/encryption"

#define BLOCK		16			/* AES block */
#define HEAD		(1 + 8 + TOKEN_IV_LEN)	/* version, time, IV */
#define RAW_MAX		(TOKEN_MAX / 4 * 3)	/* raw bytes of a token */
#define CIPHER_MAX	((RAW_MAX - HEAD - SHA256_LEN) / BLOCK * BLOCK)
#define PLAIN_MAX	(CIPHER_MAX - 1)	/* PKCS#7 adds 1..16 bytes */

static pthread_once_t	 fetch_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER	*aes128cbc;
static pthread_key_t	 ctx_key;
static int		 ctx_key_ok;

static void
free_ctx(void *ctx)
{
	EVP_CIPHER_CTX_free(ctx);
}

static void
fetch_aes(void)
{
	aes128cbc = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
	ctx_key_ok = pthread_key_create(&ctx_key, free_ctx) == 0;
}

/* This thread's cipher context, or NULL. */
static EVP_CIPHER_CTX *
cipher_ctx(void)
{
	EVP_CIPHER_CTX	*ctx;

	pthread_once(&fetch_once, fetch_aes);
	if (aes128cbc == NULL || !ctx_key_ok)
		return NULL;
	if ((ctx = pthread_getspecific(ctx_key)) != NULL)
		return ctx;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return NULL;
	if (pthread_setspecific(ctx_key, ctx) != 0) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int
fernet_keys(struct secret_keys *k, const struct secret *master)
{
	if (hkdf_sha256(k->fernet_sig, sizeof(k->fernet_sig), master->bytes,
	    master->len, NULL, 0, INFO_SIGNING, sizeof(INFO_SIGNING) - 1) == -1)
		return -1;
	return hkdf_sha256(k->fernet_enc, sizeof(k->fernet_enc), master->bytes,
	    master->len, NULL, 0, INFO_ENCRYPTION, sizeof(INFO_ENCRYPTION) - 1);
}

void
fernet_key_b64(char out[FERNET_KEY_B64_LEN + 1], const struct secret_keys *k)
{
	uint8_t	key[2 * FERNET_KEY_BYTES];

	/* Fernet's key layout: signing key first, then encryption key. */
	memcpy(key, k->fernet_sig, FERNET_KEY_BYTES);
	memcpy(key + FERNET_KEY_BYTES, k->fernet_enc, FERNET_KEY_BYTES);
	b64url_encode(out, key, sizeof(key), B64_PAD);
	OPENSSL_cleanse(key, sizeof(key));
}

/* AES-128-CBC with PKCS#7 of in into out; returns the length or -1. */
static int
aes_cbc(int enc, const uint8_t key[FERNET_KEY_BYTES],
    const uint8_t iv[TOKEN_IV_LEN], const uint8_t *in, size_t len,
    uint8_t *out)
{
	EVP_CIPHER_CTX	*ctx = cipher_ctx();
	int		 n1, n2;

	if (ctx == NULL || len > PLAIN_MAX + BLOCK)
		return -1;
	if (EVP_CipherInit_ex2(ctx, aes128cbc, key, iv, enc, NULL) != 1 ||
	    EVP_CipherUpdate(ctx, out, &n1, in, (int)len) != 1 ||
	    EVP_CipherFinal_ex(ctx, out + n1, &n2) != 1) {
		EVP_CIPHER_CTX_reset(ctx);
		return -1;
	}
	/* The context holds the key schedule: do not leave it lying. */
	EVP_CIPHER_CTX_reset(ctx);
	return n1 + n2;
}

int
fernet_mint(const struct secret *master, const struct secret_keys *k,
    const struct token_claims *c, int64_t now, const char *salt,
    const uint8_t iv[TOKEN_IV_LEN], char token[TOKEN_MAX + 1],
    char key[TOKEN_KEY_LEN + 1])
{
	uint8_t		 raw[RAW_MAX];
	char		 plain[PLAIN_MAX];
	uint64_t	 ts;
	int		 plen, clen, i, rc = -1;

	if (now < 0)
		return -1;
	if ((plen = token_payload_json(plain, sizeof(plain), c, salt)) == -1)
		return -1;
	raw[0] = FERNET_VERSION;
	for (ts = (uint64_t)now, i = 8; i >= 1; i--, ts >>= 8)
		raw[i] = (uint8_t)ts;
	memcpy(raw + 9, iv, TOKEN_IV_LEN);
	clen = aes_cbc(1, k->fernet_enc, iv, (const uint8_t *)plain,
	    (size_t)plen, raw + HEAD);
	if (clen == -1 || HEAD + (size_t)clen + SHA256_LEN > sizeof(raw))
		goto done;
	if (hmac_sha256(raw + HEAD + clen, k->fernet_sig, FERNET_KEY_BYTES, raw,
	    HEAD + (size_t)clen) == -1)
		goto done;
	b64url_encode(token, raw, HEAD + (size_t)clen + SHA256_LEN, B64_PAD);
	rc = tokenlib_derive(master, token, salt, key);
done:
	OPENSSL_cleanse(plain, sizeof(plain));
	return rc;
}

enum token_err
fernet_parse(const struct secret_keys *k, const char *token, int64_t now,
    json_t **payload, int64_t *issued)
{
	uint8_t		 raw[RAW_MAX + 3], mac[SHA256_LEN];
	uint8_t		 plain[CIPHER_MAX + BLOCK];
	size_t		 len, clen, toklen = strnlen(token, TOKEN_MAX + 1);
	uint64_t	 ts = 0;
	enum token_err	 e;
	int		 plen, i;

	*payload = NULL;
	if (toklen > TOKEN_MAX ||
	    b64url_decode(raw, &len, token, toklen, B64_PAD) == -1 ||
	    len < HEAD + BLOCK + SHA256_LEN ||
	    (len - HEAD - SHA256_LEN) % BLOCK != 0 ||
	    raw[0] != FERNET_VERSION)
		return TOKEN_ERR_MALFORMED;
	clen = len - HEAD - SHA256_LEN;
	if (hmac_sha256(mac, k->fernet_sig, FERNET_KEY_BYTES, raw,
	    HEAD + clen) == -1)
		return TOKEN_ERR_INTERNAL;
	if (CRYPTO_memcmp(mac, raw + HEAD + clen, SHA256_LEN) != 0)
		return TOKEN_ERR_SIGNATURE;
	for (i = 1; i <= 8; i++)
		ts = ts << 8 | raw[i];
	if (ts > INT64_MAX || (now >= 0 &&
	    (int64_t)ts > now + FERNET_MAX_CLOCK_SKEW))
		return TOKEN_ERR_FUTURE;
	/* Authentic yet undecryptable: not a token tokend would write. */
	if ((plen = aes_cbc(0, k->fernet_enc, raw + 9, raw + HEAD, clen,
	    plain)) == -1)
		e = TOKEN_ERR_PAYLOAD;
	else
		e = token_payload_parse(plain, (size_t)plen, now, payload);
	OPENSSL_cleanse(plain, sizeof(plain));
	if (e == TOKEN_OK)
		*issued = (int64_t)ts;
	return e;
}
