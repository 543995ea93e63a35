/*
 * jsonflat.h - the front's fast path for flat JSON objects.
 *
 * A token request body is nearly always {"assertion": "...", "service":
 * "..."}, and a token answer is a flat object of ASCII strings and
 * integers.  jansson reads such a body in ~7 us and writes such an answer in
 * ~4 us, a third of the front's own work per request, because it goes
 * character by character through stream callbacks.  These functions handle
 * exactly those shapes in a fraction of that, and say so when they cannot:
 * the caller then uses jansson, which stays the one parser of record.
 */
#ifndef TOKEND_JSONFLAT_H
#define TOKEND_JSONFLAT_H

#include <stddef.h>

#define JSONFLAT_MAX	8	/* members jsonflat_parse() takes */

struct jsonflat_member {
	const char	*key, *val;	/* into the parsed text, not copied */
	size_t		 keylen, vallen;
};

/*
 * Reads s[0..len) if it is a JSON object of at most JSONFLAT_MAX members
 * whose keys and values are strings of printable ASCII without escapes
 * (0x20-0x7e, neither '"' nor '\'), with distinct keys.  Such a text means
 * the same to every JSON parser.  Returns the member count, or -1 when the
 * text is anything else (then parse it with jansson: it may still be valid
 * JSON, or it is invalid and jansson says why).
 */
int	jsonflat_parse(const char *s, size_t len, struct jsonflat_member *m,
	    int max);

/*
 * A writer for one flat object.  Every call appends a member; a string
 * value is escaped as JSON needs (and must be valid UTF-8).  jsonflat_end
 * returns the NUL-terminated text (caller frees) or NULL if a value was
 * not valid UTF-8 or memory ran out.
 */
struct jsonflat_writer {
	char	*buf;
	size_t	 len, cap;
	int	 failed;
};

void	jsonflat_begin(struct jsonflat_writer *);
void	jsonflat_str(struct jsonflat_writer *, const char *key,
	    const char *val, size_t vallen);
void	jsonflat_int(struct jsonflat_writer *, const char *key, long long v);
char	*jsonflat_end(struct jsonflat_writer *, size_t *len);

#endif
