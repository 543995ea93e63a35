/*
 * httpguard.h - strict HTTP/1.1 framing in front of libmicrohttpd.
 *
 * libmicrohttpd 0.9.75 (Debian 12) is lenient where a proxy in front of
 * tokend may not be: it takes the first of two Content-Length headers,
 * lets chunked win over Content-Length, unfolds or drops folded lines,
 * cuts header values and the request line at a NUL, and takes bare LF
 * line ends.  Each of those lets a body hold a second request that tokend
 * and a proxy frame differently (request smuggling).  MHD gives its
 * handler no raw bytes, so the guard reads them first: every byte a
 * client sends passes through one guard per connection (src/http/guardio.c
 * puts it under MHD's recv), which frames requests by RFC 9112 and passes
 * on only what it could frame without doubt.
 *
 * What the guard passes on is byte for byte what the client sent, so MHD
 * and the guard frame alike.  A request head is held until it is whole
 * and checked; bodies stream through, their framing (Content-Length or
 * chunked) followed.  When a head is refused the guard passes a small
 * request of its own instead (GUARD_PATH, Connection: close), so that MHD
 * asks the front, in order, what to answer: the front answers it with the
 * guard's error (400, 431, 501, 505) and the connection closes.  When a
 * chunked body breaks its framing or passes max_body, the guard ends the
 * body itself and marks that request: the front answers 400 or 413 and
 * closes.  Nothing after a refused request is read.
 */
#ifndef TOKEND_HTTPGUARD_H
#define TOKEND_HTTPGUARD_H

#include <stddef.h>
#include <stdint.h>

/*
 * MHD keeps a request's head in the connection's memory pool
 * (connection_memory) together with a 56-byte record per header, aligned
 * to 64, and its own state; the answer's headers come from the same pool.
 * Measured against libmicrohttpd 0.9.75 with connection_memory = 4608: a
 * head is served while head + 64 x fields + 160 fits, and above that MHD
 * answers with an HTML 431 or, in a window just above, closes without a
 * word.  The guard refuses (JSON 431) every head that would not fit with
 * room to spare for the answer.
 */
#define GUARD_FIELD_COST	64
#define GUARD_POOL_RESERVE	512

/* The target of the request the guard passes on in place of a bad one. */
#define GUARD_PATH	"/.tokend-guard/refused"

enum guard_err {
	GUARD_OK,
	GUARD_LINE_END,		/* a bare LF or CR */
	GUARD_FOLDED,		/* obs-fold: a line starting with SP or HTAB */
	GUARD_CTL,		/* NUL or another control byte in a header */
	GUARD_REQUEST_LINE,	/* not "METHOD SP target SP HTTP/x.y" */
	GUARD_TARGET,		/* not a path, or a byte a path cannot hold */
	GUARD_TARGET_ENCODED,	/* %2F, %00, an encoded control byte */
	GUARD_VERSION,		/* HTTP/x.y other than 1.0 and 1.1: 505 */
	GUARD_HEADER,		/* a header line that is not "name: value" */
	GUARD_DUPLICATE,	/* a header that must be unique, twice */
	GUARD_NO_HOST,		/* HTTP/1.1 without Host */
	GUARD_CONTENT_LENGTH,	/* not 1*DIGIT within 2^62 */
	GUARD_CL_AND_TE,	/* Content-Length with Transfer-Encoding */
	GUARD_TE,		/* a transfer coding other than chunked: 501 */
	GUARD_TE_HTTP10,	/* Transfer-Encoding in HTTP/1.0 */
	GUARD_CHUNK,		/* chunked framing broken */
	GUARD_HEAD_TOO_LARGE,	/* the head would not fit MHD's pool: 431 */
	GUARD_BODY_TOO_LARGE,	/* a chunked body passed max_body: 413 */
	GUARD_NERR
};

/* What the front answers for an error: status, field, sentence. */
struct guard_problem {
	const char	*code;		/* for the access log: a closed set */
	unsigned	 status;
	const char	*location;	/* "header", "url", "body" */
	const char	*name;		/* the field at fault */
	const char	*description;
};

enum guard_state {
	GS_HEAD,		/* reading a request head */
	GS_BODY,		/* Content-Length body: `left` bytes to go */
	GS_CHUNK_LINE,		/* a chunk-size line */
	GS_CHUNK_DATA,		/* chunk data: `left` bytes to go */
	GS_CHUNK_END,		/* the CRLF after chunk data */
	GS_TRAILER,		/* trailer lines after the last chunk */
	GS_DEAD,		/* refused: nothing more is read */
};

struct guard {
	enum guard_state state;
	size_t		 max_head;	/* connection_memory: see above */
	size_t		 max_body;	/* a chunked body's data bytes */
	/* The head (or chunk line, or trailer) being gathered. */
	char		*line;		/* owned */
	size_t		 line_len, line_cap;
	uint64_t	 left;		/* body or chunk bytes to go */
	uint64_t	 body_len;	/* chunk data so far */
	/* Bytes checked and ready for MHD, from out_off to out_len. */
	char		*out;		/* owned */
	size_t		 out_len, out_off, out_cap;
	size_t		 out_mark;	/* where the current request began */
	int		 mark_valid;	/* ... in out (0: MHD has part) */
	uint32_t	 heads;		/* request heads passed on */
	uint32_t	 seen;		/* requests the front started (its count) */
	uint32_t	 bad;		/* the request that carries err, 1-based */
	enum guard_err	 err;
	const char	*err_name;	/* GUARD_DUPLICATE: which header */
	int		 in_request;	/* a passed head whose body is not done */
	int		 peer_closed;	/* the client sent FIN */
};

void	guard_init(struct guard *, size_t max_head, size_t max_body);
void	guard_free(struct guard *);

/*
 * Takes len bytes the client sent; what can go on is appended to the
 * guard's output.  Returns -1 only when memory runs out (the connection
 * is then to be dropped).
 */
int	guard_feed(struct guard *, const char *data, size_t len);

/*
 * The client closed its side: a request it left unfinished is dropped
 * from the output (it can never complete, and MHD would wait for it).
 */
void	guard_eof(struct guard *);

/* Bytes ready for MHD, and taking n of them. */
size_t	guard_pending(const struct guard *);
size_t	guard_take(struct guard *, char *buf, size_t n);

/* The answer for err. */
const struct guard_problem *guard_problem(enum guard_err);

#endif
