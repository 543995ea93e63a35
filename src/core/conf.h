/*
 * conf.h - the engine that turns an INI file into C structs, by table.
 *
 * A program describes its file as a table of sections: each has a name, a
 * table of keys, a place for its object and a finish hook.  Each key names
 * its value type, the offset of its field, its bounds, its default,
 * whether a reload applies it, and the text that documents it.  The engine
 * does the rest, the same way for every section: it drives the INI lexer
 * (core/ini.c), refuses unknown sections and keys (suggesting the nearest
 * known name), keys set twice and sections that repeat, applies defaults,
 * reports required keys left out, and says where every error is
 * ("FILE:LINE: [section] message").  In the spirit of Redis's
 * standardConfig: a key is described once, so a new section is one table
 * entry and one finish function, a new kind of value is one struct
 * conf_type, and the documents (conf/tokend.conf, tokend.conf(5)) are
 * written from the same tables (conf_describe()), so they cannot drift.
 *
 * Errors: a file is read to its end and every error is reported, in file
 * order, up to CONF_MAX_ERRORS.  A section with an error skips its finish
 * hook, and the checks that span sections run only on a file whose
 * sections are all valid: both would otherwise report what follows from
 * an earlier error rather than a mistake of their own.  The INI lexer
 * stops at the first line it cannot read (a malformed header, a line with
 * no '='), which ends the report there.
 *
 * A value type is a setter plus what undoes it: clear frees what the setter
 * stored, purge wipes it if it is a secret; show and swap serve a reload
 * (conf_keep()).  Generic types (numbers, on/off, strings, paths, URLs, log
 * levels) are defined here; a type only one section uses (a secret file, a
 * JWKS, a token format) is defined next to that section, which is why this
 * engine needs nothing but core.
 *
 * Ownership: conf_load() fills a root object the caller allocated (zeroed)
 * and owns; whether it succeeds or not, conf_clear() frees everything the
 * engine and the types put in it.
 */
#ifndef TOKEND_CONF_H
#define TOKEND_CONF_H

#include <stddef.h>
#include <stdio.h>

#define CONF_MAX_KEYS		32	/* keys in one section */
#define CONF_MAX_SECTIONS	16	/* sections in one table */
#define CONF_MAX_NAME		64	/* bytes of a section's NAME */
#define CONF_MAX_ERRORS		20	/* errors reported of one file */

struct conf;		/* the loader's state while one file is read */
struct conf_key;

struct conf_type {
	/* Stores value into obj's field (k->off): 0, or conf_fail(). */
	int	(*set)(struct conf *, const struct conf_key *k, void *obj,
		    const char *value);
	/* Frees what set stored, leaving the field empty; NULL: nothing. */
	void	(*clear)(const struct conf_key *k, void *obj);
	/* Wipes what set stored when it is a secret; NULL: not a secret. */
	void	(*purge)(const struct conf_key *k, void *obj);
	/*
	 * The field's value as the file would write it, into buf; NULL: a
	 * value never shown (a secret, a parsed key).  A key that needs a
	 * restart must have show and swap.
	 */
	void	(*show)(const struct conf_key *k, const void *obj, char *buf,
		    size_t len);
	/* Exchanges the field's values of objects a and b. */
	void	(*swap)(const struct conf_key *k, void *a, void *b);
	int	 bounded;	/* min and max apply (a number) */
};

/* The field a key fills, in the object of its section. */
#define CONF_FIELD(obj, k)	((void *)((char *)(obj) + (k)->off))

/* Whether a SIGHUP reload applies a key. */
enum conf_reload {
	CONF_UNSTATED,		/* not said: the documents' test refuses it */
	CONF_RELOAD,		/* a reload applies it */
	CONF_WORKERS,		/* a reload applies it in the workers it
				   starts; the front keeps its value */
	CONF_RESTART,		/* read at start only: a reload keeps the
				   running value (conf_keep()) */
};

struct conf_key {
	const char		*name;	/* NULL ends a table */
	const struct conf_type	*type;
	size_t			 off;	/* of the field in its struct */
	long			 min, max; /* bounds of a number */
	const char		*def;	/* default; NULL: required;
					   CONF_OPTIONAL: may stay unset */
	enum conf_reload	 reload;
	/*
	 * What the key is for, in plain sentences: the comment above it in
	 * conf/tokend.conf and its text in tokend.conf(5).  Its default,
	 * bounds and reload are added from the fields above.
	 */
	const char		*doc;
	/*
	 * The value conf/tokend.conf shows for the key (NULL: its default;
	 * a key without a default needs one).  A leading '#' shows it
	 * commented out: a key the example does not set.
	 */
	const char		*example;
};

extern const char conf_optional[];
#define CONF_OPTIONAL	conf_optional

/*
 * One kind of section.  Where its object goes, in the root object:
 *
 *   unnamed ([server]), size 0   the struct at root + off (0: the root)
 *   unnamed, size > 0            a struct of size bytes the engine
 *                                allocates, pointed to by root + off
 *   named ([service NAME])       an array of elements of size bytes
 *                                pointed to by root + off, its count (a
 *                                size_t) at root + count_off, at most max;
 *                                each element's NAME (a char *) goes at
 *                                name_off and its first line (an int) at
 *                                line_off
 *
 * An unnamed section that the file leaves out still gets its defaults and
 * its finish hook, unless it has a required key: then the file is refused.
 */
struct conf_section {
	const char		*name;
	int			 named;
	const struct conf_key	*keys;
	size_t			 off;
	size_t			 size;
	size_t			 count_off;
	size_t			 max;
	size_t			 name_off;
	size_t			 line_off;
	/* Checks once all of a section's keys are in; NULL: none. */
	int			(*finish)(struct conf *, void *obj);
	/* Frees what finish added beyond the keys' fields; NULL: nothing. */
	void			(*clear)(void *obj);
	/* What the section is for (the documents), and its example NAME. */
	const char		*doc;
	const char		*example;
};

/* A named section: an array of elem_type in root_type, with name and line. */
#define CONF_NAMED(root_type, array, count, elem_type, most)		\
	.named = 1, .off = offsetof(root_type, array),			\
	.size = sizeof(elem_type), .count_off = offsetof(root_type, count), \
	.max = (most), .name_off = offsetof(elem_type, name),		\
	.line_off = offsetof(elem_type, line)

/* A whole file: its sections, and the checks that span them. */
struct conf_schema {
	const struct conf_section *sections;	/* ends with a NULL name */
	/* Once every section is finished; NULL: none. */
	int			(*check)(struct conf *, void *root);
};

/*
 * Reads the file at path into root.  0, or -1 with its errors in err, one
 * a line, in file order: "PATH:LINE: [section] message" ("PATH: message"
 * for the whole file), at most CONF_MAX_ERRORS and as many as fit errlen,
 * then a line saying how many more there are.  Either way the caller frees
 * with conf_clear().
 */
int	conf_load(const char *path, const struct conf_schema *, void *root,
	    char *err, size_t errlen);
/* Frees everything conf_load() stored in root (not root itself). */
void	conf_clear(const struct conf_schema *, void *root);
/* Wipes every value of a secret type (the front holds no secret). */
void	conf_purge(const struct conf_schema *, void *root);

/*
 * For a reload: every CONF_RESTART key of next whose value differs from
 * running's is given running's value (the two are swapped, so each root
 * still owns what it holds), and changed() is told the key, the value
 * running keeps and the one next asked for.  Only unnamed sections may
 * hold such keys.  Returns how many differed.
 */
size_t	conf_keep(const struct conf_schema *, void *running, void *next,
	    void (*changed)(const struct conf_key *, const char *kept,
	    const char *asked));

/* The documents the tables make: the example file, the manual's keys. */
enum conf_doc {
	CONF_DOC_EXAMPLE,	/* conf/tokend.conf: commented key lines */
	CONF_DOC_MAN,		/* tokend.conf(5): a .SH per section */
};
/*
 * Writes every section and key of the schema as doc says, to f.  0, or -1
 * with a message in err when a key or a section lacks what the documents
 * need (its text, its reload, an example where there is no default).
 */
int	conf_describe(const struct conf_schema *, enum conf_doc doc, FILE *f,
	    char *err, size_t errlen);

/*
 * For setters, finish hooks and checks.  conf_fail() reports at the line
 * being read (a setter's message); conf_fail_at() says "PATH:LINE: " itself
 * (a finish hook's, naming the key at fault), or "PATH: " for line 0.  Both
 * return -1.
 */
int	conf_fail(struct conf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	conf_fail_at(struct conf *, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* The line key name was set on in the current section, or the section's. */
int	conf_key_line(const struct conf *, const char *name);
/* Whether key name was set in the current section (not defaulted). */
int	conf_key_set(const struct conf *, const char *name);
/* The line of the current section's header (0: the section was left out). */
int	conf_section_line(const struct conf *);
/* The file being read, as given to conf_load(). */
const char *conf_filename(const struct conf *);
/* v as a path: absolute, or relative to the file's directory. */
int	conf_resolve(struct conf *, const char *v, char *out, size_t outlen);

/* Generic value types. */
extern const struct conf_type conf_int;		/* int in [min, max] */
extern const struct conf_type conf_i64;		/* int64_t in [min, max] */
extern const struct conf_type conf_long;	/* long in [min, max] */
extern const struct conf_type conf_size;	/* size_t in [min, max] */
extern const struct conf_type conf_msec;	/* seconds: int milliseconds */
extern const struct conf_type conf_mib;		/* MiB: long KiB */
extern const struct conf_type conf_bool;	/* on/off yes/no true/false 1/0:
						   int */
extern const struct conf_type conf_loglevel;	/* error warning info debug:
						   int (enum log_level) */
extern const struct conf_type conf_logformat;	/* text json:
						   int (enum log_format) */
extern const struct conf_type conf_str;		/* non-empty: char * */
extern const struct conf_type conf_pathname;	/* resolved path: char * */
extern const struct conf_type conf_url;		/* http:// or https://:
						   char * */
extern const struct conf_type conf_https;	/* https:// only: char * */

/* For types that store one char * at k->off: its clear, show and swap. */
void	conf_clear_str(const struct conf_key *k, void *obj);
void	conf_show_str(const struct conf_key *k, const void *obj, char *buf,
	    size_t len);
void	conf_swap_ptr(const struct conf_key *k, void *a, void *b);
/* Parses digits (an optional '-') into *out: 0, or -1. */
int	conf_parse_long(const char *v, long *out);

#endif
