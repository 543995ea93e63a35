/*
 * curve.c - the authorized_keys list of the front's CURVE endpoint.
 *
 * Why a file of our own rather than czmq's certificate store: the front
 * needs only "which public keys may join, and what is each called", and
 * one line per host is what an operator can read, diff and edit (the
 * shape of ssh's authorized_keys).  Every line that is not blank or a
 * comment must be right: a typo that silently dropped a host, or admitted
 * one, would be found in production.  So a bad line fails the load with
 * FILE:LINE, and a reload with a bad file keeps the running list.
 *
 * Z85 has '#' in its alphabet, though never as a key's first character
 * (the first of each five encodes a 32-bit word's top: index 82 at most,
 * and '#' is 84).  Lines are told apart without that fact all the same:
 * a key line is one whose first 40 characters decode as a key and are
 * followed by white space; any other line starting with '#' is a
 * comment.
 */
#include "pool/curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#define AUTHKEYS_FILE_MAX	(AUTHKEYS_MAX * AUTHKEYS_LINE_MAX)

int
curve_key_decode(const char *s, size_t len, uint8_t out[CURVE_KEY_LEN])
{
	char	buf[CURVE_Z85_LEN + 1];

	if (len != CURVE_Z85_LEN || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	/* zmq_z85_decode() rejects characters outside the alphabet. */
	return zmq_z85_decode(out, buf) == NULL ? -1 : 0;
}

void
authkeys_free(struct authkeys *ks)
{
	free(ks->v);
	ks->v = NULL;
	ks->n = 0;
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t';
}

/*
 * One line (without its newline) into k; returns 1 for a key, 0 for a
 * blank or comment line, -1 with *why for anything else.
 */
static int
parse_line(const char *p, size_t len, struct authkey *k, const char **why)
{
	size_t	i, start, end;

	if (len > 0 && p[len - 1] == '\r')
		len--;
	for (i = 0; i < len && is_space(p[i]); i++)
		;
	if (i == len)
		return 0;
	if (len - i > CURVE_Z85_LEN && is_space(p[i + CURVE_Z85_LEN]) &&
	    curve_key_decode(p + i, CURVE_Z85_LEN, k->key) == 0) {
		memcpy(k->z85, p + i, CURVE_Z85_LEN);
		k->z85[CURVE_Z85_LEN] = '\0';
	} else if (p[i] == '#')
		return 0;
	else if (len - i >= CURVE_Z85_LEN &&
	    curve_key_decode(p + i, CURVE_Z85_LEN, k->key) == 0 &&
	    (len - i == CURVE_Z85_LEN || is_space(p[i + CURVE_Z85_LEN]))) {
		*why = "a key without a comment naming its host";
		return -1;
	} else {
		*why = "not a CURVE public key (40 characters of Z85) "
		    "followed by a comment naming its host";
		return -1;
	}
	for (start = i + CURVE_Z85_LEN; start < len && is_space(p[start]);
	    start++)
		;
	for (end = len; end > start && is_space(p[end - 1]); end--)
		;
	if (start == end) {
		*why = "a key without a comment naming its host";
		return -1;
	}
	if (end - start > AUTHKEY_NAME_MAX) {
		*why = "the comment is over 63 bytes";
		return -1;
	}
	for (i = start; i < end; i++)
		if ((unsigned char)p[i] < ' ' || (unsigned char)p[i] > '~') {
			*why = "the comment holds a byte that is not "
			    "printable ASCII";
			return -1;
		}
	memcpy(k->name, p + start, end - start);
	k->name[end - start] = '\0';
	return 1;
}

int
authkeys_parse(struct authkeys *out, const char *text, size_t len,
    const char *path, char *err, size_t errlen)
{
	struct authkeys	 ks = { NULL, 0 };
	struct authkey	 k;
	const char	*p = text, *nl, *why = NULL;
	size_t		 linelen, i;
	int		 lineno = 0, rc;

	if ((ks.v = calloc(AUTHKEYS_MAX, sizeof(*ks.v))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	while (p < text + len) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(text + len - p));
		linelen = nl != NULL ? (size_t)(nl - p) : (size_t)(text + len -
		    p);
		memset(&k, 0, sizeof(k));
		if (linelen > AUTHKEYS_LINE_MAX) {
			why = "line over 256 bytes";
			rc = -1;
		} else if (memchr(p, '\0', linelen) != NULL) {
			why = "a NUL byte";
			rc = -1;
		} else
			rc = parse_line(p, linelen, &k, &why);
		if (rc == 1) {
			for (i = 0; i < ks.n; i++)
				if (memcmp(ks.v[i].key, k.key,
				    CURVE_KEY_LEN) == 0)
					break;
			if (i < ks.n) {
				why = "this key is listed twice";
				rc = -1;
			} else if (ks.n == AUTHKEYS_MAX) {
				why = "more than 1024 keys";
				rc = -1;
			} else
				ks.v[ks.n++] = k;
		}
		if (rc == -1) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			authkeys_free(&ks);
			return -1;
		}
		p += linelen + (nl != NULL);
	}
	authkeys_free(out);
	*out = ks;
	return 0;
}

int
authkeys_load(struct authkeys *out, const char *path, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		*buf = NULL;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto done;
	}
	/* Whoever can write it can join the pool. */
	if ((st.st_mode & 022) != 0) {
		snprintf(err, errlen, "%s: mode %03o: group or others may "
		    "write it, and so admit any host (chmod go-w)", path,
		    (unsigned)(st.st_mode & 0777));
		goto done;
	}
	if (st.st_size > AUTHKEYS_FILE_MAX) {
		snprintf(err, errlen, "%s: over %d bytes", path,
		    AUTHKEYS_FILE_MAX);
		goto done;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto done;
	}
	while (len < (size_t)st.st_size + 1 &&
	    (n = read(fd, buf + len, (size_t)st.st_size + 1 - len)) > 0)
		len += (size_t)n;
	if (len > (size_t)st.st_size) {
		snprintf(err, errlen, "%s: grew while read", path);
		goto done;
	}
	rc = authkeys_parse(out, buf, len, path, err, errlen);
done:
	free(buf);
	close(fd);
	return rc;
}

const struct authkey *
authkeys_find(const struct authkeys *ks, const uint8_t *key)
{
	size_t	i;

	for (i = 0; i < ks->n; i++)
		if (memcmp(ks->v[i].key, key, CURVE_KEY_LEN) == 0)
			return &ks->v[i];
	return NULL;
}

const struct authkey *
authkeys_find_z85(const struct authkeys *ks, const char *z85)
{
	size_t	i;

	for (i = 0; i < ks->n; i++)
		if (strcmp(ks->v[i].z85, z85) == 0)
			return &ks->v[i];
	return NULL;
}

int
authkeys_copy(struct authkeys *dst, const struct authkeys *src)
{
	struct authkey	*v = NULL;

	if (src->n > 0 && (v = calloc(src->n, sizeof(*v))) == NULL)
		return -1;
	if (src->n > 0)
		memcpy(v, src->v, src->n * sizeof(*v));
	authkeys_free(dst);
	dst->v = v;
	dst->n = src->n;
	return 0;
}

/* A datagram: a magic word, then the entries as they are in memory. */
#define AUTHKEYS_MAGIC	0x746b616bu	/* "tkak" */

int
authkeys_send(int fd, const struct authkeys *ks)
{
	uint32_t	magic = AUTHKEYS_MAGIC;
	struct iovec	iov[2] = { { &magic, sizeof(magic) },
			    { ks->v, ks->n * sizeof(*ks->v) } };
	struct msghdr	mh = { .msg_iov = iov, .msg_iovlen = ks->n > 0 ? 2 :
			    1 };

	return sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == -1 ? -1 : 0;
}

int
authkeys_recv(int fd, struct authkeys *out)
{
	const size_t	 max = sizeof(uint32_t) + AUTHKEYS_MAX *
			    sizeof(struct authkey);
	struct authkeys	 ks = { NULL, 0 };
	uint32_t	 magic;
	uint8_t		*buf;
	ssize_t		 n;
	size_t		 i;

	if ((buf = malloc(max + 1)) == NULL)
		return -1;
	n = recv(fd, buf, max + 1, MSG_DONTWAIT | MSG_TRUNC);
	if (n == -1 || n == 0) {
		free(buf);
		if (n == 0)
			errno = EPIPE;
		return -1;
	}
	memcpy(&magic, buf, n >= 4 ? sizeof(magic) : 0);
	if (n < 4 || (size_t)n > max || magic != AUTHKEYS_MAGIC ||
	    ((size_t)n - 4) % sizeof(struct authkey) != 0) {
		free(buf);
		errno = EBADMSG;
		return -1;
	}
	ks.n = ((size_t)n - 4) / sizeof(struct authkey);
	if (ks.n > 0 && (ks.v = calloc(ks.n, sizeof(*ks.v))) == NULL) {
		free(buf);
		return -1;
	}
	if (ks.n > 0)
		memcpy(ks.v, buf + 4, ks.n * sizeof(*ks.v));
	free(buf);
	/* From our own supervisor, but a string must end all the same. */
	for (i = 0; i < ks.n; i++) {
		ks.v[i].z85[CURVE_Z85_LEN] = '\0';
		ks.v[i].name[AUTHKEY_NAME_MAX] = '\0';
	}
	authkeys_free(out);
	*out = ks;
	return 0;
}
