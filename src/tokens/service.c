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

static const struct conf_type format_type = { set_format, NULL, NULL };

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

static const struct conf_type secrets_type = { set_secrets, clear_secrets,
    clear_secrets };

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

static const struct conf_type nodes_type = { set_nodes, clear_nodes,
    purge_nodes };

/* ---- the section ------------------------------------------------------ */

#define SVC(f)	offsetof(struct service, f)

const struct conf_key service_keys[] = {
	{ "format", &format_type, SVC(format), 0, 0, "tokenlib" },
	{ "secret_file", &secrets_type, SVC(secrets), 0, 0, CONF_OPTIONAL },
	{ "node", &conf_url, SVC(node), 0, 0, CONF_OPTIONAL },
	{ "nodes_file", &nodes_type, SVC(nodes), 0, 0, CONF_OPTIONAL },
	{ "duration", &conf_i64, SVC(duration), 1, 86400, "1800" },
	{ NULL, NULL, 0, 0, 0, NULL }
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
