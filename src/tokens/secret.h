/*
 * secret.h - secret files, and the memory secrets live in.
 *
 * Every secret byte tokend holds (master secrets, the keys derived from
 * them, the uid secret) sits in an anonymous mapping marked MADV_DONTDUMP
 * and is wiped with OPENSSL_cleanse before the mapping goes back.  Error
 * messages name files and line numbers, never a secret's bytes.
 *
 * Three file formats, all mode 0600 (or stricter) regular files:
 *
 *   secret file   one secret per line, newest first; blank lines and lines
 *                 starting with '#' are ignored.  A line is the secret as
 *                 it stands (bytes, not decoded hex), less its "\n" or
 *                 "\r\n"; it must be at least SECRET_MIN_BYTES long and
 *                 neither start nor end with white space.
 *   uid secret    the same, holding exactly one secret.
 *   nodes file    one line per node: "URL,SECRET[,SECRET...]", the node's
 *                 secrets newest first; blank and '#' lines ignored.
 *
 * (docs/tokens.md describes them for operators.)
 */
#ifndef TOKEND_SECRET_H
#define TOKEND_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "core/hkdf.h"

#define SECRET_MIN_BYTES	32
#define SECRET_MAX_BYTES	4096	/* secret file size (and one secret) */
#define SECRETS_MAX		16	/* secrets in one file, or of one node */
#define NODES_MAX		64	/* nodes in a nodes file */
#define NODES_FILE_MAX		65536	/* nodes file size */
#define FERNET_KEY_BYTES	16

/* Bytes held in memory that is wiped on free and kept out of core dumps. */
struct secret {
	uint8_t		*bytes;
	size_t		 len;
};

/* The keys every token format derives from one master secret. */
struct secret_keys {
	uint8_t		 tokenlib_sig[SHA256_LEN];	/* tokenlib HMAC key */
	uint8_t		 fernet_sig[FERNET_KEY_BYTES];	/* Fernet HMAC key */
	uint8_t		 fernet_enc[FERNET_KEY_BYTES];	/* Fernet AES key */
};

/*
 * The secrets of a service (or of one node), newest first: v[0] mints,
 * every one verifies.  keys[i] is derived from v[i] when the set is built.
 * The bytes and the keys share one DONTDUMP mapping; v is plain memory
 * holding pointers into it.
 */
struct secrets {
	struct secret		*v;
	struct secret_keys	*keys;
	size_t			 n;
	void			*map;
	size_t			 maplen;
};

/* One node of a nodes file. */
struct node_secrets {
	char		*url;
	struct secrets	 secrets;
};

/* Loads a secret file holding exactly one secret (the uid secret). */
int	secret_load(struct secret *, const char *path, char *err,
	    size_t errlen);
void	secret_free(struct secret *);
/*
 * Loads a password file (a database's): its one line (blank and '#' lines
 * ignored) of 1 to PASSWORD_MAX_BYTES, neither starting nor ending with
 * white space, in secret memory; the file's mode and type are checked as
 * for every secret file.  A password is chosen by whoever runs the
 * database, so the SECRET_MIN_BYTES of tokend's own secrets does not apply.
 */
#define PASSWORD_MAX_BYTES	1024
int	password_load(struct secret *, const char *path, char *err,
	    size_t errlen);

/* Loads a secret file (at least one secret) and derives their keys. */
int	secrets_load(struct secrets *, const char *path, char *err,
	    size_t errlen);
/*
 * Builds a set from n secrets given as (bytes, len), copying them into
 * secret memory and deriving their keys; the result replaces *s.  0, or -1
 * with errno set (ENOMEM, or EINVAL for n of 0 or above SECRETS_MAX).
 */
int	secrets_build(struct secrets *s, const struct secret *parts, size_t n);
/* Appends one secret (the oldest so far); 0 or -1 as secrets_build(). */
int	secrets_append(struct secrets *, const void *bytes, size_t len);
/* Wipes and releases; *s is left empty and may be freed again. */
void	secrets_free(struct secrets *);

/*
 * Loads a nodes file: *out gets *n nodes in file order (free with
 * nodes_free()).  URLs must be http:// or https:// and appear once.
 */
int	nodes_load(struct node_secrets **out, size_t *n, const char *path,
	    char *err, size_t errlen);
void	nodes_free(struct node_secrets *, size_t n);

/*
 * Rewriting a secret file: the first and the last step of a rotation
 * (tokenctl secret --prepend, --drop-oldest).  The new text goes to a
 * temporary file beside path (created exclusively, mode 0600), which gets
 * the old file's owner, group and mode, is synced, and is renamed over
 * path; then the directory is synced.  A reader sees the old file or the
 * new one, never a mix, and whoever runs the edit (root, or the file's
 * owner), the user tokend runs as can still read the result.  The caller
 * needs write access to the directory, and to be root or the owner and a
 * member of the group.  A symbolic link or a file that is not regular is
 * refused, as is a file larger than SECRET_MAX_BYTES; the old file is left
 * as it was on every failure.  0, or -1 with a message in err.
 */

/*
 * Puts secret (len bytes, a valid secret line; "\n" is added) on top of
 * path.  A missing file is created, mode 0600 and owned by the caller, and
 * *created set to 1 (else 0) so that the caller can say so.  Refused when
 * path already holds SECRETS_MAX secrets.
 */
int	secret_file_prepend(const char *path, const void *secret, size_t len,
	    int *created, char *err, size_t errlen);
/*
 * Removes path's oldest (last) secret, keeping every other line as it
 * stands.  Refused when path is missing, is not a valid secret file, or
 * holds only one secret (tokend would have none to mint with).
 */
int	secret_file_drop_oldest(const char *path, char *err, size_t errlen);

#endif
