/*
 * store.h - node assignment: which node of a service serves a user.
 *
 * A service with several nodes sends each user to one of them, and must
 * keep sending them there: the node holds the user's data.  How the node
 * is chosen is the store's business, behind this interface: today by
 * rendezvous hashing over the nodes the config lists (rendezvous.c, no
 * state at all); later from a database of users and nodes (SQLite,
 * PostgreSQL), which remembers each assignment and gives a new user the
 * least loaded node.
 *
 * One store serves one service and is made from that service's node list;
 * an answer is an index into that list.  The user is a struct so that a
 * store which needs more of them (an email, a key generation) gets it
 * without a change of signature.  Stores depend on core alone: config.c
 * makes them and joins them to the services (store/ may include only
 * core/, and nothing of the front reaches it).
 */
#ifndef TOKEND_STORE_H
#define TOKEND_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store_user {
	uint64_t	 uid;		/* docs/tokens.md: the keyed hash */
};

struct store;

struct store_ops {
	const char	*name;		/* for messages */
	/*
	 * Sets *node to the index, in the list the store was made from, of
	 * the node that serves user.  0, or -1 with a message in err when
	 * the store cannot say now (a database that is down: the request
	 * fails and may be retried).
	 */
	int	(*node_for)(struct store *, const struct store_user *user,
		    size_t *node, char *err, size_t errlen);
	void	(*free)(struct store *);
};

/* Every store begins with this. */
struct store {
	const struct store_ops *ops;
};

int	store_node_for(struct store *, const struct store_user *,
	    size_t *node, char *err, size_t errlen);
/* Frees the store (NULL: nothing). */
void	store_free(struct store *);

/*
 * Rendezvous hashing over the n node URLs (docs/tokens.md): stable per
 * uid, whatever the order of the list, and adding or removing a node
 * moves only the users that node wins or loses.  The caller keeps urls;
 * NULL and a message in err on failure.
 */
struct store	*store_rendezvous_new(const char *const *urls, size_t n,
		    char *err, size_t errlen);

#endif
