/*
 * curve.h - the CURVE keys of remote worker hosts: the authorized_keys
 * list the front admits workers by, and the key text both ends use.
 *
 * Keys are ZeroMQ's Z85 text: 40 characters for 32 bytes.  The
 * authorized_keys file (docs/protocol.md, "Transport") holds one public
 * key per line followed by a comment naming its host:
 *
 *     # tokend worker hosts
 *     rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7  worker-1.example.com
 *
 * Blank lines and lines starting with '#' are ignored; every other line
 * must be a valid key and a comment, and a key may appear once.  The list
 * is small (AUTHKEYS_MAX) and read once per load: a lookup is a scan.
 */
#ifndef TOKEND_CURVE_H
#define TOKEND_CURVE_H

#include <stddef.h>
#include <stdint.h>

#define CURVE_KEY_LEN		32	/* bytes */
#define CURVE_Z85_LEN		40	/* characters of a key in Z85 */
#define AUTHKEYS_MAX		1024	/* keys in one authorized_keys */
#define AUTHKEY_NAME_MAX	63	/* bytes of a key's comment */
#define AUTHKEYS_LINE_MAX	256	/* bytes of one line */

struct authkey {
	uint8_t		 key[CURVE_KEY_LEN];
	char		 z85[CURVE_Z85_LEN + 1];
	char		 name[AUTHKEY_NAME_MAX + 1];	/* the comment */
};

struct authkeys {
	struct authkey	*v;
	size_t		 n;
};

/*
 * Decodes a Z85 key of exactly CURVE_Z85_LEN characters (len of them at
 * s, no NUL needed) into out; 0, or -1 if it is not one.
 */
int	curve_key_decode(const char *s, size_t len, uint8_t out[CURVE_KEY_LEN]);

/*
 * Parses an authorized_keys text (len bytes; the file's name for
 * messages) into *out, replacing what it held.  0, or -1 with err set to
 * "PATH:LINE: what is wrong" and *out left as it was.
 */
int	authkeys_parse(struct authkeys *out, const char *text, size_t len,
	    const char *path, char *err, size_t errlen);
/*
 * Reads and parses the file at path: a regular file that the group and
 * others cannot write (it decides who may join the pool).  0, or -1 with
 * err as authkeys_parse()'s or naming the file.
 */
int	authkeys_load(struct authkeys *out, const char *path, char *err,
	    size_t errlen);
/* The entry for key (CURVE_KEY_LEN bytes), or NULL. */
const struct authkey *authkeys_find(const struct authkeys *,
	    const uint8_t *key);
/* The entry whose Z85 text is z85 (NUL-terminated), or NULL. */
const struct authkey *authkeys_find_z85(const struct authkeys *,
	    const char *z85);
/* Frees the list; *ks is left empty and may be freed again. */
void	authkeys_free(struct authkeys *ks);
/* A copy of src into *dst (replacing it); 0, or -1 (out of memory). */
int	authkeys_copy(struct authkeys *dst, const struct authkeys *src);

/*
 * The list as one datagram on a SOCK_SEQPACKET socket: how the supervisor
 * hands a reloaded list to the running front, which reads no files.
 * send: 0 or -1 (errno).  recv: 0 and *out replaced, or -1 (errno; EAGAIN
 * when nothing waits, EBADMSG for a datagram that is no such list).
 */
int	authkeys_send(int fd, const struct authkeys *);
int	authkeys_recv(int fd, struct authkeys *out);

#endif
