/*
 * test_testutil.c - the helpers the unit tests share (testutil.c).
 *
 * Every suite trusts them to set the stage, so a helper that quietly did
 * less (a file left with the umask's mode, a directory tree left behind,
 * a vector path that ignores TOKEND_VECTORS) would weaken every test that
 * uses it without failing any.  These tests pin down what each promises.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static void
test_unhex(void **state)
{
	static const uint8_t	 want[] = { 0x00, 0xff, 0x10, 0xab };
	uint8_t			 out[8];

	assert_int_equal(tu_unhex(out, sizeof(out), "00ff10AB"), 4);
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(tu_unhex(out, sizeof(out), ""), 0);
	assert_int_equal(tu_unhex(out, 4, "00ff10ab"), 4);
}

/* A tree two levels deep, with a FIFO in it: all gone, the root too. */
static void
test_rmtree_removes_everything(void **state)
{
	char		 dir[64], sub[PATH_MAX];
	struct stat	 st;

	assert_non_null(tu_tmpdir(dir, sizeof(dir), "testutil"));
	assert_int_equal(strncmp(dir, "/tmp/tokend-test-testutil-", 26), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	tu_write_file(dir, "a", "a\n", 0600);
	snprintf(sub, sizeof(sub), "%s", tu_path(dir, "sub"));
	assert_int_equal(mkdir(sub, 0700), 0);
	tu_write_file(sub, "b", "b\n", 0400);
	assert_int_equal(mkfifo(tu_path(sub, "fifo"), 0600), 0);
	assert_int_equal(mkdir(tu_path(sub, "deeper"), 0700), 0);
	assert_int_equal(tu_rmtree(dir), 0);
	assert_int_equal(stat(dir, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(tu_rmtree(dir), -1);
}

/* The mode is the one asked for, whatever the umask; the bytes too. */
static void
test_write_file_mode_and_content(void **state)
{
	static const mode_t	 umasks[] = { 0, 022, 077 };
	char			 dir[64], *text;
	const char		*path;
	struct stat		 st;
	size_t			 i, len;
	mode_t			 old;

	assert_non_null(tu_tmpdir(dir, sizeof(dir), "testutil"));
	for (i = 0; i < sizeof(umasks) / sizeof(umasks[0]); i++) {
		old = umask(umasks[i]);
		path = tu_write_file(dir, "f", "line one\nline two", 0644);
		umask(old);
		assert_string_equal(path, tu_path(dir, "f"));
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0644);
		text = tu_read_file(path, &len);
		assert_int_equal(len, 17);
		assert_string_equal(text, "line one\nline two");
		free(text);
	}
	/* Rewriting truncates, and tightens the mode. */
	path = tu_write_file(dir, "f", "x", 0600);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	text = tu_read_file(path, NULL);
	assert_string_equal(text, "x");
	free(text);
	assert_int_equal(tu_rmtree(dir), 0);
}

/* Each path of the ring survives the next TU_PATHS - 1 calls. */
static void
test_path_ring(void **state)
{
	const char	*p[TU_PATHS];
	char		 want[16];
	int		 i;

	for (i = 0; i < TU_PATHS; i++) {
		snprintf(want, sizeof(want), "n%d", i);
		p[i] = tu_path("/d", want);
	}
	for (i = 0; i < TU_PATHS; i++) {
		snprintf(want, sizeof(want), "/d/n%d", i);
		assert_string_equal(p[i], want);
	}
}

static void
test_vector_paths(void **state)
{
	const char	*p;
	char		*env = getenv("TOKEND_VECTORS");
	char		 saved[PATH_MAX];
	size_t		 len;

	if (env != NULL)
		snprintf(saved, sizeof(saved), "%s", env);
	assert_int_equal(unsetenv("TOKEND_VECTORS"), 0);
	p = tu_vector("jwks.json");
	len = strlen(p);
	assert_true(len >= strlen("tests/unit/vectors/jwks.json"));
	assert_string_equal(p + len - strlen("tests/unit/vectors/jwks.json"),
	    "tests/unit/vectors/jwks.json");
	assert_int_equal(access(p, R_OK), 0);
	assert_int_equal(access(tu_vector("browserid/%s", "idp.pub.json"),
	    R_OK), 0);
	assert_int_equal(setenv("TOKEND_VECTORS", "/elsewhere", 1), 0);
	assert_string_equal(tu_vector("browserid/%s", "k.json"),
	    "/elsewhere/browserid/k.json");
	if (env != NULL)
		assert_int_equal(setenv("TOKEND_VECTORS", saved, 1), 0);
	else
		assert_int_equal(unsetenv("TOKEND_VECTORS"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unhex),
		cmocka_unit_test(test_rmtree_removes_everything),
		cmocka_unit_test(test_write_file_mode_and_content),
		cmocka_unit_test(test_path_ring),
		cmocka_unit_test(test_vector_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
