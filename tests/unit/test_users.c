/*
 * test_users.c - the node-assignment database (src/store/users.c over
 * sqldb.c, sqlite.c, postgres.c) against Mozilla's rules, on SQLite
 * always and on PostgreSQL when TOKEND_TEST_PG=1 (tests/with-pg; tests/run
 * sets it up): the same cases run on both.
 *
 * The expected values come from Mozilla's tokenserver integration tests
 * (test_node_assignment.py, test_misc.py, test_authorization.py) and its
 * request validation, case for case where they have one.  Tables are set
 * up and read back with plain SQL on a second connection, as Mozilla's
 * tests do, so a test sees what the database holds, not what users.c
 * says it wrote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "store/sqldb_impl.h"
#include "store/users.h"
#include "testutil.h"

#define SERVICE		"sync-1.5"
#define EMAIL		"test@accounts.example.com"
#define PG_DB		"tokend_unit_users"
#define MAX_GEN		INT64_MAX

struct fx {
	enum sqldb_kind	 kind;
	char		 dir[PATH_MAX];
	char		 url[PATH_MAX + 32];
	struct users_db	*u;
	struct sqldb	*raw;		/* plain SQL, as Mozilla's tests */
	int64_t		 sid;
	int64_t		 node0;		/* https://node0, capacity 100 */
	int64_t		 now;
};

static enum sqldb_kind	group_kind;

static int64_t	count_tables(struct fx *);

/* ---- plain SQL on the second connection -------------------------------- */

static int64_t
sq(struct fx *f, const char *fmt, ...)
{
	char		sql[2048];
	va_list		ap;
	int64_t		v = -1;
	enum sqldb_rc	rc;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	f->raw->deadline = mono_ms() + 10000;
	rc = f->raw->be->exec(f->raw, sql, &v);
	if (rc != SQLDB_OK)
		fail_msg("%s: %s", sql, sqldb_error(f->raw));
	return v;
}

static int64_t
add_node(struct fx *f, const char *node, int available, int load,
    int capacity, int downed, int backoff)
{
	return sq(f, "INSERT INTO nodes (service, node, available, "
	    "current_load, capacity, downed, backoff) VALUES (%lld, '%s', %d, "
	    "%d, %d, %d, %d) RETURNING id", (long long)f->sid, node,
	    available, load, capacity, downed, backoff);
}

/* Mozilla's add_user helper, with its defaults. */
static int64_t
add_user(struct fx *f, int64_t nodeid, int64_t generation, int64_t kca,
    const char *cs, int64_t created_at, int64_t replaced_at)
{
	char	kcas[24], reps[24];

	snprintf(kcas, sizeof(kcas), "%lld", (long long)kca);
	snprintf(reps, sizeof(reps), "%lld", (long long)replaced_at);
	return sq(f, "INSERT INTO users (service, email, nodeid, generation, "
	    "keys_changed_at, client_state, created_at, replaced_at) VALUES "
	    "(%lld, '%s', %lld, %lld, %s, '%s', %lld, %s) RETURNING uid",
	    (long long)f->sid, EMAIL, (long long)nodeid,
	    (long long)generation, kca < 0 ? "NULL" : kcas, cs,
	    (long long)created_at, replaced_at < 0 ? "NULL" : reps);
}

static int64_t
count_users(struct fx *f)
{
	return sq(f, "SELECT count(*) FROM users");
}

static int64_t
node_col(struct fx *f, int64_t id, const char *col)
{
	return sq(f, "SELECT %s FROM nodes WHERE id = %lld", col,
	    (long long)id);
}

static int64_t
user_col(struct fx *f, int64_t uid, const char *col)
{
	return sq(f, "SELECT COALESCE(%s, -1) FROM users WHERE uid = %lld",
	    col, (long long)uid);
}

static enum users_status
assign_as(struct fx *f, struct users_db *u, const char *email, int64_t gen,
    int64_t kca, const char *cs, struct users_record *r, const char **why)
{
	struct users_query	q = { SERVICE, email, gen, kca, cs };
	struct users_record	dummy;
	const char		*w;

	return users_assign(u, &q, f->now++, r != NULL ? r : &dummy,
	    why != NULL ? why : &w);
}

static enum users_status
assign(struct fx *f, int64_t gen, int64_t kca, const char *cs,
    struct users_record *r, const char **why)
{
	return assign_as(f, f->u, EMAIL, gen, kca, cs, r, why);
}

/* ---- fixtures --------------------------------------------------------- */

static struct users_settings
settings(struct fx *f, int timeout_ms)
{
	struct users_settings	s = { f->url, NULL, timeout_ms, 0.1, 5 };

	return s;
}

static struct users_db *
open_db(struct fx *f, int timeout_ms)
{
	struct users_settings	s = settings(f, timeout_ms);
	char			err[512];
	struct users_db		*u;

	if ((u = users_open(&s, err, sizeof(err))) == NULL)
		fail_msg("users_open: %s", err);
	return u;
}

/* A fresh, empty database and its URL in f. */
static void
fresh_database(struct fx *f)
{
	char	err[512];

	if (f->kind == SQLDB_SQLITE) {
		assert_non_null(tu_tmpdir(f->dir, sizeof(f->dir), "users"));
		snprintf(f->url, sizeof(f->url), "sqlite://%s/t.db", f->dir);
		/* The raw connection opens the file first (made 0600). */
	} else
		snprintf(f->url, sizeof(f->url), "postgresql:///%s", PG_DB);
	f->raw = sqldb_open(f->url, NULL, 10000, err, sizeof(err));
	if (f->raw == NULL)
		fail_msg("%s", err);
	if (f->kind == SQLDB_POSTGRES)
		sq(f, "DROP TABLE IF EXISTS users, nodes, services");
}

/* Mozilla's starting point: the service and one node of capacity 100. */
static int
setup(void **state)
{
	struct fx		*f = calloc(1, sizeof(*f));
	const char *const	 nodes[] = { "https://node0" };
	char			 err[512];

	if (f == NULL)
		return -1;
	f->kind = group_kind;
	f->now = 1700000000000;
	fresh_database(f);
	f->u = open_db(f, 5000);
	if (users_bootstrap(f->u, SERVICE, NULL, nodes, 1, 100, err,
	    sizeof(err)) != USERS_OK)
		fail_msg("bootstrap: %s", err);
	f->sid = sq(f, "SELECT id FROM services WHERE service = '%s'",
	    SERVICE);
	f->node0 = sq(f, "SELECT id FROM nodes WHERE node = 'https://node0'");
	*state = f;
	return 0;
}

/* A fresh database with nothing in it (not even a file's schema). */
static int
setup_bare(void **state)
{
	struct fx	*f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->kind = group_kind;
	f->now = 1700000000000;
	fresh_database(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*f = *state;

	users_close(f->u);
	sqldb_close(f->raw);
	if (f->kind == SQLDB_SQLITE)
		tu_rmtree(f->dir);
	free(f);
	return 0;
}

/* ---- allocation ------------------------------------------------------- */

static void
test_user_creation(void **state)
{
	struct fx		*f = *state;
	struct users_record	 r;
	char			 want[128];

	add_node(f, "https://node1", 0, 0, 100, 0, 0);
	add_node(f, "https://node2", 1, 0, 100, 0, 0);
	add_node(f, "https://node3", 5, 0, 100, 0, 0);
	assert_int_equal(assign(f, 1234, 1234, "aaaa", &r, NULL), USERS_OK);
	assert_int_equal(count_users(f), 1);
	assert_int_equal(user_col(f, r.uid, "generation"), 1234);
	assert_int_equal(user_col(f, r.uid, "keys_changed_at"), 1234);
	assert_int_equal(user_col(f, r.uid, "nodeid"), f->node0);
	assert_int_equal(user_col(f, r.uid, "service"), f->sid);
	assert_int_equal(user_col(f, r.uid, "replaced_at"), -1);
	assert_int_equal(node_col(f, f->node0, "available"), 99);
	assert_int_equal(node_col(f, f->node0, "current_load"), 1);
	assert_string_equal(r.node, "https://node0");
	snprintf(want, sizeof(want), "https://node0/1.5/%lld",
	    (long long)r.uid);
	assert_string_equal(r.endpoint, want);
	assert_int_equal(r.generation, 1234);
	assert_int_equal(r.keys_changed_at, 1234);
	assert_string_equal(r.client_state, "aaaa");
	assert_int_equal(r.nodeid, f->node0);
	/* The same user again: the same record, nothing written. */
	{
		struct users_record	again;

		assert_int_equal(assign(f, 1234, 1234, "aaaa", &again, NULL),
		    USERS_OK);
		assert_int_equal(again.uid, r.uid);
		assert_int_equal(count_users(f), 1);
		assert_int_equal(node_col(f, f->node0, "current_load"), 1);
	}
}

static void
test_new_user_allocation(void **state)
{
	struct fx		*f = *state;
	struct users_record	 r;
	int64_t			 n3;

	sq(f, "DELETE FROM nodes");
	add_node(f, "https://node1", 100, 0, 100, 0, 1);	/* backoff */
	add_node(f, "https://node2", 100, 0, 100, 1, 0);	/* downed */
	n3 = add_node(f, "https://node3", 99, 1, 100, 0, 0);
	add_node(f, "https://node4", 98, 2, 100, 0, 0);
	add_node(f, "https://node5", 97, 3, 100, 0, 0);
	assert_int_equal(assign(f, 1234, 1234, "aaaa", &r, NULL), USERS_OK);
	assert_int_equal(user_col(f, r.uid, "nodeid"), n3);
	assert_int_equal(node_col(f, n3, "current_load"), 2);
	assert_int_equal(node_col(f, n3, "available"), 98);
}

static void
test_empty_node_first_and_full_skipped(void **state)
{
	struct fx		*f = *state;
	struct users_record	 r;
	int64_t			 empty;

	sq(f, "DELETE FROM nodes");
	add_node(f, "https://full", 0, 1, 100, 0, 0);	/* no available */
	add_node(f, "https://atcap", 5, 10, 10, 0, 0);	/* load = capacity */
	add_node(f, "https://light", 50, 1, 1000, 0, 0);
	empty = add_node(f, "https://empty", 3, 0, 10, 0, 0);
	assert_int_equal(assign(f, 1, 0, "", &r, NULL), USERS_OK);
	assert_int_equal(r.nodeid, empty);
	assert_string_equal(r.node, "https://empty");
	/* A load set below zero by hand (no logarithm of it is taken). */
	sq(f, "UPDATE nodes SET current_load = -3, capacity = 0 WHERE id = "
	    "%lld", (long long)empty);
	assert_int_equal(assign_as(f, f->u, "second@example.com", 1, 0, "",
	    &r, NULL), USERS_OK);
	assert_int_equal(r.nodeid, empty);
}

/*
 * Equally loaded nodes: the one with the most room left wins, whatever
 * its id.  Mozilla's suite gives its node id 800 and lower ids to nodes
 * with less room, and expects its node to be chosen.
 */
static void
test_tie_goes_to_most_room(void **state)
{
	struct fx		*f = *state;
	struct users_record	 r;
	int64_t			 roomy;

	sq(f, "DELETE FROM nodes");
	add_node(f, "https://little", 1, 0, 100, 0, 0);
	roomy = add_node(f, "https://roomy", 100, 0, 100, 0, 0);
	add_node(f, "https://some", 5, 0, 100, 0, 0);
	assert_int_equal(assign(f, 1, 0, "", &r, NULL), USERS_OK);
	assert_int_equal(r.nodeid, roomy);
}

static void
test_successfully_releasing_node_capacity(void **state)
{
	struct fx		*f = *state;
	struct users_record	 r;
	int64_t			 n1, n2, n3, n4, n5;

	sq(f, "DELETE FROM nodes");
	n1 = add_node(f, "https://node1", 0, 99, 100, 0, 0);
	n2 = add_node(f, "https://node2", 0, 90, 100, 0, 0);
	n3 = add_node(f, "https://node3", 0, 80, 81, 0, 0);
	n4 = add_node(f, "https://node4", 0, 70, 71, 0, 1);
	n5 = add_node(f, "https://node5", 0, 60, 61, 1, 0);
	assert_int_equal(assign(f, 1234, 1234, "aaaa", &r, NULL), USERS_OK);
	assert_int_equal(user_col(f, r.uid, "nodeid"), n2);
	assert_int_equal(node_col(f, n1, "available"), 1);
	assert_int_equal(node_col(f, n2, "available"), 9);
	assert_int_equal(node_col(f, n3, "available"), 1);
	assert_int_equal(node_col(f, n4, "available"), 1);
	assert_int_equal(node_col(f, n5, "available"), 0);
}

static void
test_unsuccessfully_releasing_node_capacity(void **state)
{
	struct fx	*f = *state;
	const char	*why = NULL;

	sq(f, "DELETE FROM nodes");
	add_node(f, "https://node1", 0, 100, 100, 0, 0);
	add_node(f, "https://node2", 0, 90, 90, 0, 0);
	add_node(f, "https://node3", 0, 80, 80, 0, 0);
	assert_int_equal(assign(f, 1234, 1234, "aaaa", NULL, &why),
	    USERS_NO_NODE);
	assert_string_equal(why, "Server error");
	assert_int_equal(count_users(f), 0);
}

/* max_releases bounds the rounds: 0 releases nothing. */
static void
test_release_bound(void **state)
{
	struct fx		*f = *state;
	struct users_settings	 s = settings(f, 5000);
	struct users_db		*u;
	char			 err[256];
	int64_t			 n;

	sq(f, "DELETE FROM nodes");
	n = add_node(f, "https://node1", 0, 50, 100, 0, 0);
	s.max_releases = 0;
	assert_non_null(u = users_open(&s, err, sizeof(err)));
	assert_int_equal(assign_as(f, u, EMAIL, 1, 0, "", NULL, NULL),
	    USERS_NO_NODE);
	assert_int_equal(node_col(f, n, "available"), 0);
	users_close(u);
	s.max_releases = 1;
	assert_non_null(u = users_open(&s, err, sizeof(err)));
	assert_int_equal(assign_as(f, u, EMAIL, 1, 0, "", NULL, NULL),
	    USERS_OK);
	/* min(100 x 0.1, 100 - 50) = 10, one taken */
	assert_int_equal(node_col(f, n, "available"), 9);
	assert_int_equal(node_col(f, n, "current_load"), 51);
	users_close(u);
}

/* ---- the current record ----------------------------------------------- */

static void
test_current_user_is_the_most_up_to_date(void **state)
{
	struct fx		*f = *state;
	struct users_record	 r;
	int64_t			 uid;

	add_user(f, f->node0, 1234, 1234, "aaaa", 1234, -1);
	add_user(f, f->node0, 1235, 1234, "aaaa", 1234, -1);
	add_user(f, f->node0, 1234, 1234, "aaaa", 1235, -1);
	uid = add_user(f, f->node0, 1236, 1234, "aaaa", 1233, -1);
	assert_int_equal(assign(f, 1236, 1234, "aaaa", &r, NULL), USERS_OK);
	assert_int_equal(r.uid, uid);
}

static void
test_user_creation_when_most_current_user_is_replaced(void **state)
{
	struct fx		*f = *state;
	struct users_record	 r;
	int64_t			 u1, u2, u3;

	u1 = add_user(f, f->node0, 1234, 1234, "aaaa", 1234, -1);
	u2 = add_user(f, f->node0, 1235, 1234, "aaaa", 1235, -1);
	u3 = add_user(f, f->node0, 1236, 1234, "aaaa", 1236, 1237);
	assert_int_equal(assign(f, 1237, 1237, "aaaa", &r, NULL), USERS_OK);
	assert_true(r.uid != u1 && r.uid != u2 && r.uid != u3);
	/* The replaced user's metadata, then updated from the request. */
	assert_int_equal(user_col(f, r.uid, "generation"), 1237);
	assert_int_equal(user_col(f, r.uid, "replaced_at"), -1);
}

static void
test_old_users_marked_as_replaced_in_race_recovery(void **state)
{
	struct fx		*f = *state;
	struct users_record	 r;
	int64_t			 u1, u2, u3;

	u1 = add_user(f, f->node0, 1234, 1234, "aaaa", 1234, -1);
	u2 = add_user(f, f->node0, 1235, 1234, "aaaa", 1235, -1);
	u3 = add_user(f, f->node0, 1236, 1234, "aaaa", 1240, -1);
	assert_int_equal(assign(f, 1236, 1236, "aaaa", &r, NULL), USERS_OK);
	assert_int_equal(r.uid, u3);
	assert_int_equal(user_col(f, u1, "replaced_at"), 1240);
	assert_int_equal(user_col(f, u2, "replaced_at"), 1240);
	assert_int_equal(user_col(f, u3, "replaced_at"), -1);
}

static void
test_user_updates_with_new_client_state(void **state)
{
	struct fx		*f = *state;
	struct users_record	 r1, r2;
	int64_t			 load;

	assert_int_equal(assign(f, 1234, 1234, "aaaa", &r1, NULL), USERS_OK);
	load = node_col(f, f->node0, "current_load");
	assert_int_equal(assign(f, 1235, 1235, "bbbb", &r2, NULL), USERS_OK);
	assert_true(r2.uid != r1.uid);
	assert_int_equal(r2.nodeid, r1.nodeid);
	assert_string_equal(r2.client_state, "bbbb");
	assert_int_equal(r2.generation, 1235);
	assert_int_equal(r2.keys_changed_at, 1235);
	assert_int_equal(count_users(f), 2);
	/* The old record keeps its values and is retired; the node's load
	 * does not change (the user did not move). */
	assert_int_equal(user_col(f, r1.uid, "replaced_at"), r2.created_at);
	assert_int_equal(user_col(f, r1.uid, "generation"), 1234);
	assert_int_equal(user_col(f, r1.uid, "keys_changed_at"), 1234);
	assert_int_equal(user_col(f, r2.uid, "replaced_at"), -1);
	assert_int_equal(user_col(f, r2.uid, "nodeid"), f->node0);
	assert_int_equal(node_col(f, f->node0, "current_load"), load);
	assert_int_equal(sq(f, "SELECT count(*) FROM users WHERE replaced_at "
	    "IS NOT NULL"), 1);
}

static void
test_user_updates_with_same_client_state(void **state)
{
	struct fx		*f = *state;
	struct users_record	 r1, r2;

	assert_int_equal(assign(f, 1234, 1234, "aaaa", &r1, NULL), USERS_OK);
	assert_int_equal(assign(f, 1236, 1235, "aaaa", &r2, NULL), USERS_OK);
	assert_int_equal(r2.uid, r1.uid);
	assert_int_equal(count_users(f), 1);
	assert_int_equal(user_col(f, r1.uid, "generation"), 1236);
	assert_int_equal(user_col(f, r1.uid, "keys_changed_at"), 1235);
	/* Without a generation, a newer keys_changed_at moves it too. */
	assert_int_equal(assign(f, 0, 1240, "aaaa", &r2, NULL), USERS_OK);
	assert_int_equal(user_col(f, r1.uid, "generation"), 1240);
	assert_int_equal(r2.generation, 1240);
}

static void
test_retired_users_can_make_requests(void **state)
{
	struct fx	*f = *state;
	const char	*why;

	add_user(f, f->node0, MAX_GEN, 1234, "aaaa", 1234, -1);
	assert_int_equal(assign(f, 1234, 1234, "aaaa", NULL, &why),
	    USERS_INVALID_GENERATION);
	assert_string_equal(why, "Unauthorized");
	assert_int_equal(assign(f, MAX_GEN, 1234, "aaaa", NULL, &why),
	    USERS_OK);
}

static void
test_replaced_users_can_make_requests(void **state)
{
	struct fx		*f = *state;
	struct users_record	 r;
	int64_t			 old;

	old = add_user(f, f->node0, 1234, 1234, "aaaa", 1234, 1234);
	assert_int_equal(assign(f, 1234, 1234, "aaaa", &r, NULL), USERS_OK);
	assert_true(r.uid != old);
}

static void
test_retired_users_with_no_node_cannot_make_requests(void **state)
{
	struct fx	*f = *state;
	const char	*why;

	add_user(f, f->node0 + 1000, MAX_GEN, 1234, "aaaa", 1234, -1);
	assert_int_equal(assign(f, MAX_GEN, 1234, "aaaa", NULL, &why),
	    USERS_ERROR);
	assert_string_equal(why, "Server error");
}

static void
test_replaced_users_with_no_node_can_make_requests(void **state)
{
	struct fx		*f = *state;
	struct users_record	 r;

	add_user(f, f->node0 + 1000, 1234, 1234, "aaaa", 1234, 1234);
	assert_int_equal(assign(f, 1234, 1234, "aaaa", &r, NULL), USERS_OK);
	assert_int_equal(user_col(f, r.uid, "nodeid"), f->node0);
	/* A current but nodeless record is given a node too. */
	sq(f, "DELETE FROM users");
	add_user(f, f->node0 + 1000, 1234, 1234, "aaaa", 1234, -1);
	assert_int_equal(assign(f, 1234, 1234, "aaaa", &r, NULL), USERS_OK);
	assert_int_equal(r.nodeid, f->node0);
}

/* ---- the 401 rules, each with Mozilla's words -------------------------- */

struct refusal {
	int64_t		 gen, kca;	/* the record's (kca -1: NULL) */
	const char	*cs;
	int64_t		 qgen, qkca;	/* the request's (0: absent) */
	const char	*qcs;
	enum users_status st;
	const char	*why;
};

static const struct refusal refusals[] = {
	/* generation older than the record's */
	{ 1234, 1234, "aaaa", 1233, 1234, "aaaa", USERS_INVALID_GENERATION,
	  "Unauthorized" },
	/* keys_changed_at older than the record's */
	{ 1234, 1234, "aaaa", 1234, 1233, "aaaa",
	  USERS_INVALID_KEYS_CHANGED_AT, "Unauthorized" },
	/* new keys_changed_at beyond the generation */
	{ 1234, 1234, "aaaa", 1234, 1235, "aaaa",
	  USERS_INVALID_KEYS_CHANGED_AT, "Unauthorized" },
	/* no keys_changed_at where the record has one */
	{ 1234, 1234, "aaaa", 1234, 0, "aaaa",
	  USERS_INVALID_KEYS_CHANGED_AT, "Unauthorized" },
	/* a client state where the record has none ... */
	{ 1234, 1234, "aaaa", 1235, 1235, "",
	  USERS_INVALID_CLIENT_STATE,
	  "Unacceptable client-state value empty string" },
	{ 1234, 1234, "aaaa", 1234, 1234, "bbbb",
	  USERS_INVALID_CLIENT_STATE,
	  "Unacceptable client-state value new value with no generation "
	  "change" },
	{ 1234, 1234, "aaaa", 1235, 1234, "bbbb",
	  USERS_INVALID_CLIENT_STATE,
	  "Unacceptable client-state value new value with no "
	  "keys_changed_at change" },
};

static void
test_refusals(void **state)
{
	struct fx	*f = *state;
	const char	*why;
	size_t		 i;
	int64_t		 uid;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal	*t = &refusals[i];

		sq(f, "DELETE FROM users");
		uid = add_user(f, f->node0, t->gen, t->kca, t->cs, 1234, -1);
		why = NULL;
		assert_int_equal(assign(f, t->qgen, t->qkca, t->qcs, NULL,
		    &why), t->st);
		assert_non_null(why);
		assert_string_equal(why, t->why);
		/* Nothing changed on the record, nothing added. */
		assert_int_equal(count_users(f), 1);
		assert_int_equal(user_col(f, uid, "generation"), t->gen);
		assert_int_equal(user_col(f, uid, "replaced_at"), -1);
	}
}

static void
test_stale_client_state(void **state)
{
	struct fx	*f = *state;
	const char	*why;

	assert_int_equal(assign(f, 1234, 1234, "aaaa", NULL, NULL), USERS_OK);
	assert_int_equal(assign(f, 1235, 1235, "bbbb", NULL, NULL), USERS_OK);
	assert_int_equal(assign(f, 1236, 1236, "aaaa", NULL, &why),
	    USERS_INVALID_CLIENT_STATE);
	assert_string_equal(why, "Unacceptable client-state value stale "
	    "value");
	assert_int_equal(count_users(f), 2);
}

/* A record with NULL keys_changed_at: the first one reported is taken. */
static void
test_null_keys_changed_at(void **state)
{
	struct fx		*f = *state;
	struct users_record	 r;
	int64_t			 uid;

	uid = add_user(f, f->node0, 1234, -1, "aaaa", 1234, -1);
	assert_int_equal(assign(f, 1234, 0, "aaaa", &r, NULL), USERS_OK);
	assert_int_equal(r.uid, uid);
	assert_int_equal(r.keys_changed_at, 0);
	assert_int_equal(user_col(f, uid, "keys_changed_at"), -1); /* NULL */
	assert_int_equal(assign(f, 1234, 1200, "aaaa", &r, NULL), USERS_OK);
	assert_int_equal(user_col(f, uid, "keys_changed_at"), 1200);
}

/* 0 is absent; int64 values are kept exactly. */
static void
test_zero_absent_and_int64_exact(void **state)
{
	struct fx		*f = *state;
	struct users_record	 r;
	const int64_t		 big = 9007199254740993LL;	/* 2^53 + 1 */

	assert_int_equal(assign(f, 0, 0, "", &r, NULL), USERS_OK);
	assert_int_equal(user_col(f, r.uid, "generation"), 0);
	assert_int_equal(user_col(f, r.uid, "keys_changed_at"), -1);
	assert_int_equal(assign(f, big, big - 1, "", &r, NULL), USERS_OK);
	assert_int_equal(r.generation, big);
	assert_int_equal(r.keys_changed_at, big - 1);
	assert_int_equal(user_col(f, r.uid, "generation"), big);
	assert_int_equal(user_col(f, r.uid, "keys_changed_at"), big - 1);
	assert_int_equal(assign(f, big - 1, big - 1, "", NULL, NULL),
	    USERS_INVALID_GENERATION);
}

static void
test_bad_queries(void **state)
{
	struct fx		*f = *state;
	struct users_query	 q = { SERVICE, EMAIL, 1, 1, "aaaa" };
	struct users_record	 r;
	const char		*why;
	char			 longmail[300];

	q.client_state = "AAAA";
	assert_int_equal(users_assign(f->u, &q, 1, &r, &why), USERS_ERROR);
	q.client_state = "aaaa'; DROP TABLE users; --";
	assert_int_equal(users_assign(f->u, &q, 1, &r, &why), USERS_ERROR);
	q.client_state = "aaaa";
	memset(longmail, 'a', sizeof(longmail) - 1);
	longmail[sizeof(longmail) - 1] = '\0';
	q.email = longmail;
	assert_int_equal(users_assign(f->u, &q, 1, &r, &why), USERS_ERROR);
	q.email = EMAIL;
	q.generation = -1;
	assert_int_equal(users_assign(f->u, &q, 1, &r, &why), USERS_ERROR);
	q.generation = 1;
	q.service = "no-such-service";
	assert_int_equal(users_assign(f->u, &q, 1, &r, &why),
	    USERS_UNKNOWN_SERVICE);
	/* An email with a quote is data, not SQL. */
	q.service = SERVICE;
	q.email = "o'brien@example.com";
	assert_int_equal(users_assign(f->u, &q, 1, &r, &why), USERS_OK);
	assert_int_equal(sq(f, "SELECT count(*) FROM users WHERE email = "
	    "'o''brien@example.com'"), 1);
	assert_int_equal(count_users(f), 1);
}

/* ---- bootstrap -------------------------------------------------------- */

static void
test_bootstrap(void **state)
{
	struct fx		*f = *state;
	const char *const	 nodes[] = { "https://node0", "https://n2" };
	char			 err[256], want[128];
	struct users_record	 r;
	int64_t			 n2;

	assert_int_equal(assign(f, 1, 0, "", &r, NULL), USERS_OK);
	/* Again, as every worker does at start: nothing existing changes. */
	assert_int_equal(users_bootstrap(f->u, SERVICE, "{node}/x/{uid}",
	    nodes, 2, 7, err, sizeof(err)), USERS_OK);
	assert_int_equal(node_col(f, f->node0, "available"), 99);
	assert_int_equal(node_col(f, f->node0, "capacity"), 100);
	n2 = sq(f, "SELECT id FROM nodes WHERE node = 'https://n2'");
	assert_int_equal(node_col(f, n2, "available"), 7);
	assert_int_equal(node_col(f, n2, "capacity"), 7);
	assert_int_equal(node_col(f, n2, "current_load"), 0);
	assert_int_equal(sq(f, "SELECT count(*) FROM services"), 1);
	/* The pattern in the database wins; a NULL one is filled in. */
	sq(f, "UPDATE services SET pattern = NULL");
	assert_int_equal(users_bootstrap(f->u, SERVICE, "{node}/x/{uid}",
	    nodes, 2, 7, err, sizeof(err)), USERS_OK);
	assert_int_equal(assign(f, 1, 0, "", &r, NULL), USERS_OK);
	snprintf(want, sizeof(want), "https://node0/x/%lld",
	    (long long)r.uid);
	assert_string_equal(r.endpoint, want);
	/* What Mozilla's columns cannot hold is refused, not cut. */
	{
		const char *const	 longnode[] = { "https://"
		    "a-node-name-that-is-far-too-long-for-mozillas-column."
		    "example.com" };

		assert_int_equal(users_bootstrap(f->u, SERVICE, NULL,
		    longnode, 1, 7, err, sizeof(err)), USERS_ERROR);
		assert_non_null(strstr(err, "64"));
		assert_int_equal(users_bootstrap(f->u, SERVICE, NULL, nodes, 1,
		    0, err, sizeof(err)), USERS_ERROR);
	}
}

/* ---- concurrency and bounds ------------------------------------------- */

#define RACERS	8

static void
test_concurrent_first_requests(void **state)
{
	struct fx	*f = *state;
	int		 go[2], res[2], i, status;
	pid_t		 pids[RACERS];
	int64_t		 uids[RACERS];

	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(res), 0);
	for (i = 0; i < RACERS; i++) {
		if ((pids[i] = fork()) == 0) {
			struct users_db		*u;
			struct users_record	 r;
			char			 c;
			int64_t			 uid = -1;

			close(go[1]);
			/* Its own connection, made after the fork. */
			u = open_db(f, 5000);
			if (read(go[0], &c, 1) != 0)
				_exit(3);
			if (assign_as(f, u, "racer@example.com", 1234, 1234,
			    "aaaa", &r, NULL) == USERS_OK)
				uid = r.uid;
			if (write(res[1], &uid, sizeof(uid)) != sizeof(uid))
				_exit(4);
			users_close(u);
			_exit(0);
		}
		assert_true(pids[i] > 0);
	}
	close(go[0]);
	close(res[1]);
	usleep(200000);		/* let them all connect; then go at once */
	close(go[1]);
	for (i = 0; i < RACERS; i++)
		assert_int_equal(read(res[0], &uids[i], sizeof(uids[i])),
		    sizeof(uids[i]));
	close(res[0]);
	for (i = 0; i < RACERS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		assert_true(uids[i] > 0);
		assert_int_equal(uids[i], uids[0]);
	}
	assert_int_equal(sq(f, "SELECT count(*) FROM users WHERE email = "
	    "'racer@example.com'"), 1);
	assert_int_equal(node_col(f, f->node0, "current_load"), 1);
}

/*
 * Every worker opens the database and bootstraps at start, at once: on a
 * database with no tables, the schema is made once and every process
 * goes on with it; the bootstrapped node exists once.
 */
static void
test_concurrent_start(void **state)
{
	struct fx	*f = *state;
	int		 go[2], i, status;
	pid_t		 pids[RACERS];

	assert_int_equal(pipe(go), 0);
	for (i = 0; i < RACERS; i++) {
		if ((pids[i] = fork()) == 0) {
			const char *const	 nodes[] = { "https://node0",
						    "https://node1" };
			struct users_settings	 s = settings(f, 5000);
			struct users_db		*u;
			char			 err[512], email[64], c;

			close(go[1]);
			if (read(go[0], &c, 1) != 0)
				_exit(3);
			if ((u = users_open(&s, err, sizeof(err))) == NULL) {
				fprintf(stderr, "child: %s\n", err);
				_exit(4);
			}
			if (users_bootstrap(u, SERVICE, NULL, nodes, 2, 100,
			    err, sizeof(err)) != USERS_OK) {
				fprintf(stderr, "child: %s\n", err);
				_exit(5);
			}
			snprintf(email, sizeof(email), "w%d@example.com", i);
			if (assign_as(f, u, email, 1, 0, "", NULL, NULL) !=
			    USERS_OK)
				_exit(6);
			users_close(u);
			_exit(0);
		}
		assert_true(pids[i] > 0);
	}
	close(go[0]);
	close(go[1]);
	for (i = 0; i < RACERS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("child %d: status %#x", i, status);
	}
	assert_int_equal(count_tables(f), 3);
	assert_int_equal(sq(f, "SELECT count(*) FROM services"), 1);
	assert_int_equal(sq(f, "SELECT count(*) FROM nodes"), 2);
	assert_int_equal(count_users(f), RACERS);
	assert_int_equal(sq(f, "SELECT sum(current_load) FROM nodes"),
	    RACERS);
}

/*
 * Another connection holds the user's write lock (SQLite: the file's
 * one writer lock): a first request gives USERS_UNAVAILABLE within its
 * bound, a returning user still reads, and all works once it lets go.
 * (A second, not 300 ms: the read after the timeout makes a new
 * PostgreSQL connection, whose SCRAM exchange is slow under ASan.)
 */
static void
test_locked(void **state)
{
	struct fx		*f = *state;
	struct users_db		*u = open_db(f, 1000);
	struct sqldb		*other;
	struct users_record	 r;
	const char		*why;
	char			 err[256];
	uint64_t		 t0, took;

	assert_int_equal(assign_as(f, u, "old@example.com", 1, 0, "", &r,
	    NULL), USERS_OK);
	assert_non_null(other = sqldb_open(f->url, NULL, 5000, err,
	    sizeof(err)));
	assert_int_equal(sqldb_begin(other, SQLDB_WRITE,
	    SERVICE "\nnew@example.com"), SQLDB_OK);
	t0 = mono_ms();
	assert_int_equal(assign_as(f, u, "new@example.com", 1, 0, "", NULL,
	    &why), USERS_UNAVAILABLE);
	took = mono_ms() - t0;
	assert_true(took >= 950 && took < 3000);
	assert_non_null(strstr(users_last_error(u), "1000 ms"));
	assert_int_equal(assign_as(f, u, "old@example.com", 1, 0, "", NULL,
	    NULL), USERS_OK);
	sqldb_rollback(other);
	assert_int_equal(assign_as(f, u, "new@example.com", 1, 0, "", NULL,
	    NULL), USERS_OK);
	assert_int_equal(count_users(f), 2);
	sqldb_close(other);
	users_close(u);
}

/* ---- schemas ---------------------------------------------------------- */

/* Mozilla's tables, as their migrations leave them (PostgreSQL: the
 * migration's text; SQLite has no Mozilla migration, so the MySQL one's
 * end state, with its index names). */
static const char *const mozilla_pg[] = {
	"CREATE TABLE IF NOT EXISTS services ("
	" id INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	" service VARCHAR(30) UNIQUE, pattern VARCHAR(128))",
	"CREATE TABLE IF NOT EXISTS nodes ("
	" id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	" service INTEGER NOT NULL, node VARCHAR(64) NOT NULL,"
	" available INTEGER NOT NULL, current_load INTEGER NOT NULL,"
	" capacity INTEGER NOT NULL, downed INTEGER NOT NULL,"
	" backoff INTEGER NOT NULL, UNIQUE (service, node))",
	"CREATE TABLE IF NOT EXISTS users ("
	" uid BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	" service INTEGER NOT NULL, email VARCHAR(255) NOT NULL,"
	" generation BIGINT NOT NULL, client_state VARCHAR(32) NOT NULL,"
	" created_at BIGINT NOT NULL, replaced_at BIGINT,"
	" nodeid BIGINT NOT NULL, keys_changed_at BIGINT)",
	"CREATE INDEX IF NOT EXISTS lookup_idx ON users (email, service, "
	"created_at)",
	"CREATE INDEX IF NOT EXISTS replaced_at_idx ON users (service, "
	"replaced_at)",
	"CREATE INDEX IF NOT EXISTS node_idx ON users (nodeid)",
	"INSERT INTO services (service, pattern) VALUES ('sync-1.5', "
	"'{node}/1.5/{uid}')",
	NULL
};

static const char *const mozilla_lite[] = {
	"CREATE TABLE services (id INTEGER NOT NULL PRIMARY KEY,"
	" service varchar(30) DEFAULT NULL UNIQUE,"
	" pattern varchar(128) DEFAULT NULL)",
	"CREATE TABLE nodes (id INTEGER NOT NULL PRIMARY KEY,"
	" service int NOT NULL, node varchar(64) NOT NULL,"
	" available int NOT NULL, current_load int NOT NULL,"
	" capacity int NOT NULL, downed int NOT NULL, backoff int NOT NULL)",
	"CREATE UNIQUE INDEX unique_idx ON nodes (service, node)",
	"CREATE TABLE users (uid INTEGER NOT NULL PRIMARY KEY,"
	" service int NOT NULL, email varchar(255) NOT NULL,"
	" generation bigint NOT NULL, client_state varchar(32) NOT NULL,"
	" created_at bigint NOT NULL, replaced_at bigint DEFAULT NULL,"
	" nodeid bigint NOT NULL, keys_changed_at bigint DEFAULT NULL)",
	"CREATE INDEX lookup_idx ON users (email, service, created_at)",
	"CREATE INDEX replaced_at_idx ON users (service, replaced_at)",
	"CREATE INDEX node_idx ON users (nodeid)",
	"INSERT INTO services (service, pattern) VALUES ('sync-1.5', "
	"'{node}/1.5/{uid}')",
	NULL
};

static int64_t
count_tables(struct fx *f)
{
	if (f->kind == SQLDB_SQLITE)
		return sq(f, "SELECT count(*) FROM sqlite_master WHERE type = "
		    "'table' AND name NOT LIKE 'sqlite_%%'");
	return sq(f, "SELECT count(*) FROM information_schema.tables WHERE "
	    "table_schema = current_schema()");
}

static void
test_mozilla_schema(void **state)
{
	struct fx		*f = *state;
	const char *const	*ddl = f->kind == SQLDB_SQLITE ? mozilla_lite :
				    mozilla_pg;
	const char *const	 nodes[] = { "https://node0" };
	struct users_record	 r, r2;
	char			 err[256], want[128];
	size_t			 i;

	for (i = 0; ddl[i] != NULL; i++)
		sq(f, "%s", ddl[i]);
	f->u = open_db(f, 5000);
	assert_int_equal(count_tables(f), 3);	/* nothing of ours added */
	assert_int_equal(users_bootstrap(f->u, SERVICE, NULL, nodes, 1, 10,
	    err, sizeof(err)), USERS_OK);
	f->sid = sq(f, "SELECT id FROM services WHERE service = '%s'",
	    SERVICE);
	assert_int_equal(assign(f, 1234, 1234, "aaaa", &r, NULL), USERS_OK);
	snprintf(want, sizeof(want), "https://node0/1.5/%lld",
	    (long long)r.uid);
	assert_string_equal(r.endpoint, want);
	assert_int_equal(assign(f, 1235, 1235, "bbbb", &r2, NULL), USERS_OK);
	assert_true(r2.uid > r.uid);
	assert_int_equal(count_tables(f), 3);
	assert_int_equal(sq(f, "SELECT available FROM nodes"), 9);
}

static void
test_empty_and_foreign_databases(void **state)
{
	struct fx		*f = *state;
	struct users_settings	 s = settings(f, 2000);
	struct users_db		*u;
	char			 err[512];

	/* Empty (SQLite: an empty file): the schema is made, with our
	 * indexes. */
	assert_non_null(u = users_open(&s, err, sizeof(err)));
	assert_int_equal(count_tables(f), 3);
	if (f->kind == SQLDB_SQLITE)
		assert_int_equal(sq(f, "SELECT count(*) FROM sqlite_master "
		    "WHERE type = 'index' AND name IN ('lookup_idx', "
		    "'replaced_at_idx', 'node_idx')"), 3);
	else
		assert_int_equal(sq(f, "SELECT count(*) FROM pg_indexes WHERE "
		    "indexname IN ('lookup_idx', 'replaced_at_idx', "
		    "'node_idx')"), 3);
	users_close(u);
	/* Again: taken as it is. */
	assert_non_null(u = users_open(&s, err, sizeof(err)));
	users_close(u);
	/* One table missing: not ours, refused. */
	sq(f, "DROP TABLE nodes");
	assert_null(users_open(&s, err, sizeof(err)));
	assert_non_null(strstr(err, "not all three"));
	/* A table without Mozilla's columns: refused. */
	sq(f, "CREATE TABLE nodes (id INTEGER, node TEXT)");
	assert_null(users_open(&s, err, sizeof(err)));
	assert_non_null(strstr(err, "table nodes lacks Mozilla's columns"));
}

static void
test_sqlite_files(void **state)
{
	struct fx		*f = *state;
	char			 url[PATH_MAX + 32], err[512];
	struct users_settings	 s = settings(f, 2000);
	struct users_db		*u;
	struct stat		 st;
	const char		*path;

	/* An empty file made beforehand: the schema goes into it. */
	path = tu_write_file(f->dir, "empty.db", "", 0600);
	snprintf(url, sizeof(url), "sqlite://%s", path);
	s.url = url;
	assert_non_null(u = users_open(&s, err, sizeof(err)));
	users_close(u);
	/* SQLAlchemy's four slashes. */
	snprintf(url, sizeof(url), "sqlite:///%s/new.db", f->dir);
	assert_non_null(u = users_open(&s, err, sizeof(err)));
	users_close(u);
	assert_int_equal(stat(tu_path(f->dir, "new.db"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Not a database: refused with SQLite's words. */
	path = tu_write_file(f->dir, "junk.db", "this is not a database, not "
	    "even close; it is a text file of some length ..........", 0600);
	snprintf(url, sizeof(url), "sqlite://%s", path);
	assert_null(users_open(&s, err, sizeof(err)));
	assert_non_null(strstr(err, "not a database"));
	/* A directory that does not exist. */
	snprintf(url, sizeof(url), "sqlite://%s/no/such/dir/t.db", f->dir);
	assert_null(users_open(&s, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
}

/*
 * SQLite does not enforce VARCHAR lengths: a node URL or client state
 * longer than Mozilla's columns (written by hand) is refused, never cut
 * (a shortened node URL is another node).
 */
static void
test_sqlite_overlong_values(void **state)
{
	struct fx	*f = *state;
	char		 node[1200];
	const char	*why;

	memcpy(node, "https://", 8);
	memset(node + 8, 'n', sizeof(node) - 9);
	node[sizeof(node) - 1] = '\0';
	sq(f, "UPDATE nodes SET node = '%s'", node);
	assert_int_equal(assign(f, 1, 0, "", NULL, &why), USERS_ERROR);
	assert_non_null(strstr(why, "longer than its column"));
	assert_int_equal(count_users(f), 0);
	assert_int_equal(node_col(f, f->node0, "current_load"), 0);
	sq(f, "UPDATE nodes SET node = 'https://node0'");
	add_user(f, f->node0, 1, -1, "0123456789abcdef0123456789abcdef0", 1,
	    -1);
	assert_int_equal(assign(f, 1, 0, "", NULL, &why), USERS_ERROR);
	assert_non_null(strstr(why, "longer than its column"));
}

/* ---- URLs (no database) ------------------------------------------------ */

static void
test_urls(void **state)
{
	static const struct {
		const char	*url;
		int		 ok;
		const char	*says;
	} cases[] = {
		{ "sqlite:///var/lib/tokend/t.db", 1, NULL },
		{ "sqlite:////var/lib/tokend/t.db", 1, NULL },
		{ "postgres://u:p@db.example.com:5432/tokend", 1, NULL },
		{ "postgresql:///tokend", 1, NULL },
		{ "postgres://u@h/db?sslmode=require", 1, NULL },
		{ "", 0, "empty" },
		{ "sqlite://t.db", 0, "three slashes" },
		{ "sqlite:t.db", 0, "sqlite:///ABSOLUTE" },
		{ "sqlite:/t.db", 0, "sqlite:///ABSOLUTE" },
		{ "sqlite:///", 0, "empty" },
		{ "sqlite://///t.db", 0, "more than one slash" },
		{ "sqlite:///var/lib/tokend/", 0, "directory" },
		{ "sqlite:///t.db?mode=ro", 0, "?options" },
		{ "postgres://u:p@ss@h/db", 0, "%40" },
		{ "postgres://h/db#x", 0, "fragment" },
		{ "postgresql+psycopg2://u@h/db", 0, "SQLAlchemy driver" },
		{ "mysql://u@h/db", 0, "not MySQL" },
		{ "pymysql://u@h/db", 0, "unknown scheme" },
		{ "host=localhost dbname=x", 0, "space" },
		{ "Postgres://u@h/db", 0, "unknown scheme" },
		{ "sqlite:///t.db\n", 0, "control" },
	};
	char		err[512];
	enum sqldb_kind	kind;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (sqldb_check_url(cases[i].url, &kind, err,
		    sizeof(err)) != (cases[i].ok ? 0 : -1))
			fail_msg("%s: %s", cases[i].url, err);
		if (!cases[i].ok && strstr(err, cases[i].says) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].url, err,
			    cases[i].says);
		/* No message repeats a password. */
		assert_null(strstr(err, ":p@"));
	}
}

/*
 * A server that accepts connections and never answers: open and every
 * call end within the timeout, USERS_UNAVAILABLE.
 */
static void
test_silent_server(void **state)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	struct users_settings	 s = { NULL, NULL, 300, 0.1, 5 };
	struct users_db		*u;
	struct users_query	 q = { SERVICE, EMAIL, 1, 0, "" };
	struct users_record	 r;
	const char		*why;
	char			 url[128], err[512];
	uint64_t		 t0;
	int			 fd;

	(void)state;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(url, sizeof(url), "postgres://u@127.0.0.1:%d/db",
	    ntohs(sin.sin_port));
	s.url = url;
	t0 = mono_ms();
	assert_non_null(u = users_open(&s, err, sizeof(err)));
	assert_true(mono_ms() - t0 < 1500);
	t0 = mono_ms();
	assert_int_equal(users_assign(u, &q, 1, &r, &why), USERS_UNAVAILABLE);
	assert_true(mono_ms() - t0 < 1500);
	assert_int_equal(users_ping(u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "300 ms"));
	users_close(u);
	close(fd);
	/* Nobody listening: at once. */
	t0 = mono_ms();
	assert_non_null(u = users_open(&s, err, sizeof(err)));
	assert_int_equal(users_assign(u, &q, 1, &r, &why), USERS_UNAVAILABLE);
	assert_true(mono_ms() - t0 < 1500);
	users_close(u);
}

/* ---- PostgreSQL only -------------------------------------------------- */

/* A lost connection (the server ended it) is made again at once. */
static void
test_pg_reconnect(void **state)
{
	struct fx		*f = *state;
	struct users_record	 r1, r2;

	assert_int_equal(assign(f, 1, 0, "", &r1, NULL), USERS_OK);
	assert_true(sq(f, "SELECT count(pg_terminate_backend(pid)) FROM "
	    "pg_stat_activity WHERE application_name = 'tokend' AND pid <> "
	    "pg_backend_pid()") >= 1);
	assert_int_equal(assign(f, 1, 0, "", &r2, NULL), USERS_OK);
	assert_int_equal(r2.uid, r1.uid);
	/* And ping after another loss. */
	sq(f, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
	    "WHERE application_name = 'tokend' AND pid <> pg_backend_pid()");
	{
		char	err[256];

		assert_int_equal(users_ping(f->u, err, sizeof(err)), 0);
	}
}

/*
 * The server restarted between two calls (pg_ctlcluster, as an operator
 * would): the next call finds the connection broken, makes it again and
 * answers, with the same record; nothing committed was lost.
 */
static void
test_pg_server_restart(void **state)
{
	struct fx		*f = *state;
	struct users_record	 r1, r2;
	char			 cmd[128];
	const char		*version = getenv("PGVERSION");

	assert_int_equal(assign(f, 1, 0, "", &r1, NULL), USERS_OK);
	sqldb_close(f->raw);
	f->raw = NULL;
	snprintf(cmd, sizeof(cmd), "pg_ctlcluster %s regress stop -m fast",
	    version != NULL ? version : "15");
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "pg_ctlcluster %s regress start",
	    version != NULL ? version : "15");
	assert_int_equal(system(cmd), 0);
	assert_int_equal(assign(f, 1, 0, "", &r2, NULL), USERS_OK);
	assert_int_equal(r2.uid, r1.uid);
	{
		char	err[512];

		f->raw = sqldb_open(f->url, NULL, 10000, err, sizeof(err));
		assert_non_null(f->raw);
	}
	assert_int_equal(count_users(f), 1);
}

/* A table locked by another session: bounded, then recovered. */
static void
test_pg_slow(void **state)
{
	struct fx		*f = *state;
	struct users_db		*u = open_db(f, 1000);
	struct users_record	 r;
	const char		*why;
	uint64_t		 t0, took;

	assert_int_equal(assign_as(f, u, EMAIL, 1, 0, "", &r, NULL), USERS_OK);
	assert_int_equal(sqldb_begin(f->raw, SQLDB_WRITE, NULL), SQLDB_OK);
	sq(f, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
	t0 = mono_ms();
	assert_int_equal(assign_as(f, u, EMAIL, 1, 0, "", NULL, &why),
	    USERS_UNAVAILABLE);
	took = mono_ms() - t0;
	assert_true(took >= 950 && took < 3000);
	sqldb_rollback(f->raw);
	assert_int_equal(assign_as(f, u, EMAIL, 1, 0, "", &r, NULL), USERS_OK);
	users_close(u);
}

static void
test_pg_password(void **state)
{
	struct fx		*f = *state;
	struct users_settings	 s = settings(f, 3000);
	char			 url[256], err[512];

	/* Over TCP, where the cluster asks for a password. */
	snprintf(url, sizeof(url), "postgres://%s@127.0.0.1:%s/%s",
	    getenv("PGUSER"), getenv("PGPORT"), PG_DB);
	s.url = url;
	s.password = "wrong-secret-4711";
	assert_null(users_open(&s, err, sizeof(err)));
	assert_non_null(strstr(err, "password"));
	assert_null(strstr(err, "wrong-secret-4711"));
	/* The right one, given apart from the URL, wins over PGPASSWORD. */
	s.password = getenv("PGPASSWORD");
	{
		struct users_db	*u = users_open(&s, err, sizeof(err));

		if (u == NULL)
			fail_msg("%s", err);
		users_close(u);
	}
}

/* ---- one group: every case on each backend ----------------------------- */

static int
setup_lite(void **state)
{
	group_kind = SQLDB_SQLITE;
	return setup(state);
}

static int
setup_lite_bare(void **state)
{
	group_kind = SQLDB_SQLITE;
	return setup_bare(state);
}

static int
setup_pg(void **state)
{
	group_kind = SQLDB_POSTGRES;
	return setup(state);
}

static int
setup_pg_bare(void **state)
{
	group_kind = SQLDB_POSTGRES;
	return setup_bare(state);
}

/* The suite's own database in the throwaway cluster, made afresh. */
static void
make_pg_database(void)
{
	struct sqldb	*db;
	char		 err[512];
	int64_t		 one;

	db = sqldb_open("postgresql:///postgres", NULL, 10000, err,
	    sizeof(err));
	if (db == NULL) {
		fprintf(stderr, "postgres: %s\n", err);
		return;		/* every PostgreSQL case fails its setup */
	}
	db->deadline = mono_ms() + 10000;
	if (db->be->exec(db, "DROP DATABASE IF EXISTS " PG_DB, &one) != 0 ||
	    db->be->exec(db, "CREATE DATABASE " PG_DB, &one) != 0)
		fprintf(stderr, "postgres: %s\n", sqldb_error(db));
	sqldb_close(db);
}

#define CASE(prefix, fn, set) { prefix #fn, fn, set, teardown, NULL }
#define BOTH(prefix, set, bare) \
	CASE(prefix, test_user_creation, set), \
	CASE(prefix, test_new_user_allocation, set), \
	CASE(prefix, test_empty_node_first_and_full_skipped, set), \
	CASE(prefix, test_tie_goes_to_most_room, set), \
	CASE(prefix, test_successfully_releasing_node_capacity, set), \
	CASE(prefix, test_unsuccessfully_releasing_node_capacity, set), \
	CASE(prefix, test_release_bound, set), \
	CASE(prefix, test_current_user_is_the_most_up_to_date, set), \
	CASE(prefix, test_user_creation_when_most_current_user_is_replaced, \
	    set), \
	CASE(prefix, test_old_users_marked_as_replaced_in_race_recovery, set), \
	CASE(prefix, test_user_updates_with_new_client_state, set), \
	CASE(prefix, test_user_updates_with_same_client_state, set), \
	CASE(prefix, test_retired_users_can_make_requests, set), \
	CASE(prefix, test_replaced_users_can_make_requests, set), \
	CASE(prefix, test_retired_users_with_no_node_cannot_make_requests, \
	    set), \
	CASE(prefix, test_replaced_users_with_no_node_can_make_requests, set), \
	CASE(prefix, test_refusals, set), \
	CASE(prefix, test_stale_client_state, set), \
	CASE(prefix, test_null_keys_changed_at, set), \
	CASE(prefix, test_zero_absent_and_int64_exact, set), \
	CASE(prefix, test_bad_queries, set), \
	CASE(prefix, test_bootstrap, set), \
	CASE(prefix, test_concurrent_first_requests, set), \
	CASE(prefix, test_locked, set), \
	CASE(prefix, test_concurrent_start, bare), \
	CASE(prefix, test_mozilla_schema, bare), \
	CASE(prefix, test_empty_and_foreign_databases, bare)

int
main(void)
{
	const struct CMUnitTest with_pg[] = {
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_silent_server),
		BOTH("sqlite: ", setup_lite, setup_lite_bare),
		CASE("sqlite: ", test_sqlite_files, setup_lite_bare),
		CASE("sqlite: ", test_sqlite_overlong_values, setup_lite),
		BOTH("postgres: ", setup_pg, setup_pg_bare),
		CASE("postgres: ", test_pg_reconnect, setup_pg),
		CASE("postgres: ", test_pg_slow, setup_pg),
		CASE("postgres: ", test_pg_server_restart, setup_pg),
		CASE("postgres: ", test_pg_password, setup_pg),
	};
	const char	*pg = getenv("TOKEND_TEST_PG");
	size_t		 n = sizeof(with_pg) / sizeof(with_pg[0]), i;

	if (pg != NULL && strcmp(pg, "1") == 0) {
		make_pg_database();
		return _cmocka_run_group_tests("users", with_pg, n, NULL,
		    NULL);
	}
	/* Without PostgreSQL: the same list up to its first case. */
	for (i = 0; i < n; i++)
		if (strncmp(with_pg[i].name, "postgres: ", 10) == 0)
			break;
	printf("# users: %zu PostgreSQL cases not run (TOKEND_TEST_PG is "
	    "not 1; tests/with-pg runs them)\n", n - i);
	return _cmocka_run_group_tests("users", with_pg, i, NULL, NULL);
}
