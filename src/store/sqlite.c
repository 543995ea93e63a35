/*
 * sqlite.c - the embedded backend of the SQL layer (sqldb.h): the default
 * database, one file, no server, shared by every worker of one host.
 *
 * Several worker processes write the same file, so: WAL (readers never
 * wait for the writer), BEGIN IMMEDIATE for every transaction that will
 * write (a deferred one that upgrades its lock can fail at once with
 * SQLITE_BUSY), and a busy timeout set from what is left of the call's
 * deadline before each wait.  A progress handler ends a statement that
 * runs past the deadline.  Busy, locked, interrupted, out of disk: the
 * call gives SQLDB_UNAVAIL and the request a 503; nothing waits longer
 * than the timeout.  synchronous = FULL: an assignment that was committed
 * survives a power loss, and only first requests write.
 *
 * Statements are prepared once per connection, on first use, and reset
 * after each (sqlite3_reset + sqlite3_clear_bindings).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/clock.h"
#include "store/sqldb_impl.h"

enum { CTL_BEGIN, CTL_BEGIN_IMMEDIATE, CTL_COMMIT, CTL_ROLLBACK, CTL_N };

static const char *const control_sql[CTL_N] = {
	[CTL_BEGIN] = "BEGIN",
	[CTL_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
	[CTL_COMMIT] = "COMMIT",
	[CTL_ROLLBACK] = "ROLLBACK",
};

struct lite {
	sqlite3		*conn;
	sqlite3_stmt	*stmt[SQLDB_NSTMTS];
	sqlite3_stmt	*control[CTL_N];
	sqlite3_stmt	*active;	/* the statement rows come from */
	const char	*active_name;
	int64_t		 changes;
};

static const char *const lite_ddl[] = {
	"CREATE TABLE services ("
	"id INTEGER PRIMARY KEY AUTOINCREMENT, "
	"service VARCHAR(30) UNIQUE, "
	"pattern VARCHAR(128))",
	"CREATE TABLE nodes ("
	"id INTEGER PRIMARY KEY AUTOINCREMENT, "
	"service INTEGER NOT NULL, "
	"node VARCHAR(64) NOT NULL, "
	"available INTEGER NOT NULL, "
	"current_load INTEGER NOT NULL, "
	"capacity INTEGER NOT NULL, "
	"downed INTEGER NOT NULL, "
	"backoff INTEGER NOT NULL, "
	"UNIQUE (service, node))",
	/*
	 * AUTOINCREMENT: a uid is never given twice, even after the row with
	 * the highest one is purged (a plain INTEGER PRIMARY KEY would reuse
	 * it, and a new user would get a deleted user's storage).  MySQL's
	 * AUTO_INCREMENT and PostgreSQL's identity do the same.
	 */
	"CREATE TABLE users ("
	"uid INTEGER PRIMARY KEY AUTOINCREMENT, "
	"service INTEGER NOT NULL, "
	"email VARCHAR(255) NOT NULL, "
	"generation BIGINT NOT NULL, "
	"client_state VARCHAR(32) NOT NULL, "
	"created_at BIGINT NOT NULL, "
	"replaced_at BIGINT, "
	"nodeid BIGINT NOT NULL, "
	"keys_changed_at BIGINT)",
	"CREATE INDEX lookup_idx ON users (email, service, created_at)",
	"CREATE INDEX replaced_at_idx ON users (service, replaced_at)",
	"CREATE INDEX node_idx ON users (nodeid)",
	NULL
};

static struct lite *
L(struct sqldb *db)
{
	return db->impl;
}

static enum sqldb_rc
lite_error(struct sqldb *db, int rc, const char *what)
{
	struct lite	*l = L(db);
	const char	*msg = l->conn != NULL ? sqlite3_errmsg(l->conn) :
			    sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return sqldb_fail(db, SQLDB_UNAVAIL, "%s: the database is "
		    "locked by another writer beyond %d ms (%s)", what,
		    db->timeout_ms, msg);
	case SQLITE_INTERRUPT:
		return sqldb_fail(db, SQLDB_UNAVAIL, "%s: took longer than "
		    "%d ms", what, db->timeout_ms);
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_NOMEM:
		return sqldb_fail(db, SQLDB_UNAVAIL, "%s: %s", what, msg);
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE ||
		    rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return sqldb_fail(db, SQLDB_CONFLICT, "%s: %s", what,
			    msg);
		break;
	}
	return sqldb_fail(db, SQLDB_ERR, "%s: %s", what, msg);
}

/* SQLite calls this every 1000 VM steps: past the deadline, stop. */
static int
past_deadline(void *arg)
{
	return mono_ms() >= ((struct sqldb *)arg)->deadline;
}

static void
lite_disconnect(struct sqldb *db)
{
	struct lite	*l = L(db);
	int		 i;

	if (l == NULL)
		return;
	for (i = 0; i < SQLDB_NSTMTS; i++)
		sqlite3_finalize(l->stmt[i]);
	for (i = 0; i < CTL_N; i++)
		sqlite3_finalize(l->control[i]);
	sqlite3_close_v2(l->conn);
	free(l);
	db->impl = NULL;
}

/*
 * The file is made here, not by SQLite, so that it is private (0600: it
 * holds every user's email) whatever the umask; SQLite gives its -wal
 * and -shm files the same mode.
 */
static enum sqldb_rc
make_file(struct sqldb *db)
{
	int	fd;

	fd = open(db->target, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd == -1)
		return sqldb_fail(db, SQLDB_ERR, "%s: %s", db->target,
		    strerror(errno));
	close(fd);
	return SQLDB_OK;
}

static enum sqldb_rc
lite_pragmas(struct sqldb *db)
{
	static const char *const pragmas[] = {
		"PRAGMA journal_mode = WAL",
		"PRAGMA synchronous = FULL",
		"PRAGMA foreign_keys = OFF",
		NULL
	};
	struct lite	*l = L(db);
	char		*msg = NULL;
	int		 i, rc;

	for (i = 0; pragmas[i] != NULL; i++) {
		rc = sqlite3_exec(l->conn, pragmas[i], NULL, NULL, &msg);
		if (rc != SQLITE_OK) {
			enum sqldb_rc	r = lite_error(db, rc, pragmas[i]);

			sqlite3_free(msg);
			return r;
		}
	}
	return SQLDB_OK;
}

static enum sqldb_rc
lite_connect(struct sqldb *db)
{
	struct lite	*l;
	int		 rc;
	enum sqldb_rc	 r;

	lite_disconnect(db);
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return sqldb_fail(db, SQLDB_ERR, "out of memory");
	db->impl = l;
	if ((r = make_file(db)) != SQLDB_OK)
		return r;
	rc = sqlite3_open_v2(db->target, &l->conn, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return lite_error(db, rc, db->target);
	sqlite3_extended_result_codes(l->conn, 1);
	sqlite3_busy_timeout(l->conn, sqldb_remaining(db));
	sqlite3_progress_handler(l->conn, 1000, past_deadline, db);
	return lite_pragmas(db);
}

static void
lite_end(struct sqldb *db)
{
	struct lite	*l = L(db);

	if (l == NULL || l->active == NULL)
		return;
	sqlite3_reset(l->active);
	sqlite3_clear_bindings(l->active);
	l->active = NULL;
}

/* Steps stmt to its end (no rows wanted). */
static enum sqldb_rc
step_all(struct sqldb *db, sqlite3_stmt *stmt, const char *what)
{
	struct lite	*l = L(db);
	int		 rc;

	sqlite3_busy_timeout(l->conn, sqldb_remaining(db));
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		;
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return lite_error(db, rc, what);
	l->changes = sqlite3_changes64(l->conn);
	return SQLDB_OK;
}

static enum sqldb_rc
lite_exec(struct sqldb *db, const char *sql, int64_t *first)
{
	struct lite	*l = L(db);
	sqlite3_stmt	*stmt;
	int		 rc;

	rc = sqlite3_prepare_v2(l->conn, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return lite_error(db, rc, sql);
	sqlite3_busy_timeout(l->conn, sqldb_remaining(db));
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && first != NULL)
		*first = sqlite3_column_int64(stmt, 0);
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return lite_error(db, rc, sql);
	return SQLDB_OK;
}

static enum sqldb_rc
control(struct sqldb *db, int which)
{
	struct lite	*l = L(db);
	int		 rc;

	if (l->control[which] == NULL) {
		rc = sqlite3_prepare_v3(l->conn, control_sql[which], -1,
		    SQLITE_PREPARE_PERSISTENT, &l->control[which], NULL);
		if (rc != SQLITE_OK)
			return lite_error(db, rc, control_sql[which]);
	}
	return step_all(db, l->control[which], control_sql[which]);
}

static enum sqldb_rc
lite_begin(struct sqldb *db, enum sqldb_txn mode, const char *lock_key)
{
	/* One writer at a time per file: the lock key is implied. */
	(void)lock_key;
	return control(db, mode == SQLDB_WRITE ? CTL_BEGIN_IMMEDIATE :
	    CTL_BEGIN);
}

static enum sqldb_rc
lite_commit(struct sqldb *db)
{
	return control(db, CTL_COMMIT);
}

static int
lite_rollback(struct sqldb *db)
{
	struct lite	*l = L(db);

	if (sqlite3_get_autocommit(l->conn))
		return 0;	/* SQLite rolled back already */
	/* A rollback must not be cut short by the deadline. */
	db->deadline = mono_ms() + (uint64_t)db->timeout_ms;
	return control(db, CTL_ROLLBACK) == SQLDB_OK ? 0 : -1;
}

static enum sqldb_rc
bind(struct sqldb *db, sqlite3_stmt *stmt, const struct sqldb_param *p,
    size_t n)
{
	size_t	i;
	int	rc = SQLITE_OK;

	if ((int)n != sqlite3_bind_parameter_count(stmt))
		return sqldb_fail(db, SQLDB_ERR, "%zu parameters for %d "
		    "placeholders", n, sqlite3_bind_parameter_count(stmt));
	for (i = 0; i < n && rc == SQLITE_OK; i++) {
		switch (p[i].type) {
		case SQLDB_T_INT:
			rc = sqlite3_bind_int64(stmt, (int)i + 1, p[i].i);
			break;
		case SQLDB_T_TEXT:
			rc = p[i].s == NULL ?
			    sqlite3_bind_null(stmt, (int)i + 1) :
			    sqlite3_bind_text(stmt, (int)i + 1, p[i].s, -1,
			    SQLITE_STATIC);
			break;
		default:
			rc = sqlite3_bind_null(stmt, (int)i + 1);
			break;
		}
	}
	if (rc != SQLITE_OK)
		return lite_error(db, rc, "bind");
	return SQLDB_OK;
}

static enum sqldb_rc
lite_run(struct sqldb *db, enum sqldb_stmt st, const struct sqldb_param *p,
    size_t n)
{
	struct lite	*l = L(db);
	sqlite3_stmt	*stmt;
	enum sqldb_rc	 r;
	int		 rc;

	if (l->stmt[st] == NULL) {
		rc = sqlite3_prepare_v3(l->conn, sqldb_sql(st), -1,
		    SQLITE_PREPARE_PERSISTENT, &l->stmt[st], NULL);
		if (rc != SQLITE_OK)
			return lite_error(db, rc, sqldb_stmt_name(st));
	}
	stmt = l->stmt[st];
	if ((r = bind(db, stmt, p, n)) != SQLDB_OK) {
		sqlite3_clear_bindings(stmt);
		return r;
	}
	l->changes = 0;
	if (sqlite3_column_count(stmt) == 0) {
		/* No rows: run it now, so that its failure is run's. */
		r = step_all(db, stmt, sqldb_stmt_name(st));
		sqlite3_clear_bindings(stmt);
		return r;
	}
	sqlite3_busy_timeout(l->conn, sqldb_remaining(db));
	l->active = stmt;
	l->active_name = sqldb_stmt_name(st);
	return SQLDB_OK;
}

static int
lite_next(struct sqldb *db)
{
	struct lite	*l = L(db);
	int		 rc;

	if (l->active == NULL)
		return 0;
	rc = sqlite3_step(l->active);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE) {
		l->changes = sqlite3_changes64(l->conn);
		return 0;
	}
	return lite_error(db, rc, l->active_name);
}

static int
lite_isnull(struct sqldb *db, int col)
{
	struct lite	*l = L(db);

	return l->active == NULL ||
	    sqlite3_column_type(l->active, col) == SQLITE_NULL;
}

static int64_t
lite_getint(struct sqldb *db, int col)
{
	struct lite	*l = L(db);

	return l->active != NULL ? sqlite3_column_int64(l->active, col) : 0;
}

static const char *
lite_gettext(struct sqldb *db, int col)
{
	struct lite	*l = L(db);

	return l->active != NULL ?
	    (const char *)sqlite3_column_text(l->active, col) : NULL;
}

static int64_t
lite_changes(struct sqldb *db)
{
	return L(db)->changes;
}

const struct sqldb_backend sqldb_sqlite = {
	.kind = SQLDB_SQLITE,
	.name = "sqlite",
	.ddl = lite_ddl,
	.count_tables = "SELECT count(*) FROM sqlite_master WHERE type = "
	    "'table' AND name IN ('services', 'nodes', 'users')",
	.connect = lite_connect,
	.disconnect = lite_disconnect,
	.exec = lite_exec,
	.begin = lite_begin,
	.commit = lite_commit,
	.rollback = lite_rollback,
	.run = lite_run,
	.next = lite_next,
	.isnull = lite_isnull,
	.getint = lite_getint,
	.gettext = lite_gettext,
	.changes = lite_changes,
	.end = lite_end,
};
