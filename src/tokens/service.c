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
	  "http:// or https:// URL.  Required unless nodes_file is set.",
	  .example = "https://sync-1.example.com" },
	{ "nodes_file", &nodes_type, SVC(nodes), 0, 0, CONF_OPTIONAL,
	  CONF_RELOAD,
	  .doc = "Instead of node and secret_file, a service with several "
	  "nodes, each knowing only its own secrets: one line per node, "
	  "\"URL,SECRET[,SECRET...]\" (newest first), at most 64 nodes, mode "
	  "0600.  Each uid is given one node, always the same (rendezvous "
	  "hashing, docs/tokens.md), whose URL is its api_endpoint and whose "
	  "newest secret mints its tokens.", .example = "#sync.nodes" },
	{ "duration", &conf_i64, SVC(duration), 1, 86400, "1800", CONF_RELOAD,
	  .doc = "Token lifetime in seconds; for fernet also the ttl a service "
	  "passes to its Fernet library." },
	{ .name = NULL }
};

int
service_finish(struct conf *l, void *obj)
{
	struct service	*sv = obj, *e;
	int		 line = conf_section_line(l);
	size_t		 i;

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
