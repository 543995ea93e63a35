/*
 * testutil.h - what the cmocka suites share instead of copying it: hex
 * decoding, temporary directories and the files in them, reading a file
 * whole, and the paths of the fixed test vectors (tests/unit/vectors).
 *
 * A helper asserts (cmocka) on whatever the calling test cannot go on
 * without, so a test reads as its checks; the two a setup function calls,
 * tu_tmpdir() and tu_rmtree(), return failure instead, as setup functions
 * must.  Paths come back in a small ring of static buffers: each stays
 * valid for the next TU_PATHS - 1 calls of tu_path(), tu_write_file() and
 * tu_vector() together, enough for one expression that names several.
 */
#ifndef TOKEND_TEST_TESTUTIL_H
#define TOKEND_TEST_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TU_PATHS	8

/*
 * Decodes hex (an even number of hex digits, at most 2 * cap) into out;
 * returns the number of bytes written.
 */
size_t		 tu_unhex(uint8_t *out, size_t cap, const char *hex);

/*
 * Makes a fresh directory /tmp/tokend-test-NAME-XXXXXX, its path in dir
 * (size bytes); returns dir, or NULL as mkdtemp() does.
 */
char		*tu_tmpdir(char *dir, size_t size, const char *name);

/* Removes dir and everything below it; 0, or -1 if anything stayed. */
int		 tu_rmtree(const char *dir);

/* DIR/NAME, in the ring of buffers. */
const char	*tu_path(const char *dir, const char *name);

/*
 * Writes content to DIR/NAME (created or truncated) and sets its mode to
 * exactly mode (fchmod: the umask neither loosens nor tightens it);
 * returns the path, in the ring of buffers.
 */
const char	*tu_write_file(const char *dir, const char *name,
		    const char *content, mode_t mode);

/*
 * The whole of a file, NUL-terminated, in memory the caller frees; its
 * length (without the NUL) in *len unless len is NULL.
 */
char		*tu_read_file(const char *path, size_t *len);

/*
 * The path of a test vector, printf-style relative to tests/unit/vectors
 * ("browserid/%s", name), or to $TOKEND_VECTORS when that is set; in the
 * ring of buffers.
 */
const char	*tu_vector(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

#endif
