/*
 * protocol.h - the frames between the front's broker and the workers.
 *
 * This is a contract, not an accident of the C code: docs/protocol.md
 * specifies it for workers written in other languages.  In short, every
 * message is a ZeroMQ multipart message whose first frame is a two-byte
 * header (version, command) followed by zero or more (key, value) frame
 * pairs.  Keys are ASCII; values are bytes.  The worker side is a DEALER,
 * the broker side a ROUTER, so on the broker the identity frame comes first.
 */
#ifndef TOKEND_PROTOCOL_H
#define TOKEND_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#define PROTO_VERSION		1
#define PROTO_MAX_FIELDS	16	/* (key, value) pairs in one message */
#define PROTO_MAX_FRAMES	(2 + 2 * PROTO_MAX_FIELDS) /* + identity */
#define PROTO_JOB_ID_LEN	8
#define PROTO_ENDPOINT		"worker.sock"	/* in runtime_dir */

/*
 * The largest frame either side accepts: ZMQ_MAXMSGSIZE on both sockets.
 * ZeroMQ checks it frame by frame, and a peer that sends a larger frame
 * loses its whole connection (and every message queued on it), so
 * proto_send() refuses such a frame instead of sending it.
 */
#define PROTO_MAX_FRAME		65536
/*
 * The largest field value a message may carry (each value is one frame).
 * A request field the front would forward beyond it must be refused before
 * a job is made (413); config checks size limits against it.
 */
#define PROTO_MAX_VALUE		PROTO_MAX_FRAME

enum proto_cmd {
	PROTO_READY = 1,	/* W->B: idle and willing; pid, worker */
	PROTO_JOB = 2,		/* B->W: job, service, assertion; optional
				   client_state, kind */
	PROTO_REPLY = 3,	/* W->B: job + result fields or error fields */
	PROTO_HEARTBEAT = 4,	/* both ways while idle */
	PROTO_BYE = 5,		/* W->B: leaving; send it no more jobs */
};

struct proto_field {
	const char	*key;
	size_t		 keylen;
	const void	*val;
	size_t		 vallen;
};

/* The request fields of a JOB besides its id (the front's to choose). */
#define PROTO_JOB_FIELDS	(PROTO_MAX_FIELDS - 1)

/* How a job ended, for the front to answer. */
enum job_outcome {
	JOB_REPLIED,		/* reply holds the worker's REPLY */
	JOB_TIMEOUT,		/* no worker answered in request_timeout */
	JOB_UNAVAILABLE,	/* shutting down, or no worker would take it */
};

/* A received message: frames owned here, fields point into them. */
struct proto_msg {
	int			 cmd;
	size_t			 nframes;
	size_t			 nfields;
	struct proto_field	 f[PROTO_MAX_FIELDS];
	zmq_msg_t		 frames[PROTO_MAX_FRAMES];
	int			 has_ident;
};

/*
 * Receives one whole multipart message from sock (non-blocking when
 * dontwait).  With router set the first frame is the peer identity.
 * Returns 0 and a parsed message, 1 if a malformed message was received and
 * dropped (*why says what was wrong), or -1 with errno (EAGAIN, ETERM...).
 */
int	proto_recv(void *sock, int router, int dontwait, struct proto_msg *m,
	    const char **why);
/* Releases the frames of a received message. */
void	proto_msg_close(struct proto_msg *m);
/* Moves src's frames into dst (re-pointing the fields); src is left empty. */
void	proto_msg_move(struct proto_msg *dst, struct proto_msg *src);

/* The identity frame of a message received on a ROUTER socket. */
const void *proto_ident(const struct proto_msg *m, size_t *len);

/* The value of key, or NULL; *len gets its length. */
const void *proto_get(const struct proto_msg *m, const char *key, size_t *len);
/* The value of key as a NUL-terminated copy in buf; -1 if absent/too long. */
int	proto_get_str(const struct proto_msg *m, const char *key, char *buf,
	    size_t buflen);

/*
 * Sends header + fields as one multipart message, prefixed with the
 * identity frame when ident is not NULL (ROUTER).  Returns 0 or -1 with
 * errno: EMSGSIZE (nothing sent) when a value exceeds PROTO_MAX_VALUE,
 * EHOSTUNREACH for a gone peer under ZMQ_ROUTER_MANDATORY, EAGAIN when
 * ZMQ_SNDTIMEO passed.
 */
int	proto_send(void *sock, const void *ident, size_t identlen, int cmd,
	    const struct proto_field *fields, size_t nfields);

/* Whether every value fits in a frame (PROTO_MAX_VALUE). */
int	proto_fits(const struct proto_field *fields, size_t nfields);

/* A field from a C string key and value. */
#define PROTO_FIELD(k, v, n)	{ (k), sizeof(k) - 1, (v), (n) }
#define PROTO_FIELD_STR(k, s)	{ (k), sizeof(k) - 1, (s), strlen(s) }

/* Applies what every tokend socket needs: linger 0, bounded frames. */
int	proto_sockopts(void *sock);

/*
 * Values of a REPLY's "error" field.  The front turns them into HTTP
 * statuses; a worker in another language must use exactly these.
 */
#define PROTO_ERR_INVALID_REQUEST	"invalid-request"	/* 400 */
#define PROTO_ERR_INVALID_CREDENTIALS	"invalid-credentials"	/* 401 */
#define PROTO_ERR_INVALID_TIMESTAMP	"invalid-timestamp"	/* 401 */
#define PROTO_ERR_UNKNOWN_SERVICE	"unknown-service"	/* 404 */
#define PROTO_ERR_INTERNAL		"error"			/* 500 */
#endif
