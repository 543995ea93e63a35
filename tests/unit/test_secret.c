/*
 * test_secret.c - secret files, nodes files and the memory secrets live in
 * (src/tokens/secret.c), and the per-node services a nodes_file makes
 * (config.c: nodes_file, config_node_for).
 *
 * The node assignments below were computed with /usr/bin/python3 from the
 * rule in docs/tokens.md, not from config.c:
 *
 *   M = 2**64 - 1
 *   def splitmix64(x):
 *       x = (x + 0x9e3779b97f4a7c15) & M
 *       x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M
 *       x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & M
 *       return x ^ (x >> 31)
 *   def seed(url):
 *       return int.from_bytes(sha256(url.encode()).digest()[:8], "big")
 *   node = max(nodes, key=lambda n: splitmix64(seed(n) ^ uid))   # first wins
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "tokens/secret.h"
#include "tokens/service.h"
#include "tokens/token.h"
#include "testutil.h"

#define S1	"1111111111111111111111111111111111111111111111111111111111111111"
#define S2	"2222222222222222222222222222222222222222222222222222222222222222"
#define S3	"3333333333333333333333333333333333333333333333333333333333333333"
#define N1	"https://sync-1.example.com"
#define N2	"https://sync-2.example.com"
#define N3	"https://sync-3.example.com"

static char	dir[64];
static char	err[1024];

static int
setup(void **state)
{
	return tu_tmpdir(dir, sizeof(dir), "secret") == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	return tu_rmtree(dir);
}

/* The VmFlags of the mapping holding p, from /proc/self/smaps. */
static int
mapping_has_flag(const void *p, const char *flag)
{
	FILE		*f;
	char		 line[512];
	unsigned long	 lo, hi, a = (unsigned long)(uintptr_t)p;
	int		 in = 0, found = 0;

	assert_non_null(f = fopen("/proc/self/smaps", "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = a >= lo && a < hi;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			found = strstr(line, flag) != NULL;
			break;
		}
	}
	fclose(f);
	return found;
}

static void
test_secrets_file(void **state)
{
	struct secrets	 s;
	struct secret	 one;
	const char	*p;

	p = tu_write_file(dir, "a.secret", "# comment\n\n" S1 "\r\n  \n" S2,
	    0600);
	assert_int_equal(secrets_load(&s, p, err, sizeof(err)), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.v[0].len, 64);
	assert_memory_equal(s.v[0].bytes, S1, 64);
	assert_memory_equal(s.v[1].bytes, S2, 64);
	/* Bytes and derived keys in one mapping kept out of core dumps. */
	assert_true(mapping_has_flag(s.v[0].bytes, " dd"));
	assert_true(mapping_has_flag(s.keys, " dd"));
	assert_memory_not_equal(s.keys[0].tokenlib_sig, s.keys[1].tokenlib_sig,
	    SHA256_LEN);
	secrets_free(&s);
	assert_null(s.v);
	assert_int_equal(s.n, 0);
	secrets_free(&s);			/* twice is harmless */
	/* The uid secret: one, and only one. */
	assert_int_equal(secret_load(&one, p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "holds 2 secrets"));
	p = tu_write_file(dir, "b.secret", S3 "\n", 0400);
	assert_int_equal(secret_load(&one, p, err, sizeof(err)), 0);
	assert_int_equal(one.len, 64);
	assert_true(mapping_has_flag(one.bytes, " dd"));
	secret_free(&one);
}

static void
test_secrets_file_errors(void **state)
{
	static char	 many[17 * 66 + 1];
	struct secrets	 s;
	const char	*p;
	int		 i;

	p = tu_write_file(dir, "c.secret", S1 "\n", 0640);
	assert_int_equal(secrets_load(&s, p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "(mode 0640); chmod 600 it"));
	p = tu_write_file(dir, "c.secret", S1 "\n" S2 "\t\n", 0600);
	assert_int_equal(secrets_load(&s, p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 2: secret starts or ends with white "
	    "space"));
	assert_null(strstr(err, S2));
	p = tu_write_file(dir, "c.secret", "#only\n", 0600);
	assert_int_equal(secrets_load(&s, p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "holds no secret"));
	for (i = 0; i < 17; i++)
		snprintf(many + 65 * i, sizeof(many) - 65 * (size_t)i,
		    "%064d\n", i);
	p = tu_write_file(dir, "c.secret", many, 0600);
	assert_int_equal(secrets_load(&s, p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 17: more than 16 secrets"));
	assert_null(s.v);
}

static void
test_append(void **state)
{
	struct secrets	s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(secrets_append(&s, S1, 64), 0);
	assert_int_equal(secrets_append(&s, S2, 64), 0);
	assert_int_equal(s.n, 2);
	assert_memory_equal(s.v[0].bytes, S1, 64);
	assert_memory_equal(s.v[1].bytes, S2, 64);
	assert_int_equal(secrets_append(&s, S3, 0), -1);
	assert_int_equal(s.n, 2);
	secrets_free(&s);
}

static void
test_nodes_file(void **state)
{
	struct node_secrets	*v;
	size_t			 n;
	const char		*p;

	p = tu_write_file(dir, "nodes", "# url,newest,older\n"
	    N1 "," S1 "," S2 "\n\n" N2 "," S3 "\r\n", 0600);
	assert_int_equal(nodes_load(&v, &n, p, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].url, N1);
	assert_int_equal(v[0].secrets.n, 2);
	assert_memory_equal(v[0].secrets.v[0].bytes, S1, 64);
	assert_memory_equal(v[0].secrets.v[1].bytes, S2, 64);
	assert_string_equal(v[1].url, N2);
	assert_int_equal(v[1].secrets.n, 1);
	assert_memory_equal(v[1].secrets.v[0].bytes, S3, 64);
	nodes_free(v, n);
}

static void
test_nodes_file_errors(void **state)
{
	static const struct {
		const char	*text;
		const char	*phrase;
	} bad[] = {
		{ "", "lists no node" },
		{ N1 "\n", "line 1: the node has no secret" },
		{ "sync-1.example.com," S1 "\n", "line 1: expected" },
		{ N1 "," S1 ",\n", "line 1: secret is 0 bytes" },
		{ N1 ",short\n", "line 1: secret is 5 bytes" },
		{ N1 "," S1 "\n" N1 "," S2 "\n", "line 2: node " N1 " is "
		    "listed twice" },
		{ N1 ", " S1 "\n", "line 1: secret starts or ends with white" },
	};
	struct node_secrets	*v;
	size_t			 n, i;
	const char		*p;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = tu_write_file(dir, "nodes", bad[i].text, 0600);
		if (nodes_load(&v, &n, p, err, sizeof(err)) != -1)
			fail_msg("nodes file %zu accepted", i);
		if (strstr(err, bad[i].phrase) == NULL)
			fail_msg("nodes file %zu: \"%s\" lacks \"%s\"", i, err,
			    bad[i].phrase);
		assert_null(strstr(err, S1));
		assert_null(v);
	}
	p = tu_write_file(dir, "nodes", N1 "," S1 "\n", 0644);
	assert_int_equal(nodes_load(&v, &n, p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nodes file"));
	assert_non_null(strstr(err, "chmod 600"));
}

/* A config with one [service] section body; NULL and err if refused. */
static struct config *
load(const char *service)
{
	char	jwks[PATH_MAX], text[2 * PATH_MAX];

	assert_non_null(realpath(tu_vector("jwks.json"), jwks));
	tu_write_file(dir, "uid.secret", S3 "\n", 0600);
	snprintf(text, sizeof(text), "[server]\nuid_secret_file = uid.secret\n"
	    "[issuer i]\niss = https://idp\njwks_file = %s\n"
	    "audience = tokend\n[service s]\n%s", jwks, service);
	return config_load(tu_write_file(dir, "tokend.conf", text, 0644), err,
	    sizeof(err));
}

static void
test_config_nodes(void **state)
{
	static const size_t	 want[12] = { 0, 1, 2, 0, 1, 0, 2, 1, 2, 1, 2, 1 };
	struct config		*c, *c2;
	const struct service	*sv, *e;
	size_t			 count[3] = { 0, 0, 0 }, i, moved = 0;
	uint64_t		 uid;

	tu_write_file(dir, "nodes",
	    N1 "," S1 "," S2 "\n" N2 "," S2 "\n" N3 "," S3 "\n", 0600);
	assert_non_null(c = load("format = fernet\nnodes_file = nodes\n"
	    "duration = 60\n"));
	sv = config_service(c, "s");
	assert_int_equal(sv->nnodes, 3);
	assert_null(sv->node);
	for (i = 0; i < 3; i++) {
		e = &sv->nodes[i];
		assert_string_equal(e->name, "s");
		assert_int_equal(e->format, TOKEN_FORMAT_FERNET);
		assert_int_equal(e->duration, 60);
		assert_int_equal(e->nnodes, 0);
	}
	assert_int_equal(sv->nodes[0].secrets.n, 2);
	/* The documented rule, computed in Python. */
	for (uid = 0; uid < 12; uid++)
		assert_ptr_equal(config_node_for(sv, uid), &sv->nodes[want[uid]]);
	assert_ptr_equal(config_node_for(sv, 42), &sv->nodes[0]);
	assert_ptr_equal(config_node_for(sv, 8426650732509341ULL),
	    &sv->nodes[2]);
	/* Roughly even. */
	for (uid = 0; uid < 3000; uid++)
		count[config_node_for(sv, uid) - sv->nodes]++;
	for (i = 0; i < 3; i++)
		assert_true(count[i] > 850 && count[i] < 1150);
	/* The file's order does not matter; dropping a node moves only its
	 * users. */
	tu_write_file(dir, "nodes", N3 "," S3 "\n" N1 "," S1 "\n", 0600);
	assert_non_null(c2 = load("nodes_file = nodes\n"));
	for (uid = 0; uid < 3000; uid++) {
		e = config_node_for(sv, uid);
		if (strcmp(e->node, N2) == 0) {
			moved++;
			continue;
		}
		assert_string_equal(config_node_for(config_service(c2, "s"),
		    uid)->node, e->node);
	}
	assert_int_equal(moved, count[1]);
	config_free(c2);
	config_free(c);
	/* A one-node service is its own node. */
	tu_write_file(dir, "a.secret", S1 "\n", 0600);
	assert_non_null(c = load("secret_file = a.secret\nnode = " N1 "\n"));
	sv = config_service(c, "s");
	assert_ptr_equal(config_node_for(sv, 7), sv);
	assert_int_equal(sv->format, TOKEN_FORMAT_TOKENLIB);
	config_free(c);
}

static void
test_config_service_errors(void **state)
{
	tu_write_file(dir, "a.secret", S1 "\n", 0600);
	tu_write_file(dir, "nodes", N1 "," S1 "\n", 0600);
	assert_null(load("nodes_file = nodes\nnode = " N1 "\n"));
	assert_non_null(strstr(err, "nodes_file replaces node and "
	    "secret_file"));
	assert_null(load("nodes_file = nodes\nsecret_file = a.secret\n"));
	assert_non_null(strstr(err, "nodes_file replaces"));
	assert_null(load("node = " N1 "\n"));
	assert_non_null(strstr(err, "missing required key \"secret_file\" "
	    "(or nodes_file)"));
	assert_null(load("secret_file = a.secret\n"));
	assert_non_null(strstr(err, "missing required key \"node\""));
	assert_null(load("secret_file = a.secret\nnode = " N1 "\n"
	    "format = jwt\n"));
	assert_non_null(strstr(err, "format: expected tokenlib or fernet, got "
	    "\"jwt\""));
	assert_null(load("secret_file = a.secret\nnode = " N1 "\n"
	    "format = any\n"));
	tu_write_file(dir, "nodes", N1 ",short\n", 0600);
	assert_null(load("nodes_file = nodes\n"));
	assert_non_null(strstr(err, "nodes_file: nodes file"));
	assert_non_null(strstr(err, "line 1: secret is 5 bytes"));
}

/* The front's copy holds no secret of any node. */
static void
test_purge_nodes(void **state)
{
	struct config	*c;
	size_t		 i;

	tu_write_file(dir, "nodes", N1 "," S1 "\n" N2 "," S2 "\n", 0600);
	assert_non_null(c = load("nodes_file = nodes\n"));
	config_purge_secrets(c);
	for (i = 0; i < 2; i++) {
		assert_int_equal(c->services[0].nodes[i].secrets.n, 0);
		assert_null(c->services[0].nodes[i].secrets.v);
	}
	assert_string_equal(c->services[0].nodes[1].node, N2);
	config_free(c);
}

/* ---- rewriting a secret file (rotation) -------------------------------- */

/* How many entries of dir start with prefix: a leftover temporary shows. */
static int
entries_like(const char *prefix)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

/* The whole text behind an open descriptor, from its start. */
static void
assert_fd_holds(int fd, const char *want)
{
	char	buf[1024];
	ssize_t	n;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void
assert_file_holds(const char *path, const char *want)
{
	char	*text;

	assert_non_null(text = tu_read_file(path, NULL));
	assert_string_equal(text, want);
	free(text);
}

/*
 * Runs one edit of p (drop the oldest, or prepend S2) and checks that p was
 * replaced by a rename alone: a new inode, owned nobody:nogroup mode 0640,
 * holding after, while a descriptor opened before still reads all of
 * before, and nothing left beside it.
 */
static void
assert_rewrite(const char *p, int drop, const char *before, const char *after)
{
	struct stat	 st0, st;
	int		 fd, created = -1;

	assert_int_equal(stat(p, &st0), 0);
	assert_true((fd = open(p, O_RDONLY)) != -1);
	if (drop)
		assert_int_equal(secret_file_drop_oldest(p, err, sizeof(err)),
		    0);
	else {
		assert_int_equal(secret_file_prepend(p, S2, 64, &created, err,
		    sizeof(err)), 0);
		assert_int_equal(created, 0);
	}
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_true(st.st_ino != st0.st_ino);
	assert_fd_holds(fd, before);
	assert_file_holds(p, after);
	assert_int_equal(entries_like("own.secret"), 1);
	close(fd);
}

/*
 * The rotation run as root on a file tokend's user owns: owner, group and
 * mode stay (a root:root file is what broke reloads under User=tokend), and
 * the old inode is never written to.
 */
static void
test_rewrite_keeps_owner_and_mode(void **state)
{
	const char	*p;

	if (geteuid() != 0)
		skip();		/* chown to another user needs root */
	p = tu_write_file(dir, "own.secret", S1 "\n", 0640);
	assert_int_equal(chown(p, 65534, 65534), 0);
	assert_rewrite(p, 0, S1 "\n", S2 "\n" S1 "\n");
	assert_rewrite(p, 1, S2 "\n" S1 "\n", S2 "\n");
}

/* A missing file is created for --prepend: 0600, the caller's. */
static void
test_prepend_creates(void **state)
{
	struct stat	 st;
	const char	*p = tu_path(dir, "new.secret");
	int		 created = -1;

	assert_int_equal(secret_file_prepend(p, S1, 64, &created, err,
	    sizeof(err)), 0);
	assert_int_equal(created, 1);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_file_holds(p, S1 "\n");
	assert_int_equal(secret_file_prepend(p, S2, 64, &created, err,
	    sizeof(err)), 0);
	assert_int_equal(created, 0);
	assert_file_holds(p, S2 "\n" S1 "\n");
}

/* Only the oldest secret's line goes; comments, blanks, CRLF stay. */
static void
test_drop_oldest(void **state)
{
	const char	*p;

	p = tu_write_file(dir, "drop.secret", "# sync\n" S1 "\r\n\n"
	    "# old\n" S2 "\r\n# tail\n", 0600);
	assert_int_equal(secret_file_drop_oldest(p, err, sizeof(err)), 0);
	assert_file_holds(p, "# sync\n" S1 "\r\n\n# old\n# tail\n");
	/* The last line without its "\n". */
	p = tu_write_file(dir, "drop.secret", S1 "\n" S2 "\n" S3, 0600);
	assert_int_equal(secret_file_drop_oldest(p, err, sizeof(err)), 0);
	assert_file_holds(p, S1 "\n" S2 "\n");
	assert_int_equal(secret_file_drop_oldest(p, err, sizeof(err)), 0);
	assert_file_holds(p, S1 "\n");
	assert_int_equal(entries_like("drop.secret"), 1);
}

/* Each refusal leaves the file as it was (the same inode, the same text). */
static void
assert_refused(const char *p, int rc, const char *words, const char *text)
{
	assert_int_equal(rc, -1);
	if (strstr(err, words) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", err, words);
	if (text != NULL)
		assert_file_holds(p, text);
}

static void
test_rewrite_refusals(void **state)
{
	static char	 full[SECRETS_MAX * 65 + 1];
	struct stat	 st0, st;
	const char	*p, *lnk;
	int		 i, created;

	/* The only secret is never dropped: tokend would mint with none. */
	p = tu_write_file(dir, "one.secret", "# x\n" S1 "\n", 0600);
	assert_int_equal(stat(p, &st0), 0);
	assert_refused(p, secret_file_drop_oldest(p, err, sizeof(err)),
	    "only secret", "# x\n" S1 "\n");
	assert_int_equal(stat(p, &st), 0);
	assert_true(st.st_ino == st0.st_ino);
	/* Not a secret file tokend would read: say where, change nothing. */
	p = tu_write_file(dir, "bad.secret", S1 "\nshort\n", 0600);
	assert_refused(p, secret_file_drop_oldest(p, err, sizeof(err)),
	    "line 2: secret is 5 bytes", S1 "\nshort\n");
	assert_refused(tu_path(dir, "none.secret"), secret_file_drop_oldest(
	    tu_path(dir, "none.secret"), err, sizeof(err)),
	    "No such file", NULL);
	/* A link would be replaced by a file: name the target instead. */
	p = tu_write_file(dir, "target.secret", S1 "\n" S2 "\n", 0600);
	lnk = tu_path(dir, "link.secret");
	assert_int_equal(symlink(p, lnk), 0);
	assert_refused(lnk, secret_file_prepend(lnk, S3, 64, &created, err,
	    sizeof(err)), "symbolic link", S1 "\n" S2 "\n");
	assert_refused(lnk, secret_file_drop_oldest(lnk, err, sizeof(err)),
	    "symbolic link", S1 "\n" S2 "\n");
	assert_int_equal(mkdir(tu_path(dir, "d.secret"), 0700), 0);
	assert_refused(p, secret_file_prepend(tu_path(dir, "d.secret"), S3,
	    64, &created, err, sizeof(err)), "not a regular file", NULL);
	/* No 17th secret, no secret tokend would refuse. */
	for (i = 0; i < SECRETS_MAX; i++)
		snprintf(full + 65 * i, 66, "%s\n", S1);
	p = tu_write_file(dir, "full.secret", full, 0600);
	assert_refused(p, secret_file_prepend(p, S2, 64, &created, err,
	    sizeof(err)), "already holds 16 secrets", full);
	assert_refused(p, secret_file_prepend(p, "short", 5, &created, err,
	    sizeof(err)), "secret is 5 bytes", full);
	assert_int_equal(entries_like("full.secret"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secrets_file),
		cmocka_unit_test(test_secrets_file_errors),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_nodes_file),
		cmocka_unit_test(test_nodes_file_errors),
		cmocka_unit_test(test_config_nodes),
		cmocka_unit_test(test_config_service_errors),
		cmocka_unit_test(test_purge_nodes),
		cmocka_unit_test(test_rewrite_keeps_owner_and_mode),
		cmocka_unit_test(test_prepend_creates),
		cmocka_unit_test(test_drop_oldest),
		cmocka_unit_test(test_rewrite_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
