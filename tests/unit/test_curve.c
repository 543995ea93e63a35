/*
 * test_curve.c - the authorized_keys list (src/pool/curve.c): what a line
 * may be, where an error is reported, the file's rules, and the datagram
 * that carries a reloaded list to the front.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "pool/curve.h"
#include "testutil.h"

/* Fresh keys; k3 has '#' inside, which Z85 allows (never first). */
static char	k1[41], k2[41], k3[41];
static char	dir[64];
static char	err[512];

static int
setup(void **state)
{
	char	sec[41];

	if (zmq_curve_keypair(k1, sec) == -1 ||
	    zmq_curve_keypair(k2, sec) == -1)
		return -1;
	do {
		if (zmq_curve_keypair(k3, sec) == -1)
			return -1;
	} while (strchr(k3, '#') == NULL);
	return tu_tmpdir(dir, sizeof(dir), "curve") == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	return tu_rmtree(dir);
}

static int
parse(struct authkeys *ks, const char *text)
{
	err[0] = '\0';
	return authkeys_parse(ks, text, strlen(text), "ak", err, sizeof(err));
}

/* Refused, with err "ak:LINE: ...phrase...". */
static void
refused(const char *text, int line, const char *phrase)
{
	struct authkeys	ks = { NULL, 0 };
	char		want[32];

	assert_int_equal(parse(&ks, text), -1);
	snprintf(want, sizeof(want), "ak:%d: ", line);
	if (strncmp(err, want, strlen(want)) != 0 ||
	    strstr(err, phrase) == NULL)
		fail_msg("want \"%s...%s\", got \"%s\"", want, phrase, err);
	assert_null(ks.v);
}

static void
test_keys_and_comments(void **state)
{
	struct authkeys		 ks = { NULL, 0 };
	const struct authkey	*k;
	char			 text[512];
	uint8_t			 raw[32];

	snprintf(text, sizeof(text), "# tokend worker hosts\n\n"
	    "%s worker-1.example.com\n"
	    "   \t\n"
	    "%s\tworker 2 (rack b)  \r\n"
	    "# %s commented out\n"
	    "%s hash-key", k1, k2, k1, k3);
	assert_int_equal(parse(&ks, text), 0);
	assert_int_equal(ks.n, 3);
	assert_string_equal(ks.v[0].z85, k1);
	assert_string_equal(ks.v[0].name, "worker-1.example.com");
	assert_string_equal(ks.v[1].name, "worker 2 (rack b)");
	assert_string_equal(ks.v[2].z85, k3);
	assert_string_equal(ks.v[2].name, "hash-key");
	assert_non_null(zmq_z85_decode(raw, k2));
	assert_non_null(k = authkeys_find(&ks, raw));
	assert_string_equal(k->z85, k2);
	assert_ptr_equal(authkeys_find_z85(&ks, k3), &ks.v[2]);
	assert_null(authkeys_find_z85(&ks, "nope"));
	authkeys_free(&ks);
	/* Empty, and comments only: no key, and that is no error. */
	assert_int_equal(parse(&ks, ""), 0);
	assert_int_equal(ks.n, 0);
	assert_int_equal(parse(&ks, "# none yet\n"), 0);
	assert_int_equal(ks.n, 0);
	authkeys_free(&ks);
}

static void
test_bad_lines(void **state)
{
	char	text[512], key[41];

	snprintf(text, sizeof(text), "# ok\n%s a\nnot-a-key host\n", k1);
	refused(text, 3, "not a CURVE public key");
	snprintf(text, sizeof(text), "%s\n", k1);
	refused(text, 1, "a key without a comment naming its host");
	snprintf(text, sizeof(text), "%s   \n", k1);
	refused(text, 1, "a key without a comment");
	snprintf(text, sizeof(text), "%s a\n%s b\n", k1, k1);
	refused(text, 2, "this key is listed twice");
	/* 39 and 41 characters, and a character outside Z85. */
	snprintf(text, sizeof(text), "%.39s a\n", k1);
	refused(text, 1, "not a CURVE public key");
	snprintf(text, sizeof(text), "%sx a\n", k1);
	refused(text, 1, "not a CURVE public key");
	memcpy(key, k1, sizeof(key));
	key[5] = '"';
	snprintf(text, sizeof(text), "%s a\n", key);
	refused(text, 1, "not a CURVE public key");
	snprintf(text, sizeof(text), "%s %s\n", k1,
	    "a-comment-that-is-much-longer-than-sixty-three-bytes-"
	    "of-host-name");
	refused(text, 1, "over 63 bytes");
	snprintf(text, sizeof(text), "\n%s caf\xc3\xa9\n", k1);
	refused(text, 2, "not printable ASCII");
}

static void
test_nul_and_long_lines(void **state)
{
	struct authkeys	 ks = { NULL, 0 };
	char		 text[600];

	memset(text, 'a', sizeof(text));
	text[sizeof(text) - 1] = '\0';
	refused(text, 1, "line over 256 bytes");
	snprintf(text, sizeof(text), "%s a", k1);
	text[strlen(text) - 1] = '\0';	/* now "KEY " + NUL + ... */
	memcpy(text + 41, "\0b\n", 3);
	assert_int_equal(authkeys_parse(&ks, text, 44, "ak", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "ak:1: a NUL byte"));
}

/* A failed parse leaves the list it was given as it was. */
static void
test_failure_keeps_the_old_list(void **state)
{
	struct authkeys	ks = { NULL, 0 };
	char		text[256];

	snprintf(text, sizeof(text), "%s one\n", k1);
	assert_int_equal(parse(&ks, text), 0);
	assert_int_equal(parse(&ks, "bad line\n"), -1);
	assert_int_equal(ks.n, 1);
	assert_string_equal(ks.v[0].name, "one");
	authkeys_free(&ks);
}

static void
test_load_file_rules(void **state)
{
	struct authkeys	 ks = { NULL, 0 };
	const char	*p;
	char		 text[256];

	snprintf(text, sizeof(text), "%s one\n%s two\n", k1, k2);
	p = tu_write_file(dir, "ak", text, 0644);
	assert_int_equal(authkeys_load(&ks, p, err, sizeof(err)), 0);
	assert_int_equal(ks.n, 2);
	/* Whoever may write it may join the pool. */
	p = tu_write_file(dir, "ak", text, 0664);
	assert_int_equal(authkeys_load(&ks, p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "group or others may write it"));
	p = tu_write_file(dir, "ak", text, 0646);
	assert_int_equal(authkeys_load(&ks, p, err, sizeof(err)), -1);
	p = tu_write_file(dir, "ak", "x\n", 0600);
	assert_int_equal(authkeys_load(&ks, p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/ak:1: not a CURVE public key"));
	assert_int_equal(authkeys_load(&ks, tu_path(dir, "missing"), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(ks.n, 2);	/* the last good one */
	authkeys_free(&ks);
}

/* The reload's datagram: what is sent is what is read, and nothing else. */
static void
test_datagram(void **state)
{
	struct authkeys	 a = { NULL, 0 }, b = { NULL, 0 };
	char		 text[256];
	int		 sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	snprintf(text, sizeof(text), "%s one\n%s two\n", k1, k3);
	assert_int_equal(parse(&a, text), 0);
	assert_int_equal(authkeys_recv(sv[1], &b), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(authkeys_send(sv[0], &a), 0);
	assert_int_equal(authkeys_recv(sv[1], &b), 0);
	assert_int_equal(b.n, 2);
	assert_memory_equal(a.v, b.v, 2 * sizeof(*a.v));
	/* An empty list is a list. */
	authkeys_free(&a);
	assert_int_equal(authkeys_send(sv[0], &a), 0);
	assert_int_equal(authkeys_recv(sv[1], &b), 0);
	assert_int_equal(b.n, 0);
	/* A datagram that is no list is refused; b is kept. */
	assert_int_equal(parse(&b, text), 0);
	assert_int_equal(send(sv[0], "tkak-and-more", 13, 0), 13);
	assert_int_equal(authkeys_recv(sv[1], &b), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(b.n, 2);
	/* The sender gone: EPIPE, so the front stops reading. */
	close(sv[0]);
	assert_int_equal(authkeys_recv(sv[1], &b), -1);
	assert_int_equal(errno, EPIPE);
	close(sv[1]);
	authkeys_free(&b);
}

static void
test_key_decode(void **state)
{
	uint8_t	raw[CURVE_KEY_LEN];

	assert_int_equal(curve_key_decode(k1, 40, raw), 0);
	assert_int_equal(curve_key_decode(k1, 39, raw), -1);
	assert_int_equal(curve_key_decode("0000000000000000000000000000000000"
	    "00 000", 40, raw), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_and_comments),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_nul_and_long_lines),
		cmocka_unit_test(test_failure_keeps_the_old_list),
		cmocka_unit_test(test_load_file_rules),
		cmocka_unit_test(test_datagram),
		cmocka_unit_test(test_key_decode),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
