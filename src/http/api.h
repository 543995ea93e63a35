/*
 * api.h - the HTTP API: which endpoints exist, what each takes from a
 * request, and how each answers.  front.c owns the connections and the
 * request's life; this file owns its meaning.
 *
 *   POST /v1/token          tokend's own API (JSON body, or Authorization)
 *   GET  /1.0/APP/VERSION   Mozilla tokenserver-compatible
 *   POST /oauth/token       RFC 8693 token exchange
 *   GET  /__lbheartbeat__   load balancer check: the front is up
 *
 * See docs/api.md for every field and error.
 */
#ifndef TOKEND_API_H
#define TOKEND_API_H

#include <stddef.h>

#include <microhttpd.h>

#include "pool/broker.h"

#define API_MAX_HEADERS		3
#define API_CLIENT_STATE_MAX	32	/* hex digits of X-Client-State */

struct api_endpoint;

struct api_header {
	const char	*name;
	char		 value[48];
};

/* One request's API state: the job's strings and the answer. */
struct api_call {
	const struct api_endpoint *ep;
	struct MHD_Connection	*conn;
	size_t			 max_body;
	char			*service;	/* owned */
	char			*assertion;	/* owned */
	char			 client_state[API_CLIENT_STATE_MAX + 1];
	int			 from_header;	/* assertion in Authorization */
	const char		*kind;		/* the verifier asked for, or "" */
	/* The answer, once decided. */
	unsigned		 status;
	char			*body;		/* owned, JSON */
	size_t			 len;
	struct api_header	 hdr[API_MAX_HEADERS];
	int			 nhdr;
};

/*
 * Routes by method and path and checks the headers.  Returns 0 when the
 * request goes on (its body is to be read), or 1 when call holds the
 * answer already (404, 405, 413 by Content-Length, 415, heartbeat).
 */
int	api_route(struct api_call *call, struct MHD_Connection *c,
	    const char *method, const char *url, size_t max_body);

/*
 * The whole body has arrived (too_large: it passed max_body).  Returns 0
 * with job->service/assertion/client_state set (pointing into call), or 1
 * with the answer in call.
 */
int	api_prepare(struct api_call *call, const char *body, size_t len,
	    int too_large, struct job *job);

/* Turns a completed job into the answer, in the endpoint's style. */
void	api_finish(struct api_call *call, const struct job *job);

/*
 * The answer for a request refused before routing (the HTTP guard:
 * status 400, 413, 431, 501 or 505), in tokend's style.  Returns 1.
 */
int	api_refuse(struct api_call *call, unsigned status,
	    const char *location, const char *name, const char *description);

/* Frees what the call owns. */
void	api_call_clear(struct api_call *call);

#endif
