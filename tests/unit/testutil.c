/*
 * testutil.c - the helpers the cmocka suites share (testutil.h): written
 * once here, linked into every unit test binary, because the copies that
 * lived in each test file had begun to differ in what they checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

size_t
tu_unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t	 i, n = strlen(hex) / 2;
	unsigned v;

	assert_int_equal(strlen(hex) % 2, 0);
	assert_true(n <= cap);
	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

char *
tu_tmpdir(char *dir, size_t size, const char *name)
{
	if ((size_t)snprintf(dir, size, "/tmp/tokend-test-%s-XXXXXX",
	    name) >= size)
		return NULL;
	return mkdtemp(dir);
}

/* nftw() callback: children come before their directory (FTW_DEPTH). */
static int
remove_one(const char *path, const struct stat *st, int type,
    struct FTW *ftw)
{
	return remove(path);
}

int
tu_rmtree(const char *dir)
{
	return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* The next buffer of the ring the path-returning helpers share. */
static char *
next_path(void)
{
	static char	 ring[TU_PATHS][PATH_MAX];
	static unsigned	 next;

	return ring[next++ % TU_PATHS];
}

const char *
tu_path(const char *dir, const char *name)
{
	char	*p = next_path();

	assert_true((size_t)snprintf(p, PATH_MAX, "%s/%s", dir, name) <
	    PATH_MAX);
	return p;
}

const char *
tu_write_file(const char *dir, const char *name, const char *content,
    mode_t mode)
{
	const char	*path = tu_path(dir, name);
	size_t		 len = strlen(content);
	int		 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
	return path;
}

char *
tu_read_file(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "r");
	char	*buf;
	long	 n;

	if (f == NULL)
		fail_msg("%s: cannot open", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((n = ftell(f)) >= 0);
	rewind(f);
	assert_non_null(buf = malloc((size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

/*
 * The vectors sit beside this file, and __FILE__ is the path the Makefile
 * compiled it by (tests/unit/testutil.c from the repository root, where
 * the suites run).
 */
const char *
tu_vector(const char *fmt, ...)
{
	const char	*env = getenv("TOKEND_VECTORS");
	const char	*slash = strrchr(__FILE__, '/');
	char		*p = next_path();
	int		 dir, rel;
	va_list		 ap;

	if (env != NULL)
		dir = snprintf(p, PATH_MAX, "%s/", env);
	else
		dir = snprintf(p, PATH_MAX, "%.*s/vectors/",
		    slash ? (int)(slash - __FILE__) : 1,
		    slash ? __FILE__ : ".");
	assert_true(dir > 0 && dir < PATH_MAX);
	va_start(ap, fmt);
	rel = vsnprintf(p + dir, PATH_MAX - (size_t)dir, fmt, ap);
	va_end(ap);
	assert_true(rel >= 0 && rel < PATH_MAX - dir);
	return p;
}
