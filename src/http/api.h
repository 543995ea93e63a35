/*
 * api.h - the HTTP API: which endpoints exist, what each takes from a
 * request, and how each answers.  front.c owns the connections and the
 * request's life; this file owns its meaning.
 *
 *   POST /v1/token          tokend's own API (JSON body, or Authorization)
 *   GET  /1.0/APP/VERSION   Mozilla tokenserver-compatible
 *   POST /oauth/token       RFC 8693 token exchange
 *   GET  /__lbheartbeat__   load balancer check: the front is up
 *   GET  /__version__       Dockerflow: version, commit, build date
 *   GET  /__heartbeat__     Dockerflow health: workers, keys, database
 *
 * See docs/api.md for every field and error.
 *
 * Nothing here knows libmicrohttpd or the broker: a request comes in as
 * the plain facts of struct api_request, a job leaves as the protocol's
 * fields, and the answer is a status, headers and a body.  So the
 * endpoints run the same in the front, in a unit test and in a fuzzer.
 */
#ifndef TOKEND_API_H
#define TOKEND_API_H

#include <stddef.h>

#include "pool/protocol.h"

#define API_MAX_HEADERS		6
#define API_CLIENT_STATE_MAX	32	/* hex digits of X-Client-State */

struct api_endpoint;

#define API_HEARTBEAT_PATH	"/__heartbeat__"

/*
 * What /__heartbeat__ answers from: the front's facts, from what the
 * broker knows and the workers' latest heartbeats (never a round trip to
 * a worker, so it answers even when every worker is wedged).  front.c
 * fills it for that path only.
 */
struct api_health {
	int	workers;	/* workers heard from lately (not lost) */
	int	keys_reported;	/* a live worker reported on its keys */
	long	keys_missing;	/* the fewest issuers without keys of those */
	int	db_configured;	/* a live worker has a database */
	int	db_up;		/* ... and one of them reaches it */
};

/* The endpoint of a request, for metrics: the order of STATS_ENDPOINTS. */
enum api_metric_endpoint {
	API_EP_TOKEN, API_EP_MOZILLA, API_EP_OAUTH, API_EP_LBHEARTBEAT,
	API_EP_HEARTBEAT, API_EP_VERSION, API_EP_OTHER
};

/*
 * What api.c reads of one request, filled by whoever owns the connection
 * (front.c, from libmicrohttpd).  Strings are NUL-terminated and borrowed:
 * they must outlive the call.  A header the client did not send is NULL;
 * one it sent empty is "".
 */
struct api_request {
	const char	*method;
	const char	*path;		/* raw: not percent-decoded */
	const char	*content_type;
	const char	*content_length;
	const char	*authorization;
	const char	*client_state;	/* X-Client-State */
	const char	*key_id;	/* X-KeyID */
	/* ?duration= (decoded), and how many the query string has. */
	const char	*duration;
	int		 duration_count;
	/* Set once the whole body has arrived, before api_prepare(). */
	const char	*body;		/* NULL when there was none */
	size_t		 body_len;
	int		 body_too_large; /* over max_body: not kept */
	/* For API_HEARTBEAT_PATH: the facts (NULL: answered as failing). */
	const struct api_health *health;
};

struct api_header {
	const char	*name;
	char		 value[48];
};

/* One request's API state: the job's strings and the answer. */
struct api_call {
	const struct api_endpoint *ep;
	const struct api_request *req;	/* borrowed: api_route() */
	size_t			 max_body;
	char			*service;	/* owned */
	char			*assertion;	/* owned */
	char			 client_state[API_CLIENT_STATE_MAX + 1];
	int			 from_header;	/* assertion in Authorization */
	const char		*kind;		/* the verifier, or NULL */
	/*
	 * GET /1.0: what X-KeyID says (the worker applies it to a nodes =
	 * database service only): keys_changed_at (decimal, int64) and the
	 * client state (hex), or why it is refused (key_id_error: a closed
	 * set, docs/protocol.md), which the worker reports only once the
	 * credential is verified, in Mozilla's order.
	 */
	char			 keys_changed_at[20];
	char			 key_client_state[API_CLIENT_STATE_MAX + 1];
	const char		*key_id_error;
	char			 duration[20];	/* ?duration=, or "" */
	char			 version[65];	/* /1.0/APP/VERSION's */
	/* The answer, once decided. */
	unsigned		 status;
	char			*body;		/* owned, JSON */
	size_t			 len;
	struct api_header	 hdr[API_MAX_HEADERS];
	int			 nhdr;
	/*
	 * For the access log, when the answer is an error: its code (a
	 * static string of a closed set: "invalid-credentials",
	 * "invalid-timestamp", "unavailable", ...) and the name of the field
	 * at fault ("" if none).  Never a value the client sent.
	 */
	const char		*error;		/* NULL: no error */
	char			 field[32];
};

/*
 * Routes by method and path and checks the headers.  req is borrowed until
 * api_call_clear(); its body is read by api_prepare().  Returns 0 when the
 * request goes on (its body is to be read), or 1 when call holds the
 * answer already (404, 405, 413 by Content-Length, 415, heartbeat).
 */
int	api_route(struct api_call *call, const struct api_request *req,
	    size_t max_body);

/*
 * The whole body has arrived (req->body, body_len, body_too_large).
 * Returns 0 with the job's request fields in fields[0..*nfields), which
 * point into call (valid until api_call_clear()), or 1 with the answer in
 * call.
 */
int	api_prepare(struct api_call *call,
	    struct proto_field fields[PROTO_JOB_FIELDS], size_t *nfields);

/*
 * Turns how the job ended into the answer, in the endpoint's style; reply
 * is the worker's REPLY when outcome is JOB_REPLIED (else unread).
 */
void	api_finish(struct api_call *call, enum job_outcome outcome,
	    const struct proto_msg *reply);

/*
 * The answer for a request refused before routing (the HTTP guard:
 * status 400, 413, 431, 501 or 505), in tokend's style.  Returns 1.
 */
int	api_refuse(struct api_call *call, unsigned status,
	    const char *location, const char *name, const char *description);

/* Which endpoint the call went to (the closed set of the metrics). */
enum api_metric_endpoint api_metric_endpoint(const struct api_call *call);

/* Frees what the call owns. */
void	api_call_clear(struct api_call *call);

#endif
