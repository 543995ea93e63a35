/*
 * admin.h - the operator's operations on the node-assignment database
 * (tokenctl node, user and db; docs/nodes.md), over either backend of
 * sqldb.h.  Mozilla runs these as separate Python scripts (add_node.py,
 * update_node.py, remove_node.py, unassign_node.py, purge_old_records.py,
 * the retire of process_account_events.py); here they are functions that
 * tokenctl calls and prints.
 *
 * Each operation is one short transaction (purge: one per batch), safe
 * while tokend serves: tokend reads the current state on every request.
 * Each returns an enum admin_rc and, when it is not ADMIN_OK, a sentence
 * in err.  The caller owns the connection.
 *
 * store/ may include only core/ (and store/).
 */
#ifndef TOKEND_STORE_ADMIN_H
#define TOKEND_STORE_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "store/sqldb.h"
#include "store/users.h"

#define ADMIN_SERVICE_MAX	30	/* services.service VARCHAR(30) */
#define ADMIN_NODE_MAX		64	/* nodes.node VARCHAR(64) */
#define ADMIN_MAX_GENERATION	INT64_MAX /* Mozilla's retired users */

enum admin_rc {
	ADMIN_OK = 0,
	ADMIN_NOT_FOUND,	/* no such service, node or user */
	ADMIN_EXISTS,		/* node add of a node that is there */
	ADMIN_REFUSED,		/* would strand users: needs force */
	ADMIN_INVALID,		/* a value the schema cannot hold */
	ADMIN_UNAVAIL,		/* the database is down, busy or slow */
	ADMIN_ERR		/* anything else */
};

/* One row of nodes, with how many current user records it holds. */
struct admin_node {
	char		 service[ADMIN_SERVICE_MAX + 1]; /* "": no such row */
	int64_t		 service_id;
	int64_t		 id;
	char		 node[USERS_URL_MAX + 1];
	int64_t		 available;
	int64_t		 current_load;
	int64_t		 capacity;
	int64_t		 downed;
	int64_t		 backoff;
	int64_t		 users;		/* records with replaced_at NULL */
};

/*
 * What node add sets or node update changes: a field < 0 is left as it
 * is (node add: capacity is required; available defaults to capacity,
 * the others to 0).  unassign (update only) also marks replaced every
 * current record on the node, so that those users get another node at
 * their next request.
 */
struct admin_node_change {
	int64_t		 capacity;
	int64_t		 available;
	int64_t		 current_load;
	int64_t		 downed;
	int64_t		 backoff;
	int		 unassign;
};

#define ADMIN_NODE_CHANGE_NONE \
	((struct admin_node_change){ -1, -1, -1, -1, -1, 0 })

/* One row of users, with its service and node by name. */
struct admin_user {
	char		 service[ADMIN_SERVICE_MAX + 1];
	int64_t		 service_id;
	int64_t		 uid;
	char		 email[USERS_EMAIL_MAX + 1];
	char		 node[USERS_URL_MAX + 1]; /* "": nodeid names none */
	int64_t		 nodeid;
	int64_t		 generation;
	int64_t		 keys_changed_at; /* -1: NULL */
	char		 client_state[USERS_CLIENT_STATE_MAX + 1];
	int64_t		 created_at;
	int64_t		 replaced_at;	/* -1: NULL (current) */
};

/* Whether a node URL is one the schema holds: 0, or -1 with why in err. */
int		 admin_check_node_url(const char *node, char *err,
		    size_t errlen);
int		 admin_check_service(const char *service, char *err,
		    size_t errlen);
int		 admin_check_email(const char *email, char *err,
		    size_t errlen);

/*
 * Adds node to service.  A service with no row yet is created with
 * pattern when pattern is not NULL, else ADMIN_NOT_FOUND.  *out (unless
 * NULL) is the node as added.
 */
enum admin_rc	 admin_node_add(struct sqldb *, const char *service,
		    const char *pattern, const char *node,
		    const struct admin_node_change *, struct admin_node *out,
		    char *err, size_t errlen);

/* Calls fn for each node of service (NULL: of every service). */
enum admin_rc	 admin_node_list(struct sqldb *, const char *service,
		    void (*fn)(const struct admin_node *, void *), void *arg,
		    char *err, size_t errlen);

/*
 * Changes what ch says of the node; *after (unless NULL) is the node
 * then, and *unassigned how many records ch->unassign marked replaced.
 */
enum admin_rc	 admin_node_update(struct sqldb *, const char *service,
		    const char *node, const struct admin_node_change *ch,
		    int64_t now_ms, struct admin_node *after,
		    int64_t *unassigned, char *err, size_t errlen);

/*
 * Removes the node and marks replaced every current record on it (as
 * Mozilla's remove_node.py does): those users get another node at their
 * next request, with none of their data.  Refused (ADMIN_REFUSED, *users
 * set) while current records are on it, unless force.
 */
enum admin_rc	 admin_node_remove(struct sqldb *, const char *service,
		    const char *node, int force, int64_t now_ms,
		    int64_t *users, char *err, size_t errlen);

/* Calls fn for every record of email (of service; NULL: of any). */
enum admin_rc	 admin_user_show(struct sqldb *, const char *email,
		    const char *service,
		    void (*fn)(const struct admin_user *, void *), void *arg,
		    char *err, size_t errlen);

/*
 * Mozilla's retire_user: every current record of email (of service;
 * NULL: of any) is marked replaced now, with generation set to the
 * largest int64, so that only an assertion of that generation is
 * accepted for it again.  *n: how many records.
 */
enum admin_rc	 admin_user_retire(struct sqldb *, const char *email,
		    const char *service, int64_t now_ms, int64_t *n,
		    char *err, size_t errlen);

/*
 * Mozilla's purge_old_records, without the storage nodes' side: deletes
 * the records of service (NULL: of every service) replaced before
 * now_ms - grace_ms, batch records per transaction, in uid order, so an
 * interrupted run loses nothing and the next run goes on.  A deleted
 * record's node gets its slot back (current_load - 1, available + 1)
 * when no other record of that user is on it.  dry_run: only lists.  fn
 * (unless NULL) is called for each record deleted (or that would be).
 */
struct admin_purge {
	const char	*service;
	int64_t		 grace_ms;
	int		 batch;
	int		 dry_run;
	void		(*fn)(const struct admin_user *, void *);
	void		*arg;
	int64_t		 purged;	/* out: records deleted (or listed) */
	int64_t		 freed;		/* out: node slots given back */
};

enum admin_rc	 admin_purge(struct sqldb *, struct admin_purge *,
		    int64_t now_ms, char *err, size_t errlen);

/* Creates Mozilla's schema when the database has none. */
enum admin_rc	 admin_db_init(struct sqldb *, int *created, char *err,
		    size_t errlen);

/*
 * Checks, without changing anything, that the three tables have
 * Mozilla's columns (ADMIN_INVALID when not) and counts what an operator
 * wants to know; missing indexes and inconsistencies are reported in the
 * struct, not as failures.
 */
struct admin_check {
	int64_t		 services;
	int64_t		 nodes;
	int64_t		 current_users;
	int64_t		 replaced_users;
	int64_t		 duplicate_users;	/* (service, email) with more
						   than one current record */
	int64_t		 nodeless_users;	/* current, nodeid names none */
	int64_t		 overfull_nodes;	/* current_load > capacity */
	char		 missing_indexes[128];	/* "lookup_idx node_idx" */
};

enum admin_rc	 admin_db_check(struct sqldb *, struct admin_check *,
		    char *err, size_t errlen);

#endif
