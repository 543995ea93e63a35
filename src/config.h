/*
 * config.h - the one immutable configuration of a tokend instance.
 *
 * config_load() reads the INI file, checks it whole (every key, every
 * secret file, every JWKS) and returns a ready object, or NULL and an error
 * "FILE:LINE: message".  Nothing is re-parsed per request: keys are
 * EVP_PKEY objects and secrets are bytes.  A reload builds a new config and
 * swaps it in only when it is complete; the old one keeps serving until then.
 */
#ifndef TOKEND_CONFIG_H
#define TOKEND_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "jwks.h"

#define CONFIG_MAX_ISSUERS	64
#define CONFIG_MAX_SERVICES	256
#define SECRET_MIN_BYTES	32
#define SECRET_MAX_BYTES	4096

/* Bytes held in memory that is wiped on free and kept out of core dumps. */
struct secret {
	uint8_t		*bytes;
	size_t		 len;
};

struct issuer {
	char		*name;		/* section name: [issuer NAME] */
	char		*iss;		/* required "iss" claim */
	char		*audience;	/* required in "aud" */
	struct jwks	*jwks;
	unsigned	 algorithms;	/* set of JWS_ALG_BIT() */
	int64_t		 leeway;	/* seconds of clock skew allowed */
	int		 line;		/* where the section starts */
};

struct service {
	char		*name;		/* section name: [service NAME] */
	struct secret	 secret;	/* tokenlib master secret */
	uint8_t		 sig_key[32];	/* HKDF(secret, info=signing) */
	char		*node;		/* api_endpoint handed to clients */
	int64_t		 duration;	/* token lifetime, seconds */
	int		 line;
};

struct config {
	char		*path;		/* the file it came from */
	/* [server] */
	char		*listen;	/* as written, for messages */
	char		*listen_host;	/* numeric address */
	uint16_t	 listen_port;
	int		 workers;
	int		 threads;	/* MHD threads in the front */
	char		*runtime_dir;
	size_t		 max_body;
	int		 queue_limit;
	int		 request_timeout_ms;
	int		 shutdown_timeout_ms; /* drain limit on SIGTERM */
	int		 max_connections;
	int		 per_ip_connections;
	int		 idle_timeout;	/* seconds an idle connection lives */
	int		 access_log;	/* 0/1 */
	int		 log_level;	/* enum log_level */
	int		 heartbeat_ms;
	int		 heartbeat_liveness; /* missed beats before a peer is dead */
	int		 orphan_timeout_ms; /* worker without a front exits */
	long		 max_jobs;	/* worker recycles after this many; 0 off */
	long		 max_rss_kb;	/* ... or past this resident size; 0 off */
	char		*uid_secret_file;
	struct secret	 uid_secret;	/* keys the uid hash, not signing */
	struct issuer	*issuers;
	size_t		 nissuers;
	struct service	*services;
	size_t		 nservices;
};

struct config	*config_load(const char *path, char *err, size_t errlen);
void		 config_free(struct config *);
/* Wipes every secret and drops every key: the front needs none of them. */
void		 config_purge_secrets(struct config *);

const struct service *config_service(const struct config *, const char *name);

/* Secrets: allocated away from core dumps, wiped on free. */
int		 secret_load(struct secret *, const char *path, char *err,
		    size_t errlen);
void		 secret_free(struct secret *);

#endif
