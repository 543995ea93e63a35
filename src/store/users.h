/*
 * users.h - users assigned to service nodes in a database: Mozilla's
 * tokenserver model (docs/nodes.md), over SQLite or PostgreSQL.
 *
 * The schema is Mozilla's, table for table and column for column:
 *   services(id, service, pattern)
 *   nodes(id, service, node, available, current_load, capacity, downed,
 *         backoff)
 *   users(uid, service, email, generation, client_state, created_at,
 *         replaced_at, nodeid, keys_changed_at)
 * so a database made by Mozilla's migrations works as it is.  Timestamps
 * are milliseconds.
 *
 * One struct users_db is one connection, owned by one process (a worker,
 * or tokenctl): never carried across fork().  Every call reads the current
 * state (operators change nodes and users under a running server); only
 * service ids may be cached.  Every call is bounded by the timeout given
 * at open: a database that is down, locked or slow gives USERS_UNAVAILABLE,
 * never a hang, and the next call tries again (a lost PostgreSQL
 * connection is re-established).
 *
 * store/ may include only core/.
 */
#ifndef TOKEND_STORE_USERS_H
#define TOKEND_STORE_USERS_H

#include <stddef.h>
#include <stdint.h>

#define USERS_URL_MAX		1024	/* a node URL, an endpoint */
#define USERS_EMAIL_MAX		255
#define USERS_CLIENT_STATE_MAX	32	/* hex digits */

enum users_status {
	USERS_OK = 0,
	USERS_INVALID_GENERATION,	/* 401 invalid-generation */
	USERS_INVALID_KEYS_CHANGED_AT,	/* 401 invalid-keysChangedAt */
	USERS_INVALID_CLIENT_STATE,	/* 401 invalid-client-state (*why) */
	USERS_NO_NODE,		/* 503: no node has room, even after release */
	USERS_UNKNOWN_SERVICE,	/* the service has no row */
	USERS_UNAVAILABLE,	/* 503 + Retry-After: down, locked or slow */
	USERS_ERROR		/* anything else (*why says what) */
};

struct users_settings {
	const char	*url;		/* sqlite:///path or postgres://... */
	const char	*password;	/* NULL: the URL's, if any */
	int		 timeout_ms;	/* the bound on every call */
	double		 release_rate;	/* Mozilla's capacity release rate */
	int		 max_releases;	/* release rounds before USERS_NO_NODE */
};

/* What the verified assertion and the request's headers say. */
struct users_query {
	const char	*service;	/* services.service, e.g. "sync-1.5" */
	const char	*email;		/* "<fxa uid>@<email domain>" */
	int64_t		 generation;	/* 0: absent */
	int64_t		 keys_changed_at; /* 0: absent */
	const char	*client_state;	/* lower-case hex; "": absent */
};

/* The user's current record after the rules ran. */
struct users_record {
	int64_t		 uid;
	int64_t		 nodeid;
	char		 node[USERS_URL_MAX + 1];
	char		 endpoint[USERS_URL_MAX + 1]; /* the service pattern,
						   {node} {uid} {service}
						   filled in */
	int64_t		 generation;
	int64_t		 keys_changed_at; /* 0: none on record */
	char		 client_state[USERS_CLIENT_STATE_MAX + 1];
	int64_t		 created_at;	/* ms */
	int64_t		 replaced_at;	/* ms; 0: current */
};

/*
 * Opens (and for SQLite creates) the database; NULL with a message in err.
 * The schema is created when the database is empty.
 */
struct users_db	*users_open(const struct users_settings *, char *err,
		    size_t errlen);
void		 users_close(struct users_db *);

/*
 * Mozilla's per-request rules, in Mozilla's order: find the current record
 * (highest generation, then newest), mark older unreplaced ones replaced,
 * allocate a node to a new, replaced or nodeless user (least loaded node
 * with room; capacity released when none has), check generation,
 * keys_changed_at and client state against the record, then update it in
 * place or, on a client-state change, retire it for a new record on the
 * same node.  Concurrent first requests for one user end with one current
 * record.  On refusal *why is a static sentence for the error body.
 */
enum users_status users_assign(struct users_db *, const struct users_query *,
		    int64_t now_ms, struct users_record *out,
		    const char **why);

/*
 * What the last failed or refused call found, in words for the operator
 * (a database message, the rule that refused); valid until the next call.
 */
const char	*users_last_error(const struct users_db *);

/* Whether the database answers now (for __heartbeat__): 0 or -1. */
int		 users_ping(struct users_db *, char *err, size_t errlen);

/*
 * Makes sure the service has its row (with pattern) and that each node
 * URL exists for it, created with available = capacity when missing.
 */
enum users_status users_bootstrap(struct users_db *, const char *service,
		    const char *pattern, const char *const *nodes,
		    size_t nnodes, int64_t capacity, char *err,
		    size_t errlen);

#endif
