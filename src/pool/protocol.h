/*
 * protocol.h - the messages between the front's broker and the workers.
 *
 * This is a contract, not an accident of the C code: docs/protocol.md
 * specifies it for workers written in other languages.  In short (version
 * 2), every message is one ZeroMQ frame: two header bytes (version,
 * command), then the fields as records (key length, key, value length,
 * value).  Keys are ASCII; values are bytes.  The worker side is a DEALER,
 * the broker side a ROUTER, so on the broker the identity frame comes
 * first.  Version 1 put the header and each key and value in frames of
 * their own; it is recognised only to be refused (proto_send_v1()).
 */
#ifndef TOKEND_PROTOCOL_H
#define TOKEND_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#define PROTO_VERSION		2	/* the version this code speaks */
#define PROTO_VERSIONS		"2"	/* all it speaks: READY, REFUSE */
#define PROTO_MAX_FIELDS	16	/* fields in one message */
#define PROTO_MAX_KEY		255	/* bytes of a key: a 1-byte length */
#define PROTO_JOB_ID_LEN	8
#define PROTO_ENDPOINT		"worker.sock"	/* in runtime_dir */

/*
 * The largest field value a message may carry.  A request field the front
 * would forward beyond it must be refused before a job is made (413);
 * config checks size limits against it.
 */
#define PROTO_MAX_VALUE		65536
/*
 * The largest message (its one frame) either side accepts: ZMQ_MAXMSGSIZE
 * on both sockets.  ZeroMQ checks it frame by frame, and a peer that
 * sends a larger frame loses its whole connection (and every message
 * queued on it), so proto_send() refuses such a message instead of sending
 * it.  Twice a value: room for the largest value and all the rest.
 */
#define PROTO_MAX_FRAME		(2 * PROTO_MAX_VALUE)

enum proto_cmd {
	PROTO_READY = 1,	/* W->B: versions; optional pid, worker,
				   credit */
	PROTO_JOB = 2,		/* B->W: job + the front's request fields */
	PROTO_REPLY = 3,	/* W->B: job + result fields or error fields */
	PROTO_HEARTBEAT = 4,	/* both ways: no fields */
	PROTO_BYE = 5,		/* W->B: leaving; send it no more jobs */
	PROTO_WELCOME = 6,	/* B->W: version, heartbeat_interval,
				   heartbeat_liveness, credit,
				   request_timeout */
	PROTO_REFUSE = 7,	/* B->W: versions, peer_versions, reason */
	PROTO_PROGRESS = 8,	/* W->B: job: still working on it */
	PROTO_RESYNC = 9,	/* B->W: unknown to the broker: READY again */
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
	int			 version;	/* header byte; 0 if none */
	int			 cmd;		/* header byte */
	size_t			 nframes;
	size_t			 nfields;
	struct proto_field	 f[PROTO_MAX_FIELDS];
	zmq_msg_t		 frames[2];	/* [identity,] message */
	int			 has_ident;
};

/*
 * Receives one whole multipart message from sock (non-blocking when
 * dontwait).  With router set the first frame is the peer identity.
 * Returns 0 and a parsed message, 1 if a malformed message was received and
 * dropped (*why says what was wrong; the identity is kept, and version and
 * cmd are set when the first frame had a header, so that a peer of another
 * version can be answered), or -1 with errno (EAGAIN, ETERM...).
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
 * The value of key as a decimal integer in [min, max] (digits only, at
 * most 18 of them); -1 if absent or anything else.
 */
int	proto_get_long(const struct proto_msg *m, const char *key, long min,
	    long max, long *v);

/*
 * The highest version in a "versions" value ("2", "1,2": decimal numbers
 * separated by commas) that this code speaks; 0 if none, or if the value
 * is not such a list.
 */
int	proto_pick_version(const void *versions, size_t len);

/*
 * Sends a version 2 message: one frame with the header and the fields,
 * prefixed with the identity frame when ident is not NULL (ROUTER).
 * Returns 0 or -1 with errno: EMSGSIZE (nothing sent) when the fields do
 * not fit (proto_fits()), EHOSTUNREACH for a gone peer under
 * ZMQ_ROUTER_MANDATORY, EAGAIN when ZMQ_SNDTIMEO passed.
 */
int	proto_send(void *sock, const void *ident, size_t identlen, int cmd,
	    const struct proto_field *fields, size_t nfields);
/*
 * The same in version 1's layout (a 2-byte header frame, then a frame
 * for each key and each value), for the one message a version-1 peer is
 * sent: its REFUSE, which it can then read.
 */
int	proto_send_v1(void *sock, const void *ident, size_t identlen, int cmd,
	    const struct proto_field *fields, size_t nfields);

/*
 * Whether the fields make a message proto_send() takes: at most
 * PROTO_MAX_FIELDS, keys of 1 to PROTO_MAX_KEY bytes, values of at most
 * PROTO_MAX_VALUE, PROTO_MAX_FRAME in all.
 */
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
/* A nodes = database service's (Mozilla's tokenserver statuses). */
#define PROTO_ERR_INVALID_GENERATION	"invalid-generation"	/* 401 */
#define PROTO_ERR_INVALID_KEYS_CHANGED_AT "invalid-keysChangedAt" /* 401 */
#define PROTO_ERR_INVALID_CLIENT_STATE	"invalid-client-state"	/* 401 */
#define PROTO_ERR_INVALID_KEY_ID	"invalid-key-id"	/* 401 */
#define PROTO_ERR_UNAVAILABLE		"unavailable"	/* 503, Retry-After */
#define PROTO_ERR_NO_NODE		"no-node"	/* 503: no node has room */
/*
 * Values of a JOB's "key_id_error" (GET /1.0's X-KeyID refused): the
 * worker answers them after verifying the credential, as Mozilla does.
 */
#define PROTO_KEYID_MISSING		"missing"	/* no X-KeyID */
#define PROTO_KEYID_INVALID		"invalid"	/* not visible ASCII */
#define PROTO_KEYID_MALFORMED		"malformed"	/* its form */
#define PROTO_KEYID_MISMATCH		"mismatch"	/* X-Client-State
							   differs */
/*
 * The longest "error", "name" and "description" values, in bytes
 * (docs/protocol.md): a receiver may treat a longer one as absent.
 */
#define PROTO_ERR_MAX			31
#define PROTO_ERR_NAME_MAX		31
#define PROTO_ERR_DESCRIPTION_MAX	255
#endif
