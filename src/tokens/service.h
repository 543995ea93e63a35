/*
 * service.h - a service tokens are minted for: the [service NAME] section
 * of tokend.conf, its keys and its checks.
 *
 * tokens/ owns the struct (it holds the secrets the formats mint with) and
 * its key table for core/conf.c; config.c only lists the section.  Which
 * node of a nodes_file service serves a user is not decided here: that is
 * node assignment (store/), which config.c joins to the service.
 */
#ifndef TOKEND_SERVICE_H
#define TOKEND_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "core/conf.h"
#include "tokens/secret.h"
#include "tokens/token.h"

struct store;

/*
 * With node + secret_file a service is one node; with nodes_file, nodes[]
 * holds one struct service per node (its URL, its secrets, the rest copied
 * from this one), so the node a user is given is a service like any other
 * to the code that mints and answers.
 */
struct service {
	char		*name;		/* section name: [service NAME] */
	enum token_format format;	/* tokenlib or fernet */
	struct secrets	 secrets;	/* master secrets, newest (minting)
					   first, keys derived at load */
	char		*node;		/* api_endpoint handed to clients */
	int64_t		 duration;	/* token lifetime, seconds */
	struct service	*nodes;		/* nodes_file: one entry per node */
	size_t		 nnodes;
	/*
	 * Chooses among nodes[] (store/store.h); NULL for one node.  Made,
	 * used and freed by config.c: tokens/ does not reach store/.
	 */
	struct store	*store;
	/*
	 * nodes = database: users are assigned to nodes in the [database]
	 * (store/users.h, docs/nodes.md), which gives each its uid and node;
	 * secrets still mint every token.
	 */
	int		 nodes_database;
	char		*pattern;	/* api_endpoint: {node} {uid} {service} */
	char		*bootstrap;	/* bootstrap_nodes, as written */
	char		**boot;		/* its URLs, and node's, created at */
	size_t		 nboot;		/* start when missing */
	char		*node_type;	/* Mozilla's node_type answer field */
	/* Keys hashed_fxa_uid; empty: the newest secret of secrets. */
	struct secrets	 metrics_secret;
	int		 line;		/* where the section starts */
};

#define SERVICE_BOOT_MAX	64	/* bootstrap nodes of one service */
#define SERVICE_URL_MAX		1024	/* a node URL (USERS_URL_MAX) */
#define SERVICE_PATTERN_DEFAULT	"{node}/1.5/{uid}"

/* The secret that keys a nodes = database service's hashed_fxa_uid. */
const struct secret *service_metrics_secret(const struct service *);

/*
 * The keys of [service NAME]: node + secret_file, nodes_file, or
 * nodes = database + secret_file.
 */
extern const struct conf_key service_keys[];

/* The checks of a [service] once its keys are in (a conf finish hook). */
int	service_finish(struct conf *, void *service);
/* Frees what service_finish() added (the bootstrap list). */
void	service_clear(struct service *);

#endif
