/*
 * sqldb_impl.h - what sqldb.c shares with its two backends (sqlite.c,
 * postgres.c) and nobody else: the connection struct, the backend's
 * operations, the deadline and the error helper.  Callers use sqldb.h.
 */
#ifndef TOKEND_STORE_SQLDB_IMPL_H
#define TOKEND_STORE_SQLDB_IMPL_H

#include <stdarg.h>

#include "store/sqldb.h"

struct sqldb_backend {
	enum sqldb_kind	 kind;
	const char	*name;
	/* The schema, statement by statement, and how many of Mozilla's
	 * three tables exist (one integer column). */
	const char *const *ddl;
	const char	*count_tables;
	/* (Re)connects; keeps nothing of a previous connection. */
	enum sqldb_rc	(*connect)(struct sqldb *);
	void		(*disconnect)(struct sqldb *);
	/* A statement of fixed text, no parameters; the first column of the
	 * first row in *first unless first is NULL. */
	enum sqldb_rc	(*exec)(struct sqldb *, const char *sql,
			    int64_t *first);
	enum sqldb_rc	(*begin)(struct sqldb *, enum sqldb_txn,
			    const char *lock_key);
	enum sqldb_rc	(*commit)(struct sqldb *);
	/* -1 when the connection could not roll back (it is dropped). */
	int		(*rollback)(struct sqldb *);
	enum sqldb_rc	(*run)(struct sqldb *, enum sqldb_stmt,
			    const struct sqldb_param *, size_t);
	int		(*next)(struct sqldb *);
	int		(*isnull)(struct sqldb *, int);
	int64_t		(*getint)(struct sqldb *, int);
	const char	*(*gettext)(struct sqldb *, int);
	int64_t		(*changes)(struct sqldb *);
	/* Ends the active statement, if any. */
	void		(*end)(struct sqldb *);
};

struct sqldb {
	const struct sqldb_backend *be;
	char		*target;	/* SQLite: the path; PostgreSQL: the URL */
	char		*password;	/* NULL: none given apart */
	int		 timeout_ms;
	uint64_t	 deadline;	/* mono_ms(); the current call's end */
	int		 in_txn;
	void		*impl;		/* the backend's state */
	char		 error[512];
};

extern const struct sqldb_backend sqldb_sqlite;
extern const struct sqldb_backend sqldb_postgres;

/* Milliseconds left before the deadline (0: none left). */
int		 sqldb_remaining(const struct sqldb *);

/* Records the reason of a failure; returns rc. */
enum sqldb_rc	 sqldb_fail(struct sqldb *, enum sqldb_rc rc, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

#endif
