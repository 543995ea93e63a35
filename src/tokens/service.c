/*
 * service.c - the [service NAME] section: its keys, the value types only
 * it has (a token format, a secret file with rotation, a nodes file), and
 * the check that it names its node(s) and secrets one way or the other.
 *
 * Secret files are read when their key is met, so an error in one points
 * at the key's line; the keys of every secret are derived at load, never
 * per request (secret.c).
 */
#include "tokens/service.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/conf.h"

/* ---- format ----------------------------------------------------------- */

static int
set_format(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	enum token_format	*f = CONF_FIELD(obj, k);

	if (token_format_parse(v, f) == -1 || *f == TOKEN_FORMAT_ANY)
		return conf_fail(l, "%s: expected tokenlib or fernet, got "
		    "\"%s\"", k->name, v);
	return 0;
}

static const struct conf_type format_type = { .set = set_format };

/* ---- secret_file ------------------------------------------------------ */

static int
set_secrets(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	char	path[PATH_MAX], msg[512];

	if (conf_resolve(l, v, path, sizeof(path)) == -1)
		return -1;
	secrets_free(CONF_FIELD(obj, k));
	if (secrets_load(CONF_FIELD(obj, k), path, msg, sizeof(msg)) == -1)
		return conf_fail(l, "%s: %s", k->name, msg);
	return 0;
}

static void
clear_secrets(const struct conf_key *k, void *obj)
{
	secrets_free(CONF_FIELD(obj, k));
}

static const struct conf_type secrets_type = { .set = set_secrets,
    .clear = clear_secrets, .purge = clear_secrets };

/* ---- nodes_file ------------------------------------------------------- */

static void
clear_nodes(const struct conf_key *k, void *obj)
{
	struct service	*sv = obj;
	size_t		 i;

	for (i = 0; i < sv->nnodes; i++) {
		free(sv->nodes[i].name);
		free(sv->nodes[i].node);
		secrets_free(&sv->nodes[i].secrets);
	}
	free(sv->nodes);
	sv->nodes = NULL;
	sv->nnodes = 0;
}

static void
purge_nodes(const struct conf_key *k, void *obj)
{
	struct service	*sv = obj;
	size_t		 i;

	for (i = 0; i < sv->nnodes; i++)
		secrets_free(&sv->nodes[i].secrets);
}

/*
 * A nodes file becomes nodes[]: the URLs and secret sets move into the
 * entries; service_finish() copies the rest once every key is read.
 */
static int
set_nodes(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	struct service		*sv = obj;
	struct node_secrets	*nodes;
	char			 path[PATH_MAX], msg[512];
	size_t			 n, i;

	if (conf_resolve(l, v, path, sizeof(path)) == -1)
		return -1;
	clear_nodes(k, sv);
	if (nodes_load(&nodes, &n, path, msg, sizeof(msg)) == -1)
		return conf_fail(l, "%s: %s", k->name, msg);
	if ((sv->nodes = calloc(n, sizeof(*sv->nodes))) == NULL) {
		nodes_free(nodes, n);
		return conf_fail(l, "out of memory");
	}
	for (i = 0; i < n; i++) {
		sv->nodes[i].node = nodes[i].url;
		sv->nodes[i].secrets = nodes[i].secrets;
		nodes[i].url = NULL;
		memset(&nodes[i].secrets, 0, sizeof(nodes[i].secrets));
	}
	sv->nnodes = n;
	nodes_free(nodes, n);
	return 0;
}

static const struct conf_type nodes_type = { .set = set_nodes,
    .clear = clear_nodes, .purge = purge_nodes };

/* ---- nodes, node_type -------------------------------------------------- */

static int
set_nodes_kind(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	if (strcmp(v, "database") != 0)
		return conf_fail(l, "%s: expected database (or leave it out "
		    "for node or nodes_file), got \"%s\"", k->name, v);
	*(int *)CONF_FIELD(obj, k) = 1;
	return 0;
}

static const struct conf_type nodes_kind_type = { .set = set_nodes_kind };

/* Mozilla's NodeType names: what a client is told its node runs on. */
static int
set_node_type(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	if (strcmp(v, "spanner") != 0 && strcmp(v, "mysql") != 0 &&
	    strcmp(v, "postgres") != 0)
		return conf_fail(l, "%s: expected spanner, mysql or postgres, "
		    "got \"%s\"", k->name, v);
	return conf_str.set(l, k, obj, v);
}

static const struct conf_type node_type_type = { .set = set_node_type,
    .clear = conf_clear_str };

/* ---- the section ------------------------------------------------------ */

#define SVC(f)	offsetof(struct service, f)

/* The workers read all of it, so a reload applies every key. */
const struct conf_key service_keys[] = {
	{ "format", &format_type, SVC(format), 0, 0, "tokenlib", CONF_RELOAD,
	  .doc = "Token format (docs/tokens.md): tokenlib (Mozilla tokenlib "
	  "2.x: signed JSON, for services built for Mozilla's tokenserver) or "
	  "fernet (the same JSON encrypted and signed as a Fernet token: a "
	  "service checks it with any Fernet library and the key `tokenctl "
	  "fernet-key` prints)." },
	{ "secret_file", &secrets_type, SVC(secrets), 0, 0, CONF_OPTIONAL,
	  CONF_RELOAD,
	  .doc = "Master secrets shared with the service, one per line, newest "
	  "first: at most 16, each of at least 32 bytes, used as bytes as it "
	  "stands (not hex-decoded), as Mozilla's tokenlib does; blank lines "
	  "and '#' lines are ignored; mode 0600 or 0400.  Tokens are minted "
	  "with the first and checked (by `tokenctl verify`, libtokend-verify) "
	  "with any, so a rotation is: `tokenctl secret --prepend "
	  "sync.secret`, reload, and once the old tokens have expired "
	  "(duration), `tokenctl secret --drop-oldest sync.secret` and reload "
	  "again.  Required unless nodes_file is set.",
	  .example = "sync.secret" },
	{ "node", &conf_url, SVC(node), 0, 0, CONF_OPTIONAL, CONF_RELOAD,
	  .doc = "The service node handed to clients as api_endpoint, an "
	  "http:// or https:// URL.  Required unless nodes_file is set.  With "
	  "nodes = database, a node created at start (as bootstrap_nodes).",
	  .example = "https://sync-1.example.com" },
	{ "nodes_file", &nodes_type, SVC(nodes), 0, 0, CONF_OPTIONAL,
	  CONF_RELOAD,
	  .doc = "Instead of node and secret_file, a service with several "
	  "nodes, each knowing only its own secrets: one line per node, "
	  "\"URL,SECRET[,SECRET...]\" (newest first), at most 64 nodes, mode "
	  "0600.  Each uid is given one node, always the same (rendezvous "
	  "hashing, docs/tokens.md), whose URL is its api_endpoint and whose "
	  "newest secret mints its tokens.", .example = "#sync.nodes" },
	{ "nodes", &nodes_kind_type, SVC(nodes_database), 0, 0, CONF_OPTIONAL,
	  CONF_RELOAD,
	  .doc = "database: users are assigned to nodes in the [database] "
	  "(docs/nodes.md), Mozilla's tokenserver model: a new user goes to "
	  "the least loaded node with room, and the database keeps each "
	  "user's uid, node, key generation and client state, so that stale "
	  "clients are refused.  Tokens are minted with secret_file; the uid "
	  "and api_endpoint come from the database.  Replaces node (which "
	  "then names a node to create) and nodes_file.",
	  .example = "#database" },
	{ "bootstrap_nodes", &conf_str, SVC(bootstrap), 0, 0, CONF_OPTIONAL,
	  CONF_RELOAD,
	  .doc = "With nodes = database: node URLs (http:// or https://, "
	  "separated by spaces or commas, at most 64) created at start when "
	  "the database lacks them, with capacity and available as [database] "
	  "capacity says, so a new install serves its first user with no "
	  "tokenctl step.  node adds one more.  Nodes already there are left "
	  "as they are.", .example = "#https://sync-1.example.com" },
	{ "pattern", &conf_str, SVC(pattern), 0, 0, SERVICE_PATTERN_DEFAULT,
	  CONF_RELOAD,
	  .doc = "With nodes = database: the service's api_endpoint pattern, "
	  "written into its services row when the row is created: {node} is "
	  "the user's node URL, {uid} the user's uid, {service} the service "
	  "name.", .example = "#" SERVICE_PATTERN_DEFAULT },
	{ "node_type", &node_type_type, SVC(node_type), 0, 0, "spanner",
	  CONF_RELOAD,
	  .doc = "With nodes = database: the node_type field of Mozilla's "
	  "answer, the storage its nodes run on: spanner, mysql or "
	  "postgres.", .example = "#spanner" },
	{ "metrics_hash_secret_file", &secrets_type, SVC(metrics_secret), 0, 0,
	  CONF_OPTIONAL, CONF_RELOAD,
	  .doc = "With nodes = database: the secret that keys hashed_fxa_uid "
	  "and hashed_device_id (Mozilla's fxa_metrics_hash_secret: "
	  "HMAC-SHA256 of the user's FxA uid, docs/tokens.md), a secret file "
	  "as secret_file (the newest line is used).  Left out, the newest "
	  "secret of secret_file keys it, as Mozilla's test set-up does; then "
	  "a rotation of secret_file changes the hashes.",
	  .example = "#metrics.secret" },
	{ "duration", &conf_i64, SVC(duration), 1, 86400, "1800", CONF_RELOAD,
	  .doc = "Token lifetime in seconds; for fernet also the ttl a service "
	  "passes to its Fernet library." },
	{ .name = NULL }
};

void
service_clear(struct service *sv)
{
	size_t	i;

	for (i = 0; i < sv->nboot; i++)
		free(sv->boot[i]);
	free(sv->boot);
	sv->boot = NULL;
	sv->nboot = 0;
}

const struct secret *
service_metrics_secret(const struct service *sv)
{
	return sv->metrics_secret.n > 0 ? &sv->metrics_secret.v[0] :
	    &sv->secrets.v[0];
}

/* Adds url[0..len) to the bootstrap list, once; 0 or -1 (reported). */
static int
add_boot(struct conf *l, struct service *sv, const char *url, size_t len,
    int line)
{
	size_t	i;

	if (len > SERVICE_URL_MAX || !((len > 7 && strncmp(url, "http://",
	    7) == 0) || (len > 8 && strncmp(url, "https://", 8) == 0)))
		return conf_fail_at(l, line, "bootstrap_nodes: \"%.*s\" is no "
		    "http:// or https:// URL of at most %d bytes",
		    (int)(len > 200 ? 200 : len), url, SERVICE_URL_MAX);
	for (i = 0; i < sv->nboot; i++)
		if (strlen(sv->boot[i]) == len &&
		    memcmp(sv->boot[i], url, len) == 0)
			return 0;
	if (sv->nboot == SERVICE_BOOT_MAX)
		return conf_fail_at(l, line, "bootstrap_nodes: more than %d "
		    "nodes", SERVICE_BOOT_MAX);
	if (sv->boot == NULL && (sv->boot = calloc(SERVICE_BOOT_MAX,
	    sizeof(*sv->boot))) == NULL)
		return conf_fail(l, "out of memory");
	if ((sv->boot[sv->nboot] = strndup(url, len)) == NULL)
		return conf_fail(l, "out of memory");
	sv->nboot++;
	return 0;
}

/* The keys that mean something only with nodes = database. */
static const char *const database_only[] = {
	"bootstrap_nodes", "pattern", "node_type", "metrics_hash_secret_file",
};

/* nodes = database: secret_file mints; node and bootstrap_nodes create. */
static int
finish_database_service(struct conf *l, struct service *sv, int line)
{
	const char	*p, *sep = " \t,";
	size_t		 n;
	int		 kline = conf_key_line(l, "bootstrap_nodes");

	if (sv->nodes != NULL)
		return conf_fail_at(l, conf_key_line(l, "nodes_file"),
		    "nodes_file: nodes = database keeps the nodes in the "
		    "database; leave nodes_file out");
	if (sv->secrets.n == 0)
		return conf_fail_at(l, line, "missing required key "
		    "\"secret_file\" (nodes = database mints with it)");
	if (sv->node != NULL && add_boot(l, sv, sv->node, strlen(sv->node),
	    conf_key_line(l, "node")) == -1)
		return -1;
	for (p = sv->bootstrap; p != NULL && *p != '\0'; p += n) {
		p += strspn(p, sep);
		if ((n = strcspn(p, sep)) > 0 &&
		    add_boot(l, sv, p, n, kline) == -1)
			return -1;
	}
	return 0;
}

int
service_finish(struct conf *l, void *obj)
{
	struct service	*sv = obj, *e;
	int		 line = conf_section_line(l);
	size_t		 i;

	if (sv->nodes_database)
		return finish_database_service(l, sv, line);
	for (i = 0; i < sizeof(database_only) / sizeof(database_only[0]); i++)
		if (conf_key_set(l, database_only[i]))
			return conf_fail_at(l, conf_key_line(l,
			    database_only[i]), "%s: only a service with nodes "
			    "= database takes it", database_only[i]);
	if (sv->nodes == NULL) {
		if (sv->secrets.n == 0)
			return conf_fail_at(l, line, "missing required key "
			    "\"secret_file\" (or nodes_file)");
		if (sv->node == NULL)
			return conf_fail_at(l, line, "missing required key "
			    "\"node\" (or nodes_file)");
		return 0;
	}
	if (sv->node != NULL || sv->secrets.n > 0)
		return conf_fail_at(l, line, "nodes_file replaces node and "
		    "secret_file: set either nodes_file, or node and "
		    "secret_file");
	for (i = 0; i < sv->nnodes; i++) {
		e = &sv->nodes[i];
		e->format = sv->format;
		e->duration = sv->duration;
		e->line = sv->line;
		if ((e->name = strdup(sv->name)) == NULL)
			return conf_fail(l, "out of memory");
	}
	return 0;
}
