/*
 * test_config.c - loading tokend.conf (src/config.c, src/core/ini.c).
 *
 * Every test runs in its own mkdtemp() directory holding a JWKS (the RFC
 * 7515 A.3 EC key) and secret files written with exact modes (fchmod, so
 * the umask cannot loosen or tighten them), then writes a tokend.conf there
 * and calls config_load() on it.  A valid file is checked field by field;
 * each broken file must be refused with the exact "PATH:LINE: " prefix of
 * the offending line (found by searching the text for a marker, so the
 * expected line cannot drift from the file) and the words that say why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <zmq.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "core/conf.h"
#include "core/log.h"
#include "identity/issuer.h"
#include "identity/jwks.h"
#include "identity/jws.h"
#include "pool/curve.h"
#include "store/store.h"
#include "tokens/service.h"
#include "tokens/tokenlib.h"
#include "testutil.h"
#include "worker.h"
#include "identity/keys.h"

#define JWKS_A3 \
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k1\"," \
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"," \
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}\n"

#define UID_SECRET \
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define SYNC_SECRET \
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
/*
 * tokenlib signing key of SYNC_SECRET, from Python (stdlib):
 *   prk = hmac.new(b"\0" * 32, SYNC_SECRET, sha256).digest()
 *   hmac.new(prk, b"services.mozilla.com/tokenlib/v1/signing\x01",
 *       sha256).hexdigest()
 */
#define SYNC_SIG_KEY \
    "ad8624f56373f40ae4ebf46d7f5c0ab467fcef6a5063e8eed59dd294a05de93f"

/*
 * The smallest complete file, with room for extra lines at the end of each
 * section (the three %s).
 */
#define CONF_FMT \
	"# tokend test configuration\n" \
	"[server]\n" \
	"uid_secret_file = uid.secret\n" \
	"%s" \
	"\n" \
	"[issuer accounts]\n" \
	"iss = https://accounts.example.com\n" \
	"jwks_file = keys.jwks\n" \
	"audience = https://token.example.com\n" \
	"%s" \
	"\n" \
	"[service sync-1.5]\n" \
	"secret_file = sync.secret\n" \
	"node = https://sync.example.com/1.5\n" \
	"%s"

static char	dir[64];
static char	conf_path[PATH_MAX];
static char	err[2048];
static char	text[16384];

static int
setup(void **state)
{
	if (tu_tmpdir(dir, sizeof(dir), "config") == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/tokend.conf", dir);
	tu_write_file(dir, "keys.jwks", JWKS_A3, 0644);
	tu_write_file(dir, "uid.secret", UID_SECRET "\n", 0600);
	tu_write_file(dir, "sync.secret", SYNC_SECRET "\n", 0600);
	err[0] = '\0';
	return 0;
}

static int
teardown(void **state)
{
	return tu_rmtree(dir);
}

/* The 1-based line of the first occurrence of marker in text. */
static int
line_of(const char *s, const char *marker)
{
	const char	*at = strstr(s, marker), *p;
	int		 line = 1;

	assert_non_null(at);
	for (p = s; p < at; p++)
		if (*p == '\n')
			line++;
	return line;
}

static struct config *
load_text(const char *s)
{
	tu_write_file(dir, "tokend.conf", s, 0644);
	err[0] = '\0';
	return config_load(conf_path, err, sizeof(err));
}

/* CONF_FMT with extra lines for [server], [issuer] and [service]. */
static const char *
conf(const char *server, const char *issuer, const char *service)
{
	int	n;

	n = snprintf(text, sizeof(text), CONF_FMT, server, issuer, service);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	return text;
}

static struct config *
load_ok(const char *s)
{
	struct config	*c = load_text(s);

	if (c == NULL)
		fail_msg("refused: %s", err);
	return c;
}

/*
 * Asserts s is refused with "PATH:LINE: " where LINE is marker's line, and
 * that the message contains phrase.
 */
#define refused_at(s, marker, phrase) \
	refused_at_(s, marker, phrase, __FILE__, __LINE__)

/*
 * The line of err (one error a line) that starts "PATH:LINE: " and holds
 * phrase, or NULL.
 */
static const char *
error_line(const char *prefix, const char *phrase)
{
	const char	*at, *end;
	size_t		 n = strlen(phrase);

	for (at = err; *at != '\0'; at = *end ? end + 1 : end) {
		end = at + strcspn(at, "\n");
		if (strncmp(at, prefix, strlen(prefix)) != 0)
			continue;
		for (; at + n <= end; at++)
			if (strncmp(at, phrase, n) == 0)
				return at;
	}
	return NULL;
}

/* err has an error "PATH:LINE: ..." at marker's line in s, with phrase. */
static void
placed_at_(const char *s, const char *marker, const char *phrase,
    const char *file, int line)
{
	char	 prefix[PATH_MAX + 32];

	snprintf(prefix, sizeof(prefix), "%s:%d: ", conf_path,
	    line_of(s, marker));
	if (error_line(prefix, phrase) == NULL) {
		print_error("no error \"%s...%s\" in \"%s\"\n", prefix,
		    phrase, err);
		_fail(file, line);
	}
}

static void
refused_at_(const char *s, const char *marker, const char *phrase,
    const char *file, int line)
{
	struct config	*c = load_text(s);

	if (c != NULL) {
		config_free(c);
		print_error("accepted a config with \"%s\"\n", marker);
		_fail(file, line);
	}
	placed_at_(s, marker, phrase, file, line);
}

static void
assert_secret(const struct secret *s, const char *want)
{
	assert_non_null(s->bytes);
	assert_int_equal(s->len, strlen(want));
	assert_memory_equal(s->bytes, want, s->len);
}

/* ---- valid files ------------------------------------------------------ */

static void
test_valid_full(void **state)
{
	struct config		*c;
	const struct issuer	*is;
	const struct service	*sv;
	char			 path[PATH_MAX], other[PATH_MAX + 64];
	uint8_t			 sk[SHA256_LEN];

	tu_write_file(dir, "other.secret",
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n", 0400);
	snprintf(other, sizeof(other),
	    "\n[service other]\n"
	    "secret_file = %s/other.secret\n"
	    "node = http://other.example.com:8000/\n"
	    "duration = 600\n", dir);
	snprintf(text, sizeof(text),
	    "# tokend test configuration\n"
	    "[server]\n"
	    "listen = 10.1.2.3:9090\n"
	    "workers = 3\n"
	    "worker_credit = 4\n"
	    "runtime_dir = run\n"
	    "max_body = 4096\n"
	    "queue_limit = 77\n"
	    "request_timeout = 7\n"
	    "shutdown_timeout = 20\n"
	    "max_connections = 500\n"
	    "per_ip_connections = 9\n"
	    "idle_timeout = 33\n"
	    "access_log = off\n"
	    "log_level = debug\n"
	    "heartbeat_interval = 250\n"
	    "heartbeat_liveness = 5\n"
	    "uid_secret_file = uid.secret\n"
	    "\n"
	    "[issuer accounts]\n"
	    "iss = https://accounts.example.com\n"
	    "jwks_file = keys.jwks\n"
	    "audience = https://token.example.com\n"
	    "algorithms = ES256 EdDSA\n"
	    "leeway = 30\n"
	    "\n"
	    "[service sync-1.5]\n"
	    "secret_file = sync.secret\n"
	    "node = https://sync.example.com/1.5\n"
	    "%s", other);
	c = load_ok(text);

	assert_string_equal(c->path, conf_path);
	assert_string_equal(c->listen, "10.1.2.3:9090");
	assert_string_equal(c->listen_host, "10.1.2.3");
	assert_int_equal(c->listen_port, 9090);
	assert_int_equal(c->workers, 3);
	assert_int_equal(c->worker_credit, 4);
	snprintf(path, sizeof(path), "%s/run", dir);
	assert_string_equal(c->runtime_dir, path);
	assert_int_equal(c->max_body, 4096);
	assert_int_equal(c->queue_limit, 77);
	assert_int_equal(c->request_timeout_ms, 7000);
	assert_int_equal(c->shutdown_timeout_ms, 20000);
	assert_int_equal(c->max_connections, 500);
	assert_int_equal(c->per_ip_connections, 9);
	assert_int_equal(c->idle_timeout, 33);
	assert_int_equal(c->access_log, 0);
	assert_int_equal(c->log_level, LOG_LVL_DEBUG);
	assert_int_equal(c->heartbeat_ms, 250);
	assert_int_equal(c->heartbeat_liveness, 5);
	assert_secret(c->uid_secret, UID_SECRET);

	assert_int_equal(c->nissuers, 1);
	is = &c->issuers[0];
	assert_string_equal(is->name, "accounts");
	assert_string_equal(is->iss, "https://accounts.example.com");
	assert_string_equal(is->audience, "https://token.example.com");
	assert_int_equal(is->algorithms,
	    JWS_ALG_BIT(JWS_ALG_ES256) | JWS_ALG_BIT(JWS_ALG_EDDSA));
	assert_int_equal(is->leeway, 30);
	assert_int_equal(is->line, line_of(text, "[issuer accounts]"));
	assert_non_null(is->jwks);
	assert_int_equal(is->jwks->nkeys, 1);
	assert_string_equal(is->jwks->keys[0].kid, "k1");
	assert_int_equal(is->jwks->keys[0].kty, JWK_KTY_EC_P256);
	assert_non_null(is->jwks->keys[0].pkey);

	assert_int_equal(c->nservices, 2);
	sv = &c->services[0];
	assert_string_equal(sv->name, "sync-1.5");
	assert_string_equal(sv->node, "https://sync.example.com/1.5");
	assert_int_equal(sv->duration, 1800);
	assert_int_equal(sv->line, line_of(text, "[service sync-1.5]"));
	assert_int_equal(sv->secrets.n, 1);
	assert_secret(&sv->secrets.v[0], SYNC_SECRET);
	assert_int_equal(tu_unhex(sk, sizeof(sk), SYNC_SIG_KEY), sizeof(sk));
	assert_memory_equal(sv->secrets.keys[0].tokenlib_sig, sk, sizeof(sk));

	sv = &c->services[1];
	assert_string_equal(sv->name, "other");
	assert_string_equal(sv->node, "http://other.example.com:8000/");
	assert_int_equal(sv->duration, 600);
	assert_int_equal(sv->line, line_of(text, "[service other]"));
	assert_secret(&sv->secrets.v[0],
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
	assert_int_equal(tokenlib_signing_key(sk, &sv->secrets.v[0]), 0);
	assert_memory_equal(sv->secrets.keys[0].tokenlib_sig, sk, sizeof(sk));

	assert_ptr_equal(config_service(c, "sync-1.5"), &c->services[0]);
	assert_ptr_equal(config_service(c, "other"), &c->services[1]);
	assert_null(config_service(c, "sync"));
	config_free(c);
}

/* Everything left out takes its documented default. */
static void
test_valid_defaults(void **state)
{
	struct config	*c = load_ok(conf("", "", ""));
	long		 ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	assert_string_equal(c->listen, "127.0.0.1:8080");
	assert_string_equal(c->listen_host, "127.0.0.1");
	assert_int_equal(c->listen_port, 8080);
	/* workers = 0: one per CPU. */
	assert_int_equal(c->workers, ncpu < 1 ? 1 : ncpu > 256 ? 256 : ncpu);
	assert_int_equal(c->worker_credit, 16);
	assert_string_equal(c->runtime_dir, "/run/tokend");
	assert_int_equal(c->max_body, 16384);
	assert_int_equal(c->queue_limit, 1024);
	assert_int_equal(c->request_timeout_ms, 5000);
	assert_int_equal(c->shutdown_timeout_ms, 10000);
	assert_int_equal(c->max_connections, 20000);
	/* Not unlimited: one address cannot take every slot (issue 12). */
	assert_int_equal(c->per_ip_connections, 256);
	assert_int_equal(c->idle_timeout, 60);
	assert_int_equal(c->access_log, 1);
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_int_equal(c->heartbeat_ms, 1000);
	assert_int_equal(c->heartbeat_liveness, 3);
	assert_secret(c->uid_secret, UID_SECRET);
	assert_int_equal(c->nissuers, 1);
	assert_int_equal(c->issuers[0].algorithms,
	    JWS_ALG_BIT(JWS_ALG_RS256) | JWS_ALG_BIT(JWS_ALG_ES256) |
	    JWS_ALG_BIT(JWS_ALG_EDDSA));
	assert_int_equal(c->issuers[0].leeway, 60);
	assert_int_equal(c->nservices, 1);
	assert_int_equal(c->services[0].duration, 1800);
	config_free(c);
}

/* Comments, blank lines, CRLF and spacing around '=' are all tolerated. */
static void
test_valid_syntax_variants(void **state)
{
	struct config	*c;

	c = load_ok(
	    "; semicolon comment\r\n"
	    "   # indented comment\n"
	    "[ server ]\r\n"
	    "listen=[::1]:8443\r\n"
	    "\tuid_secret_file   =    uid.secret   \n"
	    "\n"
	    "[issuer\taccounts]\n"
	    "iss = https://accounts.example.com\n"
	    "jwks_file = keys.jwks\n"
	    "audience = aud # not a comment\n"
	    "algorithms = RS256,ES256\n"
	    "[service sync-1.5]\n"
	    "secret_file = sync.secret\n"
	    "node = https://sync.example.com/1.5");	/* no final newline */
	assert_string_equal(c->listen, "[::1]:8443");
	assert_string_equal(c->listen_host, "::1");
	assert_int_equal(c->listen_port, 8443);
	assert_secret(c->uid_secret, UID_SECRET);
	assert_string_equal(c->issuers[0].name, "accounts");
	assert_string_equal(c->issuers[0].audience, "aud # not a comment");
	assert_int_equal(c->issuers[0].algorithms,
	    JWS_ALG_BIT(JWS_ALG_RS256) | JWS_ALG_BIT(JWS_ALG_ES256));
	assert_string_equal(c->services[0].node, "https://sync.example.com/1.5");
	config_free(c);
}

/* A relative config path: relative keys resolve against its directory. */
static void
test_relative_config_path(void **state)
{
	struct config	*c;
	const char	*slash = strrchr(dir, '/');
	char		 parent[64], rel[PATH_MAX], want[PATH_MAX];
	int		 cwd;

	tu_write_file(dir, "tokend.conf", conf("runtime_dir = rt\n", "", ""),
	    0644);
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - dir), dir);
	snprintf(rel, sizeof(rel), "%s/tokend.conf", slash + 1);
	assert_true((cwd = open(".", O_RDONLY | O_DIRECTORY)) != -1);
	assert_int_equal(chdir(parent), 0);
	c = config_load(rel, err, sizeof(err));
	assert_int_equal(fchdir(cwd), 0);
	close(cwd);
	if (c == NULL)
		fail_msg("refused: %s", err);
	snprintf(want, sizeof(want), "%s/rt", dir);
	assert_string_equal(c->runtime_dir, want);
	assert_string_equal(c->path, rel);
	assert_secret(c->uid_secret, UID_SECRET);
	config_free(c);
}

/* Secret files: CRLF is one line end; 32 bytes is enough; 0400 is fine. */
static void
test_secret_file_edges(void **state)
{
	struct config	*c;

	tu_write_file(dir, "uid.secret", UID_SECRET "\r\n", 0400);
	tu_write_file(dir, "sync.secret", "0123456789abcdef0123456789abcdef",
	    0600);
	c = load_ok(conf("", "", ""));
	assert_secret(c->uid_secret, UID_SECRET);
	assert_secret(&c->services[0].secrets.v[0],
	    "0123456789abcdef0123456789abcdef");
	config_free(c);
}

/* A line of exactly INI_MAX_LINE bytes, newline included, is accepted. */
static void
test_longest_line(void **state)
{
	static char	line[4096 + 1];
	struct config	*c;

	memset(line, 'x', 4095);
	line[0] = '#';
	line[4095] = '\n';
	c = load_ok(conf(line, "", ""));
	config_free(c);
}

static void
test_purge_secrets(void **state)
{
	struct config	*c = load_ok(conf("", "",
	    "\n[service two]\nsecret_file = sync.secret\n"
	    "node = https://two.example.com\n"));

	assert_int_equal(c->nservices, 2);
	config_purge_secrets(c);
	assert_null(c->uid_secret);
	assert_null(c->issuers[0].jwks);
	assert_null(c->services[0].secrets.v);
	assert_null(c->services[0].secrets.keys);
	assert_int_equal(c->services[0].secrets.n, 0);
	assert_null(c->services[1].secrets.v);
	assert_int_equal(c->services[1].secrets.n, 0);
	/* What the front still needs is left alone. */
	assert_string_equal(c->services[1].name, "two");
	assert_string_equal(c->services[1].node, "https://two.example.com");
	assert_string_equal(c->issuers[0].iss, "https://accounts.example.com");
	/* Freeing a purged config frees nothing twice (ASan checks). */
	config_free(c);
}

/* Loading twice gives two independent configs (a reload). */
static void
test_load_twice(void **state)
{
	struct config	*a, *b;

	a = load_ok(conf("", "", ""));
	b = load_ok(conf("workers = 7\n", "", ""));
	assert_ptr_not_equal(a, b);
	assert_ptr_not_equal(a->services[0].secrets.v[0].bytes,
	    b->services[0].secrets.v[0].bytes);
	assert_int_equal(b->workers, 7);
	config_free(a);
	assert_secret(&b->services[0].secrets.v[0], SYNC_SECRET);
	config_free(b);
}

/*
 * workers = none: no local worker, a front served by workers that connect
 * on their own (contrib/python-worker); 0 still means one per CPU.
 */
static void
test_workers_none(void **state)
{
	struct config	*c = load_ok(conf("workers = none\n", "", ""));

	assert_int_equal(c->workers, 0);
	config_free(c);
	c = load_ok(conf("workers = 0\n", "", ""));
	assert_true(c->workers >= 1);
	config_free(c);
}

/* ---- errors with a line ----------------------------------------------- */

static void
test_err_unknown_key(void **state)
{
	refused_at(conf("bogus = 1\n", "", ""), "bogus",
	    "unknown key \"bogus\"");
	refused_at(conf("", "", "listen = 127.0.0.1:80\n"), "listen",
	    "unknown key \"listen\"");
}

static void
test_err_unknown_section(void **state)
{
	refused_at(conf("", "", "[frobnicate]\n"), "[frobnicate]",
	    "unknown section [frobnicate]");
	refused_at(conf("", "", "[server extra]\n"), "[server extra]",
	    "unknown section [server extra]");
}

static void
test_err_key_outside_section(void **state)
{
	refused_at("# leading comment\nlisten = 127.0.0.1:80\n[server]\n",
	    "listen", "key \"listen\" outside any section");
}

static void
test_err_malformed_section(void **state)
{
	refused_at(conf("", "", "[service broken\n"), "[service broken",
	    "malformed section header");
	refused_at(conf("", "", "[service a b]\n"), "[service a b]",
	    "malformed section header");
	refused_at(conf("", "", "[]\n"), "[]", "malformed section header");
}

static void
test_err_bad_section_name(void **state)
{
	refused_at(conf("", "", "[service]\n"), "[service]\n",
	    "[service NAME]: NAME must be");
	refused_at(conf("", "", "[issuer a/b]\n"), "[issuer a/b]",
	    "[issuer NAME]: NAME must be");
}

static void
test_err_missing_equals(void **state)
{
	refused_at(conf("workers 4\n", "", ""), "workers 4",
	    "expected \"key = value\"");
	refused_at(conf("= 4\n", "", ""), "= 4", "missing key before '='");
}

static void
test_err_duplicate_key(void **state)
{
	const char	*s = conf("workers = 2\nworker_credit = 3\nworkers = 4\n",
	    "", "");
	char		 phrase[64];

	snprintf(phrase, sizeof(phrase), "\"workers\" already set on line %d",
	    line_of(s, "workers = 2"));
	refused_at(s, "workers = 4", phrase);
}

static void
test_err_duplicate_section(void **state)
{
	refused_at(conf("", "", "\n[service  sync-1.5 ]\n"), "[service  sync",
	    "[service sync-1.5] appears twice");
	refused_at(conf("", "", "\n[ server ]\n"), "[ server ]",
	    "[server] appears twice");
}

static void
test_err_workers(void **state)
{
	refused_at(conf("workers = abc\n", "", ""), "workers = abc",
	    "workers: expected an integer from 0 to 256, got \"abc\"");
	refused_at(conf("workers = 999\n", "", ""), "workers = 999",
	    "workers: expected an integer from 0 to 256, got \"999\"");
	refused_at(conf("workers = -1\n", "", ""), "workers = -1",
	    "got \"-1\"");
	refused_at(conf("workers = 4x\n", "", ""), "workers = 4x",
	    "got \"4x\"");
	refused_at(conf("workers =\n", "", ""), "workers =", "got \"\"");
	refused_at(conf("workers = 99999999999999999999\n", "", ""),
	    "workers = 9", "got \"99999999999999999999\"");
}

static void
test_err_other_values(void **state)
{
	refused_at(conf("request_timeout = 0\n", "", ""), "request_timeout",
	    "request_timeout: expected an integer from 1 to 300");
	refused_at(conf("max_body = 255\n", "", ""), "max_body",
	    "max_body: expected an integer from 256 to 1048576");
	refused_at(conf("access_log = maybe\n", "", ""), "access_log",
	    "access_log: expected on or off, got \"maybe\"");
	refused_at(conf("log_level = loud\n", "", ""), "log_level",
	    "log_level: expected error, warning, info or debug");
	refused_at(conf("", "leeway = 3601\n", ""), "leeway",
	    "leeway: expected an integer from 0 to 3600");
	refused_at(conf("", "", "duration = 0\n"), "duration",
	    "duration: expected an integer from 1 to 86400");
	refused_at(conf("", "", "\n[issuer two]\niss =\n"), "iss =\n",
	    "iss: empty value");
}

static void
test_err_listen(void **state)
{
	refused_at(conf("listen = 127.0.0.1\n", "", ""), "listen",
	    "listen: expected ADDRESS:PORT, got \"127.0.0.1\"");
	refused_at(conf("listen = localhost:8080\n", "", ""), "listen",
	    "listen: \"localhost\" is not a numeric IPv4 address");
	refused_at(conf("listen = 127.0.0.1:70000\n", "", ""), "listen",
	    "listen: port must be 1..65535, got \"70000\"");
	refused_at(conf("listen = 127.0.0.1:0\n", "", ""), "listen",
	    "port must be 1..65535, got \"0\"");
	refused_at(conf("listen = 127.0.0.1:\n", "", ""), "listen",
	    "port must be 1..65535, got \"\"");
	refused_at(conf("listen = [fe80::zz]:80\n", "", ""), "listen",
	    "listen: \"fe80::zz\" is not an IPv6 address");
	refused_at(conf("listen = ::1:80\n", "", ""), "listen",
	    "not a numeric IPv4 address");
	/* Numbers are plain digits: no sign, no white space inside. */
	refused_at(conf("listen = 127.0.0.1:+80\n", "", ""), "listen",
	    "port must be 1..65535, got \"+80\"");
	refused_at(conf("workers = +5\n", "", ""), "workers",
	    "workers: expected an integer");
}

static void
test_err_algorithms(void **state)
{
	refused_at(conf("", "algorithms = ES256 HS999\n", ""), "algorithms",
	    "algorithms: unsupported algorithm \"HS999\"");
	/* HS* is known, but only with a secret shared with the issuer. */
	refused_at(conf("", "algorithms = ES256 HS256\n", ""), "algorithms",
	    "algorithms: HS256 needs hs_secret_file");
	refused_at(conf("", "algorithms = none\n", ""), "algorithms",
	    "unsupported algorithm \"none\"");
	refused_at(conf("", "algorithms = ,\n", ""), "algorithms",
	    "algorithms: name at least one algorithm");
}

static void
test_err_node_not_url(void **state)
{
	refused_at(conf("", "", "\n[service two]\nsecret_file = sync.secret\n"
	    "node = two.example.com/1.5\n"), "node = two",
	    "node: expected an http:// or https:// URL, got "
	    "\"two.example.com/1.5\"");
	refused_at(conf("", "", "\n[service two]\nsecret_file = sync.secret\n"
	    "node = ftp://two.example.com\n"), "node = ftp",
	    "node: expected an http:// or https:// URL");
}

static void
test_err_missing_required_key(void **state)
{
	/* The last section: found at end of file, reported at its header. */
	refused_at(
	    "[server]\nuid_secret_file = uid.secret\n"
	    "[issuer accounts]\niss = i\njwks_file = keys.jwks\naudience = a\n"
	    "[service sync-1.5]\nsecret_file = sync.secret\n",
	    "[service sync-1.5]", "missing required key \"node\"");
	/* A middle section: found at the next header, still reported here. */
	refused_at(
	    "[server]\nuid_secret_file = uid.secret\n"
	    "[issuer accounts]\niss = i\njwks_file = keys.jwks\n\n"
	    "[service sync-1.5]\nsecret_file = sync.secret\nnode = http://n\n",
	    "[issuer accounts]", "missing required key \"audience\"");
	refused_at(
	    "[server]\nlisten = 127.0.0.1:80\n"
	    "[issuer accounts]\niss = i\njwks_file = keys.jwks\naudience = a\n"
	    "[service sync-1.5]\nsecret_file = sync.secret\nnode = http://n\n",
	    "[server]", "missing required key \"uid_secret_file\"");
}

static void
test_err_secret_missing(void **state)
{
	char	phrase[PATH_MAX + 64];

	snprintf(phrase, sizeof(phrase), "secret_file: secret file "
	    "%s/nope.secret: No such file or directory", dir);
	refused_at(conf("", "", "\n[service two]\nsecret_file = nope.secret\n"
	    "node = http://two\n"), "secret_file = nope", phrase);
}

static void
test_err_secret_mode(void **state)
{
	tu_write_file(dir, "sync.secret", SYNC_SECRET "\n", 0644);
	refused_at(conf("", "", ""), "secret_file = sync.secret",
	    "is readable by group or others (mode 0644); chmod 600 it");
	tu_write_file(dir, "sync.secret", SYNC_SECRET "\n", 0640);
	refused_at(conf("", "", ""), "secret_file = sync.secret",
	    "(mode 0640)");
	tu_write_file(dir, "uid.secret", UID_SECRET "\n", 0604);
	refused_at(conf("", "", ""), "uid_secret_file = uid.secret",
	    "uid_secret_file: secret file");
}

static void
test_err_secret_short(void **state)
{
	/* 31 bytes and a newline. */
	tu_write_file(dir, "sync.secret", "0123456789abcdef0123456789abcde\n",
	    0600);
	refused_at(conf("", "", ""), "secret_file = sync.secret",
	    "secret is 31 bytes, at least 32 are required");
	tu_write_file(dir, "sync.secret", "", 0600);
	refused_at(conf("", "", ""), "secret_file = sync.secret",
	    "holds no secret");
}

/*
 * A service's secret file holds secrets for rotation, newest first, with
 * comments and blank lines; the uid secret file holds exactly one.
 */
static void
test_secret_file_lines(void **state)
{
	struct config	*c;
	uint8_t		 sk[SHA256_LEN];

	tu_write_file(dir, "sync.secret", "# rotated 2024-01-01\n\n"
	    "0123456789abcdef0123456789abcdef\r\n" SYNC_SECRET "\n\n", 0600);
	c = load_ok(conf("", "", ""));
	assert_int_equal(c->services[0].secrets.n, 2);
	assert_secret(&c->services[0].secrets.v[0],
	    "0123456789abcdef0123456789abcdef");
	assert_secret(&c->services[0].secrets.v[1], SYNC_SECRET);
	assert_int_equal(tu_unhex(sk, sizeof(sk), SYNC_SIG_KEY), sizeof(sk));
	assert_memory_equal(c->services[0].secrets.keys[1].tokenlib_sig, sk,
	    sizeof(sk));
	config_free(c);
	/* Every line is checked; the message names the line, not the text. */
	tu_write_file(dir, "sync.secret", SYNC_SECRET "\nshort\n", 0600);
	refused_at(conf("", "", ""), "secret_file = sync.secret",
	    "line 2: secret is 5 bytes, at least 32 are required");
	tu_write_file(dir, "sync.secret", SYNC_SECRET " \n", 0600);
	refused_at(conf("", "", ""), "secret_file = sync.secret",
	    "line 1: secret starts or ends with white space");
	tu_write_file(dir, "sync.secret", SYNC_SECRET "\n", 0600);
	tu_write_file(dir, "uid.secret", UID_SECRET "\n" UID_SECRET "x\n",
	    0600);
	refused_at(conf("", "", ""), "uid_secret_file = uid.secret",
	    "holds 2 secrets; this one takes exactly one");
	tu_write_file(dir, "uid.secret", UID_SECRET "\n", 0600);
}

static void
test_err_secret_not_regular(void **state)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/adir", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	refused_at(conf("", "", "\n[service two]\nsecret_file = adir\n"
	    "node = http://two\n"), "secret_file = adir",
	    "secret_file: secret file");
	assert_non_null(strstr(err, "adir: not a regular file"));
}

/*
 * Loads s in a child that SIGALRM kills after 5 seconds, so a config_load()
 * that blocks fails the test instead of hanging it.  Returns 0 if the child
 * saw config_load() refuse s with "PATH:LINE: " of marker and phrase in the
 * message, 1 if it got another answer, -1 if it hung.
 */
static int
refused_in_child(const char *s, const char *marker, const char *phrase)
{
	char	prefix[PATH_MAX + 32];
	pid_t	pid;
	int	status;

	tu_write_file(dir, "tokend.conf", s, 0644);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", conf_path,
	    line_of(s, marker));
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		alarm(5);
		if (config_load(conf_path, err, sizeof(err)) != NULL)
			_exit(1);
		_exit(strncmp(err, prefix, strlen(prefix)) == 0 &&
		    strstr(err, phrase) != NULL ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/*
 * A FIFO where a secret file should be: open(O_RDONLY) on a FIFO blocks
 * until a writer comes, so unless the file is opened non-blocking (or
 * checked first) config_load() - and a SIGHUP reload in the supervisor -
 * hangs forever instead of saying "not a regular file".
 */
static void
test_err_secret_fifo(void **state)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	switch (refused_in_child(conf("", "", "\n[service two]\n"
	    "secret_file = fifo\nnode = http://two\n"), "secret_file = fifo",
	    "fifo: not a regular file")) {
	case -1:
		fail_msg("config_load() blocked on a FIFO secret_file");
	case 1:
		fail_msg("config_load() did not refuse a FIFO secret_file "
		    "as not a regular file");
	}
}

/* The same for a JWKS file (read by jwks_load()). */
static void
test_err_jwks_fifo(void **state)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/keys.jwks", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	switch (refused_in_child(conf("", "", ""), "jwks_file",
	    "jwks_file: ")) {
	case -1:
		fail_msg("config_load() blocked on a FIFO jwks_file");
	case 1:
		fail_msg("config_load() did not refuse a FIFO jwks_file");
	}
}

static void
test_err_secret_too_large(void **state)
{
	static char	big[SECRET_MAX_BYTES + 2];

	memset(big, 'a', SECRET_MAX_BYTES + 1);
	tu_write_file(dir, "sync.secret", big, 0600);
	refused_at(conf("", "", ""), "secret_file = sync.secret",
	    "larger than 4096 bytes");
}

static void
test_err_jwks_missing(void **state)
{
	char	path[PATH_MAX], phrase[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/keys.jwks", dir);
	assert_int_equal(unlink(path), 0);
	snprintf(phrase, sizeof(phrase),
	    "jwks_file: %s: No such file or directory", path);
	refused_at(conf("", "", ""), "jwks_file", phrase);
}

static void
test_err_jwks_invalid(void **state)
{
	tu_write_file(dir, "keys.jwks", "{\"keys\":[]}", 0644);
	refused_at(conf("", "", ""), "jwks_file", "jwks_file: ");
}

static void
test_err_line_too_long(void **state)
{
	static char	line[5000 + 2];

	memset(line, 'x', 5000);
	memcpy(line, "iss = ", 6);
	line[5000] = '\n';
	refused_at(conf("", "", line), "iss = xxx",
	    "line longer than 4096 bytes");
	/* One byte over the limit, newline included. */
	memset(line, 'x', 4096);
	line[0] = '#';
	line[4096] = '\n';
	line[4097] = '\0';
	refused_at(conf(line, "", ""), "#xxx", "line longer than 4096 bytes");
}

static void
test_err_nul_byte(void **state)
{
	/* tu_write_file() stops at the NUL; write this one by hand. */
	static const char s[] = "[server]\nworkers = 1\0 2\n";
	char	path[PATH_MAX], prefix[PATH_MAX + 32];
	int	fd;
	struct config *c;

	snprintf(path, sizeof(path), "%s/tokend.conf", dir);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1);
	assert_int_equal(write(fd, s, sizeof(s) - 1), (ssize_t)sizeof(s) - 1);
	close(fd);
	c = config_load(conf_path, err, sizeof(err));
	assert_null(c);
	snprintf(prefix, sizeof(prefix), "%s:2: NUL byte in line", conf_path);
	assert_string_equal(err, prefix);
}

/* ---- errors about the whole file -------------------------------------- */

static void
test_err_no_service(void **state)
{
	struct config	*c;
	char		 want[PATH_MAX + 64];

	c = load_text("[server]\nuid_secret_file = uid.secret\n"
	    "[issuer accounts]\niss = i\njwks_file = keys.jwks\naudience = a\n");
	assert_null(c);
	snprintf(want, sizeof(want), "%s: no [service NAME] section", conf_path);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
}

static void
test_err_no_issuer_no_server(void **state)
{
	struct config	*c;
	char		 want[PATH_MAX + 64];

	c = load_text("[server]\nuid_secret_file = uid.secret\n"
	    "[service sync-1.5]\nsecret_file = sync.secret\nnode = http://n\n");
	assert_null(c);
	snprintf(want, sizeof(want), "%s: no [issuer NAME] section", conf_path);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);

	c = load_text("[issuer accounts]\niss = i\njwks_file = keys.jwks\n"
	    "audience = a\n"
	    "[service sync-1.5]\nsecret_file = sync.secret\nnode = http://n\n");
	assert_null(c);
	snprintf(want, sizeof(want), "%s: no [server] section", conf_path);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
}

static void
test_err_no_file(void **state)
{
	struct config	*c;
	char		 want[PATH_MAX + 64];

	c = config_load(conf_path, err, sizeof(err));
	assert_null(c);
	snprintf(want, sizeof(want), "%s: No such file or directory",
	    conf_path);
	assert_string_equal(err, want);
}

/* An error after keys and files were loaded frees them all (ASan). */
static void
test_err_late_frees_everything(void **state)
{
	refused_at(conf("workers = 2\n", "algorithms = ES256\n",
	    "\n[service two]\nsecret_file = sync.secret\nnode = ftp://x\n"),
	    "node = ftp", "node: expected an http:// or https:// URL");
}

/* ---- uid_namespace ---------------------------------------------------- */

/*
 * A [browserid NAME] section for issuer domain dom, with a key from
 * tests/unit/vectors/browserid (an absolute path, so the section can go
 * in any directory), and extra lines.
 */
static const char *
bid_section(const char *name, const char *dom, const char *extra)
{
	static char	 buf[4][PATH_MAX + 512];
	static int	 next;
	char		 key[PATH_MAX];
	char		*b = buf[next++ % 4];

	assert_non_null(realpath(tu_vector("browserid/idp.pub.json"), key));
	snprintf(b, sizeof(buf[0]), "\n[browserid %s]\nissuer = %s\n"
	    "public_key_file = %s\naudience = https://token.example.com\n%s",
	    name, dom, key, extra);
	return b;
}

/* CONF_FMT's issuer, a second [issuer], and [browserid] sections. */
static const char *
conf_ns(const char *accounts, const char *second, const char *bids)
{
	static char	 more[16384];

	snprintf(more, sizeof(more), "%s\n[issuer second]\n"
	    "iss = https://second.example.com\njwks_file = keys.jwks\n"
	    "audience = https://token.example.com\n%s%s", accounts, second,
	    bids);
	return conf("", more, "");
}

/* By default an issuer's uids are keyed by its iss or issuer domain. */
static void
test_uid_namespace_defaults(void **state)
{
	struct config	*c;

	c = load_ok(conf_ns("", "", bid_section("idp", "idp.example", "")));
	assert_string_equal(c->issuers[0].uid_namespace,
	    "https://accounts.example.com");
	assert_string_equal(c->issuers[1].uid_namespace,
	    "https://second.example.com");
	assert_string_equal(c->browserid[0].uid_namespace, "idp.example");
	config_free(c);
	c = load_ok(conf_ns("uid_namespace = accounts-v1\n", "",
	    bid_section("idp", "idp.example", "uid_namespace = idp\n")));
	assert_string_equal(c->issuers[0].uid_namespace, "accounts-v1");
	assert_string_equal(c->issuers[0].iss, "https://accounts.example.com");
	assert_string_equal(c->browserid[0].uid_namespace, "idp");
	config_free(c);
}

/*
 * Two sections whose namespaces end up equal share uids: refused unless
 * both set uid_namespace to it, at the later section, naming both.
 */
static void
test_uid_namespace_clash(void **state)
{
	const char	*s;
	char		 where[32];

	/* A JWT issuer whose iss is a BrowserID issuer's domain. */
	s = conf_ns("", "", bid_section("idp", "https://second.example.com",
	    ""));
	refused_at(s, "[browserid idp]", "[browserid idp] and [issuer second]");
	assert_non_null(strstr(err, "uid namespace "
	    "\"https://second.example.com\""));
	assert_non_null(strstr(err, "set uid_namespace = "
	    "https://second.example.com in both if sharing uids is "
	    "intended"));
	/* The earlier section's line is named too. */
	snprintf(where, sizeof(where), "(line %d)", line_of(s,
	    "[issuer second]"));
	assert_non_null(strstr(err, where));
	/* One explicit, the other by default: still an accident. */
	refused_at(conf_ns("", "uid_namespace = idp.example\n",
	    bid_section("idp", "idp.example", "")), "[browserid idp]",
	    "[browserid idp] and [issuer second]");
	refused_at(conf_ns("", "", bid_section("idp", "idp.example",
	    "uid_namespace = https://accounts.example.com\n")),
	    "[browserid idp]", "[browserid idp] and [issuer accounts]");
	refused_at(conf_ns("uid_namespace = https://second.example.com\n",
	    "", ""), "[issuer second]", "[issuer second] and [issuer accounts]");
}

/* Both set to the same value: sharing is what the operator asked for. */
static void
test_uid_namespace_shared(void **state)
{
	struct config	*c;
	char		 bids[2 * (PATH_MAX + 512)];

	c = load_ok(conf_ns("", "uid_namespace = idp.example\n",
	    bid_section("idp", "idp.example", "uid_namespace = idp.example\n")));
	assert_string_equal(c->issuers[1].uid_namespace, "idp.example");
	assert_string_equal(c->browserid[0].uid_namespace, "idp.example");
	config_free(c);
	snprintf(bids, sizeof(bids), "%s%s", bid_section("a", "a.example",
	    "uid_namespace = shared\n"), bid_section("b", "b.example",
	    "uid_namespace = shared\n"));
	c = load_ok(conf_ns("", "", bids));
	assert_string_equal(c->browserid[0].uid_namespace, "shared");
	assert_string_equal(c->browserid[1].uid_namespace, "shared");
	config_free(c);
	/* Into another's default namespace: that one did not ask for it. */
	snprintf(bids, sizeof(bids), "%s%s", bid_section("a", "a.example",
	    "uid_namespace = b.example\n"), bid_section("b", "b.example", ""));
	refused_at(conf_ns("", "", bids), "[browserid b]",
	    "[browserid b] and [browserid a]");
	/* A namespace of its own resolves an iss equal to a domain. */
	c = load_ok(conf_ns("", "uid_namespace = jwt:second\n",
	    bid_section("idp", "https://second.example.com", "")));
	assert_string_equal(c->issuers[1].uid_namespace, "jwt:second");
	assert_string_equal(c->browserid[0].uid_namespace,
	    "https://second.example.com");
	config_free(c);
}

static void
test_uid_namespace_values(void **state)
{
	char	 big[CONFIG_MAX_UID_NAMESPACE + 64];

	refused_at(conf_ns("uid_namespace =\n", "", ""), "uid_namespace =",
	    "uid_namespace: empty value");
	refused_at(conf_ns("uid_namespace = a\nuid_namespace = b\n", "", ""),
	    "uid_namespace = b", "\"uid_namespace\" already set");
	snprintf(big, sizeof(big), "uid_namespace = %0*d\n",
	    CONFIG_MAX_UID_NAMESPACE + 1, 0);
	refused_at(conf_ns(big, "", ""), "[issuer accounts]",
	    "uid namespace longer than 1024 bytes");
	snprintf(big, sizeof(big), "uid_namespace = %0*d\n",
	    CONFIG_MAX_UID_NAMESPACE, 0);
	config_free(load_ok(conf_ns(big, "", "")));
}

/*
 * Limits that must fit each other (issue 12): a body or head no worker
 * frame can carry, and a hung-worker limit below the longest legitimate
 * job, are refused at the key's line with the reason.
 */
static void
test_err_limits_that_cannot_fit(void **state)
{
	struct config	*c;

	refused_at(conf("max_body = 300000\n", "", ""), "max_body",
	    "one frame of at most 65536 bytes");
	refused_at(conf("connection_memory = 100000\n", "", ""),
	    "connection_memory", "set connection_memory to 69632 or less");
	refused_at(conf("heartbeat_interval = 100\nheartbeat_liveness = 2\n",
	    "", ""), "heartbeat_interval", "taken for hung");
	/* The largest that fit are taken. */
	c = load_ok(conf("max_body = 69632\nconnection_memory = 69632\n"
	    "heartbeat_interval = 200\nheartbeat_liveness = 3\n", "", ""));
	assert_int_equal(c->max_body, 69632);
	config_free(c);
}

/* ---- every error of a file (issue 18) --------------------------------- */

/* The number of lines of err. */
static int
error_lines(void)
{
	const char	*p;
	int		 n = err[0] != '\0';

	for (p = err; *p != '\0'; p++)
		n += *p == '\n';
	return n;
}

/* Line i (0-based) of err, in a static buffer. */
static const char *
nth_error(int i)
{
	static char	 buf[2048];
	const char	*p = err;

	while (i-- > 0 && (p = strchr(p, '\n')) != NULL)
		p++;
	assert_non_null(p);
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(p, "\n"), p);
	return buf;
}

/* Asserts error i is "PATH:LINE: " at marker's line, and holds phrase. */
#define error_is(i, s, marker, phrase) \
	error_is_(i, s, marker, phrase, __FILE__, __LINE__)

static void
error_is_(int i, const char *s, const char *marker, const char *phrase,
    const char *file, int line)
{
	char		 prefix[PATH_MAX + 32];
	const char	*e = nth_error(i);

	snprintf(prefix, sizeof(prefix), "%s:%d: ", conf_path,
	    line_of(s, marker));
	if (strncmp(e, prefix, strlen(prefix)) != 0 ||
	    strstr(e, phrase) == NULL) {
		print_error("error %d is \"%s\", want \"%s...%s\"\n", i, e,
		    prefix, phrase);
		_fail(file, line);
	}
}

/*
 * Mistakes in several sections are all reported, in file order, each at
 * its line with its section, and an error in one section does not hide
 * those of the next.
 */
static void
test_every_error_reported(void **state)
{
	const char	*s;

	s = conf("workers = many\nlisen = 127.0.0.1:80\n",
	    "leeway = -5\n",
	    "duration = 0\n"
	    "\n[service two]\nsecert_file = sync.secret\n"
	    "node = https://two.example.com\n");
	assert_null(load_text(s));
	assert_int_equal(error_lines(), 5);
	error_is(0, s, "workers = many", "[server] workers: expected an "
	    "integer from 0 to 256, got \"many\"");
	error_is(1, s, "lisen", "[server] unknown key \"lisen\"");
	error_is(2, s, "leeway", "[issuer accounts] leeway: expected an "
	    "integer from 0 to 3600");
	error_is(3, s, "duration", "[service sync-1.5] duration: expected "
	    "an integer from 1 to 86400");
	error_is(4, s, "secert_file", "[service two] unknown key "
	    "\"secert_file\"");
}

/*
 * A section's finish checks and required keys are reported in file order
 * too: at the section's or the key's line, before a later section's.
 */
static void
test_errors_in_file_order(void **state)
{
	const char	*s;

	s = conf("runtime_dir = /tmp/" "0123456789012345678901234567890123"
	    "4567890123456789012345678901234567890123456789\n"
	    "max_body = 300000\n",
	    "\n[issuer two]\niss = https://two.example.com\n"
	    "jwks_file = keys.jwks\n",
	    "\n[service two]\nsecret_file = sync.secret\nnode = ftp://x\n");
	assert_null(load_text(s));
	assert_int_equal(error_lines(), 3);
	/* A line now, where there was none: the key's. */
	error_is(0, s, "runtime_dir", "[server] runtime_dir: \"/tmp/0123");
	assert_non_null(strstr(nth_error(0), "too long for a Unix socket "
	    "path (at most 80"));
	/* [server]'s finish check is skipped: runtime_dir already failed. */
	error_is(1, s, "[issuer two]", "[issuer two] missing required key "
	    "\"audience\"");
	error_is(2, s, "node = ftp", "[service two] node: expected an "
	    "http:// or https:// URL");

	/* Alone, the finish checks of [server] are all reported. */
	s = conf("max_body = 300000\nconnection_memory = 100000\n"
	    "heartbeat_interval = 100\nheartbeat_liveness = 2\n", "", "");
	assert_null(load_text(s));
	assert_int_equal(error_lines(), 3);
	error_is(0, s, "max_body", "[server] max_body = 300000");
	error_is(1, s, "connection_memory", "[server] connection_memory = "
	    "100000");
	error_is(2, s, "heartbeat_interval", "[server] heartbeat_interval x "
	    "heartbeat_liveness");
}

/* At most CONF_MAX_ERRORS are listed, then how many more there are. */
static void
test_errors_capped(void **state)
{
	char	more[2048];
	char	last[PATH_MAX + 64];
	int	i;

	more[0] = '\0';
	for (i = 0; i < 25; i++)
		snprintf(more + strlen(more), sizeof(more) - strlen(more),
		    "bogus%d = 1\n", i);
	assert_null(load_text(conf(more, "", "")));
	assert_int_equal(error_lines(), CONF_MAX_ERRORS + 1);
	assert_non_null(strstr(nth_error(0), "unknown key \"bogus0\""));
	assert_non_null(strstr(nth_error(19), "unknown key \"bogus19\""));
	snprintf(last, sizeof(last), "%s: 5 more errors (25 in all)",
	    conf_path);
	assert_string_equal(nth_error(CONF_MAX_ERRORS), last);
}

/* A small buffer gets whole errors only, then the count of the rest. */
static void
test_errors_fit_the_buffer(void **state)
{
	struct config	*c;
	char		 small[400], *nl;

	tu_write_file(dir, "tokend.conf", conf("bogus1 = 1\nbogus2 = 1\n"
	    "bogus3 = 1\nbogus4 = 1\nbogus5 = 1\n", "", ""), 0644);
	c = config_load(conf_path, small, sizeof(small));
	assert_null(c);
	assert_true(strlen(small) < sizeof(small) - 1);
	/* Every line but the last is a whole error; the last counts. */
	assert_non_null(nl = strrchr(small, '\n'));
	assert_non_null(strstr(nl, " more errors (5 in all)"));
	assert_non_null(strstr(small, "unknown key \"bogus1\" in this "
	    "section\n"));
}

/* ---- names that point at the fix -------------------------------------- */

static void
test_suggest_key(void **state)
{
	const char	*s;

	/* Two letters swapped, one missing, one wrong. */
	refused_at(conf("", "", "\n[service two]\nsecert_file = sync.secret\n"
	    "node = https://two.example.com\n"), "secert_file",
	    "[service two] unknown key \"secert_file\" in this section; did "
	    "you mean \"secret_file\"?");
	refused_at(conf("lisen = 127.0.0.1:80\n", "", ""), "lisen",
	    "did you mean \"listen\"?");
	refused_at(conf("", "audiance = x\n", ""), "audiance",
	    "did you mean \"audience\"?");
	/* Case aside, and a prefix of a longer name. */
	refused_at(conf("Workers = 2\n", "", ""), "Workers",
	    "did you mean \"workers\"?");
	refused_at(conf("uid_secret = uid.secret\n", "", ""), "uid_secret =",
	    "did you mean \"uid_secret_file\"?");
	refused_at(conf("", "algorithm = ES256\n", ""), "algorithm =",
	    "did you mean \"algorithms\"?");
	/* A key of another section says where it belongs. */
	refused_at(conf("", "", "listen = 127.0.0.1:80\n"), "listen",
	    "unknown key \"listen\" in this section (it is a key of "
	    "[server])");
	/* Nothing near: no guess. */
	s = conf("frobnicate = 1\n", "", "");
	refused_at(s, "frobnicate", "unknown key \"frobnicate\" in this "
	    "section");
	assert_null(strstr(err, "did you mean"));
	assert_null(strstr(err, "it is a key of"));
	/* The misspelt key is not also reported missing. */
	s = conf("", "", "\n[service two]\nsecert_file = sync.secret\n"
	    "node = https://two.example.com\n");
	assert_null(load_text(s));
	assert_int_equal(error_lines(), 1);
	s = "[server]\nuid_secert_file = uid.secret\n"
	    "[issuer accounts]\niss = i\njwks_file = keys.jwks\naudience = a\n"
	    "[service s]\nsecret_file = sync.secret\nnode = https://n\n";
	refused_at(s, "uid_secert_file", "[server] unknown key "
	    "\"uid_secert_file\" in this section; did you mean "
	    "\"uid_secret_file\"?");
	assert_int_equal(error_lines(), 1);
}

static void
test_suggest_section(void **state)
{
	refused_at(conf("", "", "\n[servcie two]\n"), "[servcie two]",
	    "unknown section [servcie two] (did you mean [service two]?); "
	    "expected [server], [metrics], [issuer NAME], [browserid NAME], "
	    "[database], [service NAME] or [remote]");
	refused_at(conf("", "", "\n[isuer two]\n"), "[isuer two]",
	    "(did you mean [issuer two]?)");
	refused_at(conf("", "", "\n[Browserid two]\n"), "[Browserid two]",
	    "(did you mean [browserid two]?)");
	refused_at(conf("", "", "\n[srever]\n"), "[srever]",
	    "(did you mean [server]?)");
	refused_at(conf("", "", "\n[server extra]\n"), "[server extra]",
	    "unknown section [server extra] ([server] takes no NAME)");
	/* The keys of a section refused are not reported one by one. */
	assert_null(load_text(conf("", "", "\n[servcie two]\nsecret_file = "
	    "x\nnode = y\n")));
	assert_int_equal(error_lines(), 1);
}

/* ---- likely mistakes refused with a reason ----------------------------- */

static void
test_iss_values(void **state)
{
	static const char *const good[] = { "https://two.example.com",
	    "http://idp.example.com:8080/realms/x", "https://[::1]:8443/",
	    "accounts.google.com", "idp", "idp.example:8443",
	    "https://login.example.com/tenant-1/v2.0?x=1" };
	static const char *const bad[] = { "my issuer", "https//idp.example",
	    "ftp://idp.example", "https://", "https:///path", "-idp.example",
	    "idp..example", "idp-.example", "https://idp.example.com extra",
	    "idp.example/path", "https://idp_example.com" };
	struct config	*c;
	char		 line[256], marker[64];
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(line, sizeof(line), "\n[issuer two]\niss = %s\n"
		    "jwks_file = keys.jwks\naudience = a\n", good[i]);
		c = load_text(conf("", line, ""));
		if (c == NULL)
			fail_msg("iss = %s refused: %s", good[i], err);
		config_free(c);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "\n[issuer two]\niss = %s\n"
		    "jwks_file = keys.jwks\naudience = a\n", bad[i]);
		snprintf(marker, sizeof(marker), "iss = %s\n", bad[i]);
		refused_at(conf("", line, ""), marker, "[issuer two] iss: "
		    "expected an https:// URL or a host name");
	}
}

/*
 * keys.jwks: RFC 7515's keys (RSA A.2, EC P-256 A.3, EC P-521 A.4), the
 * RSA key with a JWK "alg" of its own unless alg is NULL.
 */
static void
write_rfc7515_jwks(const char *alg)
{
	static const char	 kid[] = "\"kid\":\"rfc7515-a2\",";
	char			*set, *at, jwks[8192];

	assert_non_null(set = tu_read_file(tu_vector("rfc7515.jwks.json"),
	    NULL));
	assert_non_null(at = strstr(set, kid));
	at += strlen(kid);
	snprintf(jwks, sizeof(jwks), "%.*s%s%s%s%s", (int)(at - set), set,
	    alg ? "\"alg\":\"" : "", alg ? alg : "", alg ? "\"," : "", at);
	tu_write_file(dir, "keys.jwks", jwks, 0644);
	free(set);
}

/* An issuer whose algorithms no key of its jwks_file verifies. */
static void
test_algorithms_without_key(void **state)
{
	/* The EC P-256 key of every CONF_FMT issuer. */
	refused_at(conf("", "algorithms = RS256 EdDSA\n", ""),
	    "algorithms = RS256", "[issuer accounts] algorithms: no key of "
	    "jwks_file verifies RS256 EdDSA (its keys: EC P-256 (kid "
	    "\"k1\")); they verify ES256");
	refused_at(conf("", "algorithms = ES384 HS256\n"
	    "hs_secret_file = sync.secret\n", ""), "algorithms = ES384",
	    "no key of jwks_file verifies ES384 (its keys: EC P-256");
	/* One algorithm with a key is enough (the default names three). */
	config_free(load_ok(conf("", "algorithms = RS256 ES256\n", "")));
	/* Keys to come from jwks_url may verify them: not known yet. */
	config_free(load_ok(conf("", "algorithms = RS256\n"
	    "jwks_url = https://idp.example.com/jwks\n", "")));
	/* A JWK's own "alg" narrows what it verifies. */
	write_rfc7515_jwks("PS256");
	refused_at(conf("", "algorithms = RS256 ES384\n", ""),
	    "algorithms = RS256", "no key of jwks_file verifies RS256 ES384 "
	    "(its keys: RSA (kid \"rfc7515-a2\", alg PS256), EC P-256 (kid "
	    "\"rfc7515-a3\"), EC P-521 (kid \"rfc7515-a4\")); they verify "
	    "ES256 PS256 ES512");
	write_rfc7515_jwks(NULL);
	config_free(load_ok(conf("", "algorithms = PS512\n", "")));
	refused_at(conf("", "algorithms = EdDSA ES384\n", ""), "algorithms = "
	    "EdDSA", "they verify RS256 ES256 RS384 RS512 PS256 PS384 PS512 "
	    "ES512");
}

/* ---- a reload names the keys it cannot apply ---------------------------- */

/* Runs config_keep_running(a, b) and returns what it logged. */
static char *
keep_logged(struct config *a, struct config *b, size_t *n)
{
	char	*log, path[PATH_MAX];
	int	 fd, saved;

	snprintf(path, sizeof(path), "%s/stderr", dir);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC,
	    0600)) != -1);
	fflush(stderr);
	assert_true((saved = dup(STDERR_FILENO)) != -1);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	*n = config_keep_running(a, b);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	assert_non_null(log = tu_read_file(path, NULL));
	return log;
}

/*
 * The front reads listen, runtime_dir and its limits at start only: a
 * reload keeps their running values in the new config (so new workers
 * reach the running front) and names each one changed, with both values.
 * What the workers read (workers, secrets, issuers) is applied.
 */
static void
test_reload_keeps_restart_keys(void **state)
{
	struct config	*a, *b;
	char		*log, rt[PATH_MAX];
	size_t		 n;

	a = load_ok(conf("listen = 127.0.0.1:8080\nruntime_dir = rt-a\n"
	    "workers = 2\nrequest_timeout = 5\n", "", ""));
	tu_write_file(dir, "uid.secret", SYNC_SECRET "\n", 0600);
	b = load_ok(conf("listen = [::1]:9090\nruntime_dir = rt-b\n"
	    "workers = 3\nrequest_timeout = 5\naccess_log = off\n", "", ""));
	log = keep_logged(a, b, &n);
	assert_int_equal(n, 3);
	assert_non_null(strstr(log, "reload: listen = [::1]:9090 needs a "
	    "restart; 127.0.0.1:8080 stays in force until then"));
	snprintf(rt, sizeof(rt), "reload: runtime_dir = %s/rt-b needs a "
	    "restart; %s/rt-a stays in force until then", dir, dir);
	assert_non_null(strstr(log, rt));
	assert_non_null(strstr(log, "reload: access_log = off needs a "
	    "restart; on stays in force"));
	/* Unchanged, or applied by a reload: not named. */
	assert_null(strstr(log, "request_timeout"));
	assert_null(strstr(log, "workers"));
	/* No secret is shown, though the uid secret changed. */
	assert_null(strstr(log, "uid_secret"));
	assert_null(strstr(log, SYNC_SECRET));
	free(log);

	/* b runs with a's values where it must; the rest is b's own. */
	assert_string_equal(b->listen, "127.0.0.1:8080");
	assert_string_equal(b->listen_host, "127.0.0.1");
	assert_int_equal(b->listen_port, 8080);
	snprintf(rt, sizeof(rt), "%s/rt-a", dir);
	assert_string_equal(b->runtime_dir, rt);
	assert_int_equal(b->access_log, 1);
	assert_int_equal(b->workers, 3);
	assert_secret(b->uid_secret, SYNC_SECRET);
	/* The next reload compares with what runs: nothing new to say. */
	config_free(a);
	a = load_ok(conf("listen = 127.0.0.1:8080\nruntime_dir = rt-a\n"
	    "workers = 4\n", "", ""));
	log = keep_logged(b, a, &n);
	assert_int_equal(n, 0);
	assert_string_equal(log, "");
	free(log);
	config_free(a);
	config_free(b);
}

/* ---- the engine: a section is one table entry ------------------------- */

/*
 * A file of a tokend to come, read by core/conf.c from a test-only table:
 * its [server], and two sections that later issues add, each by one entry
 * in t_sections[] and one finish function.  [database] is one struct the
 * engine allocates (as a store's, which config.h cannot see); [remote NAME]
 * is an array, at most two.  Nothing else knows of them.
 */
struct t_database {
	char		*url;
	int		 pool;
	int		 timeout_ms;
	char		*password;
};

struct t_remote {
	char		*name;
	char		*connect;
	int		 credit;
	int		 line;
};

struct t_root {
	int		 port;
	struct t_database *db;
	struct t_remote	*remotes;
	size_t		 nremotes;
	int		 checked;
};

static int	t_purged;

static int
t_set_password(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	char	**field = CONF_FIELD(obj, k);

	if ((*field = strdup(v)) == NULL)
		return conf_fail(l, "out of memory");
	return 0;
}

static void
t_purge_password(const struct conf_key *k, void *obj)
{
	char	**field = CONF_FIELD(obj, k);

	if (*field != NULL)
		memset(*field, 0, strlen(*field));
	conf_clear_str(k, obj);
	t_purged++;
}

static const struct conf_type t_password = { .set = t_set_password,
    .clear = conf_clear_str, .purge = t_purge_password };

static const struct conf_key t_server_keys[] = {
	{ "port", &conf_int, offsetof(struct t_root, port), 1, 65535, "8080",
	    CONF_RESTART, .doc = "The port." },
	{ .name = NULL }
};

static const struct conf_key t_database_keys[] = {
	{ "url", &conf_str, offsetof(struct t_database, url), 0, 0,
	    "sqlite:///var/lib/tokend/tokend.db", CONF_RESTART,
	    .doc = "Where the database is." },
	{ "pool", &conf_int, offsetof(struct t_database, pool), 1, 64, "4",
	    CONF_RELOAD, .doc = "Connections to it." },
	{ "timeout", &conf_msec, offsetof(struct t_database, timeout_ms), 1,
	    60, "2", CONF_RESTART, .doc = "Seconds a query may take." },
	{ "password", &t_password, offsetof(struct t_database, password), 0,
	    0, CONF_OPTIONAL, CONF_RELOAD, .doc = "Its password." },
	{ .name = NULL }
};

static const struct conf_key t_remote_keys[] = {
	{ "connect", &conf_str, offsetof(struct t_remote, connect), 0, 0,
	    NULL, CONF_RELOAD, .doc = "Where the remote is." },
	{ "credit", &conf_int, offsetof(struct t_remote, credit), 1, 16, "4",
	    CONF_RELOAD, .doc = "Jobs it takes at once." },
	{ .name = NULL }
};

static int
t_finish_database(struct conf *l, void *obj)
{
	struct t_database	*db = obj;

	if (db->password != NULL && strncmp(db->url, "postgres://", 11) != 0)
		return conf_fail_at(l, conf_key_line(l, "password"),
		    "password: only a postgres:// url takes one");
	return 0;
}

static int
t_finish_remote(struct conf *l, void *obj)
{
	struct t_remote	*r = obj;

	if (strncmp(r->connect, "tcp://", 6) != 0)
		return conf_fail_at(l, conf_key_line(l, "connect"), "connect: "
		    "expected tcp://HOST:PORT");
	return 0;
}

static int
t_check(struct conf *l, void *root)
{
	((struct t_root *)root)->checked++;
	return 0;
}

static const struct conf_section t_sections[] = {
	{ .name = "server", .keys = t_server_keys },
	{ .name = "database", .keys = t_database_keys,
	  .off = offsetof(struct t_root, db), .size = sizeof(struct t_database),
	  .finish = t_finish_database },
	{ .name = "remote", .keys = t_remote_keys,
	  CONF_NAMED(struct t_root, remotes, nremotes, struct t_remote, 2),
	  .finish = t_finish_remote },
	{ .name = NULL }
};

static const struct conf_schema t_schema = { t_sections, t_check };

/* Loads s with t_schema into *root: 0, or -1 with err. */
static int
t_load(const char *s, struct t_root *root)
{
	tu_write_file(dir, "tokend.conf", s, 0644);
	memset(root, 0, sizeof(*root));
	err[0] = '\0';
	return conf_load(conf_path, &t_schema, root, err, sizeof(err));
}

#define t_refused_at(s, marker, phrase) \
	t_refused_at_(s, marker, phrase, __FILE__, __LINE__)

static void
t_refused_at_(const char *s, const char *marker, const char *phrase,
    const char *file, int line)
{
	struct t_root	 root;

	if (t_load(s, &root) == 0) {
		print_error("accepted a file with \"%s\"\n", marker);
		_fail(file, line);
	}
	conf_clear(&t_schema, &root);
	placed_at_(s, marker, phrase, file, line);
}

static void
test_engine_new_sections(void **state)
{
	struct t_root	 root;

	assert_int_equal(t_load("[remote west]\nconnect = tcp://10.0.0.1:5555\n"
	    "[server]\nport = 9000\n\n[database]\nurl = postgres://db/tokend\n"
	    "password = hunter2\ntimeout = 5\n[remote east]\ncredit = 16\n"
	    "connect = tcp://10.0.0.2:5555\n", &root), 0);
	assert_int_equal(root.port, 9000);
	assert_non_null(root.db);
	assert_string_equal(root.db->url, "postgres://db/tokend");
	assert_int_equal(root.db->pool, 4);
	assert_int_equal(root.db->timeout_ms, 5000);
	assert_string_equal(root.db->password, "hunter2");
	assert_int_equal(root.nremotes, 2);
	assert_string_equal(root.remotes[0].name, "west");
	assert_int_equal(root.remotes[0].line, 1);
	assert_int_equal(root.remotes[0].credit, 4);
	assert_string_equal(root.remotes[1].name, "east");
	assert_int_equal(root.remotes[1].line, 10);
	assert_int_equal(root.remotes[1].credit, 16);
	assert_int_equal(root.checked, 1);
	/* The secret types are wiped, the rest stays. */
	t_purged = 0;
	conf_purge(&t_schema, &root);
	assert_int_equal(t_purged, 1);
	assert_null(root.db->password);
	assert_string_equal(root.db->url, "postgres://db/tokend");
	conf_clear(&t_schema, &root);
	assert_null(root.db);
	assert_null(root.remotes);
	assert_int_equal(root.nremotes, 0);
}

/* Sections the file leaves out take their defaults, or none at all. */
static void
test_engine_left_out(void **state)
{
	struct t_root	 root;

	assert_int_equal(t_load("# nothing\n", &root), 0);
	assert_int_equal(root.port, 8080);
	assert_non_null(root.db);
	assert_string_equal(root.db->url,
	    "sqlite:///var/lib/tokend/tokend.db");
	assert_int_equal(root.db->pool, 4);
	assert_int_equal(root.db->timeout_ms, 2000);
	assert_null(root.db->password);
	assert_int_equal(root.nremotes, 0);
	conf_clear(&t_schema, &root);
}

/* The engine's rules hold for sections it has never seen. */
static void
test_engine_errors(void **state)
{
	t_refused_at("[server]\n[remote a]\ncredit = 2\n", "[remote a]",
	    "missing required key \"connect\"");
	t_refused_at("[remote a]\nconnect = tcp://x:1\n[remote  a]\n",
	    "[remote  a]", "[remote a] appears twice");
	t_refused_at("[remote a]\nconnect = tcp://x:1\n[remote b]\n"
	    "connect = tcp://x:2\n[remote c]\n", "[remote c]",
	    "too many [remote] sections (at most 2)");
	t_refused_at("[remote]\n", "[remote]", "[remote NAME]: NAME must be");
	t_refused_at("[database]\n[ database ]\n", "[ database ]",
	    "[database] appears twice");
	t_refused_at("[database]\npool = 65\n", "pool",
	    "pool: expected an integer from 1 to 64, got \"65\"");
	t_refused_at("[database]\npool = 2\npool = 3\n", "pool = 3",
	    "\"pool\" already set on line 2");
	t_refused_at("[database]\nport = 1\n", "port",
	    "unknown key \"port\" in this section");
	/* A finish hook names the key at fault, at its line. */
	t_refused_at("[database]\npassword = x\npool = 2\n[server]\n",
	    "password", "password: only a postgres:// url takes one");
	t_refused_at("[remote a]\n\nconnect = udp://x:1\n", "connect",
	    "connect: expected tcp://HOST:PORT");
	/* The list of sections comes from the table. */
	t_refused_at("[metrics]\n", "[metrics]", "unknown section [metrics]; "
	    "expected [server], [database] or [remote NAME]");
	refused_at(conf("", "", "[telemetry]\n"), "[telemetry]", "unknown "
	    "section [telemetry]; expected [server], [metrics], [issuer NAME], "
	    "[browserid NAME], [database], [service NAME] or [remote]");
}

static int
t_store_down(struct store *s, const struct store_user *u, size_t *node,
    char *msg, size_t len)
{
	snprintf(msg, len, "database down");
	return -1;
}

static void
t_store_free(struct store *s)
{
}

/* A node store that cannot answer makes no node, never a wrong one. */
static void
test_node_store_failure(void **state)
{
	static const struct store_ops	 ops = { "down", t_store_down,
	    t_store_free };
	struct store			 down = { &ops };
	struct service			 svc, node;

	memset(&svc, 0, sizeof(svc));
	memset(&node, 0, sizeof(node));
	svc.name = "s";
	svc.nodes = &node;
	svc.nnodes = 1;
	svc.store = &down;
	assert_null(config_node_for(&svc, 42));
	svc.store = NULL;
	svc.nodes = NULL;
	svc.nnodes = 0;
	assert_ptr_equal(config_node_for(&svc, 42), &svc);
}


/* ---- [database] and nodes = database ---------------------------------- */

static void
test_database_defaults(void **state)
{
	struct config		*c;
	const struct service	*sv;

	c = load_ok(conf("state_dir = /srv/tkd\n", "", "nodes = database\n"));
	assert_true(config_uses_database(c));
	assert_string_equal(c->state_dir, "/srv/tkd");
	assert_string_equal(c->database->url, "sqlite:///srv/tkd/tokend.db");
	assert_string_equal(config_sqlite_path(c->database->url),
	    "/srv/tkd/tokend.db");
	assert_null(c->database->password);
	assert_int_equal(c->database->timeout_ms, 400);
	assert_true(c->database->release_rate == 0.1);
	assert_int_equal(c->database->max_releases, 5);
	assert_int_equal(c->database->capacity, 100);
	assert_int_equal(config_job_max_ms(c),
	    WORKER_JOB_MAX_MS(KEYS_WAIT_MS) + 2 * 400);
	sv = config_service(c, "sync-1.5");
	assert_true(sv->nodes_database);
	/* node names the one node created at start. */
	assert_int_equal(sv->nboot, 1);
	assert_string_equal(sv->boot[0], "https://sync.example.com/1.5");
	assert_string_equal(sv->pattern, "{node}/1.5/{uid}");
	assert_string_equal(sv->node_type, "spanner");
	/* hashed_fxa_uid is keyed by the newest signing secret by default. */
	assert_ptr_equal(service_metrics_secret(sv), &sv->secrets.v[0]);
	config_free(c);

	/* Without such a service [database] is inert. */
	c = load_ok(conf("", "", "\n[database]\ntimeout = 60000\n"));
	assert_false(config_uses_database(c));
	assert_int_equal(config_job_max_ms(c), WORKER_JOB_MAX_MS(KEYS_WAIT_MS));
	config_free(c);
}

static void
test_database_values(void **state)
{
	struct config		*c;
	const struct service	*sv;

	tu_write_file(dir, "db.password", "# the password\n s3cr=t \n", 0600);
	refused_at(conf("", "", "nodes = database\n\n[database]\n"
	    "url = postgres://tokend@db/tokend\n"
	    "password_file = db.password\n"), "password_file", "white space");
	tu_write_file(dir, "db.password", "# the password\ns3cr=t\n", 0600);
	tu_write_file(dir, "metrics.secret", SYNC_SECRET "ff\n", 0600);
	c = load_ok(conf("", "", "nodes = database\n"
	    "bootstrap_nodes = https://a.example.com, http://b.example.com:8000"
	    "\thttps://sync.example.com/1.5 https://a.example.com\n"
	    "pattern = {node}/2/{uid}\nnode_type = postgres\n"
	    "metrics_hash_secret_file = metrics.secret\n"
	    "\n[database]\nurl = postgres://tokend@db.example.com/tokend\n"
	    "password_file = db.password\ntimeout = 1000\n"
	    "release_rate = 0.25\nmax_releases = 0\ncapacity = 1000000000\n"));
	assert_string_equal(c->database->url,
	    "postgres://tokend@db.example.com/tokend");
	assert_secret(c->database->password, "s3cr=t");
	assert_int_equal(c->database->timeout_ms, 1000);
	assert_true(c->database->release_rate == 0.25);
	assert_int_equal(c->database->max_releases, 0);
	assert_int_equal(c->database->capacity, 1000000000);
	assert_null(config_sqlite_path(c->database->url));
	sv = config_service(c, "sync-1.5");
	/* node first, then the list in order, each once. */
	assert_int_equal(sv->nboot, 3);
	assert_string_equal(sv->boot[0], "https://sync.example.com/1.5");
	assert_string_equal(sv->boot[1], "https://a.example.com");
	assert_string_equal(sv->boot[2], "http://b.example.com:8000");
	assert_string_equal(sv->pattern, "{node}/2/{uid}");
	assert_string_equal(sv->node_type, "postgres");
	assert_secret(service_metrics_secret(sv), SYNC_SECRET "ff");
	/* The front holds no secret: the password is wiped too. */
	config_purge_secrets(c);
	assert_null(c->database->password);
	config_free(c);
}

static void
test_err_database(void **state)
{
	const char	*s;

	refused_at(conf("", "", "nodes = files\n"), "nodes = files",
	    "expected database");
	refused_at(conf("", "", "pattern = {node}/{uid}\n"), "pattern",
	    "only a service with nodes = database");
	refused_at(conf("", "", "node_type = mysql\n"), "node_type",
	    "only a service with nodes = database");
	refused_at(conf("", "", "nodes = database\nnode_type = oracle\n"),
	    "node_type = oracle", "spanner, mysql or postgres");
	refused_at(conf("", "", "nodes = database\n"
	    "bootstrap_nodes = https://a.example.com ftp://b.example.com\n"),
	    "bootstrap_nodes", "\"ftp://b.example.com\" is no http://");
	refused_at(conf("", "", "nodes = database\n"
	    "bootstrap_nodes = https://\n"), "bootstrap_nodes", "is no http");
	tu_write_file(dir, "sync.nodes", "https://n1.example.com,"
	    SYNC_SECRET "\n", 0600);
	s = "[server]\nuid_secret_file = uid.secret\n\n[issuer a]\n"
	    "iss = https://accounts.example.com\njwks_file = keys.jwks\n"
	    "audience = https://token.example.com\n\n[service sync-1.5]\n"
	    "nodes = database\nnodes_file = sync.nodes\n";
	refused_at(s, "nodes_file", "leave nodes_file out");
	s = "[server]\nuid_secret_file = uid.secret\n\n[issuer a]\n"
	    "iss = https://accounts.example.com\njwks_file = keys.jwks\n"
	    "audience = https://token.example.com\n\n[service sync-1.5]\n"
	    "nodes = database\n";
	refused_at(s, "[service sync-1.5]", "\"secret_file\"");
	refused_at(conf("", "", "nodes = database\n\n[database]\n"
	    "url = mysql://db/tokend\n"), "url = mysql", "expected sqlite");
	refused_at(conf("", "", "nodes = database\n\n[database]\n"
	    "url = sqlite://tokend.db\n"), "url = sqlite", "ABSOLUTE");
	refused_at(conf("", "", "nodes = database\n\n[database]\n"
	    "url = sqlite:///var/lib/tokend/\n"), "url = sqlite", "ABSOLUTE");
	tu_write_file(dir, "db.password", "pw\n", 0600);
	refused_at(conf("", "", "nodes = database\n\n[database]\n"
	    "password_file = db.password\n"), "password_file",
	    "takes no password");
	tu_write_file(dir, "db.password", "pw\n", 0644);
	refused_at(conf("", "", "nodes = database\n\n[database]\n"
	    "url = postgres://u@h/d\npassword_file = db.password\n"),
	    "password_file", "chmod 600");
	tu_write_file(dir, "db.password", "\n# none\n", 0600);
	refused_at(conf("", "", "nodes = database\n\n[database]\n"
	    "url = postgres://u@h/d\npassword_file = db.password\n"),
	    "password_file", "holds no password");
	refused_at(conf("", "", "nodes = database\n\n[database]\n"
	    "release_rate = 0\n"), "release_rate", "above 0");
	refused_at(conf("", "", "nodes = database\n\n[database]\n"
	    "release_rate = 1.5\n"), "release_rate", "above 0");
	refused_at(conf("", "", "nodes = database\n\n[database]\n"
	    "release_rate = 0.1x\n"), "release_rate", "above 0");
	refused_at(conf("", "", "nodes = database\n\n[database]\n"
	    "timeout = 9\n"), "timeout", "timeout");
	refused_at(conf("", "", "nodes = database\n\n[database]\n"
	    "capacity = 0\n"), "capacity", "capacity");
	/* The longest job against the hung-worker rule (3000 ms)... */
	refused_at(conf("", "", "nodes = database\n\n[database]\n"
	    "timeout = 1300\n"), "[database]", "hung-worker rule");
	/* ... and against request_timeout. */
	refused_at(conf("request_timeout = 1\n", "", "nodes = database\n\n"
	    "[database]\ntimeout = 300\n"), "[database]", "request_timeout");
}

/* ---- [issuer] type = fxa-oauth (identity/fxa.c) ------------------------ */

#define FXA_ISSUER(extra) \
	"[issuer fxa]\n" \
	"type = fxa-oauth\n" \
	"iss = https://accounts.firefox.com\n" \
	"email_domain = api.accounts.firefox.com\n" \
	extra

static void
test_fxa_valid(void **state)
{
	struct config		*c;
	const struct issuer	*is;

	c = load_ok(conf("", "", FXA_ISSUER("verify_url = https://oauth."
	    "accounts.firefox.com/v1/verify\n")));
	assert_int_equal(c->nissuers, 2);
	is = &c->issuers[1];
	assert_int_equal(c->issuers[0].type, ISSUER_JWT);
	assert_int_equal(is->type, ISSUER_FXA_OAUTH);
	assert_string_equal(is->verify_url,
	    "https://oauth.accounts.firefox.com/v1/verify");
	assert_string_equal(is->scope,
	    "https://identity.mozilla.com/apps/oldsync");
	assert_string_equal(is->email_domain, "api.accounts.firefox.com");
	assert_int_equal(is->timeout_ms, 1500);
	assert_null(is->audience);
	assert_null(is->jwks);
	/* The longest job counts the verifier's timeout. */
	assert_int_equal(config_job_max_ms(c), 250 + 250 + 2 + 1500);
	config_free(c);
	/* Loopback literals may be plain http; keys give the fast path. */
	c = load_ok(conf("", "", FXA_ISSUER("verify_url = http://127.0.0.1:"
	    "6000/v1/verify\njwks_file = keys.jwks\nscope = profile:x\n"
	    "timeout = 100\n")));
	assert_non_null(c->issuers[1].jwks);
	assert_string_equal(c->issuers[1].scope, "profile:x");
	assert_int_equal(c->issuers[1].timeout_ms, 100);
	config_free(c);
	c = load_ok(conf("", "", FXA_ISSUER("verify_url = http://[::1]/x/"
	    "v1/verify\n")));
	config_free(c);
}

static void
test_fxa_verify_url(void **state)
{
	static const char *const bad[][2] = {
		/* A name is whoever answers DNS for it. */
		{ "http://localhost:6000/v1/verify", "literal loopback" },
		{ "http://oauth.accounts.firefox.com/v1/verify",
		    "literal loopback" },
		{ "http://10.0.0.1/v1/verify", "literal loopback" },
		{ "http://[::2]/v1/verify", "literal loopback" },
		{ "ftp://oauth.example.com/v1/verify", "https://" },
		{ "https://oauth.accounts.firefox.com", "/v1/verify" },
		{ "https://oauth.accounts.firefox.com/v1/verify/x",
		    "/v1/verify" },
		{ "https://accounts.firefox.com@evil.example/v1/verify",
		    "user name" },
		{ "https://oauth.example.com/v1/verify#x", "fragment" },
		{ "https://oauth.example.com/v1/ verify", "white space" },
		{ "oauth.example.com/v1/verify", "not a URL" },
		{ "https:///v1/verify", "host" },
	};
	char	 extra[256];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(extra, sizeof(extra), FXA_ISSUER("verify_url = %s\n"),
		    bad[i][0]);
		refused_at(conf("", "", extra), "verify_url =", bad[i][1]);
	}
}

static void
test_fxa_cross_checks(void **state)
{
	/* What an fxa-oauth issuer needs. */
	refused_at(conf("", "", "[issuer fxa]\ntype = fxa-oauth\niss = "
	    "https://a.example\nemail_domain = a.example\n"),
	    "[issuer fxa]", "needs verify_url");
	refused_at(conf("", "", "[issuer fxa]\ntype = fxa-oauth\niss = "
	    "https://a.example\nverify_url = https://a.example/v1/verify\n"),
	    "[issuer fxa]", "needs email_domain");
	refused_at(conf("", "", FXA_ISSUER("verify_url = https://a.example/"
	    "v1/verify\nhs_secret_file = sync.secret\n")),
	    "hs_secret_file", "not for type = fxa-oauth");
	refused_at(conf("", "", FXA_ISSUER("verify_url = https://a.example/"
	    "v1/verify\nalgorithms = RS256\n")), "algorithms =",
	    "no jwks_file or jwks_url");
	/* A jwt issuer with fxa-oauth's keys: refused, at each. */
	refused_at(conf("", "verify_url = https://a.example/v1/verify\n",
	    ""), "verify_url", "only for type = fxa-oauth");
	refused_at(conf("", "timeout = 100\n", ""), "timeout",
	    "only for type = fxa-oauth");
	refused_at(conf("", "email_domain = a.example\n", ""), "email_domain",
	    "only for type = fxa-oauth");
	refused_at(conf("", "type = oauth\n", ""), "type =",
	    "expected jwt or fxa-oauth");
	/* Values. */
	refused_at(conf("", "", "[issuer fxa]\ntype = fxa-oauth\niss = "
	    "https://a.example\nverify_url = https://a.example/v1/verify\n"
	    "email_domain = API.example.com\n"), "email_domain = API",
	    "lower-case host name");
	refused_at(conf("", "", "[issuer fxa]\ntype = fxa-oauth\niss = "
	    "https://a.example\nverify_url = https://a.example/v1/verify\n"
	    "email_domain = a.example:443\n"), "email_domain = a",
	    "lower-case host name");
	refused_at(conf("", "", FXA_ISSUER("verify_url = https://a.example/"
	    "v1/verify\nscope = a,b\n")), "scope =", "without spaces or "
	    "commas");
	refused_at(conf("", "", FXA_ISSUER("verify_url = https://a.example/"
	    "v1/verify\ntimeout = 99\n")), "timeout =", "100");
	/* One verifier for the opaque tokens. */
	refused_at(conf("", "", FXA_ISSUER("verify_url = https://a.example/"
	    "v1/verify\n") "[issuer fxa2]\ntype = fxa-oauth\niss = "
	    "https://b.example\nemail_domain = b.example\nverify_url = "
	    "https://b.example/v1/verify\n"), "[issuer fxa2]",
	    "a second type = fxa-oauth issuer");
}

static void
test_fxa_timeout_fits(void **state)
{
	struct config	*c;

	/* 250 + 250 + 2 + 2497 = 2999 < 3000 = 1000 x 3: fits, and one
	 * more does not. */
	c = load_ok(conf("", "", FXA_ISSUER("verify_url = https://a.example/"
	    "v1/verify\ntimeout = 2497\n")));
	config_free(c);
	refused_at(conf("", "", FXA_ISSUER("verify_url = https://a.example/"
	    "v1/verify\ntimeout = 2498\n")), "timeout = 2498",
	    "heartbeat_interval x heartbeat_liveness = 3000 ms");
	/* Against request_timeout, with a hung-worker limit far above. */
	refused_at(conf("request_timeout = 2\nheartbeat_interval = 5000\n",
	    "", FXA_ISSUER("verify_url = https://a.example/v1/verify\n"
	    "timeout = 1600\n")), "timeout = 1600", "request_timeout = 2000 "
	    "ms");
	c = load_ok(conf("heartbeat_interval = 5000\nrequest_timeout = 20\n",
	    "", FXA_ISSUER("verify_url = https://a.example/v1/verify\n"
	    "timeout = 10000\n")));
	config_free(c);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ---- [remote] ---------------------------------------------------------- */

static char	front_pub[41], host_pub[41];

/* The front's secret key file, a host's, and an authorized_keys. */
static void
remote_files(void)
{
	char	sec[41], txt[256];

	assert_int_equal(zmq_curve_keypair(front_pub, sec), 0);
	snprintf(txt, sizeof(txt), "# the front\n%s\n", sec);
	tu_write_file(dir, "front.key", txt, 0600);
	assert_int_equal(zmq_curve_keypair(host_pub, sec), 0);
	snprintf(txt, sizeof(txt), "%s\n", sec);
	tu_write_file(dir, "host.key", txt, 0400);
	snprintf(txt, sizeof(txt), "# hosts\n%s worker-1\n", host_pub);
	tu_write_file(dir, "ak", txt, 0644);
}

/* A front with remote workers only; key and ak name its files. */
static const char *
front_conf(const char *key, const char *ak, const char *extra)
{
	int	n;

	n = snprintf(text, sizeof(text), "[server]\nworker_credit = 16\n"
	    "[remote]\nlisten = tcp://127.0.0.1:5555\nsecret_key_file = %s\n"
	    "authorized_keys = %s\n%s", key, ak, extra);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	return text;
}

/* A front with remote workers only: no issuer, service or secret. */
static void
test_remote_front_only(void **state)
{
	struct config	*c;

	remote_files();
	c = load_ok(front_conf("front.key", "ak", ""));
	assert_int_equal(c->workers, 0);
	assert_null(c->uid_secret);
	assert_string_equal(c->remote.listen, "tcp://127.0.0.1:5555");
	assert_string_equal(c->remote.public_key, front_pub);
	assert_int_equal(c->remote.keys->n, 1);
	assert_string_equal(c->remote.keys->v[0].z85, host_pub);
	assert_string_equal(c->remote.keys->v[0].name, "worker-1");
	assert_int_equal(c->remote.handshake_ms, 5000);
	assert_int_equal(c->remote.peer_queue, 64);
	/* The front's one secret goes with the rest. */
	assert_int_equal(strlen(c->remote.secret_key), 40);
	config_purge_secrets(c);
	assert_int_equal(c->remote.secret_key[0], '\0');
	config_free(c);
	/* Without [remote] listen, the rules of a minting file hold. */
	refused_at("[server]\nworkers = 2\n", "[server]",
	    "[server] missing required key \"uid_secret_file\"");
}

/* A worker host: connect, its key pair, the front's public key. */
static void
test_remote_worker_host(void **state)
{
	struct config	*c;
	char		 extra[256];

	remote_files();
	snprintf(extra, sizeof(extra), "[remote]\nconnect = "
	    "tcp://front.example.com:5555\nsecret_key_file = host.key\n"
	    "server_public_key = %s\n", front_pub);
	c = load_ok(conf("", "", extra));
	assert_string_equal(c->remote.connect, "tcp://front.example.com:5555");
	assert_string_equal(c->remote.public_key, host_pub);
	assert_string_equal(c->remote.server_key, front_pub);
	assert_null(c->remote.listen);
	config_free(c);
	/* It must get a handshake through before it gives up on the front. */
	snprintf(extra, sizeof(extra), "[remote]\nconnect = tcp://h:5555\n"
	    "secret_key_file = host.key\nserver_public_key = %s\n"
	    "handshake_timeout = 30\n", front_pub);
	refused_at(conf("orphan_timeout = 30\n", "", extra), "[remote]",
	    "handshake_timeout (30000 ms) is not below orphan_timeout");
	/* workers = none is a front's: a worker host would run nothing. */
	snprintf(extra, sizeof(extra), "[remote]\nconnect = tcp://h:5555\n"
	    "secret_key_file = host.key\nserver_public_key = %s\n", front_pub);
	refused_at(conf("workers = none\n", "", extra), "[server]",
	    "workers = none on a worker host");
}

static void
test_remote_errors(void **state)
{
	char	extra[512];

	remote_files();
	refused_at(front_conf("front.key", "ak", "connect = tcp://h:1\n"),
	    "connect =", "a front listens, a worker host connects");
	refused_at("[remote]\nlisten = tcp://127.0.0.1:5555\n"
	    "secret_key_file = front.key\n", "[remote]",
	    "listen needs authorized_keys");
	refused_at("[remote]\nlisten = tcp://127.0.0.1:5555\n"
	    "authorized_keys = ak\n", "[remote]",
	    "listen needs secret_key_file");
	refused_at("[server]\nuid_secret_file = uid.secret\n"
	    "[remote]\nsecret_key_file = front.key\n", "[remote]",
	    "[remote] needs listen (on a front) or connect");
	refused_at("[remote]\nlisten = ipc:///tmp/x\n", "listen =",
	    "listen: expected tcp://ADDRESS:PORT");
	refused_at("[remote]\nlisten = tcp://127.0.0.1:0\n", "listen =",
	    "port of 1..65535");
	refused_at("[remote]\nlisten = tcp://front.example.com:5555\n",
	    "listen =", "not a numeric IPv4 address or *");
	refused_at("[remote]\nconnect = tcp://bad_host!:5555\n", "connect =",
	    "not a host name or address");
	refused_at("[remote]\nconnect = tcp://h:5555\nserver_public_key = "
	    "short\n", "server_public_key", "not a CURVE public key");
	snprintf(extra, sizeof(extra), "[remote]\nconnect = tcp://h:5555\n"
	    "secret_key_file = host.key\n");
	refused_at(conf("", "", extra), "[remote]",
	    "connect needs server_public_key");
	refused_at(front_conf("front.key", "ak", "server_public_key = "
	    "0000000000000000000000000000000000000000\n"), "server_public_key",
	    "server_public_key is a worker host's");
	/* The secret key file: a secret's rules, then a key. */
	tu_write_file(dir, "loose.key", "0123456789012345678901234567890123"
	    "456789\n", 0644);
	refused_at(front_conf("loose.key", "ak", ""), "secret_key_file",
	    "secret_key_file: ");
	tu_write_file(dir, "notz85.key", "0123456789012345678901234567890123"
	    "45678\"\n", 0600);
	refused_at(front_conf("notz85.key", "ak", ""), "secret_key_file",
	    "not a CURVE secret key");
	/* authorized_keys: its own FILE:LINE inside the key's error. */
	tu_write_file(dir, "bad.ak", "# ok\n\nnot-a-key host\n", 0644);
	refused_at(front_conf("front.key", "bad.ak", ""), "authorized_keys",
	    "bad.ak:3: not a CURVE public key");
	tu_write_file(dir, "open.ak", "", 0666);
	refused_at(front_conf("front.key", "open.ak", ""), "authorized_keys",
	    "group or others may write it");
	/* The queues must hold a worker's credit and its heartbeats. */
	refused_at(front_conf("front.key", "ak", "peer_queue = 8\n"),
	    "[remote]", "peer_queue = 8 is below worker_credit + 4 = 20");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_valid_full),
		T(test_database_defaults),
		T(test_database_values),
		T(test_err_database),
		T(test_valid_defaults),
		T(test_valid_syntax_variants),
		T(test_relative_config_path),
		T(test_secret_file_edges),
		T(test_longest_line),
		T(test_purge_secrets),
		T(test_load_twice),
		T(test_workers_none),
		T(test_err_unknown_key),
		T(test_err_unknown_section),
		T(test_err_key_outside_section),
		T(test_err_malformed_section),
		T(test_err_bad_section_name),
		T(test_err_missing_equals),
		T(test_err_duplicate_key),
		T(test_err_duplicate_section),
		T(test_err_workers),
		T(test_err_other_values),
		T(test_err_limits_that_cannot_fit),
		T(test_err_listen),
		T(test_err_algorithms),
		T(test_err_node_not_url),
		T(test_err_missing_required_key),
		T(test_err_secret_missing),
		T(test_err_secret_mode),
		T(test_err_secret_short),
		T(test_secret_file_lines),
		T(test_err_secret_not_regular),
		T(test_err_secret_fifo),
		T(test_err_secret_too_large),
		T(test_err_jwks_missing),
		T(test_err_jwks_invalid),
		T(test_err_jwks_fifo),
		T(test_err_line_too_long),
		T(test_err_nul_byte),
		T(test_err_no_service),
		T(test_err_no_issuer_no_server),
		T(test_err_no_file),
		T(test_err_late_frees_everything),
		T(test_uid_namespace_defaults),
		T(test_uid_namespace_clash),
		T(test_uid_namespace_shared),
		T(test_uid_namespace_values),
		T(test_every_error_reported),
		T(test_errors_in_file_order),
		T(test_errors_capped),
		T(test_errors_fit_the_buffer),
		T(test_suggest_key),
		T(test_suggest_section),
		T(test_iss_values),
		T(test_algorithms_without_key),
		T(test_reload_keeps_restart_keys),
		T(test_engine_new_sections),
		T(test_engine_left_out),
		T(test_engine_errors),
		T(test_node_store_failure),
		T(test_fxa_valid),
		T(test_fxa_verify_url),
		T(test_fxa_cross_checks),
		T(test_fxa_timeout_fits),
		T(test_remote_front_only),
		T(test_remote_worker_host),
		T(test_remote_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
