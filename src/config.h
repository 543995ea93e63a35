/*
 * config.h - the one immutable configuration of a tokend instance.
 *
 * config_load() reads the INI file, checks it whole (every key, every
 * secret file, every JWKS) and returns a ready object, or NULL and every
 * error of the file, one a line, "FILE:LINE: [section] message".  Nothing
 * is re-parsed per request: keys are EVP_PKEY objects and secrets are
 * bytes.  A reload builds a new config and swaps it in only when it is
 * complete; the old one keeps serving until then.
 */
#ifndef TOKEND_CONFIG_H
#define TOKEND_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_ISSUERS	64
#define CONFIG_MAX_SERVICES	256
#define CONFIG_MAX_BROWSERID	64
#define CONFIG_MAX_UID_NAMESPACE 1024	/* bytes of an issuer's uid_namespace */
#define CONFIG_ERRLEN		8192	/* room for a file's errors (all
					   CONF_MAX_ERRORS of them) */

/*
 * The sections' own structs belong to the parts that use them and are only
 * named here: identity/issuer.h ([issuer], [browserid]), tokens/service.h
 * ([service]), tokens/secret.h (the uid secret).  So a file that reads the
 * [server] fields (the front) includes nothing of identity/, tokens/ or
 * store/ through this header; one that reads a section includes its header.
 */
struct authkeys;
struct browserid_issuer;
struct conf_schema;
struct issuer;
struct secret;
struct service;

/*
 * [database]: where the services with nodes = database keep their users
 * and nodes (store/users.h, docs/nodes.md).  Read by the workers only,
 * each opening its own connection after fork.
 */
struct config_database {
	char		*url;		/* sqlite:///PATH or postgres://... */
	struct secret	*password;	/* password_file; NULL: the URL's */
	int		 timeout_ms;	/* bound on one users_* call */
	double		 release_rate;	/* Mozilla's capacity release rate */
	int		 max_releases;	/* release rounds before 503 */
	int64_t		 capacity;	/* of the nodes created at start */
	int		 line;		/* of [database]; 0 if left out */
};

/*
 * [remote]: worker hosts over CURVE-authenticated TCP (docs/protocol.md,
 * docs/deployment.md).  A front sets listen, a worker host connect; never
 * both.  Keys are Z85 text (40 characters and a NUL).
 */
#define CONFIG_Z85_SIZE	41
struct remote_config {
	char		*listen;	/* front: tcp://ADDRESS:PORT, or NULL */
	char		*connect;	/* worker host: tcp://HOST:PORT, or NULL */
	char		 secret_key[CONFIG_Z85_SIZE]; /* this end's; "" unset;
					   wiped by config_purge_secrets() */
	char		 public_key[CONFIG_Z85_SIZE]; /* derived from it */
	char		*server_key;	/* worker host: the front's public key */
	char		*authorized_keys; /* front: the file, as resolved */
	struct authkeys	*keys;		/* front: its keys (pool/curve.h) */
	int		 handshake_ms;	/* a CURVE handshake's limit */
	int		 peer_queue;	/* messages per peer and direction */
	int		 line;		/* of [remote], for whole-file checks */
};

struct config {
	char		*path;		/* the file it came from */
	/* [server] */
	char		*listen;	/* as written, for messages */
	char		*listen_host;	/* numeric address */
	uint16_t	 listen_port;
	int		 workers;
	int		 worker_credit;	/* jobs one worker may hold at once */
	char		*runtime_dir;
	char		*state_dir;	/* persistent state: the SQLite file */
	size_t		 max_body;
	int		 queue_limit;
	int		 request_timeout_ms;
	int		 shutdown_timeout_ms; /* drain limit on SIGTERM */
	int		 max_connections;
	int		 per_ip_connections;
	int		 idle_timeout;	/* seconds an idle connection lives */
	size_t		 connection_memory; /* MHD's buffer per connection */
	int		 access_log;	/* 0/1 */
	int		 sandbox;	/* 0/1: confine front, workers (sandbox.c) */
	int		 log_level;	/* enum log_level */
	int		 log_format;	/* enum log_format */
	int		 heartbeat_ms;
	int		 heartbeat_liveness; /* missed beats before a peer is dead */
	int		 orphan_timeout_ms; /* worker without a front exits */
	long		 max_jobs;	/* worker recycles after this many; 0 off */
	long		 max_rss_kb;	/* ... or past this resident size; 0 off */
	/* [metrics] */
	char		*metrics_listen; /* as written; NULL: no listener */
	char		*metrics_host;	/* numeric address */
	uint16_t	 metrics_port;
	struct secret	*uid_secret;	/* keys the uid hash, not signing */
	struct issuer	*issuers;
	size_t		 nissuers;
	struct service	*services;
	size_t		 nservices;
	struct browserid_issuer *browserid;
	size_t		 nbrowserid;
	struct config_database *database;	/* [database] */
	struct remote_config remote;
	int		 server_line;	/* of [server], for whole-file checks */
};

/* errlen: CONFIG_ERRLEN holds every error reported; less holds fewer. */
struct config	*config_load(const char *path, char *err, size_t errlen);
void		 config_free(struct config *);
/*
 * For a reload: the keys next sets that a reload cannot apply (those only
 * the front reads, at its start) get running's values back, each logged
 * with the value kept and the one asked for (no secret is such a key).
 * Returns how many.
 */
size_t		 config_keep_running(struct config *running,
		    struct config *next);
/* Undoes config_keep_running(running, next), silently: a refused reload. */
void		 config_keep_undo(struct config *running, struct config *next);
/* The tables of every section and key: what the documents are made from. */
const struct conf_schema *config_schema(void);
/* Wipes every secret and drops every key: the front needs none of them. */
void		 config_purge_secrets(struct config *);

/* Whether any service has nodes = database (the workers open it). */
int		 config_uses_database(const struct config *);
/*
 * The longest one job may legitimately take in a worker, in ms: the
 * hung-worker rule (docs/architecture.md) and request_timeout are checked
 * against it.  Verification and minting, the wait for an issuer's keys,
 * the reply's wait in the outbox, and each remote call the job may make
 * (the node-assignment database's timeout; a verifier's).
 */
long		 config_job_max_ms(const struct config *);
/*
 * Whether the longest job fits the hung-worker rule and request_timeout of
 * c: 0, or -1 with the reason in err.  A reload checks it again once the
 * keys it cannot apply have their running values back (a file that raises
 * both heartbeat_interval and a timeout passes config_load, but the
 * heartbeat in force is the running one).
 */
int		 config_job_fits(const struct config *c, char *err,
		    size_t errlen);
/*
 * The SQLite file of a sqlite:// database URL (a pointer into url), or
 * NULL for another kind of URL.
 */
const char	*config_sqlite_path(const char *url);

const struct service *config_service(const struct config *, const char *name);
/*
 * The name of the i-th [service] and its token format's name into
 * *format, for metric labels (a closed set: the file's); NULL past the
 * last.  The front may call it: it reads no secret.
 */
const char	*config_service_label(const struct config *, size_t i,
		    const char **format);

/* The port of a tcp://HOST:PORT endpoint ([remote]); 0 if none. */
uint16_t	 config_endpoint_port(const char *endpoint);

/*
 * The service that mints uid's tokens: svc itself, or for a nodes_file
 * service the entry of nodes[] that its node store picks for uid (store/:
 * rendezvous hashing, docs/tokens.md: stable per uid, and adding or
 * removing a node moves only the users of that node).  NULL, logged, when
 * the store cannot say now; rendezvous hashing always can.
 */
const struct service *config_node_for(const struct service *svc,
		    uint64_t uid);

#endif
