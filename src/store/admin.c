/*
 * admin.c - the operator's operations on the node-assignment database:
 * what tokenctl node, user and db do (admin.h, docs/nodes.md).
 *
 * Mozilla keeps these in Python scripts beside its server (tools/
 * tokenserver: add_node, update_node, remove_node, unassign_node,
 * purge_old_records, the account-event retire).  They run against the
 * database a live server uses, so each one here is a short transaction
 * that leaves the tables in a state the per-request rules (users.c)
 * accept at any moment, and the operations that would strand users say
 * so first: removing a node with users on it needs force, and purging
 * gives a node its slot back only when the user has no other record on
 * it (a client-state change keeps the user on the same node without a
 * second allocation, so freeing a slot per deleted record, as Mozilla's
 * script does, would undercount the node's load).
 *
 * Only SQL of statements.h, through sqldb.h; the backend never shows.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/admin.h"

#define PURGE_BATCH_MAX	1000

static void __attribute__((format(printf, 3, 4)))
say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * The database refused or failed: rolls back the transaction in progress,
 * says what was being done and why, and maps the failure.
 */
static enum admin_rc
db_fail(struct sqldb *db, enum sqldb_rc rc, const char *what, char *err,
    size_t errlen)
{
	if (sqldb_in_txn(db))
		sqldb_rollback(db);
	say(err, errlen, "%s: %s%s", what, sqldb_error(db),
	    rc == SQLDB_UNAVAIL ? " (the database is down, busy or slow: "
	    "try again)" : "");
	return rc == SQLDB_UNAVAIL ? ADMIN_UNAVAIL : ADMIN_ERR;
}

static void
copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src != NULL ? src : "");
}

/* ---- what the schema holds ------------------------------------------- */

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

int
admin_check_node_url(const char *node, char *err, size_t errlen)
{
	size_t	len = strlen(node);

	if (strncmp(node, "https://", 8) != 0 &&
	    strncmp(node, "http://", 7) != 0) {
		say(err, errlen, "node \"%.80s\": expected an http:// or "
		    "https:// URL", node);
		return -1;
	}
	if (len > ADMIN_NODE_MAX || !printable(node)) {
		say(err, errlen, "node \"%.80s\": at most %d printable "
		    "characters without spaces (nodes.node is VARCHAR(%d))",
		    node, ADMIN_NODE_MAX, ADMIN_NODE_MAX);
		return -1;
	}
	if (strlen(node) <= (node[4] == 's' ? 8u : 7u)) {
		say(err, errlen, "node \"%s\": no host", node);
		return -1;
	}
	return 0;
}

int
admin_check_service(const char *service, char *err, size_t errlen)
{
	if (*service == '\0' || strlen(service) > ADMIN_SERVICE_MAX ||
	    !printable(service)) {
		say(err, errlen, "service \"%.80s\": expected 1 to %d printable "
		    "characters without spaces (services.service is "
		    "VARCHAR(%d))", service, ADMIN_SERVICE_MAX,
		    ADMIN_SERVICE_MAX);
		return -1;
	}
	return 0;
}

int
admin_check_email(const char *email, char *err, size_t errlen)
{
	if (*email == '\0' || strlen(email) > USERS_EMAIL_MAX ||
	    !printable(email) || strchr(email, '@') == NULL) {
		say(err, errlen, "email \"%.80s\": expected USER@DOMAIN, at "
		    "most %d printable characters (users.email is "
		    "VARCHAR(%d))", email, USERS_EMAIL_MAX, USERS_EMAIL_MAX);
		return -1;
	}
	return 0;
}

/* ---- rows ------------------------------------------------------------- */

/* The current row of ADMIN_NODES or ADMIN_NODE_GET. */
static void
read_node(struct sqldb *db, struct admin_node *n)
{
	copy_text(n->service, sizeof(n->service), sqldb_text(db, 0));
	n->service_id = sqldb_int(db, 1);
	n->id = sqldb_int(db, 2);
	copy_text(n->node, sizeof(n->node), sqldb_text(db, 3));
	n->available = sqldb_int(db, 4);
	n->current_load = sqldb_int(db, 5);
	n->capacity = sqldb_int(db, 6);
	n->downed = sqldb_int(db, 7);
	n->backoff = sqldb_int(db, 8);
	n->users = sqldb_int(db, 9);
}

/* The current row of ADMIN_USER_SHOW or ADMIN_PURGE_BATCH. */
static void
read_user(struct sqldb *db, struct admin_user *u)
{
	copy_text(u->service, sizeof(u->service), sqldb_text(db, 0));
	u->service_id = sqldb_int(db, 1);
	u->uid = sqldb_int(db, 2);
	copy_text(u->email, sizeof(u->email), sqldb_text(db, 3));
	copy_text(u->node, sizeof(u->node), sqldb_text(db, 4));
	u->nodeid = sqldb_int(db, 5);
	u->generation = sqldb_int(db, 6);
	u->keys_changed_at = sqldb_isnull(db, 7) ? -1 : sqldb_int(db, 7);
	copy_text(u->client_state, sizeof(u->client_state),
	    sqldb_text(db, 8));
	u->created_at = sqldb_int(db, 9);
	u->replaced_at = sqldb_isnull(db, 10) ? -1 : sqldb_int(db, 10);
}

/*
 * The id of service into *id: ADMIN_OK, ADMIN_NOT_FOUND (with a message
 * in err), or a failure.
 */
static enum admin_rc
service_id(struct sqldb *db, const char *service, int64_t *id, char *err,
    size_t errlen)
{
	struct sqldb_param	p[] = { SQLDB_TEXT(service) };
	enum sqldb_rc		rc;
	int			r;

	if ((rc = sqldb_run(db, SQLDB_SERVICE_GET, p, 1)) != SQLDB_OK)
		return db_fail(db, rc, "reading services", err, errlen);
	if ((r = sqldb_next(db)) < 0)
		return db_fail(db, r, "reading services", err, errlen);
	if (r == 0) {
		say(err, errlen, "no service \"%s\" in the database (tokend "
		    "adds the services of its config at start)", service);
		return ADMIN_NOT_FOUND;
	}
	*id = sqldb_int(db, 0);
	return ADMIN_OK;
}

/* The node into *n: ADMIN_OK, ADMIN_NOT_FOUND, or a failure. */
static enum admin_rc
node_get(struct sqldb *db, const char *service, const char *node,
    struct admin_node *n, char *err, size_t errlen)
{
	struct sqldb_param	p[2];
	enum admin_rc		arc;
	enum sqldb_rc		rc;
	int64_t			sid;
	int			r;

	if ((arc = service_id(db, service, &sid, err, errlen)) != ADMIN_OK)
		return arc;
	p[0] = SQLDB_INT(sid);
	p[1] = SQLDB_TEXT(node);
	if ((rc = sqldb_run(db, SQLDB_ADMIN_NODE_GET, p, 2)) != SQLDB_OK)
		return db_fail(db, rc, "reading nodes", err, errlen);
	if ((r = sqldb_next(db)) < 0)
		return db_fail(db, r, "reading nodes", err, errlen);
	if (r == 0) {
		say(err, errlen, "service %s has no node %s", service, node);
		return ADMIN_NOT_FOUND;
	}
	read_node(db, n);
	return ADMIN_OK;
}

static enum admin_rc
commit(struct sqldb *db, char *err, size_t errlen)
{
	enum sqldb_rc	rc;

	if ((rc = sqldb_commit(db)) != SQLDB_OK)
		return db_fail(db, rc, "commit", err, errlen);
	return ADMIN_OK;
}

/* Rolls back and passes arc on (the message is in err already). */
static enum admin_rc
abort_with(struct sqldb *db, enum admin_rc arc)
{
	if (sqldb_in_txn(db))
		sqldb_rollback(db);
	return arc;
}

static int
check_change(const struct admin_node_change *ch, char *err, size_t errlen)
{
	if (ch->downed > 1 || ch->backoff > 1) {
		say(err, errlen, "downed and backoff are 0 or 1");
		return -1;
	}
	if (ch->capacity > INT32_MAX || ch->available > INT32_MAX ||
	    ch->current_load > INT32_MAX) {
		say(err, errlen, "capacity, available and current_load are at "
		    "most %d (the columns are INTEGER)", INT32_MAX);
		return -1;
	}
	return 0;
}

/* ---- nodes ------------------------------------------------------------ */

enum admin_rc
admin_node_add(struct sqldb *db, const char *service, const char *pattern,
    const char *node, const struct admin_node_change *ch,
    struct admin_node *out, char *err, size_t errlen)
{
	struct sqldb_param	p[7];
	struct admin_node	n;
	enum admin_rc		arc;
	enum sqldb_rc		rc;
	int64_t			sid;

	if (admin_check_service(service, err, errlen) == -1 ||
	    admin_check_node_url(node, err, errlen) == -1 ||
	    check_change(ch, err, errlen) == -1)
		return ADMIN_INVALID;
	if (ch->capacity < 0) {
		say(err, errlen, "node add needs a capacity");
		return ADMIN_INVALID;
	}
	if ((rc = sqldb_begin(db, SQLDB_WRITE, NULL)) != SQLDB_OK)
		return db_fail(db, rc, "begin", err, errlen);
	arc = service_id(db, service, &sid, err, errlen);
	if (arc == ADMIN_NOT_FOUND && pattern == NULL)
		say(err, errlen, "no service \"%s\" in the database: tokend "
		    "adds the services of its config at start, or give its "
		    "pattern (--pattern '{node}/1.5/{uid}') to add it now",
		    service);
	if (arc == ADMIN_NOT_FOUND && pattern != NULL) {
		p[0] = SQLDB_TEXT(service);
		p[1] = SQLDB_TEXT(pattern);
		if ((rc = sqldb_run(db, SQLDB_SERVICE_INSERT, p, 2)) !=
		    SQLDB_OK)
			return db_fail(db, rc, "adding the service", err,
			    errlen);
		arc = service_id(db, service, &sid, err, errlen);
	}
	if (arc != ADMIN_OK)
		return abort_with(db, arc);
	if ((arc = node_get(db, service, node, &n, err, errlen)) == ADMIN_OK) {
		say(err, errlen, "service %s has a node %s already (node "
		    "update changes it)", service, node);
		return abort_with(db, ADMIN_EXISTS);
	}
	if (arc != ADMIN_NOT_FOUND)
		return abort_with(db, arc);
	p[0] = SQLDB_INT(sid);
	p[1] = SQLDB_TEXT(node);
	p[2] = SQLDB_INT(ch->available >= 0 ? ch->available : ch->capacity);
	p[3] = SQLDB_INT(ch->current_load >= 0 ? ch->current_load : 0);
	p[4] = SQLDB_INT(ch->capacity);
	p[5] = SQLDB_INT(ch->downed >= 0 ? ch->downed : 0);
	p[6] = SQLDB_INT(ch->backoff >= 0 ? ch->backoff : 0);
	rc = sqldb_run(db, SQLDB_ADMIN_NODE_INSERT, p, 7);
	if (rc == SQLDB_CONFLICT) {
		sqldb_rollback(db);
		say(err, errlen, "service %s has a node %s already", service,
		    node);
		return ADMIN_EXISTS;
	}
	if (rc != SQLDB_OK)
		return db_fail(db, rc, "adding the node", err, errlen);
	if (out != NULL &&
	    (arc = node_get(db, service, node, out, err, errlen)) != ADMIN_OK)
		return abort_with(db, arc);
	return commit(db, err, errlen);
}

enum admin_rc
admin_node_list(struct sqldb *db, const char *service,
    void (*fn)(const struct admin_node *, void *), void *arg, char *err,
    size_t errlen)
{
	struct sqldb_param	p[2];
	struct admin_node	n;
	enum sqldb_rc		rc;
	int			r;

	p[0] = p[1] = SQLDB_TEXT(service != NULL ? service : "");
	if ((rc = sqldb_begin(db, SQLDB_READ, NULL)) != SQLDB_OK)
		return db_fail(db, rc, "begin", err, errlen);
	if ((rc = sqldb_run(db, SQLDB_ADMIN_NODES, p, 2)) != SQLDB_OK)
		return db_fail(db, rc, "reading nodes", err, errlen);
	while ((r = sqldb_next(db)) == 1) {
		read_node(db, &n);
		fn(&n, arg);
	}
	if (r < 0)
		return db_fail(db, r, "reading nodes", err, errlen);
	return commit(db, err, errlen);
}

enum admin_rc
admin_node_update(struct sqldb *db, const char *service, const char *node,
    const struct admin_node_change *ch, int64_t now_ms,
    struct admin_node *after, int64_t *unassigned, char *err, size_t errlen)
{
	struct sqldb_param	p[6];
	struct admin_node	n;
	enum admin_rc		arc;
	enum sqldb_rc		rc;

	if (unassigned != NULL)
		*unassigned = 0;
	if (check_change(ch, err, errlen) == -1)
		return ADMIN_INVALID;
	if ((rc = sqldb_begin(db, SQLDB_WRITE, NULL)) != SQLDB_OK)
		return db_fail(db, rc, "begin", err, errlen);
	if ((arc = node_get(db, service, node, &n, err, errlen)) != ADMIN_OK)
		return abort_with(db, arc);
	p[0] = ch->capacity >= 0 ? SQLDB_INT(ch->capacity) : SQLDB_NULL;
	p[1] = ch->available >= 0 ? SQLDB_INT(ch->available) : SQLDB_NULL;
	p[2] = ch->current_load >= 0 ? SQLDB_INT(ch->current_load) :
	    SQLDB_NULL;
	p[3] = ch->downed >= 0 ? SQLDB_INT(ch->downed) : SQLDB_NULL;
	p[4] = ch->backoff >= 0 ? SQLDB_INT(ch->backoff) : SQLDB_NULL;
	p[5] = SQLDB_INT(n.id);
	if ((rc = sqldb_run(db, SQLDB_ADMIN_NODE_UPDATE, p, 6)) != SQLDB_OK)
		return db_fail(db, rc, "updating the node", err, errlen);
	if (ch->unassign) {
		p[0] = SQLDB_INT(now_ms);
		p[1] = SQLDB_INT(n.id);
		if ((rc = sqldb_run(db, SQLDB_ADMIN_NODE_UNASSIGN, p, 2)) !=
		    SQLDB_OK)
			return db_fail(db, rc, "unassigning the node's users",
			    err, errlen);
		if (unassigned != NULL)
			*unassigned = sqldb_changes(db);
	}
	if (after != NULL &&
	    (arc = node_get(db, service, node, after, err, errlen)) !=
	    ADMIN_OK)
		return abort_with(db, arc);
	return commit(db, err, errlen);
}

enum admin_rc
admin_node_remove(struct sqldb *db, const char *service, const char *node,
    int force, int64_t now_ms, int64_t *users, char *err, size_t errlen)
{
	struct sqldb_param	p[2];
	struct admin_node	n;
	enum admin_rc		arc;
	enum sqldb_rc		rc;

	*users = 0;
	if ((rc = sqldb_begin(db, SQLDB_WRITE, NULL)) != SQLDB_OK)
		return db_fail(db, rc, "begin", err, errlen);
	if ((arc = node_get(db, service, node, &n, err, errlen)) != ADMIN_OK)
		return abort_with(db, arc);
	*users = n.users;
	if (n.users > 0 && !force) {
		say(err, errlen, "%" PRId64 " user%s %s on %s: removing it "
		    "sends them to other nodes at their next request, with "
		    "none of their data there (their clients upload it "
		    "again); node down stops new users first; --force "
		    "removes it anyway", n.users, n.users == 1 ? "" : "s",
		    n.users == 1 ? "is" : "are", node);
		return abort_with(db, ADMIN_REFUSED);
	}
	p[0] = SQLDB_INT(now_ms);
	p[1] = SQLDB_INT(n.id);
	if ((rc = sqldb_run(db, SQLDB_ADMIN_NODE_UNASSIGN, p, 2)) != SQLDB_OK)
		return db_fail(db, rc, "unassigning the node's users", err,
		    errlen);
	*users = sqldb_changes(db);
	p[0] = SQLDB_INT(n.id);
	if ((rc = sqldb_run(db, SQLDB_ADMIN_NODE_DELETE, p, 1)) != SQLDB_OK)
		return db_fail(db, rc, "removing the node", err, errlen);
	return commit(db, err, errlen);
}

/* ---- users ------------------------------------------------------------ */

enum admin_rc
admin_user_show(struct sqldb *db, const char *email, const char *service,
    void (*fn)(const struct admin_user *, void *), void *arg, char *err,
    size_t errlen)
{
	struct sqldb_param	p[3];
	struct admin_user	u;
	enum sqldb_rc		rc;
	int			r, found = 0;

	if (admin_check_email(email, err, errlen) == -1)
		return ADMIN_INVALID;
	p[0] = SQLDB_TEXT(email);
	p[1] = p[2] = SQLDB_TEXT(service != NULL ? service : "");
	if ((rc = sqldb_begin(db, SQLDB_READ, NULL)) != SQLDB_OK)
		return db_fail(db, rc, "begin", err, errlen);
	if ((rc = sqldb_run(db, SQLDB_ADMIN_USER_SHOW, p, 3)) != SQLDB_OK)
		return db_fail(db, rc, "reading users", err, errlen);
	while ((r = sqldb_next(db)) == 1) {
		read_user(db, &u);
		fn(&u, arg);
		found++;
	}
	if (r < 0)
		return db_fail(db, r, "reading users", err, errlen);
	if ((rc = sqldb_commit(db)) != SQLDB_OK)
		return db_fail(db, rc, "commit", err, errlen);
	if (found == 0) {
		say(err, errlen, "no record of %s%s%s", email,
		    service != NULL ? " for " : "",
		    service != NULL ? service : "");
		return ADMIN_NOT_FOUND;
	}
	return ADMIN_OK;
}

enum admin_rc
admin_user_retire(struct sqldb *db, const char *email, const char *service,
    int64_t now_ms, int64_t *n, char *err, size_t errlen)
{
	struct sqldb_param	p[5];
	enum sqldb_rc		rc;

	*n = 0;
	if (admin_check_email(email, err, errlen) == -1)
		return ADMIN_INVALID;
	p[0] = SQLDB_INT(now_ms);
	p[1] = SQLDB_INT(ADMIN_MAX_GENERATION);
	p[2] = SQLDB_TEXT(email);
	p[3] = p[4] = SQLDB_TEXT(service != NULL ? service : "");
	if ((rc = sqldb_begin(db, SQLDB_WRITE, NULL)) != SQLDB_OK)
		return db_fail(db, rc, "begin", err, errlen);
	if ((rc = sqldb_run(db, SQLDB_ADMIN_USER_RETIRE, p, 5)) != SQLDB_OK)
		return db_fail(db, rc, "retiring the user", err, errlen);
	*n = sqldb_changes(db);
	return commit(db, err, errlen);
}

/* ---- purge ------------------------------------------------------------ */

/*
 * Deletes u (if it still qualifies) and gives its node the slot back
 * when the user has no other record there.  Inside the batch's
 * transaction.
 */
static enum admin_rc
purge_one(struct sqldb *db, struct admin_purge *pg, const struct admin_user *u,
    int64_t before, char *err, size_t errlen)
{
	struct sqldb_param	p[3];
	enum sqldb_rc		rc;
	int			r;

	p[0] = SQLDB_INT(u->uid);
	p[1] = SQLDB_INT(before);
	if ((rc = sqldb_run(db, SQLDB_ADMIN_PURGE_DELETE, p, 2)) != SQLDB_OK)
		return db_fail(db, rc, "deleting a record", err, errlen);
	if (sqldb_changes(db) == 0)
		return ADMIN_OK;	/* gone meanwhile */
	pg->purged++;
	if (pg->fn != NULL)
		pg->fn(u, pg->arg);
	p[0] = SQLDB_INT(u->service_id);
	p[1] = SQLDB_TEXT(u->email);
	p[2] = SQLDB_INT(u->nodeid);
	if ((rc = sqldb_run(db, SQLDB_ADMIN_USER_ON_NODE, p, 3)) != SQLDB_OK)
		return db_fail(db, rc, "counting records", err, errlen);
	if ((r = sqldb_next(db)) != 1)
		return db_fail(db, r < 0 ? r : SQLDB_ERR, "counting records",
		    err, errlen);
	if (sqldb_int(db, 0) > 0)
		return ADMIN_OK;
	p[0] = SQLDB_INT(u->nodeid);
	if ((rc = sqldb_run(db, SQLDB_ADMIN_NODE_FREE_SLOT, p, 1)) != SQLDB_OK)
		return db_fail(db, rc, "freeing a node slot", err, errlen);
	pg->freed += sqldb_changes(db);
	return ADMIN_OK;
}

/*
 * One batch of service sid after uid *last into batch (pg->batch rows);
 * *n: records it held.
 */
static enum admin_rc
purge_batch(struct sqldb *db, struct admin_purge *pg, int64_t sid,
    int64_t before, struct admin_user *batch, int64_t *last, int *n,
    char *err, size_t errlen)
{
	struct sqldb_param	 p[4];
	enum admin_rc		 arc;
	enum sqldb_rc		 rc;
	int			 r = 0, i;

	*n = 0;
	if ((rc = sqldb_begin(db, pg->dry_run ? SQLDB_READ : SQLDB_WRITE,
	    NULL)) != SQLDB_OK)
		return db_fail(db, rc, "begin", err, errlen);
	p[0] = SQLDB_INT(sid);
	p[1] = SQLDB_INT(before);
	p[2] = SQLDB_INT(*last);
	p[3] = SQLDB_INT(pg->batch);
	if ((rc = sqldb_run(db, SQLDB_ADMIN_PURGE_BATCH, p, 4)) != SQLDB_OK)
		return db_fail(db, rc, "reading old records", err, errlen);
	while (*n < pg->batch && (r = sqldb_next(db)) == 1)
		read_user(db, &batch[(*n)++]);
	if (r < 0)
		return db_fail(db, r, "reading old records", err, errlen);
	for (i = 0; i < *n; i++) {
		*last = batch[i].uid;
		if (pg->dry_run) {
			pg->purged++;
			if (pg->fn != NULL)
				pg->fn(&batch[i], pg->arg);
		} else if ((arc = purge_one(db, pg, &batch[i], before, err,
		    errlen)) != ADMIN_OK)
			return abort_with(db, arc);
	}
	return commit(db, err, errlen);
}

enum admin_rc
admin_purge(struct sqldb *db, struct admin_purge *pg, int64_t now_ms,
    char *err, size_t errlen)
{
	struct admin_user	*batch;
	int64_t			 sids[256], sid, last, before;
	size_t			 nsids = 0, i;
	enum admin_rc		 arc;
	enum sqldb_rc		 rc;
	int			 r, n;

	pg->purged = pg->freed = 0;
	if (pg->grace_ms < 0 || pg->batch < 1 || pg->batch > PURGE_BATCH_MAX) {
		say(err, errlen, "purge: the grace period is >= 0 and a "
		    "batch 1 to %d records", PURGE_BATCH_MAX);
		return ADMIN_INVALID;
	}
	before = now_ms - pg->grace_ms;
	if (pg->service != NULL) {
		if ((arc = service_id(db, pg->service, &sid, err, errlen)) !=
		    ADMIN_OK)
			return arc;
		sids[nsids++] = sid;
	} else {
		if ((rc = sqldb_run(db, SQLDB_ADMIN_SERVICES, NULL, 0)) !=
		    SQLDB_OK)
			return db_fail(db, rc, "reading services", err,
			    errlen);
		while ((r = sqldb_next(db)) == 1 &&
		    nsids < sizeof(sids) / sizeof(sids[0]))
			sids[nsids++] = sqldb_int(db, 0);
		if (r < 0)
			return db_fail(db, r, "reading services", err, errlen);
	}
	if ((batch = calloc((size_t)pg->batch, sizeof(*batch))) == NULL) {
		say(err, errlen, "purge: out of memory");
		return ADMIN_ERR;
	}
	arc = ADMIN_OK;
	for (i = 0; arc == ADMIN_OK && i < nsids; i++) {
		last = 0;
		do
			arc = purge_batch(db, pg, sids[i], before, batch,
			    &last, &n, err, errlen);
		while (arc == ADMIN_OK && n > 0);
	}
	free(batch);
	return arc;
}

/* ---- the schema -------------------------------------------------------- */

enum admin_rc
admin_db_init(struct sqldb *db, int *created, char *err, size_t errlen)
{
	enum sqldb_rc	rc;

	if ((rc = sqldb_schema(db, created)) != SQLDB_OK)
		return db_fail(db, rc, "the schema", err, errlen);
	return ADMIN_OK;
}

/* A one-row statement's columns into v[0..n-1]. */
static enum admin_rc
read_counts(struct sqldb *db, enum sqldb_stmt st, int64_t *v, int n,
    char *err, size_t errlen)
{
	enum sqldb_rc	rc;
	int		r, i;

	if ((rc = sqldb_run(db, st, NULL, 0)) != SQLDB_OK)
		return db_fail(db, rc, "counting", err, errlen);
	if ((r = sqldb_next(db)) != 1)
		return db_fail(db, r < 0 ? r : SQLDB_ERR, "counting", err,
		    errlen);
	for (i = 0; i < n; i++)
		v[i] = sqldb_int(db, i);
	return ADMIN_OK;
}

static enum admin_rc
check_indexes(struct sqldb *db, struct admin_check *c, char *err,
    size_t errlen)
{
	static const char *const names[] = {
	    "lookup_idx", "replaced_at_idx", "node_idx" };
	struct sqldb_param	p[1];
	enum sqldb_stmt		st;
	enum sqldb_rc		rc;
	size_t			i, len;
	int			r;

	st = sqldb_kind(db) == SQLDB_SQLITE ? SQLDB_ADMIN_INDEX_SQLITE :
	    SQLDB_ADMIN_INDEX_POSTGRES;
	c->missing_indexes[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		p[0] = SQLDB_TEXT(names[i]);
		if ((rc = sqldb_run(db, st, p, 1)) != SQLDB_OK)
			return db_fail(db, rc, "reading indexes", err, errlen);
		if ((r = sqldb_next(db)) < 0)
			return db_fail(db, r, "reading indexes", err, errlen);
		if (r == 1)
			continue;
		len = strlen(c->missing_indexes);
		snprintf(c->missing_indexes + len,
		    sizeof(c->missing_indexes) - len, "%s%s",
		    len > 0 ? " " : "", names[i]);
	}
	return ADMIN_OK;
}

enum admin_rc
admin_db_check(struct sqldb *db, struct admin_check *c, char *err,
    size_t errlen)
{
	static const struct {
		enum sqldb_stmt	 st;
		const char	*table;
	} tables[] = {
		{ SQLDB_CHECK_SERVICES, "services(id, service, pattern)" },
		{ SQLDB_CHECK_NODES, "nodes(id, service, node, available, "
		    "current_load, capacity, downed, backoff)" },
		{ SQLDB_CHECK_USERS, "users(uid, service, email, generation, "
		    "client_state, created_at, replaced_at, nodeid, "
		    "keys_changed_at)" },
	};
	int64_t		v[4];
	enum admin_rc	arc;
	enum sqldb_rc	rc;
	size_t		i;

	memset(c, 0, sizeof(*c));
	if ((rc = sqldb_begin(db, SQLDB_READ, NULL)) != SQLDB_OK)
		return db_fail(db, rc, "begin", err, errlen);
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		rc = sqldb_run(db, tables[i].st, NULL, 0);
		if (rc == SQLDB_UNAVAIL)
			return db_fail(db, rc, "reading the schema", err,
			    errlen);
		if (rc != SQLDB_OK) {
			say(err, errlen, "not Mozilla's schema: no table %s "
			    "(%s)", tables[i].table, sqldb_error(db));
			return abort_with(db, ADMIN_INVALID);
		}
	}
	if ((arc = read_counts(db, SQLDB_ADMIN_COUNTS, v, 4, err, errlen)) !=
	    ADMIN_OK)
		return arc;
	c->services = v[0];
	c->nodes = v[1];
	c->current_users = v[2];
	c->replaced_users = v[3];
	if ((arc = read_counts(db, SQLDB_ADMIN_ANOMALIES, v, 3, err,
	    errlen)) != ADMIN_OK)
		return arc;
	c->duplicate_users = v[0];
	c->nodeless_users = v[1];
	c->overfull_nodes = v[2];
	if ((arc = check_indexes(db, c, err, errlen)) != ADMIN_OK)
		return arc;
	return commit(db, err, errlen);
}
