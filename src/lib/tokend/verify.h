/*
 * tokend/verify.h - libtokend-verify: check tokend's tokens in a C service.
 *
 * A service that receives tokens minted by tokend (docs/tokens.md) holds
 * the master secret(s) tokend mints them with.  With this library it
 * checks a token of either format, tokenlib or fernet, against all of its
 * secrets (so a secret rotation never breaks a token in flight), and reads
 * the payload and the derived secret the client signs its requests with.
 *
 *     struct tokend_verifier *v = tokend_verifier_new();
 *     char err[256];
 *     if (v == NULL ||
 *         tokend_verifier_load_file(v, "/etc/svc/token.secret", err,
 *         sizeof(err)) == -1)
 *             errx(1, "%s", err);
 *     ...
 *     struct tokend_token t;
 *     int rc = tokend_verify(v, token, time(NULL), &t);
 *     if (rc != TOKEND_OK)
 *             return reject(tokend_strerror(rc));
 *     ... t.uid, t.node, t.key ...
 *     tokend_token_clear(&t);
 *
 * Build with `pkg-config --cflags --libs tokend-verify` (shared), or
 * `pkg-config --static --cflags --libs tokend-verify` (a static program:
 * libtokend-verify, libcrypto and jansson linked in; the .pc's
 * Libs.private holds -static).  A program linked with the shared library
 * finds it at run time through the loader's cache: `make install-lib`
 * runs ldconfig, which covers /usr/local/lib on Debian; for a prefix the
 * loader does not search, link with -Wl,-rpath,$(pkg-config
 * --variable=libdir tokend-verify) (docs/deployment.md, "Checking a token
 * in a service").  The library needs libcrypto (OpenSSL 3) and jansson;
 * it exports only the tokend_ names.
 *
 * Threads: a verifier is filled once, then only read, so any number of
 * threads may call tokend_verify() on it at the same time.  Adding secrets
 * while another thread verifies is not safe: build a new verifier and
 * switch to it instead.
 *
 * Secrets are kept in memory marked MADV_DONTDUMP (out of core dumps) and
 * wiped when the verifier is freed; error messages never quote them.
 */
#ifndef TOKEND_VERIFY_H
#define TOKEND_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TOKEND_VERIFY_VERSION	"1.0.0"

#define TOKEND_TOKEN_MAX	2048	/* longest token, characters */
#define TOKEND_KEY_LEN		44	/* a derived secret, characters */
#define TOKEND_FERNET_KEY_LEN	44	/* a Fernet key, characters */

/* Token formats; a service's `format` in tokend.conf. */
enum tokend_format {
	TOKEND_FORMAT_ANY = 0,		/* accept either, told by the bytes */
	TOKEND_FORMAT_TOKENLIB = 1,	/* Mozilla tokenlib 2.x */
	TOKEND_FORMAT_FERNET = 2,	/* Fernet (AES-128-CBC + HMAC) */
};

/* What tokend_verify() returns; tokend_strerror() says it in words. */
enum tokend_status {
	TOKEND_OK = 0,
	TOKEND_ERR_MALFORMED = 1,	/* not a token of the format at all */
	TOKEND_ERR_SIGNATURE = 2,	/* tampered with, or no secret of ours
					   signed it */
	TOKEND_ERR_PAYLOAD = 3,		/* authentic, but not tokend's payload */
	TOKEND_ERR_EXPIRED = 4,		/* past its "expires" */
	TOKEND_ERR_FUTURE = 5,		/* Fernet: issued > 60 s from now */
	TOKEND_ERR_INTERNAL = 6,	/* out of memory, OpenSSL failure */
	TOKEND_ERR_USAGE = 7,		/* NULL argument, no secret loaded */
};

/* The secrets a service checks tokens with (opaque). */
struct tokend_verifier;

/* A checked token: filled by tokend_verify(), released by
 * tokend_token_clear(). */
struct tokend_token {
	enum tokend_format format;	/* the format it was in */
	uint64_t	 uid;		/* the user's stable id (< 2^53) */
	int64_t		 expires;	/* unix seconds */
	int64_t		 issued_at;	/* Fernet timestamp; -1 for tokenlib */
	const char	*node;		/* the node URL it was minted for */
	const char	*salt;		/* the payload's salt */
	char		*payload;	/* the payload JSON, compact (owned) */
	unsigned	 secret_index;	/* which secret verified it: 0 is the
					   first (newest) added */
	char		 key[TOKEND_KEY_LEN + 1]; /* the derived secret */
	void		*internal;	/* the library's; do not touch */
};

/* The library's version, TOKEND_VERIFY_VERSION of the build. */
const char	*tokend_verify_version(void);

/* A verifier with no secret yet; NULL if out of memory. */
struct tokend_verifier *tokend_verifier_new(void);

/*
 * Adds one master secret (len bytes at secret, at least 32; used as bytes
 * as they stand: a hex string is its ASCII characters, as in tokend's
 * secret files).  Secrets are tried in the order they were added, so add
 * the newest first.  At most 16 secrets.  Returns 0, or -1 with errno set
 * (EINVAL: too short, too long, too many, or NULL; ENOMEM).
 */
int		 tokend_verifier_add_secret(struct tokend_verifier *,
		    const void *secret, size_t len);

/*
 * Adds every secret of a tokend secret file (one a line, newest first,
 * blank and '#' lines ignored, mode 0600 or stricter), after those already
 * added.  Returns 0, or -1 with a message in err (never quoting a secret).
 */
int		 tokend_verifier_load_file(struct tokend_verifier *,
		    const char *path, char *err, size_t errlen);

/*
 * Accepts only tokens of this format (the default, TOKEND_FORMAT_ANY,
 * accepts both: a service that knows its format should say so).  0, or -1
 * for an unknown format.
 */
int		 tokend_verifier_set_format(struct tokend_verifier *,
		    enum tokend_format);

/* The number of secrets added so far. */
size_t		 tokend_verifier_count(const struct tokend_verifier *);

/* Wipes the secrets and frees v; NULL is fine. */
void		 tokend_verifier_free(struct tokend_verifier *v);

/*
 * Checks token (NUL-terminated) at time now (unix seconds, normally
 * time(NULL)): its layout, its signature under each secret in turn
 * (constant-time comparison), for Fernet its timestamp and decryption,
 * then its payload (uid, node, expires, salt) and that expires > now.
 * Returns TOKEND_OK and fills *out (release it with tokend_token_clear()),
 * or a tokend_status and leaves *out empty (clearing it is harmless).
 */
int		 tokend_verify(const struct tokend_verifier *,
		    const char *token, int64_t now, struct tokend_token *out);

/* Frees what tokend_verify() put in *t and wipes its key. */
void		 tokend_token_clear(struct tokend_token *t);

/* A sentence for a tokend_status ("token has expired", ...). */
const char	*tokend_strerror(int status);

/* "tokenlib", "fernet" or "any". */
const char	*tokend_format_name(enum tokend_format);

/*
 * The Fernet key of a master secret: what a service using a stock Fernet
 * library (Python's cryptography.fernet, Go's fernet-go, ...) is given to
 * decrypt tokend's fernet tokens.  out gets TOKEND_FERNET_KEY_LEN
 * characters and a NUL.  0, or -1 with errno set.
 */
int		 tokend_fernet_key(const void *secret, size_t len,
		    char out[TOKEND_FERNET_KEY_LEN + 1]);

#ifdef __cplusplus
}
#endif

#endif
