/*
 * users.c - Mozilla's tokenserver rules for users and nodes (users.h,
 * docs/nodes.md) over the SQL layer (sqldb.h): which record is the user's
 * current one, when a user gets a node and which, when a request's
 * generation, keys_changed_at or client state is refused and with which
 * words, and how a record is updated or replaced.
 *
 * The rules are those of syncstorage-rs's tokenserver (its db layer's
 * get_or_create_user, allocate_user, get_best_node and the handler's
 * update_user; the request extractor's validate), in the same order, so
 * that Mozilla's integration suite and Mozilla's clients see the same
 * answers.  Two things go further:
 *
 *   - A request that only reads (the common case: a returning user whose
 *     record needs no change) runs one SELECT outside any transaction.
 *     Anything that writes runs in one write transaction that starts by
 *     taking the user's lock (service and email) and reads the records
 *     again, so concurrent first requests for one user, from several
 *     workers or several hosts on one PostgreSQL, end with one record
 *     and one uid.  The transaction holds only database work.
 *   - Every call is bounded by the timeout (sqldb.h): a database that is
 *     down, locked or slow gives USERS_UNAVAILABLE.  What was committed
 *     stays committed.
 *
 * Only the service id is cached (per name): nodes and users are read on
 * every call, since operators change them under a running server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/sqldb.h"
#include "store/users.h"

#define MAX_GENERATION	INT64_MAX	/* Mozilla's mark of a retired user */
#define MAX_RECORDS	20		/* Mozilla's get_users LIMIT */
#define SERVICE_MAX	30		/* services.service VARCHAR(30) */
#define PATTERN_MAX	128		/* services.pattern VARCHAR(128) */
#define NODE_MAX	64		/* nodes.node VARCHAR(64) */
#define SERVICE_CACHE	16
#define DEFAULT_PATTERN	"{node}/1.5/{uid}"

/* Mozilla's descriptions (tokenserver-common's error.rs, extractors.rs). */
#define WHY_UNAUTHORIZED "Unauthorized"
#define WHY_CS_EMPTY	"Unacceptable client-state value empty string"
#define WHY_CS_STALE	"Unacceptable client-state value stale value"
#define WHY_CS_NO_GEN	"Unacceptable client-state value new value with " \
			"no generation change"
#define WHY_CS_NO_KCA	"Unacceptable client-state value new value with " \
			"no keys_changed_at change"
#define WHY_SERVER	"Server error"
#define WHY_UNAVAILABLE	"the database is unavailable"

struct users_db {
	struct sqldb	*sql;
	int64_t		 release_ppm;	/* release rate in millionths */
	int		 max_releases;
	int		 schema_ok;
	struct {
		char	 name[SERVICE_MAX + 1];
		int64_t	 id;
	}		 services[SERVICE_CACHE];
	size_t		 nservices;
	struct ctx	*ctx;		/* users_assign's, made once */
	char		 error[512];
};

/* One row of USERS_GET (statements.h). */
struct rec {
	int64_t		 uid;
	int		 has_node;
	char		 node[USERS_URL_MAX + 1];
	int64_t		 generation;
	int		 has_kca;
	int64_t		 kca;
	char		 client_state[USERS_CLIENT_STATE_MAX + 1];
	int64_t		 created_at;
	int		 replaced;
	int64_t		 replaced_at;
	int64_t		 nodeid;
};

/* What validate and update_user compare: Mozilla's optional values. */
struct opt {
	int		 set;
	int64_t		 v;
};

/* One call of users_assign. */
struct ctx {
	const struct users_query *q;
	int64_t		 now;
	int64_t		 sid;
	struct rec	 recs[MAX_RECORDS];
	size_t		 nrecs;
	struct rec	 user;		/* the current record, once known */
	const char	*old_states[MAX_RECORDS];
	size_t		 nold;
	struct opt	 auth_gen, auth_kca;
	const char	*why;
	int		 toolong;	/* a value the buffers cannot hold */
	char		 pattern[USERS_URL_MAX + 1];
};

/* Copies src whole into dst; -1 (and dst cut) when it does not fit. */
static int
copy(char *dst, size_t size, const char *src)
{
	size_t	n = strlen(src);

	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

enum step {
	STEP_DONE,		/* the answer is in ctx (or *status) */
	STEP_WRITE		/* something must be written: go again in a
				   write transaction */
};

/*
 * A database failure: the words for the operator in u->error (the caller
 * logs them, once per outage), the status and static words for the
 * client.
 */
static enum users_status
db_status(struct users_db *u, enum sqldb_rc rc, const char **why)
{
	snprintf(u->error, sizeof(u->error), "%s", sqldb_error(u->sql));
	if (rc == SQLDB_UNAVAIL) {
		*why = WHY_UNAVAILABLE;
		return USERS_UNAVAILABLE;
	}
	*why = WHY_SERVER;
	return USERS_ERROR;
}

static enum users_status
refuse(struct users_db *u, enum users_status st, const char **why,
    const char *msg)
{
	snprintf(u->error, sizeof(u->error), "%s", msg);
	*why = msg;
	return st;
}

/* ---- open, close, schema ---------------------------------------------- */

struct users_db *
users_open(const struct users_settings *s, char *err, size_t errlen)
{
	struct users_db	*u;
	enum sqldb_rc	 rc;

	if (s->timeout_ms < 1) {
		snprintf(err, errlen, "database timeout must be at least "
		    "1 ms");
		return NULL;
	}
	if (!(s->release_rate >= 0.0 && s->release_rate <= 1.0)) {
		snprintf(err, errlen, "release_rate must be between 0 and 1");
		return NULL;
	}
	if (s->max_releases < 0 || s->max_releases > 100) {
		snprintf(err, errlen, "max_releases must be between 0 and "
		    "100");
		return NULL;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (u->ctx = malloc(sizeof(*u->ctx))) == NULL) {
		free(u);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->release_ppm = (int64_t)(s->release_rate * 1000000.0 + 0.5);
	u->max_releases = s->max_releases;
	u->sql = sqldb_open(s->url, s->password, s->timeout_ms, err, errlen);
	if (u->sql == NULL) {
		users_close(u);
		return NULL;
	}
	/*
	 * The schema now, so that a database that is not a tokenserver's
	 * fails at start; a server that is down now gets it on the first
	 * call that reaches it.
	 */
	rc = sqldb_schema(u->sql, NULL);
	if (rc == SQLDB_OK)
		u->schema_ok = 1;
	else if (rc != SQLDB_UNAVAIL) {
		snprintf(err, errlen, "%s", sqldb_error(u->sql));
		users_close(u);
		return NULL;
	} else
		log_warnx("users: %s (trying again on each request)",
		    sqldb_error(u->sql));
	return u;
}

void
users_close(struct users_db *u)
{
	if (u == NULL)
		return;
	sqldb_close(u->sql);
	free(u->ctx);
	free(u);
}

const char *
users_last_error(const struct users_db *u)
{
	return u->error;
}

static enum sqldb_rc
ensure_schema(struct users_db *u)
{
	enum sqldb_rc	rc;

	if (u->schema_ok)
		return SQLDB_OK;
	if ((rc = sqldb_schema(u->sql, NULL)) == SQLDB_OK)
		u->schema_ok = 1;
	return rc;
}

int
users_ping(struct users_db *u, char *err, size_t errlen)
{
	enum sqldb_rc	rc;

	if ((rc = sqldb_ping(u->sql)) == SQLDB_OK)
		rc = ensure_schema(u);
	if (rc != SQLDB_OK) {
		snprintf(err, errlen, "%s", sqldb_error(u->sql));
		return -1;
	}
	return 0;
}

/* ---- the service ------------------------------------------------------ */

static int64_t
cached_service(struct users_db *u, const char *service)
{
	size_t	i;

	for (i = 0; i < u->nservices; i++)
		if (strcmp(u->services[i].name, service) == 0)
			return u->services[i].id;
	return 0;
}

static void
cache_service(struct users_db *u, const char *service, int64_t id)
{
	if (u->nservices == SERVICE_CACHE || cached_service(u, service) != 0)
		return;
	snprintf(u->services[u->nservices].name,
	    sizeof(u->services[u->nservices].name), "%s", service);
	u->services[u->nservices++].id = id;
}

/* The service's id, and its pattern into pattern unless NULL; 0 when
 * there is no such service. */
static enum sqldb_rc
read_service(struct users_db *u, const char *service, int64_t *id,
    char *pattern, size_t patlen)
{
	struct sqldb_param	p[] = { SQLDB_TEXT(service) };
	enum sqldb_rc		rc;
	int			r;

	*id = 0;
	if ((rc = sqldb_run(u->sql, SQLDB_SERVICE_GET, p, 1)) != SQLDB_OK)
		return rc;
	if ((r = sqldb_next(u->sql)) < 0)
		return (enum sqldb_rc)r;
	if (r == 1) {
		*id = sqldb_int(u->sql, 0);
		if (pattern != NULL && copy(pattern, patlen,
		    sqldb_text(u->sql, 1)) == -1)
			u->ctx->toolong = 1;
	}
	sqldb_end(u->sql);
	return SQLDB_OK;
}

/* ---- reading a user's records ------------------------------------------- */

static enum sqldb_rc
read_records(struct users_db *u, struct ctx *c)
{
	struct sqldb_param	p[] = { SQLDB_TEXT(c->q->email),
				    SQLDB_INT(c->sid) };
	struct sqldb		*db = u->sql;
	struct rec		*r;
	enum sqldb_rc		 rc;
	int			 more = 0;

	c->nrecs = 0;
	c->toolong = 0;
	if ((rc = sqldb_run(db, SQLDB_USERS_GET, p, 2)) != SQLDB_OK)
		return rc;
	while (c->nrecs < MAX_RECORDS && (more = sqldb_next(db)) == 1) {
		r = &c->recs[c->nrecs++];
		r->uid = sqldb_int(db, 0);
		r->has_node = !sqldb_isnull(db, 1);
		/* Never cut: a shortened node URL is another node. */
		c->toolong |= copy(r->node, sizeof(r->node),
		    sqldb_text(db, 1));
		r->generation = sqldb_int(db, 2);
		r->has_kca = !sqldb_isnull(db, 3);
		r->kca = sqldb_int(db, 3);
		c->toolong |= copy(r->client_state, sizeof(r->client_state),
		    sqldb_text(db, 4));
		r->created_at = sqldb_int(db, 5);
		r->replaced = !sqldb_isnull(db, 6);
		r->replaced_at = sqldb_int(db, 6);
		r->nodeid = sqldb_int(db, 7);
		if (c->nrecs == 1)
			c->toolong |= copy(c->pattern, sizeof(c->pattern),
			    sqldb_text(db, 8));
	}
	sqldb_end(db);
	if (c->nrecs < MAX_RECORDS && more < 0)
		return (enum sqldb_rc)more;
	return SQLDB_OK;
}

/*
 * Mozilla's order: highest generation first, then newest; among equals
 * the order of the query (created_at, then uid, descending) stays:
 * an insertion sort is stable.
 */
static void
sort_records(struct ctx *c)
{
	size_t		i, j;
	struct rec	tmp;

	for (i = 1; i < c->nrecs; i++) {
		tmp = c->recs[i];
		for (j = i; j > 0 && (c->recs[j - 1].generation <
		    tmp.generation || (c->recs[j - 1].generation ==
		    tmp.generation && c->recs[j - 1].created_at <
		    tmp.created_at)); j--)
			c->recs[j] = c->recs[j - 1];
		c->recs[j] = tmp;
	}
}

/* ---- writing ---------------------------------------------------------- */

/* Mozilla's get_best_node, with its capacity release. */
static enum sqldb_rc
best_node(struct users_db *u, struct ctx *c, int64_t *id, char *node,
    size_t nodelen)
{
	struct sqldb_param	sp[] = { SQLDB_INT(c->sid) };
	struct sqldb_param	rp[] = { SQLDB_INT(u->release_ppm),
				    SQLDB_INT(u->release_ppm),
				    SQLDB_INT(c->sid) };
	enum sqldb_rc		rc;
	int			round, r;

	*id = 0;
	for (round = 0;; round++) {
		if ((rc = sqldb_run(u->sql, SQLDB_NODE_BEST, sp, 1)) !=
		    SQLDB_OK)
			return rc;
		if ((r = sqldb_next(u->sql)) < 0)
			return (enum sqldb_rc)r;
		if (r == 1) {
			*id = sqldb_int(u->sql, 0);
			if (copy(node, nodelen, sqldb_text(u->sql, 1)) == -1)
				c->toolong = 1;
			sqldb_end(u->sql);
			return SQLDB_OK;
		}
		if (round == u->max_releases)
			return SQLDB_OK;
		if ((rc = sqldb_run(u->sql, SQLDB_NODES_RELEASE, rp, 3)) !=
		    SQLDB_OK)
			return rc;
		if (sqldb_changes(u->sql) == 0)
			return SQLDB_OK;	/* nothing left to release */
	}
}

static enum sqldb_rc
insert_record(struct users_db *u, struct ctx *c, int64_t generation,
    const char *client_state, int64_t nodeid, struct opt kca, int64_t *uid)
{
	struct sqldb_param	p[] = {
		SQLDB_INT(c->sid), SQLDB_TEXT(c->q->email),
		SQLDB_INT(generation), SQLDB_TEXT(client_state),
		SQLDB_INT(c->now), SQLDB_INT(nodeid),
		kca.set ? SQLDB_INT(kca.v) : SQLDB_NULL
	};
	enum sqldb_rc		rc;
	int			r;

	if ((rc = sqldb_run(u->sql, SQLDB_USER_INSERT, p, 7)) != SQLDB_OK)
		return rc;
	if ((r = sqldb_next(u->sql)) != 1)
		return r < 0 ? (enum sqldb_rc)r : SQLDB_ERR;
	*uid = sqldb_int(u->sql, 0);
	sqldb_end(u->sql);
	return SQLDB_OK;
}

/*
 * Mozilla's allocate_user: a new record on the best node, with the
 * given metadata; it becomes c->user.  *none when no node has room.
 */
static enum sqldb_rc
allocate(struct users_db *u, struct ctx *c, int64_t generation,
    const char *client_state, struct opt kca, int *none)
{
	struct sqldb_param	p[2];
	struct rec		*n = &c->user;
	int64_t			 nodeid, uid;
	char			 node[USERS_URL_MAX + 1];
	enum sqldb_rc		 rc;

	*none = 0;
	if ((rc = best_node(u, c, &nodeid, node, sizeof(node))) != SQLDB_OK)
		return rc;
	if (nodeid == 0 || c->toolong) {	/* toolong: refused above */
		*none = 1;
		return SQLDB_OK;
	}
	p[0] = SQLDB_INT(c->sid);
	p[1] = SQLDB_INT(nodeid);
	if ((rc = sqldb_run(u->sql, SQLDB_NODE_ADD_USER, p, 2)) != SQLDB_OK)
		return rc;
	if ((rc = insert_record(u, c, generation, client_state, nodeid, kca,
	    &uid)) != SQLDB_OK)
		return rc;
	memset(n, 0, sizeof(*n));
	n->uid = uid;
	n->has_node = 1;
	copy(n->node, sizeof(n->node), node);
	n->generation = generation;
	n->has_kca = kca.set;
	n->kca = kca.v;
	copy(n->client_state, sizeof(n->client_state), client_state);
	n->created_at = c->now;
	n->nodeid = nodeid;
	return SQLDB_OK;
}

/* ---- the rules -------------------------------------------------------- */

/* opt_cmp! of Mozilla's validate: false unless both are set. */
#define BOTH(a, b)	((a).set && (b).set)

/*
 * Mozilla's TokenserverRequest::validate: the request (auth) against the
 * user's current record; NULL, or the refusal's status in *st and its
 * description.
 */
static const char *
validate(const struct ctx *c, enum users_status *st)
{
	const struct rec	*usr = &c->user;
	struct opt		 ugen = { 1, usr->generation };
	struct opt		 ukca = { usr->has_kca, usr->kca };
	struct opt		 agen = c->auth_gen, akca = c->auth_kca;
	const char		*acs = c->q->client_state;
	int			 changed = strcmp(acs, usr->client_state) != 0;
	size_t			 i;

	*st = USERS_INVALID_KEYS_CHANGED_AT;
	if (BOTH(akca, ukca) && akca.v > ukca.v && agen.set &&
	    agen.v < akca.v)
		return WHY_UNAUTHORIZED;
	*st = USERS_INVALID_CLIENT_STATE;
	if (usr->client_state[0] != '\0' && acs[0] == '\0')
		return WHY_CS_EMPTY;
	for (i = 0; i < c->nold; i++)
		if (strcmp(c->old_states[i], acs) == 0)
			return WHY_CS_STALE;
	if (changed && BOTH(agen, ugen) && agen.v <= ugen.v)
		return WHY_CS_NO_GEN;
	if (changed && BOTH(akca, ukca) && akca.v <= ukca.v)
		return WHY_CS_NO_KCA;
	*st = USERS_INVALID_GENERATION;
	if (BOTH(ugen, agen) && ugen.v > agen.v)
		return WHY_UNAUTHORIZED;
	*st = USERS_INVALID_KEYS_CHANGED_AT;
	if (BOTH(ukca, akca) && ukca.v > akca.v)
		return WHY_UNAUTHORIZED;
	if (!akca.set && ukca.set && ukca.v != 0)
		return WHY_UNAUTHORIZED;
	*st = USERS_OK;
	return NULL;
}

/* Mozilla's update_user: the values the record is to hold. */
static void
new_values(const struct ctx *c, int64_t *generation, struct opt *kca)
{
	const struct rec	*usr = &c->user;
	struct opt		 akca = c->auth_kca;

	if (akca.set)
		*kca = akca;	/* validate made sure it is not older */
	else if (usr->has_kca)
		*kca = (struct opt){ 1, 0 };	/* validate: it is 0 */
	else
		*kca = (struct opt){ 0, 0 };
	if (c->auth_gen.set)
		*generation = c->auth_gen.v;
	else if (akca.set && akca.v > usr->generation &&
	    (!usr->has_kca || akca.v > usr->kca))
		*generation = akca.v;
	else
		*generation = usr->generation;
}

/*
 * One pass of the rules over the records in c.  Reading only
 * (writing == 0), it stops with STEP_WRITE at the first thing to write;
 * in a write transaction it writes.  *st and *why hold the answer when
 * the step is STEP_DONE.
 */
static enum step
rules(struct users_db *u, struct ctx *c, int writing, enum users_status *st,
    enum sqldb_rc *rc)
{
	struct sqldb_param	 p[6];
	struct rec		*cur;
	int64_t			 generation, uid;
	struct opt		 kca;
	const char		*why;
	int			 none;
	size_t			 i;

	*rc = SQLDB_OK;
	c->nold = 0;
	if (c->nrecs == 0) {
		/* A new user: a record with the request's values. */
		if (!writing)
			return STEP_WRITE;
		*rc = allocate(u, c, c->auth_gen.set ? c->auth_gen.v : 0,
		    c->q->client_state, c->auth_kca, &none);
		if (*rc != SQLDB_OK)
			return STEP_DONE;
		if (none) {
			*st = USERS_NO_NODE;
			return STEP_DONE;
		}
	} else {
		sort_records(c);
		cur = &c->recs[0];
		for (i = 1; i < c->nrecs; i++)
			if (strcmp(c->recs[i].client_state,
			    cur->client_state) != 0)
				c->old_states[c->nold++] =
				    c->recs[i].client_state;
		/* Race recovery: every older record is replaced. */
		for (i = 1; i < c->nrecs; i++) {
			if (c->recs[i].replaced)
				continue;
			if (!writing)
				return STEP_WRITE;
			p[0] = SQLDB_INT(cur->created_at);
			p[1] = SQLDB_INT(c->sid);
			p[2] = SQLDB_INT(c->recs[i].uid);
			if ((*rc = sqldb_run(u->sql, SQLDB_USER_REPLACE, p,
			    3)) != SQLDB_OK)
				return STEP_DONE;
			c->recs[i].replaced = 1;
		}
		if ((cur->replaced || !cur->has_node) &&
		    cur->generation < MAX_GENERATION) {
			/* A replaced or nodeless user: the same metadata on a
			 * node that has room, never the request's. */
			if (!writing)
				return STEP_WRITE;
			*rc = allocate(u, c, cur->generation,
			    cur->client_state, (struct opt){ cur->has_kca,
			    cur->kca }, &none);
			if (*rc != SQLDB_OK)
				return STEP_DONE;
			if (none) {
				*st = USERS_NO_NODE;
				return STEP_DONE;
			}
		} else if (!cur->has_node) {
			/* Retired and nodeless: Mozilla's 500. */
			*st = USERS_ERROR;
			c->why = WHY_SERVER;
			return STEP_DONE;
		} else
			c->user = *cur;
	}
	if ((why = validate(c, st)) != NULL) {
		c->why = why;
		return STEP_DONE;
	}
	new_values(c, &generation, &kca);
	if (strcmp(c->q->client_state, c->user.client_state) != 0) {
		/* A new client state: a new record on the same node, and
		 * the old ones retired. */
		if (!writing)
			return STEP_WRITE;
		if ((*rc = insert_record(u, c, generation, c->q->client_state,
		    c->user.nodeid, kca, &uid)) != SQLDB_OK)
			return STEP_DONE;
		p[0] = SQLDB_INT(c->now);
		p[1] = SQLDB_INT(c->sid);
		p[2] = SQLDB_TEXT(c->q->email);
		p[3] = SQLDB_INT(uid);
		if ((*rc = sqldb_run(u->sql, SQLDB_USERS_REPLACE_OTHERS, p,
		    4)) != SQLDB_OK)
			return STEP_DONE;
		c->user.uid = uid;
		c->user.created_at = c->now;
		copy(c->user.client_state, sizeof(c->user.client_state),
		    c->q->client_state);
	} else if (generation != c->user.generation ||
	    kca.set != c->user.has_kca || kca.v != c->user.kca) {
		if (!writing)
			return STEP_WRITE;
		p[0] = SQLDB_INT(generation);
		p[1] = kca.set ? SQLDB_INT(kca.v) : SQLDB_NULL;
		p[2] = SQLDB_INT(c->sid);
		p[3] = SQLDB_TEXT(c->q->email);
		p[4] = p[0];
		p[5] = p[1];
		if ((*rc = sqldb_run(u->sql, SQLDB_USER_UPDATE, p, 6)) !=
		    SQLDB_OK)
			return STEP_DONE;
	}
	c->user.generation = generation;
	c->user.has_kca = kca.set;
	c->user.kca = kca.v;
	*st = USERS_OK;
	return STEP_DONE;
}

/* The pattern with {node}, {uid} and {service} filled in. */
static int
endpoint(char *out, size_t len, const char *pattern, const char *node,
    int64_t uid, const char *service)
{
	char		 num[24];
	const char	*s, *v;
	size_t		 n = 0, vl;

	if (pattern == NULL || *pattern == '\0')
		pattern = DEFAULT_PATTERN;
	snprintf(num, sizeof(num), "%lld", (long long)uid);
	for (s = pattern; *s != '\0';) {
		v = NULL;
		if (strncmp(s, "{node}", 6) == 0)
			v = node, s += 6;
		else if (strncmp(s, "{uid}", 5) == 0)
			v = num, s += 5;
		else if (strncmp(s, "{service}", 9) == 0)
			v = service, s += 9;
		vl = v != NULL ? strlen(v) : 1;
		if (n + vl >= len)
			return -1;
		if (v != NULL)
			memcpy(out + n, v, vl);
		else
			out[n] = *s++;
		n += vl;
	}
	out[n] = '\0';
	return 0;
}

static int
is_lower_hex(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

static const char *
check_query(const struct users_query *q)
{
	if (q->service == NULL || *q->service == '\0' ||
	    strlen(q->service) > SERVICE_MAX)
		return "the service name is empty or longer than 30 bytes";
	if (q->email == NULL || *q->email == '\0' ||
	    strlen(q->email) > USERS_EMAIL_MAX)
		return "the email is empty or longer than 255 bytes";
	if (q->client_state == NULL ||
	    strlen(q->client_state) > USERS_CLIENT_STATE_MAX ||
	    !is_lower_hex(q->client_state))
		return "the client state is not at most 32 lower-case hex "
		    "digits";
	if (q->generation < 0 || q->keys_changed_at < 0)
		return "a negative generation or keys_changed_at";
	return NULL;
}

/* The service id: cached, else read (0: no such service). */
static enum sqldb_rc
service_id(struct users_db *u, const char *service, int64_t *id)
{
	enum sqldb_rc	rc;

	if ((*id = cached_service(u, service)) != 0)
		return SQLDB_OK;
	if ((rc = read_service(u, service, id, NULL, 0)) == SQLDB_OK &&
	    *id != 0)
		cache_service(u, service, *id);
	return rc;
}

/* The answer, from the user's record after the rules ran. */
static enum users_status
answer(struct users_db *u, const struct ctx *c, struct users_record *out,
    const char **why)
{
	const struct rec	*usr = &c->user;

	out->uid = usr->uid;
	out->nodeid = usr->nodeid;
	if (copy(out->node, sizeof(out->node), usr->node) == -1 ||
	    endpoint(out->endpoint, sizeof(out->endpoint), c->pattern,
	    usr->node, usr->uid, c->q->service) == -1)
		return refuse(u, USERS_ERROR, why, "the endpoint is longer "
		    "than 1024 bytes");
	out->generation = usr->generation;
	out->keys_changed_at = usr->has_kca ? usr->kca : 0;
	copy(out->client_state, sizeof(out->client_state), usr->client_state);
	out->created_at = usr->created_at;
	out->replaced_at = 0;
	return USERS_OK;
}

enum users_status
users_assign(struct users_db *u, const struct users_query *q, int64_t now_ms,
    struct users_record *out, const char **why)
{
	struct ctx		*c = u->ctx;
	char			 lock[SERVICE_MAX + USERS_EMAIL_MAX + 2];
	const char		*bad;
	enum users_status	 st = USERS_ERROR;
	enum sqldb_rc		 rc;
	int64_t			 sid;
	int			 writing = 0;

	*why = NULL;
	if ((bad = check_query(q)) != NULL)
		return refuse(u, USERS_ERROR, why, bad);
	c->q = q;
	c->now = now_ms;
	c->why = NULL;
	c->auth_gen = (struct opt){ q->generation != 0, q->generation };
	c->auth_kca = (struct opt){ q->keys_changed_at != 0,
	    q->keys_changed_at };
	if ((rc = ensure_schema(u)) != SQLDB_OK ||
	    (rc = service_id(u, q->service, &c->sid)) != SQLDB_OK)
		goto dbfail;
	if (c->sid == 0)
		return refuse(u, USERS_UNKNOWN_SERVICE, why,
		    "the service has no row in the database");
	/* First without a transaction: most requests only read. */
	if ((rc = read_records(u, c)) != SQLDB_OK)
		goto dbfail;
	if (!c->toolong && rules(u, c, 0, &st, &rc) == STEP_WRITE) {
		writing = 1;
		snprintf(lock, sizeof(lock), "%s\n%s", q->service, q->email);
		if ((rc = sqldb_begin(u->sql, SQLDB_WRITE, lock)) != SQLDB_OK ||
		    (rc = read_records(u, c)) != SQLDB_OK)
			goto dbfail;
		if (!c->toolong)
			rules(u, c, 1, &st, &rc);
		if (rc != SQLDB_OK)
			goto dbfail;
		/* A new user: the pattern in the same transaction. */
		if (st == USERS_OK && c->nrecs == 0 && (rc = read_service(u,
		    q->service, &sid, c->pattern, sizeof(c->pattern))) !=
		    SQLDB_OK)
			goto dbfail;
	}
	if (c->toolong) {
		sqldb_rollback(u->sql);
		return refuse(u, USERS_ERROR, why, "the database holds a node "
		    "URL, client state or pattern longer than its column "
		    "allows");
	}
	/* A refusal keeps what was written before it, as Mozilla's does. */
	if (writing && (rc = sqldb_commit(u->sql)) != SQLDB_OK)
		goto dbfail;
	if (st == USERS_NO_NODE)
		return refuse(u, st, why, WHY_SERVER);
	if (st != USERS_OK)
		return refuse(u, st, why, c->why);
	return answer(u, c, out, why);
dbfail:
	st = db_status(u, rc, why);
	sqldb_rollback(u->sql);
	return st;
}

/* ---- bootstrap -------------------------------------------------------- */

static enum sqldb_rc
bootstrap_in_txn(struct users_db *u, const char *service, const char *pattern,
    const char *const *nodes, size_t nnodes, int64_t capacity, int64_t *sid)
{
	struct sqldb_param	p[4];
	enum sqldb_rc		rc;
	size_t			i;

	p[0] = SQLDB_TEXT(service);
	p[1] = SQLDB_TEXT(pattern);
	if ((rc = sqldb_run(u->sql, SQLDB_SERVICE_INSERT, p, 2)) != SQLDB_OK)
		return rc;
	p[0] = SQLDB_TEXT(pattern);
	p[1] = SQLDB_TEXT(service);
	if ((rc = sqldb_run(u->sql, SQLDB_SERVICE_SET_PATTERN, p, 2)) !=
	    SQLDB_OK)
		return rc;
	if ((rc = read_service(u, service, sid, NULL, 0)) != SQLDB_OK ||
	    *sid == 0)
		return rc;
	for (i = 0; i < nnodes; i++) {
		p[0] = SQLDB_INT(*sid);
		p[1] = SQLDB_TEXT(nodes[i]);
		p[2] = SQLDB_INT(capacity);
		p[3] = SQLDB_INT(capacity);
		if ((rc = sqldb_run(u->sql, SQLDB_NODE_INSERT_MISSING, p, 4)) !=
		    SQLDB_OK)
			return rc;
	}
	return SQLDB_OK;
}

enum users_status
users_bootstrap(struct users_db *u, const char *service, const char *pattern,
    const char *const *nodes, size_t nnodes, int64_t capacity, char *err,
    size_t errlen)
{
	const char	*why;
	int64_t		 sid = 0;
	enum sqldb_rc	 rc;
	size_t		 i;

	if (service == NULL || *service == '\0' ||
	    strlen(service) > SERVICE_MAX) {
		snprintf(err, errlen, "service name: 1 to %d bytes",
		    SERVICE_MAX);
		return USERS_ERROR;
	}
	if (pattern == NULL || *pattern == '\0')
		pattern = DEFAULT_PATTERN;
	if (strlen(pattern) > PATTERN_MAX) {
		snprintf(err, errlen, "%s: pattern longer than %d bytes "
		    "(Mozilla's services.pattern)", service, PATTERN_MAX);
		return USERS_ERROR;
	}
	for (i = 0; i < nnodes; i++)
		if (nodes[i] == NULL || *nodes[i] == '\0' ||
		    strlen(nodes[i]) > NODE_MAX) {
			snprintf(err, errlen, "%s: node URL empty or longer "
			    "than %d bytes (Mozilla's nodes.node)", service,
			    NODE_MAX);
			return USERS_ERROR;
		}
	if (nnodes > 0 && (capacity < 1 || capacity > INT32_MAX)) {
		snprintf(err, errlen, "%s: node capacity must be between 1 "
		    "and %d", service, INT32_MAX);
		return USERS_ERROR;
	}
	/* Every worker calls this at start: the lock (and ON CONFLICT DO
	 * NOTHING) let them all, in any order. */
	if ((rc = ensure_schema(u)) != SQLDB_OK ||
	    (rc = sqldb_begin(u->sql, SQLDB_WRITE, "tokend bootstrap")) !=
	    SQLDB_OK)
		goto fail;
	if ((rc = bootstrap_in_txn(u, service, pattern, nodes, nnodes,
	    capacity, &sid)) != SQLDB_OK)
		goto fail;
	if (sid == 0) {
		sqldb_rollback(u->sql);
		snprintf(err, errlen, "%s: the service row was not made",
		    service);
		return USERS_ERROR;
	}
	if ((rc = sqldb_commit(u->sql)) != SQLDB_OK)
		goto fail;
	cache_service(u, service, sid);
	return USERS_OK;
fail:
	{
		enum users_status	st = db_status(u, rc, &why);

		sqldb_rollback(u->sql);
		snprintf(err, errlen, "%s", u->error);
		return st;
	}
}
