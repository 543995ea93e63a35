/*
 * sqldb.h - one connection to the node-assignment database, SQLite or
 * PostgreSQL, behind one set of calls: the SQL layer under users.c (the
 * per-request rules) and admin.c (tokenctl's node, user and db commands).
 *
 * What it gives:
 *   - sqldb_open() from a URL ("sqlite:///abs/path", "sqlite:////abs/path",
 *     "postgres://..." or "postgresql://..."), refusing anything else with
 *     a message that says why; a password given apart (from a file) wins
 *     over the URL's and is never logged or put in a message.
 *   - transactions: sqldb_begin(SQLDB_WRITE or SQLDB_READ, lock key),
 *     sqldb_commit(), sqldb_rollback().  A write transaction with a lock
 *     key is serialised with every other one that names the same key
 *     (PostgreSQL: pg_advisory_xact_lock on a 64-bit hash of the key;
 *     SQLite: BEGIN IMMEDIATE serialises every writer anyway).
 *   - statements from one fixed table (statements.h), run with int64,
 *     text or NULL parameters; rows read one at a time.
 *   - a deadline: every call is bounded by the timeout given at open,
 *     counted from sqldb_begin() for a transaction, from the call itself
 *     outside one.  Past it, or when the database is busy, locked or gone,
 *     the call returns SQLDB_UNAVAIL, never hangs; a lost or timed-out
 *     PostgreSQL connection is re-established on the next call.
 *
 * Adding a statement: add one line SQLDB_STMT(NAME, "SQL") to
 * statements.h, in the section of the file that uses it.  Write the SQL
 * once, portable to both SQLite 3.40 and PostgreSQL 15, with "?" for each
 * parameter (never inside a string literal: the PostgreSQL backend
 * rewrites every "?" to $1, $2, ...).  PostgreSQL infers each parameter's
 * type from where it stands; where it cannot (a parameter alone in a
 * SELECT list, "? IS NULL", an argument of COALESCE with only other
 * parameters), write CAST(? AS BIGINT) or CAST(? AS TEXT).  Use
 * CASE instead of LEAST/GREATEST or two-argument MIN/MAX (each exists on
 * one side only).  Refer to it as SQLDB_NAME in sqldb_run().  Each
 * statement is prepared once per connection, on first use.
 *
 * Rows: after sqldb_run() of a statement that returns rows, call
 * sqldb_next() until it returns 0; read the current row's columns with
 * sqldb_isnull(), sqldb_int() and sqldb_text() (column 0 first).  Only
 * one statement is active per connection: sqldb_run() ends the previous
 * one, and so do begin, commit and rollback.  A text column's pointer is
 * valid until the next sqldb_next() or sqldb_run().
 *
 * Transactions hold database work only: nothing slow (no crypto, no
 * network, no terminal) between sqldb_begin() and the commit.  PostgreSQL
 * ends a session that sits idle inside a transaction for longer than the
 * timeout (idle_in_transaction_session_timeout), so a process stopped
 * there cannot hold a user's lock for longer.
 *
 * Errors: every call that can fail returns one of enum sqldb_rc;
 * sqldb_error() says what happened in words (no password in it).
 *
 * One struct sqldb is one connection, owned by one process and one
 * thread: never carry it across fork() (open it after the fork).
 *
 * store/ may include only core/.
 */
#ifndef TOKEND_STORE_SQLDB_H
#define TOKEND_STORE_SQLDB_H

#include <stddef.h>
#include <stdint.h>

enum sqldb_rc {
	SQLDB_OK = 0,
	SQLDB_ERR = -1,		/* a bad statement, a broken schema, ... */
	SQLDB_UNAVAIL = -2,	/* busy, locked, down, slow: try later */
	SQLDB_CONFLICT = -3	/* a unique constraint refused the write */
};

enum sqldb_kind {
	SQLDB_SQLITE,
	SQLDB_POSTGRES
};

enum sqldb_txn {
	SQLDB_READ,		/* a consistent read */
	SQLDB_WRITE		/* reads then writes */
};

/* The statements, by name (statements.h). */
enum sqldb_stmt {
#define SQLDB_STMT(name, sql)	SQLDB_##name,
#include "store/statements.h"
#undef SQLDB_STMT
	SQLDB_NSTMTS
};

enum sqldb_type {
	SQLDB_T_NULL,
	SQLDB_T_INT,
	SQLDB_T_TEXT
};

/* One parameter of a statement; build them with the macros below. */
struct sqldb_param {
	enum sqldb_type	 type;
	int64_t		 i;
	const char	*s;
};

#define SQLDB_INT(v)	((struct sqldb_param){ SQLDB_T_INT, (v), NULL })
#define SQLDB_TEXT(v)	((struct sqldb_param){ SQLDB_T_TEXT, 0, (v) })
#define SQLDB_NULL	((struct sqldb_param){ SQLDB_T_NULL, 0, NULL })
/* An int64 that is NULL when 0 (Mozilla's "absent"). */
#define SQLDB_INT_OR_NULL(v) \
	((v) != 0 ? SQLDB_INT(v) : SQLDB_NULL)

struct sqldb;

/*
 * Checks url and says which backend it names: 0, or -1 with the reason
 * in err.  For config checks (tokend -t) that must not connect.
 */
int		 sqldb_check_url(const char *url, enum sqldb_kind *kind,
		    char *err, size_t errlen);

/*
 * Connects (SQLite: opens, creating the file, WAL mode); NULL with the
 * reason in err.  password NULL or "": the URL's, if any.  timeout_ms
 * bounds every call (at least 1).  Does not create the schema: see
 * sqldb_schema().
 */
struct sqldb	*sqldb_open(const char *url, const char *password,
		    int timeout_ms, char *err, size_t errlen);
void		 sqldb_close(struct sqldb *);
enum sqldb_kind	 sqldb_kind(const struct sqldb *);

/*
 * Makes sure Mozilla's schema is there: when none of its three tables
 * exists, creates them with their indexes (in one transaction, safe when
 * several processes start at once); when all exist, checks that each has
 * Mozilla's columns.  A database made by Mozilla's migrations passes as
 * it is.  *created (unless NULL) says whether the tables were made now.
 */
enum sqldb_rc	 sqldb_schema(struct sqldb *, int *created);

/*
 * A transaction.  lock_key (NULL: none) serialises write transactions
 * that name the same key, across processes and hosts.  The deadline of
 * the whole transaction starts here.
 */
enum sqldb_rc	 sqldb_begin(struct sqldb *, enum sqldb_txn,
		    const char *lock_key);
enum sqldb_rc	 sqldb_commit(struct sqldb *);
/* Never fails from the caller's view: a connection it cannot roll back
 * is dropped (and re-made on the next call). */
void		 sqldb_rollback(struct sqldb *);
int		 sqldb_in_txn(const struct sqldb *);

/* Runs statement st with n parameters. */
enum sqldb_rc	 sqldb_run(struct sqldb *, enum sqldb_stmt st,
		    const struct sqldb_param *params, size_t n);
/* The next row of the last statement: 1 (a row), 0 (no more), or <0. */
int		 sqldb_next(struct sqldb *);
int		 sqldb_isnull(struct sqldb *, int col);
int64_t		 sqldb_int(struct sqldb *, int col);	/* NULL: 0 */
const char	*sqldb_text(struct sqldb *, int col);	/* NULL: "" */
/*
 * Ends the last statement before all its rows were read.  Do it when
 * reading stops early: on SQLite an unfinished SELECT outside a
 * transaction keeps its read snapshot (and holds back the WAL checkpoint)
 * until the connection's next statement.
 */
void		 sqldb_end(struct sqldb *);
/* Rows changed by the last INSERT, UPDATE or DELETE. */
int64_t		 sqldb_changes(struct sqldb *);

/* Whether the database answers now ("SELECT 1"), reconnecting if need be. */
enum sqldb_rc	 sqldb_ping(struct sqldb *);

/* What the last failure was, in words. */
const char	*sqldb_error(const struct sqldb *);

/* The text of a statement, and its name (for messages and tests). */
const char	*sqldb_sql(enum sqldb_stmt);
const char	*sqldb_stmt_name(enum sqldb_stmt);

#endif
