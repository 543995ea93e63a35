/*
 * secret.c - reading secret files into memory that never leaves the
 * process: not in a core dump, not in a message, not after free.
 *
 * A file is read whole into a DONTDUMP buffer (opened non-blocking, so a
 * FIFO put where a secret should be is refused rather than waited on), cut
 * into lines, and each secret is copied into the final set's own mapping,
 * next to the keys derived from it (token_derive_keys).  The read buffer
 * is wiped before it is unmapped, on every path.  Messages say which file
 * and which line is wrong, and why, but never quote a line: a near-miss
 * secret in a log is still a secret.
 *
 * Rotation is what makes several secrets per file worth having: a new
 * secret goes on top and mints from the next reload on, while tokens
 * minted with the old one (still below it) keep verifying until the old
 * line is removed.  See docs/tokens.md.  The rotation's two edits
 * (tokenctl secret --prepend, --drop-oldest) are here too, so that they
 * read the file as tokend does and write it back whole beside the old one,
 * keeping the owner and mode tokend's user needs to read it: a rotation
 * run as root must not leave a file that only root can read.
 */
#include "tokens/secret.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "tokens/token.h"

/* ---- memory ----------------------------------------------------------- */

static void *
secret_alloc(size_t len)
{
	void	*p;

	p = mmap(NULL, len > 0 ? len : 1, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, len > 0 ? len : 1, MADV_DONTDUMP);
	return p;
}

static void
secret_unmap(void *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	munmap(p, len > 0 ? len : 1);
}

void
secret_free(struct secret *s)
{
	secret_unmap(s->bytes, s->len);
	s->bytes = NULL;
	s->len = 0;
}

void
secrets_free(struct secrets *s)
{
	secret_unmap(s->map, s->maplen);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int
secrets_build(struct secrets *s, const struct secret *parts, size_t n)
{
	struct secrets	 t;
	uint8_t		*p;
	size_t		 i, total;

	if (n == 0 || n > SECRETS_MAX) {
		errno = EINVAL;
		return -1;
	}
	memset(&t, 0, sizeof(t));
	total = n * sizeof(struct secret_keys);
	for (i = 0; i < n; i++) {
		if (parts[i].len == 0 || parts[i].len > SECRET_MAX_BYTES) {
			errno = EINVAL;
			return -1;
		}
		total += parts[i].len;
	}
	if ((t.v = calloc(n, sizeof(*t.v))) == NULL)
		return -1;
	if ((t.map = secret_alloc(total)) == NULL) {
		free(t.v);
		return -1;
	}
	t.maplen = total;
	t.n = n;
	/* The keys first: the mapping is page-aligned, so they are too. */
	t.keys = t.map;
	p = (uint8_t *)t.map + n * sizeof(struct secret_keys);
	for (i = 0; i < n; i++) {
		memcpy(p, parts[i].bytes, parts[i].len);
		t.v[i].bytes = p;
		t.v[i].len = parts[i].len;
		p += parts[i].len;
		if (token_derive_keys(&t.keys[i], &t.v[i]) == -1) {
			secrets_free(&t);
			errno = EIO;
			return -1;
		}
	}
	secrets_free(s);
	*s = t;
	return 0;
}

int
secrets_append(struct secrets *s, const void *bytes, size_t len)
{
	struct secret	parts[SECRETS_MAX];
	struct secrets	t;
	size_t		i;

	if (s->n >= SECRETS_MAX) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < s->n; i++)
		parts[i] = s->v[i];
	parts[s->n].bytes = (uint8_t *)(uintptr_t)bytes;
	parts[s->n].len = len;
	/* Built aside, since parts[] points into the old set. */
	memset(&t, 0, sizeof(t));
	if (secrets_build(&t, parts, s->n + 1) == -1)
		return -1;
	secrets_free(s);
	*s = t;
	return 0;
}

/* ---- files ------------------------------------------------------------ */

/* A whole file in secret memory: buf has cap + 1 bytes, len are used. */
struct file_buf {
	uint8_t		*buf;
	size_t		 cap;
	size_t		 len;
};

static void
file_buf_free(struct file_buf *f)
{
	secret_unmap(f->buf, f->cap + 1);
	f->buf = NULL;
}

/*
 * A regular file of at most max bytes, its status in *st; if owner_only,
 * also readable by its owner only, as every secret file tokend reads must
 * be.  (A rewrite keeps whatever mode it finds: tokend's check is tokend's.)
 */
static int
check_file(int fd, struct stat *st, int owner_only, const char *what,
    const char *path, size_t max, char *err, size_t errlen)
{
	if (fstat(fd, st) == -1) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s %s: not a regular file", what, path);
		return -1;
	}
	if (owner_only && (st->st_mode & 077)) {
		snprintf(err, errlen, "%s %s is readable by group or others "
		    "(mode %04o); chmod 600 it", what, path,
		    (unsigned)(st->st_mode & 07777));
		return -1;
	}
	if ((size_t)st->st_size > max) {
		snprintf(err, errlen, "%s %s: larger than %zu bytes", what,
		    path, max);
		return -1;
	}
	return 0;
}

/*
 * Reads fd whole into f, in secret memory, at most max bytes.  The size
 * is checked again after reading, since the file may grow between fstat
 * and read.  On failure nothing is left to free.
 */
static int
read_fd(struct file_buf *f, int fd, const char *what, const char *path,
    size_t max, char *err, size_t errlen)
{
	ssize_t	 n;

	memset(f, 0, sizeof(*f));
	f->cap = max;
	if ((f->buf = secret_alloc(f->cap + 1)) == NULL) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	while (f->len <= f->cap &&
	    (n = read(fd, f->buf + f->len, f->cap + 1 - f->len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s %s: %s", what, path,
			    strerror(errno));
			goto fail;
		}
		f->len += (size_t)n;
	}
	if (f->len > f->cap) {
		snprintf(err, errlen, "%s %s: larger than %zu bytes", what,
		    path, max);
		goto fail;
	}
	return 0;
fail:
	file_buf_free(f);
	return -1;
}

/*
 * Reads a whole secret-bearing file of at most max bytes.  Opened
 * non-blocking so that a FIFO cannot stall a reload.
 */
static int
read_file(struct file_buf *f, const char *what, const char *path, size_t max,
    char *err, size_t errlen)
{
	struct stat	 st;
	int		 fd, rc;

	memset(f, 0, sizeof(*f));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	rc = check_file(fd, &st, 1, what, path, max, err, errlen);
	if (rc == 0)
		rc = read_fd(f, fd, what, path, max, err, errlen);
	close(fd);
	return rc;
}

/*
 * The next line of f from *pos: its start and length without "\n" or
 * "\r\n"; its number in *lineno.  0 at the end of the file.
 */
static int
next_line(const struct file_buf *f, size_t *pos, int *lineno,
    const uint8_t **line, size_t *len)
{
	const uint8_t	*nl;
	size_t		 rest;

	if (*pos >= f->len)
		return 0;
	*line = f->buf + *pos;
	rest = f->len - *pos;
	nl = memchr(*line, '\n', rest);
	*len = nl != NULL ? (size_t)(nl - *line) : rest;
	*pos += *len + (nl != NULL);
	if (*len > 0 && (*line)[*len - 1] == '\r')
		(*len)--;
	(*lineno)++;
	return 1;
}

/* Blank (white space only) or a '#' comment. */
static int
skip_line(const uint8_t *line, size_t len)
{
	size_t	i;

	if (len > 0 && line[0] == '#')
		return 1;
	for (i = 0; i < len; i++)
		if (!isspace(line[i]))
			return 0;
	return 1;
}

/* The checks every secret passes, wherever it is written. */
static int
check_secret(const uint8_t *s, size_t len, const char *what,
    const char *path, int lineno, char *err, size_t errlen)
{
	if (len < SECRET_MIN_BYTES) {
		snprintf(err, errlen, "%s %s: line %d: secret is %zu bytes, "
		    "at least %d are required", what, path, lineno, len,
		    SECRET_MIN_BYTES);
		return -1;
	}
	/* A stray space would silently make another secret than meant. */
	if (isspace(s[0]) || isspace(s[len - 1])) {
		snprintf(err, errlen, "%s %s: line %d: secret starts or ends "
		    "with white space", what, path, lineno);
		return -1;
	}
	if (memchr(s, '\0', len) != NULL) {
		snprintf(err, errlen, "%s %s: line %d: secret holds a NUL "
		    "byte", what, path, lineno);
		return -1;
	}
	return 0;
}

/* Cuts a secret file into parts[] (pointing into f); returns the count. */
static int
parse_secret_file(const struct file_buf *f, const char *path,
    struct secret parts[SECRETS_MAX], char *err, size_t errlen)
{
	const uint8_t	*line;
	size_t		 pos = 0, len, n = 0;
	int		 lineno = 0;

	while (next_line(f, &pos, &lineno, &line, &len)) {
		if (skip_line(line, len))
			continue;
		if (check_secret(line, len, "secret file", path, lineno, err,
		    errlen) == -1)
			return -1;
		if (n == SECRETS_MAX) {
			snprintf(err, errlen, "secret file %s: line %d: more "
			    "than %d secrets", path, lineno, SECRETS_MAX);
			return -1;
		}
		parts[n].bytes = (uint8_t *)(uintptr_t)line;
		parts[n++].len = len;
	}
	if (n == 0) {
		snprintf(err, errlen, "secret file %s: holds no secret (one "
		    "a line, at least %d bytes)", path, SECRET_MIN_BYTES);
		return -1;
	}
	return (int)n;
}

/*
 * Reads and splits a secret file; on success f holds the bytes parts
 * point into (the caller frees it), on failure nothing is left to free.
 */
static int
read_secret_file(struct file_buf *f, const char *path,
    struct secret parts[SECRETS_MAX], char *err, size_t errlen)
{
	int	n;

	if (read_file(f, "secret file", path, SECRET_MAX_BYTES, err,
	    errlen) == -1)
		return -1;
	if ((n = parse_secret_file(f, path, parts, err, errlen)) == -1) {
		OPENSSL_cleanse(parts, SECRETS_MAX * sizeof(parts[0]));
		file_buf_free(f);
	}
	return n;
}

int
secrets_load(struct secrets *s, const char *path, char *err, size_t errlen)
{
	struct secret	 parts[SECRETS_MAX];
	struct file_buf	 f;
	int		 n, rc = -1;

	memset(s, 0, sizeof(*s));
	if ((n = read_secret_file(&f, path, parts, err, errlen)) == -1)
		return -1;
	if (secrets_build(s, parts, (size_t)n) == -1) {
		snprintf(err, errlen, "secret file %s: %s", path,
		    strerror(errno));
		goto done;
	}
	rc = 0;
done:
	OPENSSL_cleanse(parts, sizeof(parts));
	file_buf_free(&f);
	return rc;
}

int
secret_load(struct secret *s, const char *path, char *err, size_t errlen)
{
	struct secret	 parts[SECRETS_MAX];
	struct file_buf	 f;
	int		 n, rc = -1;

	memset(s, 0, sizeof(*s));
	if ((n = read_secret_file(&f, path, parts, err, errlen)) == -1)
		return -1;
	if (n > 1) {
		/* Rotating it would change every uid: there is no "old". */
		snprintf(err, errlen, "secret file %s: holds %d secrets; this "
		    "one takes exactly one (it cannot be rotated)", path, n);
		goto done;
	}
	if ((s->bytes = secret_alloc(parts[0].len)) == NULL) {
		snprintf(err, errlen, "secret file %s: %s", path,
		    strerror(errno));
		goto done;
	}
	memcpy(s->bytes, parts[0].bytes, parts[0].len);
	s->len = parts[0].len;
	rc = 0;
done:
	OPENSSL_cleanse(parts, sizeof(parts));
	file_buf_free(&f);
	return rc;
}

int
password_load(struct secret *s, const char *path, char *err, size_t errlen)
{
	struct file_buf	 f;
	const uint8_t	*line, *pw = NULL;
	size_t		 pos = 0, len, pwlen = 0;
	int		 lineno = 0, rc = -1;

	memset(s, 0, sizeof(*s));
	if (read_file(&f, "password file", path, SECRET_MAX_BYTES, err,
	    errlen) == -1)
		return -1;
	while (next_line(&f, &pos, &lineno, &line, &len)) {
		if (skip_line(line, len))
			continue;
		if (pw != NULL) {
			snprintf(err, errlen, "password file %s: line %d: a "
			    "second password (the file holds one line)", path,
			    lineno);
			goto done;
		}
		if (len > PASSWORD_MAX_BYTES || isspace(line[0]) ||
		    isspace(line[len - 1]) || memchr(line, '\0', len)) {
			snprintf(err, errlen, "password file %s: line %d: a "
			    "password is 1 to %d bytes, with no NUL and no "
			    "white space at either end", path, lineno,
			    PASSWORD_MAX_BYTES);
			goto done;
		}
		pw = line;
		pwlen = len;
	}
	if (pw == NULL) {
		snprintf(err, errlen, "password file %s: holds no password",
		    path);
		goto done;
	}
	/* One byte more: libpq takes it as a C string. */
	if ((s->bytes = secret_alloc(pwlen + 1)) == NULL) {
		snprintf(err, errlen, "password file %s: %s", path,
		    strerror(errno));
		goto done;
	}
	memcpy(s->bytes, pw, pwlen);
	s->bytes[pwlen] = '\0';
	s->len = pwlen;
	rc = 0;
done:
	file_buf_free(&f);
	return rc;
}

/* ---- nodes files ------------------------------------------------------ */

void
nodes_free(struct node_secrets *v, size_t n)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].url);
		secrets_free(&v[i].secrets);
	}
	free(v);
}

/* One "URL,SECRET[,SECRET...]" line into *node. */
static int
parse_node_line(struct node_secrets *node, const uint8_t *line, size_t len,
    const char *path, int lineno, char *err, size_t errlen)
{
	struct secret	 parts[SECRETS_MAX];
	const uint8_t	*comma, *p = line, *end = line + len;
	size_t		 n = 0, ulen;
	int		 rc = -1;

	comma = memchr(p, ',', len);
	ulen = comma != NULL ? (size_t)(comma - p) : len;
	if (ulen == 0 || ulen > 1024 ||
	    !((ulen > 8 && memcmp(p, "https://", 8) == 0) ||
	    (ulen > 7 && memcmp(p, "http://", 7) == 0)) ||
	    memchr(p, ' ', ulen) != NULL || memchr(p, '\t', ulen) != NULL) {
		snprintf(err, errlen, "nodes file %s: line %d: expected "
		    "\"URL,SECRET[,SECRET...]\" with an http:// or https:// "
		    "URL", path, lineno);
		return -1;
	}
	if (comma == NULL) {
		snprintf(err, errlen, "nodes file %s: line %d: the node has "
		    "no secret", path, lineno);
		return -1;
	}
	if ((node->url = strndup((const char *)p, ulen)) == NULL) {
		snprintf(err, errlen, "nodes file %s: out of memory", path);
		return -1;
	}
	for (p = comma + 1; p <= end; p = comma + 1) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (comma == NULL)
			comma = end;
		if (check_secret(p, (size_t)(comma - p), "nodes file", path,
		    lineno, err, errlen) == -1)
			goto done;
		if (n == SECRETS_MAX) {
			snprintf(err, errlen, "nodes file %s: line %d: more "
			    "than %d secrets", path, lineno, SECRETS_MAX);
			goto done;
		}
		parts[n].bytes = (uint8_t *)(uintptr_t)p;
		parts[n++].len = (size_t)(comma - p);
	}
	if (secrets_build(&node->secrets, parts, n) == -1) {
		snprintf(err, errlen, "nodes file %s: %s", path,
		    strerror(errno));
		goto done;
	}
	rc = 0;
done:
	OPENSSL_cleanse(parts, sizeof(parts));
	return rc;
}

int
nodes_load(struct node_secrets **out, size_t *nout, const char *path,
    char *err, size_t errlen)
{
	struct node_secrets	*v = NULL;
	struct file_buf		 f;
	const uint8_t		*line;
	size_t			 pos = 0, len, n = 0, i;
	int			 lineno = 0, rc = -1;

	*out = NULL;
	*nout = 0;
	if (read_file(&f, "nodes file", path, NODES_FILE_MAX, err,
	    errlen) == -1)
		return -1;
	if ((v = calloc(NODES_MAX, sizeof(*v))) == NULL) {
		snprintf(err, errlen, "nodes file %s: out of memory", path);
		goto done;
	}
	while (next_line(&f, &pos, &lineno, &line, &len)) {
		if (skip_line(line, len))
			continue;
		if (n == NODES_MAX) {
			snprintf(err, errlen, "nodes file %s: line %d: more "
			    "than %d nodes", path, lineno, NODES_MAX);
			goto done;
		}
		if (parse_node_line(&v[n], line, len, path, lineno, err,
		    errlen) == -1) {
			n++;	/* so that its URL is freed */
			goto done;
		}
		for (i = 0; i < n; i++)
			if (strcmp(v[i].url, v[n].url) == 0) {
				snprintf(err, errlen, "nodes file %s: line %d: "
				    "node %s is listed twice", path, lineno,
				    v[n].url);
				n++;
				goto done;
			}
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "nodes file %s: lists no node", path);
		goto done;
	}
	*out = v;
	*nout = n;
	rc = 0;
done:
	if (rc == -1)
		nodes_free(v, n);
	file_buf_free(&f);
	return rc;
}

/* ---- rewriting a secret file (rotation) ------------------------------- */

/* The file a rewrite replaces: its text, and what the new one keeps. */
struct old_file {
	struct file_buf	 f;		/* its text; empty when missing */
	struct stat	 st;		/* owner, group, mode to keep */
	int		 missing;	/* to be created, as the caller's */
};

/*
 * Reads the file a rewrite replaces.  O_NOFOLLOW, since renaming over a
 * symbolic link would replace the link, not the file it names.  A missing
 * file reads as empty when may_create, as an error otherwise.
 */
static int
old_file_read(struct old_file *o, const char *path, int may_create,
    char *err, size_t errlen)
{
	int	 fd, rc;

	memset(o, 0, sizeof(*o));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	if (fd == -1 && errno == ENOENT && may_create) {
		o->missing = 1;
		return 0;
	}
	if (fd == -1 && errno == ELOOP) {
		snprintf(err, errlen, "secret file %s is a symbolic link; name "
		    "the file it points to", path);
		return -1;
	}
	if (fd == -1) {
		snprintf(err, errlen, "secret file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	rc = check_file(fd, &o->st, 0, "secret file", path, SECRET_MAX_BYTES,
	    err, errlen);
	if (rc == 0)
		rc = read_fd(&o->f, fd, "secret file", path, SECRET_MAX_BYTES,
		    err, errlen);
	close(fd);
	return rc;
}

/* The lines of f that hold a secret (unchecked: a count, for a limit). */
static size_t
count_secrets(const struct file_buf *f)
{
	const uint8_t	*line;
	size_t		 pos = 0, len, n = 0;
	int		 lineno = 0;

	while (next_line(f, &pos, &lineno, &line, &len))
		n += !skip_line(line, len);
	return n;
}

static int
write_all(int fd, const void *p, size_t len)
{
	const uint8_t	*b = p;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, b, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Fills the new file: the parts, then the old file's owner and group
 * (before the mode: chown clears set-id bits), then its mode, then fsync,
 * so that the file is whole and its own before its name is.
 */
static int
write_new(int fd, const char *path, const struct old_file *o,
    const struct iovec *parts, int nparts, char *err, size_t errlen)
{
	int	 i;

	for (i = 0; i < nparts; i++)
		if (write_all(fd, parts[i].iov_base, parts[i].iov_len) == -1)
			goto fail;
	if (!o->missing && fchown(fd, o->st.st_uid, o->st.st_gid) == -1) {
		snprintf(err, errlen, "secret file %s: cannot keep its owner "
		    "and group (uid %u, gid %u): %s; run this as root or as "
		    "its owner", path, (unsigned)o->st.st_uid,
		    (unsigned)o->st.st_gid, strerror(errno));
		return -1;
	}
	if (!o->missing && fchmod(fd, o->st.st_mode & 07777) == -1)
		goto fail;
	if (fsync(fd) == -1)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "secret file %s: cannot write its new text: %s",
	    path, strerror(errno));
	return -1;
}

/* Syncs the directory holding path, so that a rename survives a crash. */
static int
sync_dir(const char *path)
{
	char	 d[PATH_MAX];
	int	 fd, rc;

	if (snprintf(d, sizeof(d), "%s", path) >= (int)sizeof(d))
		return -1;
	if ((fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/*
 * Writes the parts to a new file beside path (mkostemp: O_EXCL, mode 0600
 * until write_new gives it the old mode) and renames it over path.  The
 * new file is removed on every failure before the rename.
 */
static int
replace_file(const char *path, const struct old_file *o,
    const struct iovec *parts, int nparts, char *err, size_t errlen)
{
	char	 tmp[PATH_MAX];
	int	 fd;

	if (snprintf(tmp, sizeof(tmp), "%s.new.XXXXXX", path) >=
	    (int)sizeof(tmp)) {
		snprintf(err, errlen, "secret file %s: path too long", path);
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "secret file %s: cannot create a file "
		    "beside it: %s", path, strerror(errno));
		return -1;
	}
	if (write_new(fd, path, o, parts, nparts, err, errlen) == -1) {
		close(fd);
		goto fail;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		snprintf(err, errlen, "secret file %s: cannot put the new file "
		    "in its place: %s", path, strerror(errno));
		goto fail;
	}
	if (sync_dir(path) == -1) {
		snprintf(err, errlen, "secret file %s: replaced, but its "
		    "directory could not be synced: %s", path, strerror(errno));
		return -1;
	}
	return 0;
fail:
	unlink(tmp);
	return -1;
}

int
secret_file_prepend(const char *path, const void *secret, size_t len,
    int *created, char *err, size_t errlen)
{
	struct old_file	 o;
	struct iovec	 parts[3];
	int		 rc = -1;

	*created = 0;
	if (check_secret(secret, len, "new secret for", path, 1, err,
	    errlen) == -1)
		return -1;
	if (memchr(secret, '\n', len) != NULL) {
		snprintf(err, errlen, "new secret for %s: holds a line end",
		    path);
		return -1;
	}
	if (old_file_read(&o, path, 1, err, errlen) == -1)
		return -1;
	if (count_secrets(&o.f) >= SECRETS_MAX) {
		snprintf(err, errlen, "secret file %s: already holds %d "
		    "secrets, the most a file may; drop the oldest first", path,
		    SECRETS_MAX);
		goto done;
	}
	if (o.f.len + len + 1 > SECRET_MAX_BYTES) {
		snprintf(err, errlen, "secret file %s: would grow past %d "
		    "bytes; drop the oldest secret first", path,
		    SECRET_MAX_BYTES);
		goto done;
	}
	parts[0] = (struct iovec){ (void *)(uintptr_t)secret, len };
	parts[1] = (struct iovec){ (void *)(uintptr_t)"\n", 1 };
	parts[2] = (struct iovec){ o.f.buf, o.f.len };
	if (replace_file(path, &o, parts, 3, err, errlen) == -1)
		goto done;
	*created = o.missing;
	rc = 0;
done:
	file_buf_free(&o.f);
	return rc;
}

int
secret_file_drop_oldest(const char *path, char *err, size_t errlen)
{
	struct secret	 parts[SECRETS_MAX];
	struct old_file	 o;
	struct iovec	 keep[2];
	const uint8_t	*line, *end, *eof;
	int		 n, rc = -1;

	if (old_file_read(&o, path, 0, err, errlen) == -1)
		return -1;
	if ((n = parse_secret_file(&o.f, path, parts, err, errlen)) == -1)
		goto done;
	if (n == 1) {
		snprintf(err, errlen, "secret file %s: refusing to drop its "
		    "only secret (tokend would have none to mint with); "
		    "prepend a new one first", path);
		goto done;
	}
	/* The oldest secret's whole line, its "\n" or "\r\n" included. */
	line = parts[n - 1].bytes;
	end = line + parts[n - 1].len;
	eof = o.f.buf + o.f.len;
	if (end < eof && *end == '\r')
		end++;
	if (end < eof && *end == '\n')
		end++;
	keep[0] = (struct iovec){ o.f.buf, (size_t)(line - o.f.buf) };
	keep[1] = (struct iovec){ (void *)(uintptr_t)end, (size_t)(eof - end) };
	rc = replace_file(path, &o, keep, 2, err, errlen);
done:
	OPENSSL_cleanse(parts, sizeof(parts));
	file_buf_free(&o.f);
	return rc;
}
