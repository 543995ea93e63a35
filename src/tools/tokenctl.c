/*
 * tokenctl.c - the operator's companion to tokend.
 *
 *   secret      a new secret; --prepend and --drop-oldest: the first and
 *               the last step of a rotation (owner and mode kept)
 *   mint        a token minted offline, as a worker would
 *   verify      a token checked through libtokend-verify, as a service would
 *   fernet-key  the key a stock Fernet library needs
 *   curve-keypair
 *               a CURVE key pair for [remote]: a worker host's or the
 *               front's (docs/deployment.md, "Worker hosts")
 *   jwt keygen, jwt sign
 *               a test issuer (src/tools/jwtgen.c), for smoke tests
 *   bench       the worker's pipeline in one process: the ceiling
 *               scripts/bench compares the daemon with
 *   status      a running tokend's health from its metrics endpoint
 *               (src/tools/status.c)
 *   node, user, db
 *               the node-assignment database (store/admin.c): nodes
 *               added, changed, downed, removed; a user's records shown,
 *               retired, old ones purged; the schema made or checked
 *
 * commands[] at the end holds each command's synopsis and options: the
 * usage, `tokenctl --help` and each `tokenctl COMMAND --help` print them
 * (stdout, exit 0; a usage error prints the synopsis on stderr, exit 2),
 * and docs/man/tokenctl.1 explains them; a test checks that the page
 * covers every command the list names.
 *
 * Minting goes through token.c like the workers; checking goes through
 * the public API of libtokend-verify, so that tokenctl verify answers what
 * a service linked with the library would answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <zmq.h>

#include "core/clock.h"
#include "config.h"
#include "tools/jwtgen.h"
#include "tools/status.h"
#include "core/log.h"
#include "mint.h"
#include "pool/curve.h"
#include "tokens/secret.h"
#include "tokens/service.h"
#include "tokens/token.h"
#include "store/admin.h"
#include "tokend/verify.h"

#define MAX_ASSERTIONS	100000
#define EXIT_INVALID	1
#define EXIT_USAGE	2

static _Noreturn void	usage(void);
static _Noreturn void	help(void);

/* "tokenctl: message" on stderr, then exit(code). */
static _Noreturn void __attribute__((format(printf, 2, 3)))
die(int code, const char *fmt, ...)
{
	va_list	ap;

	fputs("tokenctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static int64_t
parse_i64(const char *opt, const char *v, int64_t min)
{
	char		*end;
	long long	 n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min)
		die(EXIT_USAGE, "%s: expected an integer >= %" PRId64 ", got "
		    "\"%s\"", opt, min, v);
	return n;
}

/* ---- the service an option set names ---------------------------------- */

struct target {
	const char	*conf;
	const char	*service;
	const char	*node;
	const char	*secret_file;
	struct config	*cfg;
	const struct service *svc;	/* after resolve() */
};

/* Loads the config and finds the service (and node, if named). */
static void
resolve(struct target *t)
{
	char	err[CONFIG_ERRLEN];
	size_t	i;

	if (t->conf == NULL || t->service == NULL)
		usage();
	if ((t->cfg = config_load(t->conf, err, sizeof(err))) == NULL)
		die(EXIT_USAGE, "%s", err);
	if ((t->svc = config_service(t->cfg, t->service)) == NULL)
		die(EXIT_USAGE, "%s: no [service %s]", t->conf, t->service);
	if (t->node == NULL)
		return;
	if (t->svc->nnodes == 0) {
		if (strcmp(t->svc->node, t->node) != 0)
			die(EXIT_USAGE, "service %s has one node, %s",
			    t->service, t->svc->node);
		return;
	}
	for (i = 0; i < t->svc->nnodes; i++)
		if (strcmp(t->svc->nodes[i].node, t->node) == 0) {
			t->svc = &t->svc->nodes[i];
			return;
		}
	die(EXIT_USAGE, "service %s has no node %s", t->service, t->node);
}

enum {
	OPT_SERVICE = 256, OPT_NODE, OPT_SECRET_FILE, OPT_FORMAT, OPT_NOW,
	OPT_UID, OPT_ALL, OPT_PREPEND, OPT_DROP_OLDEST,
};

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "service", required_argument, NULL, OPT_SERVICE },
	{ "node", required_argument, NULL, OPT_NODE },
	{ "secret-file", required_argument, NULL, OPT_SECRET_FILE },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "now", required_argument, NULL, OPT_NOW },
	{ "uid", required_argument, NULL, OPT_UID },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "prepend", required_argument, NULL, OPT_PREPEND },
	{ "drop-oldest", required_argument, NULL, OPT_DROP_OLDEST },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* ---- secret ----------------------------------------------------------- */

/*
 * A new secret is put on top of path by secret.c, which keeps the file's
 * owner, group and mode.  A file it had to create belongs to whoever ran
 * this, often root: say so, since tokend's user must be able to read it.
 */
static void
prepend_secret(const char *path, const char *secret)
{
	struct stat	 st;
	struct passwd	*pw;
	struct group	*gr;
	char		 err[1024];
	int		 created;

	if (secret_file_prepend(path, secret, strlen(secret), &created, err,
	    sizeof(err)) == -1)
		die(1, "%s", err);
	if (!created || stat(path, &st) == -1)
		return;
	pw = getpwuid(st.st_uid);
	gr = getgrgid(st.st_gid);
	fprintf(stderr, "tokenctl: %s did not exist: created it, mode 0600, "
	    "owner %s:%s; chown it to the user tokend runs as if that is "
	    "another\n", path, pw != NULL ? pw->pw_name : "?",
	    gr != NULL ? gr->gr_name : "?");
}

static int
cmd_secret(int argc, char **argv)
{
	const char	*prepend = NULL, *drop = NULL;
	uint8_t		 raw[32];
	char		 hex[2 * sizeof(raw) + 1], err[1024];
	size_t		 i;
	int		 ch;

	while ((ch = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_PREPEND: prepend = optarg; break;
		case OPT_DROP_OLDEST: drop = optarg; break;
		case 'h': help();
		default: usage();
		}
	}
	if (optind != argc || (prepend != NULL && drop != NULL))
		usage();
	if (drop != NULL) {
		if (secret_file_drop_oldest(drop, err, sizeof(err)) == -1)
			die(1, "%s", err);
		return 0;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		die(1, "RAND_bytes failed");
	for (i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	if (prepend != NULL)
		prepend_secret(prepend, hex);
	else
		printf("%s\n", hex);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(hex, sizeof(hex));
	return 0;
}

/* ---- mint ------------------------------------------------------------- */

static int
cmd_mint(int argc, char **argv)
{
	struct target		 t = { 0 };
	const struct service	*svc;
	struct token_claims	 claims = { 0 };
	char			 token[TOKEN_MAX + 1], key[TOKEN_KEY_LEN + 1];
	int64_t			 now = wall_s(), uid = -1;
	json_t			*out;
	int			 ch;

	while ((ch = getopt_long(argc, argv, "c:h", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'c': t.conf = optarg; break;
		case 'h': help();
		case OPT_SERVICE: t.service = optarg; break;
		case OPT_NODE: t.node = optarg; break;
		case OPT_UID: uid = parse_i64("--uid", optarg, 0); break;
		case OPT_NOW: now = parse_i64("--now", optarg, 0); break;
		default: usage();
		}
	}
	if (optind != argc || uid < 0)
		usage();
	resolve(&t);
	/* The node a worker would pick, unless one is named. */
	svc = t.node != NULL ? t.svc : config_node_for(t.svc, (uint64_t)uid);
	if (svc == NULL)
		die(1, "service %s: no node for uid %" PRId64, t.service, uid);
	claims.uid = (uint64_t)uid;
	claims.node = svc->node;
	claims.expires = now + svc->duration;
	if (token_mint(svc->format, &svc->secrets, &claims, now, token,
	    key) == -1)
		die(1, "cannot mint a token for service %s", t.service);
	out = json_pack("{s:s, s:s, s:I, s:s, s:I, s:s, s:I}", "id", token,
	    "key", key, "uid", (json_int_t)uid, "api_endpoint", svc->node,
	    "duration", (json_int_t)svc->duration, "hashalg", "sha256",
	    "expires", (json_int_t)claims.expires);
	if (out == NULL || json_dumpf(out, stdout, JSON_COMPACT |
	    JSON_PRESERVE_ORDER) == -1)
		die(1, "cannot print the token");
	putchar('\n');
	json_decref(out);
	OPENSSL_cleanse(key, sizeof(key));
	config_free(t.cfg);
	return 0;
}

/* ---- verify ----------------------------------------------------------- */

/* A verifier holding the secrets of one service entry (one node). */
static struct tokend_verifier *
verifier_of(const struct service *svc)
{
	struct tokend_verifier	*v;
	size_t			 i;

	if ((v = tokend_verifier_new()) == NULL)
		die(EXIT_USAGE, "out of memory");
	for (i = 0; i < svc->secrets.n; i++)
		if (tokend_verifier_add_secret(v, svc->secrets.v[i].bytes,
		    svc->secrets.v[i].len) == -1)
			die(EXIT_USAGE, "service %s: %s", svc->name,
			    strerror(errno));
	if (tokend_verifier_set_format(v,
	    (enum tokend_format)svc->format) == -1)
		die(EXIT_USAGE, "service %s: bad format", svc->name);
	return v;
}

/* TOKEN, or a line of stdin for "-" (so it stays out of ps). */
static char *
read_token(const char *arg)
{
	static char	 buf[TOKEN_MAX + 2];
	size_t		 len;

	if (strcmp(arg, "-") != 0)
		return (char *)(uintptr_t)arg;
	if (fgets(buf, sizeof(buf), stdin) == NULL)
		die(EXIT_USAGE, "no token on standard input");
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	return buf;
}

static void
print_verified(const struct tokend_token *tok, const char *node_of_secret,
    int verbose)
{
	json_t	*payload, *out;

	if (!verbose) {
		printf("%s\n", tok->payload);
		return;
	}
	payload = json_loads(tok->payload, 0, NULL);
	out = json_pack("{s:s, s:I, s:s?, s:I, s:I, s:I, s:s, s:s, s:o}",
	    "format", tokend_format_name(tok->format),
	    "secret", (json_int_t)tok->secret_index,
	    "secret_node", node_of_secret,
	    "uid", (json_int_t)tok->uid,
	    "expires", (json_int_t)tok->expires,
	    "issued_at", (json_int_t)tok->issued_at,
	    "node", tok->node, "key", tok->key, "payload", payload);
	if (out == NULL || json_dumpf(out, stdout, JSON_COMPACT |
	    JSON_PRESERVE_ORDER) == -1)
		die(EXIT_USAGE, "cannot print the payload");
	putchar('\n');
	json_decref(out);
}

static int
cmd_verify(int argc, char **argv)
{
	struct target		 t = { 0 };
	struct tokend_verifier	*v;
	struct tokend_token	 tok;
	enum token_format	 fmt = TOKEN_FORMAT_ANY;
	const struct service	*entry;
	const char		*token, *node = NULL;
	char			 err[1024];
	int64_t			 now = wall_s();
	size_t			 i, n;
	int			 ch, verbose = 0, rc = TOKEND_ERR_SIGNATURE;
	int			 fmt_set = 0;

	while ((ch = getopt_long(argc, argv, "c:hv", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'c': t.conf = optarg; break;
		case 'h': help();
		case 'v': verbose = 1; break;
		case OPT_SERVICE: t.service = optarg; break;
		case OPT_NODE: t.node = optarg; break;
		case OPT_SECRET_FILE: t.secret_file = optarg; break;
		case OPT_NOW: now = parse_i64("--now", optarg, 0); break;
		case OPT_FORMAT:
			if (token_format_parse(optarg, &fmt) == -1)
				die(EXIT_USAGE, "--format: expected tokenlib "
				    "or fernet, got \"%s\"", optarg);
			fmt_set = 1;
			break;
		default: usage();
		}
	}
	if (optind + 1 != argc ||
	    (t.secret_file != NULL) == (t.conf != NULL || t.service != NULL))
		usage();
	token = read_token(argv[optind]);
	if (t.secret_file != NULL) {
		if ((v = tokend_verifier_new()) == NULL)
			die(EXIT_USAGE, "out of memory");
		if (tokend_verifier_load_file(v, t.secret_file, err,
		    sizeof(err)) == -1)
			die(EXIT_USAGE, "%s", err);
		tokend_verifier_set_format(v, (enum tokend_format)fmt);
		rc = tokend_verify(v, token, now, &tok);
		tokend_verifier_free(v);
	} else {
		resolve(&t);
		/* Each node's secrets apart: a node knows only its own. */
		n = t.svc->nnodes > 0 ? t.svc->nnodes : 1;
		for (i = 0; i < n; i++) {
			entry = t.svc->nnodes > 0 ? &t.svc->nodes[i] : t.svc;
			v = verifier_of(entry);
			if (fmt_set)
				tokend_verifier_set_format(v,
				    (enum tokend_format)fmt);
			rc = tokend_verify(v, token, now, &tok);
			tokend_verifier_free(v);
			node = entry->node;
			if (rc != TOKEND_ERR_SIGNATURE)
				break;
		}
	}
	if (rc != TOKEND_OK)
		die(EXIT_INVALID, "token rejected: %s", tokend_strerror(rc));
	print_verified(&tok, node, verbose);
	tokend_token_clear(&tok);
	config_free(t.cfg);
	return 0;
}

/* ---- fernet-key ------------------------------------------------------- */

static int
cmd_fernet_key(int argc, char **argv)
{
	struct target		 t = { 0 };
	struct secrets		 file = { 0 };
	const struct secrets	*s;
	char			 err[1024], key[TOKEND_FERNET_KEY_LEN + 1];
	size_t			 i;
	int			 ch, all = 0;

	while ((ch = getopt_long(argc, argv, "c:h", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'c': t.conf = optarg; break;
		case 'h': help();
		case OPT_SERVICE: t.service = optarg; break;
		case OPT_NODE: t.node = optarg; break;
		case OPT_SECRET_FILE: t.secret_file = optarg; break;
		case OPT_ALL: all = 1; break;
		default: usage();
		}
	}
	if (optind != argc ||
	    (t.secret_file != NULL) == (t.conf != NULL || t.service != NULL))
		usage();
	if (t.secret_file != NULL) {
		if (secrets_load(&file, t.secret_file, err, sizeof(err)) == -1)
			die(EXIT_USAGE, "%s", err);
		s = &file;
	} else {
		resolve(&t);
		if (t.svc->nnodes > 0)
			die(EXIT_USAGE, "service %s has several nodes: name "
			    "one with --node", t.service);
		s = &t.svc->secrets;
	}
	for (i = 0; i < (all ? s->n : 1); i++) {
		if (tokend_fernet_key(s->v[i].bytes, s->v[i].len, key) == -1)
			die(1, "cannot derive the Fernet key");
		printf("%s\n", key);
	}
	OPENSSL_cleanse(key, sizeof(key));
	secrets_free(&file);
	config_free(t.cfg);
	return 0;
}

/* ---- curve-keypair ---------------------------------------------------- */

enum { OPT_SECRET_OUT = 400, OPT_COMMENT };

static const struct option curve_opts[] = {
	{ "secret-out", required_argument, NULL, OPT_SECRET_OUT },
	{ "comment", required_argument, NULL, OPT_COMMENT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* The secret key file: a comment naming the public key, the key. */
static void
write_curve_secret(FILE *f, const char *pub, const char *sec,
    const char *comment)
{
	fprintf(f, "# CURVE secret key of %s (its public key: %s)\n%s\n",
	    comment, pub, sec);
}

/*
 * A new key pair.  The secret key goes to --secret-out (created, mode
 * 0600, never over an existing file) or to stdout in the file's format;
 * the authorized_keys line goes to stdout.  (A secret file's line
 * starting with '#' is a comment, but no Z85 key starts with one: the
 * first character of five encodes a 32-bit word's top, index 82 at most,
 * and '#' is 84.)
 */
static int
cmd_curve_keypair(int argc, char **argv)
{
	const char	*out = NULL, *comment = NULL;
	char		 pub[41], sec[41], host[256];
	FILE		*f;
	size_t		 i;
	int		 ch, fd;

	while ((ch = getopt_long(argc, argv, "h", curve_opts, NULL)) != -1) {
		switch (ch) {
		case 'h': help();
		case OPT_SECRET_OUT: out = optarg; break;
		case OPT_COMMENT: comment = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (comment == NULL) {
		if (gethostname(host, sizeof(host)) == -1)
			snprintf(host, sizeof(host), "unnamed-host");
		host[sizeof(host) - 1] = '\0';
		comment = host;
	}
	if (*comment == '\0' || strlen(comment) > AUTHKEY_NAME_MAX)
		die(EXIT_USAGE, "--comment: 1 to %d bytes", AUTHKEY_NAME_MAX);
	for (i = 0; comment[i] != '\0'; i++)
		if (comment[i] < ' ' || comment[i] > '~')
			die(EXIT_USAGE, "--comment: printable ASCII only");
	if (!zmq_has("curve"))
		die(1, "this libzmq has no CURVE");
	if (zmq_curve_keypair(pub, sec) == -1)
		die(1, "zmq_curve_keypair: %s", zmq_strerror(errno));
	if (out != NULL) {
		if ((fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600)) == -1 || (f = fdopen(fd, "w")) == NULL)
			die(1, "%s: %s", out, strerror(errno));
		write_curve_secret(f, pub, sec, comment);
		if (fflush(f) == EOF || fsync(fd) == -1 || fclose(f) == EOF)
			die(1, "%s: %s", out, strerror(errno));
	} else {
		write_curve_secret(stdout, pub, sec, comment);
		printf("# authorized_keys line (for the front):\n");
	}
	printf("%s %s\n", pub, comment);
	OPENSSL_cleanse(sec, sizeof(sec));
	return 0;
}

/* ---- bench ------------------------------------------------------------ */

/* One assertion per line; returns the count, exits on error. */
static size_t
read_assertions(const char *path, char ***out)
{
	FILE	*f;
	char	*line = NULL, **v;
	size_t	 cap = 0, n = 0;
	ssize_t	 len;

	if ((f = fopen(path, "r")) == NULL)
		fatal("%s", path);
	if ((v = calloc(MAX_ASSERTIONS, sizeof(*v))) == NULL)
		fatal("calloc");
	while (n < MAX_ASSERTIONS && (len = getline(&line, &cap, f)) != -1) {
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len > 0 && (v[n++] = strdup(line)) == NULL)
			fatal("strdup");
	}
	free(line);
	fclose(f);
	if (n == 0)
		fatalx("%s: no assertions", path);
	*out = v;
	return n;
}

/* bench's options are short ones; --help is the only long one. */
static const struct option help_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static double
cpu_seconds(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int
cmd_bench(int argc, char **argv)
{
	const char		*conf = NULL, *service = NULL;
	struct config		*cfg;
	struct mint_request	 req = { 0 };
	struct mint_result	 res;
	char			 err[CONFIG_ERRLEN], **as;
	size_t			 n, i, done = 0, failed = 0;
	long			 count = 0;
	double			 seconds = 3, cpu0, cpu, wall;
	uint64_t		 t0, deadline;
	int			 ch;

	while ((ch = getopt_long(argc, argv, "c:s:n:t:h", help_opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c': conf = optarg; break;
		case 'h': help();
		case 's': service = optarg; break;
		case 'n': count = strtol(optarg, NULL, 10); break;
		case 't': seconds = strtod(optarg, NULL); break;
		default: usage();
		}
	}
	if (conf == NULL || service == NULL || optind + 1 != argc)
		usage();
	if ((cfg = config_load(conf, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	n = read_assertions(argv[optind], &as);
	req.service = service;
	req.service_len = strlen(service);
	t0 = mono_us();
	deadline = t0 + (uint64_t)(seconds * 1e6);
	cpu0 = cpu_seconds();
	for (i = 0; count > 0 ? (long)done < count : mono_us() < deadline;
	    i = (i + 1) % n) {
		req.assertion = as[i];
		req.assertion_len = strlen(as[i]);
		mint_token(cfg, &req, wall_s(), &res);
		if (res.error != NULL && failed++ == 0)
			fprintf(stderr, "tokenctl: assertion %zu: %s\n", i,
			    res.description);
		done++;
	}
	wall = (double)(mono_us() - t0) / 1e6;
	cpu = cpu_seconds() - cpu0;
	printf("tokens: %zu\nfailed: %zu\nseconds: %.3f\n"
	    "tokens_per_second: %.0f\ncpu_us_per_token: %.2f\n",
	    done, failed, wall, (double)done / wall, cpu * 1e6 / (double)done);
	for (i = 0; i < n; i++)
		free(as[i]);
	free(as);
	config_free(cfg);
	return failed == 0 ? 0 : 1;
}

/* ---- jwt ------------------------------------------------------------- */

enum {
	OPT_ALG = 300, OPT_KID, OPT_KEY_OUT, OPT_JWKS_OUT, OPT_KEY, OPT_ISS,
	OPT_AUD, OPT_SUB, OPT_TTL,
};

static const struct option jwt_opts[] = {
	{ "alg", required_argument, NULL, OPT_ALG },
	{ "kid", required_argument, NULL, OPT_KID },
	{ "key-out", required_argument, NULL, OPT_KEY_OUT },
	{ "jwks-out", required_argument, NULL, OPT_JWKS_OUT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "iss", required_argument, NULL, OPT_ISS },
	{ "aud", required_argument, NULL, OPT_AUD },
	{ "sub", required_argument, NULL, OPT_SUB },
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "now", required_argument, NULL, OPT_NOW },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* The options of jwt keygen and jwt sign, with their defaults. */
struct jwt_args {
	const char	*alg, *kid, *key_out, *jwks_out;
	const char	*key, *iss, *aud, *sub;
	int64_t		 ttl, now;
};

static void
jwt_parse(int argc, char **argv, struct jwt_args *a)
{
	int	 ch;

	memset(a, 0, sizeof(*a));
	a->ttl = 300;
	a->now = wall_s();
	while ((ch = getopt_long(argc, argv, "h", jwt_opts, NULL)) != -1) {
		switch (ch) {
		case 'h': help();
		case OPT_ALG: a->alg = optarg; break;
		case OPT_KID: a->kid = optarg; break;
		case OPT_KEY_OUT: a->key_out = optarg; break;
		case OPT_JWKS_OUT: a->jwks_out = optarg; break;
		case OPT_KEY: a->key = optarg; break;
		case OPT_ISS: a->iss = optarg; break;
		case OPT_AUD: a->aud = optarg; break;
		case OPT_SUB: a->sub = optarg; break;
		case OPT_TTL: a->ttl = parse_i64("--ttl", optarg, 1); break;
		case OPT_NOW: a->now = parse_i64("--now", optarg, 0); break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
}

/* Prints the kid it used (random unless --kid), for sign's --kid. */
static int
cmd_jwt_keygen(int argc, char **argv)
{
	struct jwt_args	 a;
	char		 err[512], kidbuf[32];
	uint8_t		 rnd[4];

	jwt_parse(argc, argv, &a);
	if (a.alg == NULL || a.key_out == NULL || a.jwks_out == NULL)
		usage();
	if (a.kid == NULL) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			die(1, "RAND_bytes failed");
		snprintf(kidbuf, sizeof(kidbuf), "tokenctl-%02x%02x%02x%02x",
		    rnd[0], rnd[1], rnd[2], rnd[3]);
		a.kid = kidbuf;
	}
	if (jwtgen_keygen(a.alg, a.kid, a.key_out, a.jwks_out, err,
	    sizeof(err)) == -1)
		die(1, "jwt keygen: %s", err);
	printf("%s\n", a.kid);
	return 0;
}

static int
cmd_jwt_sign(int argc, char **argv)
{
	struct jwt_args	 a;
	char		 err[512], *jwt;

	jwt_parse(argc, argv, &a);
	if (a.key == NULL || a.iss == NULL || a.aud == NULL || a.sub == NULL)
		usage();
	if ((jwt = jwtgen_sign(a.key, a.kid, a.iss, a.aud, a.sub, a.now, a.ttl,
	    err, sizeof(err))) == NULL)
		die(1, "jwt sign: %s", err);
	printf("%s\n", jwt);
	free(jwt);
	return 0;
}

/* ---- status ------------------------------------------------------------ */

enum { OPT_METRICS = 400, OPT_INTERVAL, OPT_TIMEOUT, OPT_MAX_5XX };

static const struct option status_opts[] = {
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "max-5xx", required_argument, NULL, OPT_MAX_5XX },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static double
parse_double(const char *opt, const char *v, double min, double max)
{
	char	*end;
	double	 d;

	errno = 0;
	d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !(d >= min && d <= max))
		die(EXIT_USAGE, "%s: expected a number from %g to %g, got "
		    "\"%s\"", opt, min, max, v);
	return d;
}

static int
cmd_status(int argc, char **argv)
{
	struct status_options	o = { NULL, 1, 2, 5 };
	int			ch;

	while ((ch = getopt_long(argc, argv, "h", status_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_METRICS: o.url = optarg; break;
		case OPT_INTERVAL:
			o.interval = parse_double("--interval", optarg, 0.1, 60);
			break;
		case OPT_TIMEOUT:
			o.timeout = parse_double("--timeout", optarg, 0.1, 60);
			break;
		case OPT_MAX_5XX:
			o.max_5xx = parse_double("--max-5xx", optarg, 0, 100);
			break;
		case 'h': help();
		default: usage();
		}
	}
	if (o.url == NULL || optind != argc)
		usage();
	return status_run(&o);
}

/* ---- node, user, db: the node-assignment database ------------------- */

/*
 * These run store/admin.c against the database a running tokend uses:
 * -c CONFIG reads its [database] (url, password_file, timeout), --db URL
 * names one directly.  Exit 0 done, 1 refused or failed, 2 usage or a bad
 * value, 3 the database is down, busy or slow (try again).
 */
#define EXIT_UNAVAIL	3

static const char	*running;	/* defined with the commands */
#define DB_TIMEOUT_MS	10000	/* --db without -c: the bound on each call */

enum {
	OPT_DB = 500, OPT_CAPACITY, OPT_AVAILABLE, OPT_CURRENT_LOAD,
	OPT_DOWNED, OPT_BACKOFF, OPT_PATTERN, OPT_FORCE, OPT_UNASSIGN,
	OPT_OFF, OPT_GRACE, OPT_DRY_RUN, OPT_BATCH, OPT_DB_TIMEOUT,
};

static const struct option db_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "db", required_argument, NULL, OPT_DB },
	{ "timeout", required_argument, NULL, OPT_DB_TIMEOUT },
	{ "service", required_argument, NULL, OPT_SERVICE },
	{ "capacity", required_argument, NULL, OPT_CAPACITY },
	{ "available", required_argument, NULL, OPT_AVAILABLE },
	{ "current-load", required_argument, NULL, OPT_CURRENT_LOAD },
	{ "downed", required_argument, NULL, OPT_DOWNED },
	{ "backoff", required_argument, NULL, OPT_BACKOFF },
	{ "pattern", required_argument, NULL, OPT_PATTERN },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "unassign", no_argument, NULL, OPT_UNASSIGN },
	{ "off", no_argument, NULL, OPT_OFF },
	{ "grace-period", required_argument, NULL, OPT_GRACE },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Which of db_opts a command takes, beyond -c, --db, --timeout, --help. */
#define DBO_SERVICE	0x001
#define DBO_NODE_VALUES	0x002	/* --capacity --available --current-load */
#define DBO_FLAGS	0x004	/* --downed --backoff */
#define DBO_PATTERN	0x008
#define DBO_FORCE	0x010
#define DBO_UNASSIGN	0x020
#define DBO_OFF		0x040
#define DBO_PURGE	0x080	/* --grace-period --dry-run --batch */

struct dbargs {
	const char		*conf;
	const char		*url;
	int			 timeout_ms;
	const char		*service;
	const char		*pattern;
	struct admin_node_change ch;
	int			 force, off, dry_run, batch;
	double			 grace_days;
	char			**pos;		/* the positional arguments */
	int			 npos;
};

static int
opt_allowed(int ch, unsigned allowed)
{
	switch (ch) {
	case OPT_SERVICE: return allowed & DBO_SERVICE;
	case OPT_CAPACITY: case OPT_AVAILABLE: case OPT_CURRENT_LOAD:
		return allowed & DBO_NODE_VALUES;
	case OPT_DOWNED: case OPT_BACKOFF: return allowed & DBO_FLAGS;
	case OPT_PATTERN: return allowed & DBO_PATTERN;
	case OPT_FORCE: return allowed & DBO_FORCE;
	case OPT_UNASSIGN: return allowed & DBO_UNASSIGN;
	case OPT_OFF: return allowed & DBO_OFF;
	case OPT_GRACE: case OPT_DRY_RUN: case OPT_BATCH:
		return allowed & DBO_PURGE;
	default: return 1;
	}
}

static const char *
opt_name(int ch)
{
	const struct option	*o;

	for (o = db_opts; o->name != NULL; o++)
		if (o->val == ch)
			return o->name;
	return "?";
}

static int64_t
parse_flag(const char *opt, const char *v)
{
	if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
		die(EXIT_USAGE, "%s: expected 0 or 1, got \"%s\"", opt, v);
	return v[0] - '0';
}

static double
parse_days(const char *v)
{
	char	*end;
	double	 d;

	errno = 0;
	d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !(d >= 0) ||
	    d > 36500)
		die(EXIT_USAGE, "--grace-period: expected days from 0 to "
		    "36500 (a fraction is allowed), got \"%s\"", v);
	return d;
}

/*
 * Parses a db command's options (those allowed) and checks that it has
 * from min to max positional arguments.
 */
static void
db_parse(int argc, char **argv, unsigned allowed, int min, int max,
    struct dbargs *a)
{
	int	ch;

	memset(a, 0, sizeof(*a));
	a->ch = ADMIN_NODE_CHANGE_NONE;
	a->batch = 100;
	a->grace_days = 7;		/* Mozilla's default: one week */
	while ((ch = getopt_long(argc, argv, "c:h", db_opts, NULL)) != -1) {
		if (ch != '?' && !opt_allowed(ch, allowed)) {
			fprintf(stderr, "tokenctl: %s does not take --%s\n",
			    running, opt_name(ch));
			usage();
		}
		switch (ch) {
		case 'c': a->conf = optarg; break;
		case 'h': help();
		case OPT_DB: a->url = optarg; break;
		case OPT_DB_TIMEOUT:
			a->timeout_ms = (int)parse_i64("--timeout", optarg, 1);
			if (a->timeout_ms > 600000)
				die(EXIT_USAGE, "--timeout: at most 600000 ms");
			break;
		case OPT_SERVICE: a->service = optarg; break;
		case OPT_PATTERN: a->pattern = optarg; break;
		case OPT_CAPACITY:
			a->ch.capacity = parse_i64("--capacity", optarg, 0);
			break;
		case OPT_AVAILABLE:
			a->ch.available = parse_i64("--available", optarg, 0);
			break;
		case OPT_CURRENT_LOAD:
			a->ch.current_load = parse_i64("--current-load",
			    optarg, 0);
			break;
		case OPT_DOWNED:
			a->ch.downed = parse_flag("--downed", optarg);
			break;
		case OPT_BACKOFF:
			a->ch.backoff = parse_flag("--backoff", optarg);
			break;
		case OPT_FORCE: a->force = 1; break;
		case OPT_UNASSIGN: a->ch.unassign = 1; break;
		case OPT_OFF: a->off = 1; break;
		case OPT_GRACE: a->grace_days = parse_days(optarg); break;
		case OPT_DRY_RUN: a->dry_run = 1; break;
		case OPT_BATCH:
			a->batch = (int)parse_i64("--batch", optarg, 1);
			if (a->batch > 1000)
				die(EXIT_USAGE, "--batch: at most 1000");
			break;
		default: usage();
		}
	}
	a->pos = argv + optind;
	a->npos = argc - optind;
	if (a->npos < min || a->npos > max) {
		fprintf(stderr, "tokenctl: %s takes %s\n", running,
		    min == max ? (min == 0 ? "no argument" : min == 1 ?
		    "one argument" : "two arguments") : "at most one "
		    "argument");
		usage();
	}
	if ((a->conf == NULL) == (a->url == NULL))
		die(EXIT_USAGE, "%s: give the database: -c CONFIG (its "
		    "[database]) or --db URL", running);
}

/* The database -c or --db names, opened; exits when it cannot be. */
static struct sqldb *
db_connect(struct dbargs *a)
{
	struct config	*cfg = NULL;
	struct sqldb	*db;
	enum sqldb_kind	 kind;
	char		 err[CONFIG_ERRLEN], *password = NULL;
	const char	*url = a->url, *path;
	int		 timeout = a->timeout_ms > 0 ? a->timeout_ms :
			    DB_TIMEOUT_MS;	/* not the config's: a request's */

	if (a->conf != NULL) {
		if ((cfg = config_load(a->conf, err, sizeof(err))) == NULL)
			die(EXIT_USAGE, "%s", err);
		if (cfg->database == NULL || cfg->database->url == NULL)
			die(EXIT_USAGE, "%s: no [database]", a->conf);
		url = cfg->database->url;
		if (cfg->database->password != NULL &&
		    (password = strndup((const char *)
		    cfg->database->password->bytes,
		    cfg->database->password->len)) == NULL)
			die(1, "out of memory");
	}
	if (sqldb_check_url(url, &kind, err, sizeof(err)) == -1)
		die(EXIT_USAGE, "%s", err);
	/* Opening a SQLite file creates it: only db init may. */
	if (kind == SQLDB_SQLITE && strcmp(running, "db init") != 0 &&
	    (path = config_sqlite_path(url)) != NULL && access(path, F_OK) == -1)
		die(1, "%s: no database there (tokenctl db init, or tokend at "
		    "start, creates it)", path);
	db = sqldb_open(url, password, timeout, err, sizeof(err));
	if (password != NULL) {
		OPENSSL_cleanse(password, strlen(password));
		free(password);
	}
	config_free(cfg);
	if (db == NULL)
		die(EXIT_UNAVAIL, "%s", err);
	return db;
}

/* Exits with the code an admin_rc calls for, saying why. */
static int
db_done(struct sqldb *db, enum admin_rc rc, const char *err)
{
	sqldb_close(db);
	if (rc == ADMIN_OK)
		return 0;
	fprintf(stderr, "tokenctl: %s\n", err);
	switch (rc) {
	case ADMIN_INVALID: return EXIT_USAGE;
	case ADMIN_UNAVAIL: return EXIT_UNAVAIL;
	default: return 1;
	}
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
node_header(void)
{
	printf("%-12s %-34s %9s %12s %8s %6s %7s %5s\n", "SERVICE", "NODE",
	    "AVAILABLE", "CURRENT_LOAD", "CAPACITY", "DOWNED", "BACKOFF",
	    "USERS");
}

static void
print_node(const struct admin_node *n, void *arg)
{
	char	svc[32];

	if (n->service[0] == '\0')
		snprintf(svc, sizeof(svc), "#%" PRId64, n->service_id);
	printf("%-12s %-34s %9" PRId64 " %12" PRId64 " %8" PRId64 " %6"
	    PRId64 " %7" PRId64 " %5" PRId64 "\n",
	    n->service[0] != '\0' ? n->service : svc, n->node, n->available,
	    n->current_load, n->capacity, n->downed, n->backoff, n->users);
	if (arg != NULL)
		(*(int *)arg)++;
}

/* node list's callback: the header before the first node. */
static void
list_node(const struct admin_node *n, void *arg)
{
	if (*(int *)arg == 0)
		node_header();
	print_node(n, arg);
}

/* What a node's new state means for a running tokend, on stderr. */
static void
node_warnings(const struct admin_node *n)
{
	if (n->capacity <= n->current_load)
		fprintf(stderr, "tokenctl: warning: capacity %" PRId64 " is "
		    "not above current_load %" PRId64 ": %s gets no new user "
		    "(its %" PRId64 " users stay on it)\n", n->capacity,
		    n->current_load, n->node, n->users);
	else if (n->available > n->capacity - n->current_load)
		fprintf(stderr, "tokenctl: warning: available %" PRId64
		    " is more than capacity - current_load (%" PRId64 "): "
		    "%s takes new users past its capacity only until "
		    "current_load reaches it\n", n->available,
		    n->capacity - n->current_load, n->node);
	else if (n->available == 0 && !n->downed && !n->backoff)
		fprintf(stderr, "tokenctl: note: available is 0: %s gets new "
		    "users only when no node has room and tokend releases "
		    "capacity\n", n->node);
}

static int
cmd_node_add(int argc, char **argv)
{
	struct dbargs		a;
	struct admin_node	n;
	struct sqldb		*db;
	enum admin_rc		rc;
	char			err[512];

	db_parse(argc, argv, DBO_NODE_VALUES | DBO_FLAGS | DBO_PATTERN, 2,
	    2, &a);
	if (a.ch.capacity < 0)
		die(EXIT_USAGE, "node add: --capacity N is required");
	if (admin_check_service(a.pos[0], err, sizeof(err)) == -1 ||
	    admin_check_node_url(a.pos[1], err, sizeof(err)) == -1)
		die(EXIT_USAGE, "%s", err);
	db = db_connect(&a);
	rc = admin_node_add(db, a.pos[0], a.pattern, a.pos[1], &a.ch, &n,
	    err, sizeof(err));
	if (rc == ADMIN_OK) {
		node_header();
		print_node(&n, NULL);
		node_warnings(&n);
	}
	return db_done(db, rc, err);
}

static int
cmd_node_list(int argc, char **argv)
{
	struct dbargs	 a;
	struct sqldb	*db;
	enum admin_rc	 rc;
	char		 err[512];
	int		 count = 0;

	db_parse(argc, argv, 0, 0, 1, &a);
	db = db_connect(&a);
	rc = admin_node_list(db, a.npos > 0 ? a.pos[0] : NULL, list_node,
	    &count, err, sizeof(err));
	if (rc == ADMIN_OK && count == 0)
		fprintf(stderr, "tokenctl: no nodes%s%s\n",
		    a.npos > 0 ? " for " : "", a.npos > 0 ? a.pos[0] : "");
	return db_done(db, rc, err);
}

/* node update, down and backoff: a change, then the node as it is. */
static int
node_change(struct dbargs *a)
{
	struct admin_node	n;
	struct sqldb		*db;
	enum admin_rc		rc;
	int64_t			unassigned;
	char			err[512];

	db = db_connect(a);
	rc = admin_node_update(db, a->pos[0], a->pos[1], &a->ch, now_ms(), &n,
	    &unassigned, err, sizeof(err));
	if (rc == ADMIN_OK) {
		node_header();
		print_node(&n, NULL);
		if (a->ch.unassign)
			printf("unassigned %" PRId64 " user%s: each gets "
			    "another node at its next request\n", unassigned,
			    unassigned == 1 ? "" : "s");
		if (a->ch.capacity >= 0 || a->ch.available >= 0 ||
		    a->ch.current_load >= 0)
			node_warnings(&n);
	}
	return db_done(db, rc, err);
}

static int
cmd_node_update(int argc, char **argv)
{
	struct dbargs	a;

	db_parse(argc, argv, DBO_NODE_VALUES | DBO_FLAGS, 2, 2, &a);
	if (a.ch.capacity < 0 && a.ch.available < 0 &&
	    a.ch.current_load < 0 && a.ch.downed < 0 && a.ch.backoff < 0)
		die(EXIT_USAGE, "node update: nothing to change (--capacity, "
		    "--available, --current-load, --downed, --backoff)");
	return node_change(&a);
}

static int
cmd_node_down(int argc, char **argv)
{
	struct dbargs	a;

	db_parse(argc, argv, DBO_UNASSIGN | DBO_OFF, 2, 2, &a);
	if (a.off && a.ch.unassign)
		die(EXIT_USAGE, "node down: --off and --unassign do not go "
		    "together");
	a.ch.downed = a.off ? 0 : 1;
	return node_change(&a);
}

static int
cmd_node_backoff(int argc, char **argv)
{
	struct dbargs	a;

	db_parse(argc, argv, DBO_OFF, 2, 2, &a);
	a.ch.backoff = a.off ? 0 : 1;
	return node_change(&a);
}

static int
cmd_node_remove(int argc, char **argv)
{
	struct dbargs	 a;
	struct sqldb	*db;
	enum admin_rc	 rc;
	int64_t		 users;
	char		 err[768];

	db_parse(argc, argv, DBO_FORCE, 2, 2, &a);
	db = db_connect(&a);
	rc = admin_node_remove(db, a.pos[0], a.pos[1], a.force, now_ms(),
	    &users, err, sizeof(err));
	if (rc == ADMIN_OK)
		printf("removed %s from %s; unassigned %" PRId64 " user%s\n",
		    a.pos[1], a.pos[0], users, users == 1 ? "" : "s");
	return db_done(db, rc, err);
}

static void
print_i64_or_dash(int64_t v, int width)
{
	if (v < 0)
		printf(" %*s", width, "-");
	else
		printf(" %*" PRId64, width, v);
}

static void
print_user(const struct admin_user *u, void *arg)
{
	const char	*verb = arg;

	if (verb != NULL)
		printf("%s uid %" PRId64 " of %s for %s on %s, replaced at %"
		    PRId64 "\n", verb, u->uid, u->email, u->service,
		    u->node[0] != '\0' ? u->node : "-", u->replaced_at);
	else {
		printf("%-12s %12" PRId64 " %-34s", u->service, u->uid,
		    u->node[0] != '\0' ? u->node : "-");
		print_i64_or_dash(u->generation, 19);
		print_i64_or_dash(u->keys_changed_at, 15);
		printf(" %-32s %13" PRId64,
		    u->client_state[0] != '\0' ? u->client_state : "-",
		    u->created_at);
		print_i64_or_dash(u->replaced_at, 13);
		printf("\n");
	}
}

static int
cmd_user_show(int argc, char **argv)
{
	struct dbargs	 a;
	struct sqldb	*db;
	enum admin_rc	 rc;
	char		 err[512];

	db_parse(argc, argv, DBO_SERVICE, 1, 1, &a);
	if (admin_check_email(a.pos[0], err, sizeof(err)) == -1)
		die(EXIT_USAGE, "%s", err);
	db = db_connect(&a);
	printf("%-12s %12s %-34s %19s %15s %-32s %13s %13s\n", "SERVICE",
	    "UID", "NODE", "GENERATION", "KEYS_CHANGED_AT", "CLIENT_STATE",
	    "CREATED_AT", "REPLACED_AT");
	rc = admin_user_show(db, a.pos[0], a.service, print_user, NULL, err,
	    sizeof(err));
	return db_done(db, rc, err);
}

static int
cmd_user_retire(int argc, char **argv)
{
	struct dbargs	 a;
	struct sqldb	*db;
	enum admin_rc	 rc;
	int64_t		 n;
	char		 err[512];

	db_parse(argc, argv, DBO_SERVICE, 1, 1, &a);
	if (admin_check_email(a.pos[0], err, sizeof(err)) == -1)
		die(EXIT_USAGE, "%s", err);
	db = db_connect(&a);
	rc = admin_user_retire(db, a.pos[0], a.service, now_ms(), &n, err,
	    sizeof(err));
	if (rc == ADMIN_OK && n == 0) {
		snprintf(err, sizeof(err), "%s has no current record%s%s",
		    a.pos[0], a.service != NULL ? " for " : "",
		    a.service != NULL ? a.service : "");
		rc = ADMIN_NOT_FOUND;
	} else if (rc == ADMIN_OK)
		printf("retired %" PRId64 " record%s of %s\n", n,
		    n == 1 ? "" : "s", a.pos[0]);
	return db_done(db, rc, err);
}

static int
cmd_user_purge(int argc, char **argv)
{
	struct dbargs		a;
	struct admin_purge	pg = { 0 };
	struct sqldb		*db;
	enum admin_rc		rc;
	char			err[512];

	db_parse(argc, argv, DBO_SERVICE | DBO_PURGE, 0, 0, &a);
	db = db_connect(&a);
	pg.service = a.service;
	pg.grace_ms = (int64_t)(a.grace_days * 86400000.0);
	pg.batch = a.batch;
	pg.dry_run = a.dry_run;
	pg.fn = print_user;
	pg.arg = (void *)(a.dry_run ? "would purge" : "purged");
	rc = admin_purge(db, &pg, now_ms(), err, sizeof(err));
	if (a.dry_run)
		printf("would purge %" PRId64 " record%s\n", pg.purged,
		    pg.purged == 1 ? "" : "s");
	else
		printf("purged %" PRId64 " record%s; gave %" PRId64
		    " node slot%s back\n", pg.purged, pg.purged == 1 ? "" :
		    "s", pg.freed, pg.freed == 1 ? "" : "s");
	return db_done(db, rc, err);
}

static int
cmd_db_init(int argc, char **argv)
{
	struct dbargs	 a;
	struct sqldb	*db;
	enum admin_rc	 rc;
	char		 err[512];
	int		 created = 0;

	db_parse(argc, argv, 0, 0, 0, &a);
	db = db_connect(&a);
	rc = admin_db_init(db, &created, err, sizeof(err));
	if (rc == ADMIN_OK)
		printf("%s\n", created ? "created Mozilla's schema" :
		    "the schema was there already: it is Mozilla's");
	return db_done(db, rc, err);
}

static int
cmd_db_check(int argc, char **argv)
{
	struct dbargs		a;
	struct admin_check	c;
	struct sqldb		*db;
	enum admin_rc		rc;
	char			err[512];

	db_parse(argc, argv, 0, 0, 0, &a);
	db = db_connect(&a);
	if ((rc = admin_db_check(db, &c, err, sizeof(err))) != ADMIN_OK)
		return db_done(db, rc == ADMIN_INVALID ? ADMIN_ERR : rc, err);
	printf("schema: Mozilla's (services, nodes, users)\n"
	    "services: %" PRId64 "\nnodes: %" PRId64 "\nusers: %" PRId64
	    " current, %" PRId64 " replaced\n", c.services, c.nodes,
	    c.current_users, c.replaced_users);
	if (c.missing_indexes[0] != '\0')
		printf("warning: missing index%s of users: %s (lookups scan "
		    "the table)\n", strchr(c.missing_indexes, ' ') != NULL ?
		    "es" : "", c.missing_indexes);
	if (c.duplicate_users > 0)
		printf("warning: %" PRId64 " user%s more than one current "
		    "record (tokend keeps the newest at the next request)\n",
		    c.duplicate_users, c.duplicate_users == 1 ? " has" :
		    "s have");
	if (c.nodeless_users > 0)
		printf("warning: %" PRId64 " current record%s no node "
		    "(those users get one at their next request)\n",
		    c.nodeless_users, c.nodeless_users == 1 ? " names" :
		    "s name");
	if (c.overfull_nodes > 0)
		printf("warning: %" PRId64 " node%s current_load above "
		    "capacity\n", c.overfull_nodes, c.overfull_nodes == 1 ?
		    " has" : "s have");
	return db_done(db, ADMIN_OK, err);
}

/* ---- commands, usage, --help ------------------------------------------ */

/*
 * Every command: its name ("jwt keygen" for one of a group), its synopsis
 * (after "tokenctl NAME" in the usage) and the help its --help adds.
 * Defaults stated here are the code's; docs/man/tokenctl.1 says more.
 */
/* The options every node, user and db command takes, and their exits. */
#define DB_HELP \
	"  -c, --config CONFIG  tokend's configuration: its [database] (url,\n" \
	"                       password_file)\n" \
	"  --db URL             or this database: sqlite:///PATH or\n" \
	"                       postgres://USER[:PASS]@HOST[:PORT]/DB\n" \
	"  --timeout MS         bound on each database call (default: 10000)\n" \
	"Exit 0 done, 1 refused or failed (not found, exists, users on the\n" \
	"node), 2 usage or a bad value, 3 the database is down, busy or slow.\n"

static const struct command {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*synopsis;
	const char	*help;
} commands[] = {
	{ "secret", cmd_secret, "[--prepend FILE | --drop-oldest FILE]",
	    "Prints a new secret: 32 random bytes as 64 hex digits, one line\n"
	    "of a secret file.\n"
	    "  --prepend FILE      put it on top of FILE instead: a rotation's\n"
	    "                      first step (then reload tokend); a missing\n"
	    "                      FILE is created, mode 0600, owned by the\n"
	    "                      caller\n"
	    "  --drop-oldest FILE  remove FILE's oldest (last) secret instead:\n"
	    "                      a rotation's last step, once the longest\n"
	    "                      token duration has passed (then reload);\n"
	    "                      refused (exit 1) for the only secret\n"
	    "Both rewrite FILE whole, atomically, keeping its owner, group and\n"
	    "mode: run them as root or as the user tokend runs as.\n" },
	{ "mint", cmd_mint,
	    "-c CONFIG --service S --uid N [--node URL] [--now T]",
	    "Mints a token offline, as a worker would, and prints the JSON a\n"
	    "client gets from POST /v1/token.\n"
	    "  -c, --config CONFIG  tokend's configuration\n"
	    "  --service S          the [service S] to mint for\n"
	    "  --uid N              the user's uid\n"
	    "  --node URL           this node (default: the node tokend picks\n"
	    "                       for the uid)\n"
	    "  --now T              mint at unix time T (default: now)\n" },
	{ "verify", cmd_verify,
	    "(-c CONFIG --service S [--node URL] | --secret-file F)\n"
	    "                [--format tokenlib|fernet] [--now T] [-v] TOKEN|-",
	    "Checks TOKEN (\"-\": a line of standard input, out of ps) with every\n"
	    "secret, through libtokend-verify, and prints its payload.  Exit 0\n"
	    "valid, 1 invalid (the reason on stderr), 2 usage or setup error.\n"
	    "  -c, --config CONFIG  tokend's configuration, with --service S:\n"
	    "                       that service's secrets (each node's in turn)\n"
	    "  --node URL           only that node's secrets\n"
	    "  --secret-file F      the secrets of F instead\n"
	    "  --format F           accept only tokenlib or fernet (default: the\n"
	    "                       service's format; with --secret-file, any)\n"
	    "  --now T              check at unix time T (default: now)\n"
	    "  -v, --verbose        print JSON: format, secret (index, 0 newest),\n"
	    "                       secret_node, uid, expires, issued_at (-1 for\n"
	    "                       tokenlib), node, key, payload\n" },
	{ "fernet-key", cmd_fernet_key,
	    "(--secret-file F | -c CONFIG --service S [--node URL]) [--all]",
	    "Prints the Fernet key (44 characters) of the minting (first)\n"
	    "secret, for a service checking fernet tokens with a stock Fernet\n"
	    "library.\n"
	    "  --secret-file F      the secrets of F\n"
	    "  -c, --config CONFIG  or of [service S] (--service S) in CONFIG;\n"
	    "                       --node URL for a service with a nodes_file\n"
	    "  --all                the key of every secret, newest first\n" },
	{ "curve-keypair", cmd_curve_keypair,
	    "[--secret-out FILE] [--comment NAME]",
	    "A new CURVE key pair for [remote] (a worker host's, or the\n"
	    "front's): prints the secret key file (a comment, then the Z85\n"
	    "secret key), then the authorized_keys line: the Z85 public key\n"
	    "and NAME.\n"
	    "  --secret-out FILE  write the secret key file to FILE instead\n"
	    "                     (created, mode 0600; an existing FILE is\n"
	    "                     refused) and print only the authorized_keys\n"
	    "                     line\n"
	    "  --comment NAME     the host the key is for (default: this host's\n"
	    "                     name), printable ASCII, at most 63 bytes\n" },
	{ "jwt keygen", cmd_jwt_keygen,
	    "--alg RS256|ES256|EdDSA [--kid K] --key-out PEM --jwks-out JSON",
	    "A test issuer's key: a new key pair, and prints its kid.\n"
	    "  --alg A          RS256 (RSA 2048), ES256 (P-256) or EdDSA\n"
	    "                   (Ed25519)\n"
	    "  --kid K          the key id (default: \"tokenctl-\" and 8 random\n"
	    "                   hex digits)\n"
	    "  --key-out PEM    where the private key goes (PKCS#8, mode 0600)\n"
	    "  --jwks-out JSON  where its public JWK Set goes, for an\n"
	    "                   [issuer]'s jwks_file\n" },
	{ "jwt sign", cmd_jwt_sign,
	    "--key PEM [--kid K] --iss I --aud A --sub S [--ttl T] [--now T]",
	    "Prints a JWT signed with PEM (its alg follows the key), with the\n"
	    "claims iss, sub, aud, iat and nbf (now) and exp (now + ttl).\n"
	    "  --key PEM  the private key jwt keygen wrote\n"
	    "  --kid K    the header's kid (default: none; give keygen's)\n"
	    "  --iss I    the issuer: an [issuer]'s iss\n"
	    "  --aud A    the audience: that [issuer]'s audience\n"
	    "  --sub S    the subject: the user\n"
	    "  --ttl T    lifetime in seconds (default: 300)\n"
	    "  --now T    issue at unix time T (default: now)\n" },
	{ "bench", cmd_bench, "-c CONFIG -s SERVICE [-n COUNT] [-t SECONDS] FILE",
	    "Runs the assertions of FILE (one a line) through the pipeline a\n"
	    "worker runs (verify, uid, mint) in this one process, and prints\n"
	    "tokens per second and CPU microseconds per token.  Exit 1 if an\n"
	    "assertion failed.\n"
	    "  -c CONFIG   tokend's configuration\n"
	    "  -s SERVICE  the service to mint for\n"
	    "  -n COUNT    stop after COUNT tokens (default: after SECONDS)\n"
	    "  -t SECONDS  run for SECONDS (default: 3)\n" },
	{ "status", cmd_status,
	    "--metrics URL [--interval S] [--timeout S] [--max-5xx PCT]",
	    "Reads tokend's metrics endpoint ([metrics] listen) twice, S\n"
	    "seconds apart, and prints workers by state, the queue, requests\n"
	    "per second by status, p50/p99 latency and the top rejection\n"
	    "reasons of that window.  Exit 0 healthy; 1 degraded: no worker\n"
	    "idle or busy, a worker lost, or more than PCT percent of the\n"
	    "window's requests answered 5xx; 2 unreachable: no connection,\n"
	    "no answer in time, not 200, or not tokend's Prometheus metrics.\n"
	    "  --metrics URL  e.g. http://127.0.0.1:9150/metrics\n"
	    "  --interval S   seconds between the reads (default: 1)\n"
	    "  --timeout S    seconds one read may take (default: 2)\n"
	    "  --max-5xx PCT  degraded above this share of 5xx (default: 5)\n" },
	{ "node add", cmd_node_add,
	    "SERVICE NODE --capacity N [--available N] [--current-load N]\n"
	    "                [--downed 0|1] [--backoff 0|1] [--pattern P] "
	    "(-c CONFIG | --db URL)",
	    "Adds NODE (an http:// or https:// URL, at most 64 characters) to\n"
	    "SERVICE in the node-assignment database, and prints it.\n"
	    "  --capacity N      how many users it may hold (required)\n"
	    "  --available N     how many new users it takes before tokend\n"
	    "                    releases more (default: N of --capacity)\n"
	    "  --current-load N  users it holds already (default: 0)\n"
	    "  --downed, --backoff 0|1  (default: 0)\n"
	    "  --pattern P       add SERVICE too when the database lacks it,\n"
	    "                    with api_endpoint pattern P\n"
	    "                    ('{node}/1.5/{uid}')\n"
	    DB_HELP },
	{ "node list", cmd_node_list, "[SERVICE] (-c CONFIG | --db URL)",
	    "Prints every node (of SERVICE), one a line: service, node,\n"
	    "available, current_load, capacity, downed, backoff, and how many\n"
	    "users (current records) it holds.\n"
	    DB_HELP },
	{ "node update", cmd_node_update,
	    "SERVICE NODE [--capacity N] [--available N] [--current-load N]\n"
	    "                [--downed 0|1] [--backoff 0|1] "
	    "(-c CONFIG | --db URL)",
	    "Changes what the options say of NODE, and prints it.\n"
	    "  --capacity N      how many users it may hold: at or below\n"
	    "                    current_load, it gets no new user, and the\n"
	    "                    users on it stay (a warning says so)\n"
	    "  --available N     new users it takes before capacity is released\n"
	    "  --current-load N  users it holds (tokend counts them itself)\n"
	    "  --downed 0|1      as node down, node down --off\n"
	    "  --backoff 0|1     as node backoff, node backoff --off\n"
	    DB_HELP },
	{ "node down", cmd_node_down,
	    "SERVICE NODE [--unassign | --off] (-c CONFIG | --db URL)",
	    "Marks NODE down: no new user is sent to it, and its capacity is\n"
	    "never released; users on it keep it.\n"
	    "  --unassign  also unassign its users: each gets another node at\n"
	    "              its next request, with none of its data there\n"
	    "  --off       mark it up again\n"
	    DB_HELP },
	{ "node backoff", cmd_node_backoff,
	    "SERVICE NODE [--off] (-c CONFIG | --db URL)",
	    "Marks NODE backed off: no new user is sent to it while it is\n"
	    "(its capacity is still released); users on it keep it.\n"
	    "  --off  clear it\n"
	    DB_HELP },
	{ "node remove", cmd_node_remove,
	    "SERVICE NODE [--force] (-c CONFIG | --db URL)",
	    "Removes NODE and unassigns its users (each gets another node at\n"
	    "its next request, with none of its data there).  Refused (exit 1)\n"
	    "while users are on it, unless --force; node down first stops new\n"
	    "users.  A node a config names (node, bootstrap_nodes) comes back\n"
	    "at tokend's next start.\n"
	    DB_HELP },
	{ "user show", cmd_user_show,
	    "EMAIL [--service S] (-c CONFIG | --db URL)",
	    "Prints every record of EMAIL (for service S), oldest first:\n"
	    "service, uid, node, generation, keys_changed_at, client_state,\n"
	    "created_at, replaced_at (milliseconds; \"-\" for none: the\n"
	    "current record has no replaced_at).  Exit 1 when there is none.\n"
	    "  --service S  only S's records (default: every service's)\n"
	    DB_HELP },
	{ "user retire", cmd_user_retire,
	    "EMAIL [--service S] (-c CONFIG | --db URL)",
	    "Mozilla's retire (an account deleted): every current record of\n"
	    "EMAIL (for service S) is marked replaced now and its generation\n"
	    "set to the largest, so no older assertion gets a token for it.\n"
	    "Exit 1 when it has no current record.\n"
	    "  --service S  only S's records (default: every service's)\n"
	    DB_HELP },
	{ "user purge", cmd_user_purge,
	    "[--grace-period DAYS] [--dry-run] [--batch N] [--service S]\n"
	    "                (-c CONFIG | --db URL)",
	    "Mozilla's purge_old_records: deletes the records replaced more\n"
	    "than DAYS ago, printing each, in batches of N per transaction\n"
	    "(safe while tokend serves; an interrupted run loses nothing and\n"
	    "the next one goes on).  A node gets a slot back for a user who\n"
	    "has no other record on it.  Storage nodes are not contacted.\n"
	    "  --grace-period DAYS  default 7; a fraction is allowed\n"
	    "  --dry-run            print what it would delete, change nothing\n"
	    "  --batch N            1 to 1000, default 100\n"
	    "  --service S          only S's records (default: every service)\n"
	    DB_HELP },
	{ "db init", cmd_db_init, "(-c CONFIG | --db URL)",
	    "Creates Mozilla's schema (services, nodes, users and their\n"
	    "indexes) in an empty database; a database that has it is only\n"
	    "checked.  tokend does the same at start.\n"
	    DB_HELP },
	{ "db check", cmd_db_check, "(-c CONFIG | --db URL)",
	    "Checks, changing nothing, that the tables have Mozilla's columns\n"
	    "(exit 1 if not), and prints counts of services, nodes and users\n"
	    "and warnings: missing indexes, users with several current\n"
	    "records, users on no node, nodes loaded past capacity.\n"
	    DB_HELP },
};

#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

/* The command (or group, "jwt") main() runs; NULL: none yet. */
static const char	*running;

/* Whether command name is selected by prefix: itself, or in its group. */
static int
selected(const char *name, const char *prefix)
{
	size_t	len;

	if (prefix == NULL)
		return 1;
	len = strlen(prefix);
	return strncmp(name, prefix, len) == 0 &&
	    (name[len] == '\0' || name[len] == ' ');
}

/* The synopsis of every command running selects (all before one runs). */
static void
print_synopses(FILE *f)
{
	const char	*lead = "usage:";
	size_t		 i;

	for (i = 0; i < NCOMMANDS; i++) {
		if (!selected(commands[i].name, running))
			continue;
		fprintf(f, "%-6s tokenctl %s %s\n", lead, commands[i].name,
		    commands[i].synopsis);
		lead = "";
	}
}

static _Noreturn void
usage(void)
{
	print_synopses(stderr);
	exit(EXIT_USAGE);
}

/* --help: the synopses, then each selected command's help, on stdout. */
static _Noreturn void
help(void)
{
	size_t	i;

	print_synopses(stdout);
	if (running == NULL)
		fputs("\nEach command answers --help with its options; "
		    "tokenctl(1) has the details.\n", stdout);
	for (i = 0; running != NULL && i < NCOMMANDS; i++)
		if (selected(commands[i].name, running))
			printf("\n%s", commands[i].help);
	exit(0);
}

static int
is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* How many words of argv name (1, or 2 for "jwt keygen"); 0 if none. */
static int
command_words(const char *name, int argc, char **argv)
{
	size_t	len = strcspn(name, " ");

	if (strncmp(argv[0], name, len) != 0 || argv[0][len] != '\0')
		return 0;
	if (name[len] == '\0')
		return 1;
	return argc > 1 && strcmp(argv[1], name + len + 1) == 0 ? 2 : 0;
}

int
main(int argc, char **argv)
{
	size_t	i;
	int	n;

	log_init("tokenctl", LOG_LVL_WARN);
	if (argc < 2)
		usage();
	if (is_help(argv[1]))
		help();
	for (i = 0; i < NCOMMANDS; i++)
		if ((n = command_words(commands[i].name, argc - 1,
		    argv + 1)) > 0) {
			running = commands[i].name;
			return commands[i].fn(argc - n, argv + n);
		}
	/* A group's name alone, or with --help: its commands. */
	for (i = 0; i < NCOMMANDS; i++)
		if (selected(commands[i].name, argv[1]))
			running = argv[1];
	if (running == NULL)
		fprintf(stderr, "tokenctl: unknown command \"%s\"\n", argv[1]);
	else if (argc > 2 && is_help(argv[2]))
		help();
	usage();
}
