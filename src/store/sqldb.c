/*
 * sqldb.c - the node-assignment database's SQL layer (sqldb.h): reads
 * the URL, picks the backend (sqlite.c or postgres.c), keeps the deadline
 * of every call, and makes or checks Mozilla's schema.
 *
 * The URL is the one thing an operator types that decides where user
 * data goes, so it is read strictly: only the forms docs/nodes.md names
 * are accepted, and a typo (a relative SQLite path, a host where a path
 * belongs, an unescaped "@" in a password, a driver suffix copied from
 * SQLAlchemy) is refused with a message saying what to write instead,
 * never guessed at.  No message quotes the URL whole: it may carry a
 * password.
 *
 * The schema is Mozilla's (their tokenserver migrations for PostgreSQL
 * and MySQL), with each backend's own spelling of an identity column.
 * It is made only when none of the three tables exists; a database made
 * by Mozilla's migrations is taken as it is, and only its columns are
 * checked.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/sqldb_impl.h"

static const char *const statement_sql[SQLDB_NSTMTS] = {
#define SQLDB_STMT(name, sql)	[SQLDB_##name] = sql,
#include "store/statements.h"
#undef SQLDB_STMT
};

static const char *const statement_name[SQLDB_NSTMTS] = {
#define SQLDB_STMT(name, sql)	[SQLDB_##name] = #name,
#include "store/statements.h"
#undef SQLDB_STMT
};

const char *
sqldb_stmt_name(enum sqldb_stmt st)
{
	if ((int)st < 0 || st >= SQLDB_NSTMTS)
		return "?";
	return statement_name[st];
}

const char *
sqldb_sql(enum sqldb_stmt st)
{
	if ((int)st < 0 || st >= SQLDB_NSTMTS)
		return NULL;
	return statement_sql[st];
}

enum sqldb_rc
sqldb_fail(struct sqldb *db, enum sqldb_rc rc, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(db->error, sizeof(db->error), fmt, ap);
	va_end(ap);
	return rc;
}

int
sqldb_remaining(const struct sqldb *db)
{
	uint64_t	now = mono_ms();

	if (db->deadline <= now)
		return 0;
	return (int)(db->deadline - now);
}

static void
start_clock(struct sqldb *db)
{
	db->deadline = mono_ms() + (uint64_t)db->timeout_ms;
}

/* ---- the URL ---------------------------------------------------------- */

static int
url_error(char *err, size_t errlen, const char *fmt, const char *arg)
{
	snprintf(err, errlen, fmt, arg);
	return -1;
}

static int
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/*
 * sqlite:///abs/path or SQLAlchemy's sqlite:////abs/path; the path in
 * *path (pointing into url) when path is not NULL.
 */
static int
check_sqlite(const char *url, const char **path, char *err, size_t errlen)
{
	const char	*p = url + strlen("sqlite:");

	if (strncmp(p, "//", 2) != 0)
		return url_error(err, errlen, "database url: write an SQLite "
		    "database as sqlite:///ABSOLUTE/PATH%s", "");
	p += 2;
	if (*p != '/')
		return url_error(err, errlen, "database url: sqlite:// is "
		    "followed by a host, not a path: an SQLite database is "
		    "sqlite:///ABSOLUTE/PATH (three slashes)%s", "");
	if (strncmp(p, "//", 2) == 0)	/* sqlite:////abs/path */
		p++;
	if (p[1] == '/' || p[1] == '\0')
		return url_error(err, errlen, "database url: the SQLite path "
		    "is empty or starts with more than one slash; write "
		    "sqlite:///ABSOLUTE/PATH%s", "");
	if (strpbrk(p, "?#") != NULL)
		return url_error(err, errlen, "database url: an SQLite path "
		    "takes no ?options or #fragment (tokend sets WAL, the "
		    "timeout and the rest itself)%s", "");
	if (p[strlen(p) - 1] == '/')
		return url_error(err, errlen, "database url: the SQLite path "
		    "names a directory; name the database file in it%s", "");
	if (strlen(p) >= PATH_MAX)
		return url_error(err, errlen, "database url: the SQLite path "
		    "is too long%s", "");
	if (path != NULL)
		*path = p;
	return 0;
}

/*
 * postgres://[user[:password]@][host][:port][/dbname][?param=value&...],
 * handed to libpq as it is.  What is checked here is what libpq would
 * read another way than the operator meant.
 */
static int
check_postgres(const char *url, char *err, size_t errlen)
{
	const char	*auth = strstr(url, "://") + 3;
	size_t		 authlen = strcspn(auth, "/?#");
	const char	*at;

	at = memchr(auth, '@', authlen);
	if (at != NULL && memchr(at + 1, '@', authlen - (size_t)(at + 1 -
	    auth)) != NULL)
		return url_error(err, errlen, "database url: more than one "
		    "\"@\" before the host; an \"@\" in a user name or "
		    "password is written %%40 (or put the password in "
		    "password_file)%s", "");
	if (strchr(url, '#') != NULL)
		return url_error(err, errlen, "database url: a PostgreSQL "
		    "URL takes no #fragment%s", "");
	return 0;
}

int
sqldb_check_url(const char *url, enum sqldb_kind *kind, char *err,
    size_t errlen)
{
	if (url == NULL || *url == '\0')
		return url_error(err, errlen, "database url: empty; write "
		    "sqlite:///ABSOLUTE/PATH or postgres://USER@HOST/DBNAME%s",
		    "");
	if (has_control(url) || strchr(url, ' ') != NULL)
		return url_error(err, errlen, "database url: contains a space "
		    "or a control character (percent-encode it)%s", "");
	if (strncmp(url, "sqlite:", 7) == 0) {
		if (kind != NULL)
			*kind = SQLDB_SQLITE;
		return check_sqlite(url, NULL, err, errlen);
	}
	if (strncmp(url, "postgres://", 11) == 0 ||
	    strncmp(url, "postgresql://", 13) == 0) {
		if (kind != NULL)
			*kind = SQLDB_POSTGRES;
		return check_postgres(url, err, errlen);
	}
	if (strncmp(url, "postgres+", 9) == 0 ||
	    strncmp(url, "postgresql+", 11) == 0 ||
	    strncmp(url, "sqlite+", 7) == 0)
		return url_error(err, errlen, "database url: drop the "
		    "SQLAlchemy driver (\"+...\") from the scheme; write "
		    "postgres:// or sqlite:///%s", "");
	if (strncmp(url, "mysql", 5) == 0)
		return url_error(err, errlen, "database url: tokend speaks "
		    "SQLite and PostgreSQL, not MySQL (docs/migrating.md says "
		    "how to move a Mozilla database)%s", "");
	return url_error(err, errlen, "database url: unknown scheme; write "
	    "sqlite:///ABSOLUTE/PATH or postgres://USER@HOST/DBNAME%s", "");
}

/* ---- the connection --------------------------------------------------- */

struct sqldb *
sqldb_open(const char *url, const char *password, int timeout_ms, char *err,
    size_t errlen)
{
	struct sqldb	*db;
	enum sqldb_kind	 kind;
	const char	*path = NULL;
	enum sqldb_rc	 rc;

	if (sqldb_check_url(url, &kind, err, errlen) == -1)
		return NULL;
	if (timeout_ms < 1) {
		snprintf(err, errlen, "database timeout must be at least 1 ms");
		return NULL;
	}
	if ((db = calloc(1, sizeof(*db))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	db->timeout_ms = timeout_ms;
	if (kind == SQLDB_SQLITE) {
		check_sqlite(url, &path, err, errlen);
		db->be = &sqldb_sqlite;
		db->target = strdup(path);
	} else {
		db->be = &sqldb_postgres;
		db->target = strdup(url);
	}
	if (password != NULL && *password != '\0')
		db->password = strdup(password);
	if (db->target == NULL || (password != NULL && *password != '\0' &&
	    db->password == NULL)) {
		snprintf(err, errlen, "out of memory");
		sqldb_close(db);
		return NULL;
	}
	start_clock(db);
	rc = db->be->connect(db);
	/*
	 * A server that is down or unreachable now may be up by the first
	 * request: the connection is made again on each call until it
	 * works.  What no retry mends (a wrong password, no such database,
	 * a file that cannot be opened) fails here.
	 */
	if (rc != SQLDB_OK && !(rc == SQLDB_UNAVAIL &&
	    kind == SQLDB_POSTGRES)) {
		snprintf(err, errlen, "%s", db->error);
		sqldb_close(db);
		return NULL;
	}
	return db;
}

void
sqldb_close(struct sqldb *db)
{
	if (db == NULL)
		return;
	if (db->be != NULL)
		db->be->disconnect(db);
	if (db->password != NULL) {
		explicit_bzero(db->password, strlen(db->password));
		free(db->password);
	}
	free(db->target);
	free(db);
}

enum sqldb_kind
sqldb_kind(const struct sqldb *db)
{
	return db->be->kind;
}

const char *
sqldb_error(const struct sqldb *db)
{
	return db->error;
}

/* ---- transactions and statements --------------------------------------- */

enum sqldb_rc
sqldb_begin(struct sqldb *db, enum sqldb_txn mode, const char *lock_key)
{
	enum sqldb_rc	rc;

	if (db->in_txn)
		return sqldb_fail(db, SQLDB_ERR, "begin: a transaction is "
		    "already open");
	start_clock(db);
	db->be->end(db);
	if ((rc = db->be->begin(db, mode, lock_key)) == SQLDB_OK)
		db->in_txn = 1;
	else
		/* What began before the failure (PostgreSQL's BEGIN before
		 * its lock timed out) ends here. */
		db->be->rollback(db);
	return rc;
}

enum sqldb_rc
sqldb_commit(struct sqldb *db)
{
	enum sqldb_rc	rc;

	if (!db->in_txn)
		return sqldb_fail(db, SQLDB_ERR, "commit: no transaction");
	db->be->end(db);
	rc = db->be->commit(db);
	if (rc != SQLDB_OK)
		db->be->rollback(db);
	db->in_txn = 0;
	return rc;
}

void
sqldb_rollback(struct sqldb *db)
{
	if (!db->in_txn)
		return;
	db->be->end(db);
	db->be->rollback(db);
	db->in_txn = 0;
}

int
sqldb_in_txn(const struct sqldb *db)
{
	return db->in_txn;
}

enum sqldb_rc
sqldb_run(struct sqldb *db, enum sqldb_stmt st,
    const struct sqldb_param *params, size_t n)
{
	if ((int)st < 0 || st >= SQLDB_NSTMTS)
		return sqldb_fail(db, SQLDB_ERR, "no statement %d", (int)st);
	if (!db->in_txn)
		start_clock(db);
	db->be->end(db);
	return db->be->run(db, st, params, n);
}

int
sqldb_next(struct sqldb *db)
{
	return db->be->next(db);
}

int
sqldb_isnull(struct sqldb *db, int col)
{
	return db->be->isnull(db, col);
}

int64_t
sqldb_int(struct sqldb *db, int col)
{
	return db->be->getint(db, col);
}

const char *
sqldb_text(struct sqldb *db, int col)
{
	const char	*s = db->be->gettext(db, col);

	return s != NULL ? s : "";
}

void
sqldb_end(struct sqldb *db)
{
	db->be->end(db);
}

int64_t
sqldb_changes(struct sqldb *db)
{
	return db->be->changes(db);
}

enum sqldb_rc
sqldb_ping(struct sqldb *db)
{
	int64_t		one = 0;
	enum sqldb_rc	rc;

	if (db->in_txn)
		return sqldb_fail(db, SQLDB_ERR, "ping inside a transaction");
	start_clock(db);
	db->be->end(db);
	rc = db->be->exec(db, "SELECT 1", &one);
	if (rc == SQLDB_OK && one != 1)
		rc = sqldb_fail(db, SQLDB_ERR, "SELECT 1 answered %lld",
		    (long long)one);
	return rc;
}

/* ---- the schema ------------------------------------------------------- */

static const struct {
	enum sqldb_stmt	 st;
	const char	*table;
} column_checks[] = {
	{ SQLDB_CHECK_SERVICES, "services" },
	{ SQLDB_CHECK_NODES, "nodes" },
	{ SQLDB_CHECK_USERS, "users" },
};

static enum sqldb_rc
schema_in_txn(struct sqldb *db, int *created)
{
	int64_t		 ntables = -1;
	enum sqldb_rc	 rc;
	size_t		 i;

	if ((rc = db->be->exec(db, db->be->count_tables, &ntables)) !=
	    SQLDB_OK)
		return rc;
	if (ntables == 0) {
		for (i = 0; db->be->ddl[i] != NULL; i++)
			if ((rc = db->be->exec(db, db->be->ddl[i], NULL)) !=
			    SQLDB_OK)
				return rc;
		*created = 1;
	} else if (ntables != 3)
		return sqldb_fail(db, SQLDB_ERR, "the database has %lld of "
		    "the tables services, nodes and users, not all three: "
		    "not a tokenserver database (or a damaged one)",
		    (long long)ntables);
	for (i = 0; i < sizeof(column_checks) / sizeof(column_checks[0]);
	    i++) {
		rc = db->be->run(db, column_checks[i].st, NULL, 0);
		if (rc == SQLDB_OK) {
			while ((rc = db->be->next(db)) > 0)
				;
			db->be->end(db);
		}
		if (rc == SQLDB_UNAVAIL)
			return rc;
		if (rc != SQLDB_OK)
			return sqldb_fail(db, SQLDB_ERR, "table %s lacks "
			    "Mozilla's columns (%s)", column_checks[i].table,
			    sqldb_sql(column_checks[i].st));
	}
	return SQLDB_OK;
}

enum sqldb_rc
sqldb_schema(struct sqldb *db, int *created)
{
	int		made = 0;
	enum sqldb_rc	rc;

	if ((rc = sqldb_begin(db, SQLDB_WRITE, "tokend schema")) != SQLDB_OK)
		return rc;
	if ((rc = schema_in_txn(db, &made)) != SQLDB_OK) {
		char	saved[sizeof(db->error)];

		memcpy(saved, db->error, sizeof(saved));
		sqldb_rollback(db);
		memcpy(db->error, saved, sizeof(saved));
		return rc;
	}
	if ((rc = sqldb_commit(db)) != SQLDB_OK)
		return rc;
	if (created != NULL)
		*created = made;
	return SQLDB_OK;
}
