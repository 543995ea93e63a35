/*
 * mint.c - one job, start to finish, inside a worker.
 *
 * Order matters for what a client learns: an unknown service is reported
 * before the assertion is looked at (it costs nothing and says nothing
 * about the credential), and the assertion is verified before anything is
 * derived from it, by the verifier the request named if it named one.
 *
 * A Bearer token goes to the fxa-oauth issuer when it is no JWS, or a JWS
 * whose "iss" is that issuer's (identity/fxa.c); to the JWT verifiers
 * otherwise.  A service with nodes = database then follows Mozilla's
 * tokenserver (docs/nodes.md): X-KeyID's refusals once the credential is
 * known good, then one call to the worker's database connection
 * (store/users.h) that finds or assigns the user's record and applies the
 * generation, keys_changed_at and client-state rules, then a token with
 * the record's uid and node and Mozilla's payload fields.  Other services
 * derive the uid from a keyed hash and mint as they always did.
 */
#include "mint.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/b64.h"
#include "core/log.h"
#include "identity/browserid.h"
#include "identity/fxa.h"
#include "core/clock.h"
#include "config.h"
#include "core/hkdf.h"
#include "identity/jws.h"
#include "identity/issuer.h"
#include "identity/jose.h"
#include "identity/keys.h"
#include "pool/protocol.h"
#include "pool/stats.h"
#include "tokens/secret.h"
#include "tokens/service.h"

int
mint_uid(const struct config *cfg, const char *ns, const char *sub,
    uint64_t *uid)
{
	uint8_t	 msg[CONFIG_MAX_UID_NAMESPACE + 1 + JWT_MAX_SUB];
	uint8_t	 mac[SHA256_LEN];
	size_t	 nlen = strlen(ns), slen = strlen(sub);
	uint64_t v = 0;
	int	 i;

	if (nlen > CONFIG_MAX_UID_NAMESPACE || slen > JWT_MAX_SUB)
		return -1;
	memcpy(msg, ns, nlen);
	msg[nlen] = '\0';
	memcpy(msg + nlen + 1, sub, slen);
	if (hmac_sha256(mac, cfg->uid_secret->bytes, cfg->uid_secret->len, msg,
	    nlen + 1 + slen) == -1)
		return -1;
	for (i = 0; i < 8; i++)
		v = v << 8 | mac[i];
	/* 53 bits: exact in a JSON number for every client (IEEE double). */
	*uid = v >> 11;
	return 0;
}

static void
fail(struct mint_result *res, const char *error, const char *name,
    const char *description)
{
	res->error = error;
	res->error_name = name;
	res->description = description;
}

/*
 * A refused assertion of either kind, as the protocol error of its class
 * (jose.c's table): clock problems are told apart.
 */
static void
refuse(struct mint_result *res, enum jose_err e)
{
	static const char *const proto[] = {
		[JOSE_CLASS_CREDENTIALS] = PROTO_ERR_INVALID_CREDENTIALS,
		[JOSE_CLASS_TIMESTAMP] = PROTO_ERR_INVALID_TIMESTAMP,
		[JOSE_CLASS_INTERNAL] = PROTO_ERR_INTERNAL,
	};

	fail(res, proto[jose_err_class(e)], "assertion", jose_strerror(e));
}

/*
 * The uid of a backed BrowserID assertion: verified against the
 * [browserid] sections (timestamps in milliseconds), the issuer allowed
 * for the service, then the same keyed hash as a JWT identity, in the
 * section's uid_namespace (its issuer domain by default), of the email.
 * -1 if *res holds an error.
 */
static int
browserid_uid(const struct config *cfg, const struct mint_request *req,
    int64_t now, struct mint_result *res)
{
	struct browserid_identity	 id;
	enum jose_err			 e;

	e = browserid_verify(cfg->browserid, cfg->nbrowserid, req->assertion,
	    req->assertion_len, now * 1000, &id);
	if (e == JOSE_OK && !browserid_allows_service(id.issuer, req->service,
	    req->service_len))
		e = JOSE_ERR_SERVICE_NOT_ALLOWED;
	if (e != JOSE_OK) {
		refuse(res, e);
		return -1;
	}
	if (mint_uid(cfg, id.issuer->uid_namespace, id.email,
	    &res->uid) == -1) {
		fail(res, PROTO_ERR_INTERNAL, "assertion",
		    "cannot derive the user id");
		return -1;
	}
	return 0;
}

/* Whether the request names kind k ("jwt", "browserid"). */
static int
kind_is(const struct mint_request *req, const char *k)
{
	return req->kind_len == strlen(k) &&
	    memcmp(req->kind, k, req->kind_len) == 0;
}

/*
 * Which verifier the assertion goes to: 1 BrowserID, 0 JWT, -1 if *res
 * holds a refusal.  Unnamed, the look decides: a JWS never holds '~', a
 * backed BrowserID assertion always does.  A request that names its kind
 * (its Authorization scheme or token type) reaches that verifier only:
 * an assertion that does not look like one is refused, never handed to
 * the other, so that a scheme means what it says.
 */
static int
route(const struct mint_request *req, struct mint_result *res)
{
	int	 backed = memchr(req->assertion, '~',
		    req->assertion_len) != NULL;

	if (req->kind == NULL)
		return backed;
	if (kind_is(req, "jwt") && !backed)
		return 0;
	if (kind_is(req, "browserid") && backed)
		return 1;
	if (kind_is(req, "jwt"))
		fail(res, PROTO_ERR_INVALID_CREDENTIALS, "assertion", "a JWT "
		    "was expected (Authorization: Bearer, or a JWT token "
		    "type), not a BrowserID assertion");
	else if (kind_is(req, "browserid"))
		fail(res, PROTO_ERR_INVALID_CREDENTIALS, "assertion", "a "
		    "BrowserID assertion was expected (Authorization: "
		    "BrowserID), not a JWT");
	else
		fail(res, PROTO_ERR_INVALID_REQUEST, "kind", "kind must be "
		    "jwt or browserid");
	return -1;
}

static const struct service *
find_service(const struct config *cfg, const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < cfg->nservices; i++)
		if (strlen(cfg->services[i].name) == len &&
		    memcmp(cfg->services[i].name, name, len) == 0)
			return &cfg->services[i];
	return NULL;
}

/* Who the verified credential names, whichever verifier said so. */
struct identity {
	const struct issuer	*issuer;
	char			 user[JWT_MAX_SUB + 1];	/* sub, email, FxA uid */
	int64_t			 generation;	/* FxA's; 0: absent */
};

/*
 * An FxA OAuth token, by its issuer (fxa.c): a refusal is the client's
 * (401), an outage is not (503, which the front sends with Retry-After).
 */
static int
verify_fxa(const struct issuer *is, const struct mint_request *req,
    int64_t now, struct identity *id, struct mint_result *res)
{
	struct fxa_identity	 fid;
	const char		*why = "the token is refused";

	switch (fxa_verify(is, req->assertion, req->assertion_len, now, &fid,
	    &why)) {
	case FXA_OK:
		break;
	case FXA_INVALID:
		fail(res, PROTO_ERR_INVALID_CREDENTIALS, "assertion", why);
		return -1;
	case FXA_UNAVAILABLE:
		fail(res, PROTO_ERR_UNAVAILABLE, "", why);
		return -1;
	}
	if (!issuer_allows_service(is, res->svc->name)) {
		refuse(res, JOSE_ERR_SERVICE_NOT_ALLOWED);
		return -1;
	}
	id->issuer = is;
	snprintf(id->user, sizeof(id->user), "%s", fid.user);
	id->generation = fid.generation;
	return 0;
}

/* A JWT, by the issuer its "iss" names (jws.c). */
static int
verify_jwt(const struct config *cfg, const struct mint_request *req,
    int64_t now, struct identity *ident, struct mint_result *res)
{
	struct jwt_identity	 id;
	enum jose_err		 e;

	e = jwt_verify(cfg->issuers, cfg->nissuers, req->assertion,
	    req->assertion_len, now, &id);
	/*
	 * A key we lack may be a rotation: a background refresh is asked for
	 * and waited for a moment (KEYS_WAIT_MS), never more.
	 */
	if ((e == JOSE_ERR_KID_UNKNOWN || e == JOSE_ERR_NO_KEYS ||
	    e == JOSE_ERR_NO_FITTING_KEY) && id.issuer != NULL) {
		switch (keys_retry(cfg->issuers, cfg->nissuers, id.issuer,
		    mono_ms())) {
		case KEYS_REPLACED:
			e = jwt_verify(cfg->issuers, cfg->nissuers,
			    req->assertion, req->assertion_len, now, &id);
			break;
		case KEYS_PENDING:
			e = JOSE_ERR_KEYS_REFRESHING;
			break;
		case KEYS_SAME:
			break;
		}
	}
	if (e == JOSE_OK && !issuer_allows_service(id.issuer, res->svc->name))
		e = JOSE_ERR_SERVICE_NOT_ALLOWED;
	if (e != JOSE_OK) {
		refuse(res, e);
		return -1;
	}
	ident->issuer = id.issuer;
	memcpy(ident->user, id.ident, sizeof(ident->user));
	ident->generation = 0;
	return 0;
}

/* ---- nodes = database ------------------------------------------------- */

/*
 * Opens the connection if it is not; then the services' rows.  0 or -1.
 * In a job (in_job) a reopened connection is all it does, -1: the job
 * makes at most two bounded calls (config_job_max_ms), and one that
 * reopened answers 503; the next job makes the rows and assigns.
 */
static int
db_ready(const struct config *cfg, struct mint_db *m, int in_job)
{
	const struct config_database	*d = cfg->database;
	struct users_settings		 st = { 0 };
	const struct service		*sv;
	enum users_status		 us = USERS_OK;
	char				 err[512];
	size_t				 i;

	if (m->db == NULL) {
		st.url = d->url;
		st.password = d->password != NULL ?
		    (const char *)d->password->bytes : NULL;
		st.timeout_ms = d->timeout_ms;
		st.release_rate = d->release_rate;
		st.max_releases = d->max_releases;
		if ((m->db = users_open(&st, err, sizeof(err))) == NULL) {
			if (m->state != 0)
				log_warnx("database: %s (tried again with each "
				    "request that needs it)", err);
			m->state = 0;
			return -1;
		}
		log_info("database: %s: connected", d->url);
		if (in_job) {
			m->state = 1;
			return -1;
		}
	}
	for (i = 0; !m->booted && i < cfg->nservices; i++) {
		sv = &cfg->services[i];
		if (!sv->nodes_database)
			continue;
		us = users_bootstrap(m->db, sv->name, sv->pattern,
		    (const char *const *)sv->boot, sv->nboot,
		    d->capacity, err, sizeof(err));
		if (us != USERS_OK) {
			if (m->state != 0)
				log_warnx("database: service %s: %s", sv->name,
				    err);
			m->state = us == USERS_UNAVAILABLE ? 0 : 1;
			return -1;
		}
	}
	m->booted = 1;
	m->state = 1;
	return 0;
}

void
mint_db_open(const struct config *cfg, struct mint_db *m)
{
	memset(m, 0, sizeof(*m));
	m->state = -1;
	if (!config_uses_database(cfg))
		return;
	if (db_ready(cfg, m, 0) == 0)
		log_debug("database: %s ready", cfg->database->url);
}

void
mint_db_close(struct mint_db *m)
{
	users_close(m->db);
	m->db = NULL;
	m->booted = 0;
}

/*
 * X-KeyID as the front read it, refused now that the credential is known
 * good (Mozilla's order), with Mozilla's statuses.  -1 if *res holds one.
 */
static int
key_id_refused(const struct mint_request *req, struct mint_result *res)
{
	const char	*e = req->key_id_error;

	if (e == NULL)
		return 0;
	if (strcmp(e, PROTO_KEYID_MISSING) == 0)
		fail(res, PROTO_ERR_INVALID_KEY_ID, "",
		    "Missing X-KeyID header");
	else if (strcmp(e, PROTO_KEYID_INVALID) == 0)
		fail(res, PROTO_ERR_INVALID_KEY_ID, "",
		    "Invalid X-KeyID header");
	else if (strcmp(e, PROTO_KEYID_MISMATCH) == 0)
		fail(res, PROTO_ERR_INVALID_CLIENT_STATE, "", "Unauthorized");
	else
		fail(res, PROTO_ERR_INVALID_CREDENTIALS, "", "Unauthorized");
	return -1;
}

/*
 * The user's email in the database: Mozilla's "<FxA uid>@<email_domain>"
 * for an FxA user; a JWT's identity as it is when it is an address, else
 * "<identity>@<host of the issuer's uid_namespace>", so that the users
 * of two issuers stay apart as their uids do.  -1 if it does not fit.
 */
static int
user_email(const struct identity *id, char *out, size_t len)
{
	const char	*ns = id->issuer->uid_namespace, *p;
	size_t		 hostlen;
	int		 n;

	if (id->issuer->type == ISSUER_FXA_OAUTH)
		n = snprintf(out, len, "%s@%s", id->user,
		    id->issuer->email_domain);
	else if (strchr(id->user, '@') != NULL)
		n = snprintf(out, len, "%s", id->user);
	else {
		if ((p = strstr(ns, "://")) != NULL)
			ns = p + 3;
		hostlen = strcspn(ns, "/");
		n = snprintf(out, len, "%s@%.*s", id->user, (int)hostlen, ns);
	}
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* n bytes as 2n lowercase hex digits and a NUL (no printf per token). */
static void
hex_encode(char *out, const uint8_t *in, size_t n)
{
	static const char	digits[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hex_nibble(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
	    c - 'a' + 10 : -1;
}

/* The first 32 hex digits of HMAC-SHA256(key, msg): Mozilla's metrics hash. */
static int
metrics_hash(const struct secret *key, const char *msg, size_t len,
    char out[33])
{
	uint8_t	mac[SHA256_LEN];

	if (hmac_sha256(mac, key->bytes, key->len, msg, len) == -1)
		return -1;
	hex_encode(out, mac, 16);
	return 0;
}

/*
 * FxA's key id for the token: "<keys_changed_at, 13 digits>-<client state
 * in base64url without padding>", keys_changed_at falling back to the
 * generation, as Mozilla's tokenserver writes it.
 */
static void
fxa_kid(const struct users_record *rec, const char *client_state,
    char *out, size_t len)
{
	uint8_t	raw[USERS_CLIENT_STATE_MAX / 2];
	char	b64[USERS_CLIENT_STATE_MAX];
	size_t	i, n = strlen(client_state) / 2;

	/* Lowercase hex: the worker checked the JOB's, the store its own. */
	for (i = 0; i < n && i < sizeof(raw); i++)
		raw[i] = (uint8_t)(hex_nibble(client_state[2 * i]) << 4 |
		    hex_nibble(client_state[2 * i + 1]));
	b64url_encode(b64, raw, i, B64_NOPAD);
	snprintf(out, len, "%013" PRId64 "-%s", rec->keys_changed_at != 0 ?
	    rec->keys_changed_at : rec->generation, b64);
}

/* The database's answer when it is no record, as Mozilla's statuses. */
static void
assign_failed(enum users_status st, const char *why, struct mint_result *res)
{
	switch (st) {
	case USERS_INVALID_GENERATION:
		fail(res, PROTO_ERR_INVALID_GENERATION, "", "Unauthorized");
		break;
	case USERS_INVALID_KEYS_CHANGED_AT:
		fail(res, PROTO_ERR_INVALID_KEYS_CHANGED_AT, "",
		    "Unauthorized");
		break;
	case USERS_INVALID_CLIENT_STATE:
		fail(res, PROTO_ERR_INVALID_CLIENT_STATE, "X-Client-State",
		    why != NULL ? why : "Unacceptable client-state value");
		break;
	case USERS_NO_NODE:
		/* Mozilla's body is its internal error's, with a 503. */
		fail(res, PROTO_ERR_NO_NODE, "", "Server error");
		break;
	case USERS_UNAVAILABLE:
		fail(res, PROTO_ERR_UNAVAILABLE, "",
		    "Resource is not available");
		break;
	default:
		fail(res, PROTO_ERR_INTERNAL, "", "Server error");
		break;
	}
}

/* Milliseconds since the epoch: the database's timestamps. */
static int64_t
wall_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A nodes = database service: the record, then the token.  The database
 * call is one transaction, after every crypto step of verification and
 * before the token's, so no transaction waits on crypto.
 */
static void
issue_assigned(const struct config *cfg, const struct mint_request *req,
    const struct identity *id, int64_t now, struct mint_result *res)
{
	const struct service	*svc = res->svc;
	struct users_query	 q;
	struct users_record	 rec;
	struct token_claims	 claims = { 0 };
	enum users_status	 st;
	const char		*why = NULL;
	uint64_t		 t0;
	char			 email[USERS_EMAIL_MAX + 1], kid[64];
	char			 device[33], tohash[32 + 4 + 1];

	if (key_id_refused(req, res) == -1)
		return;
	if (user_email(id, email, sizeof(email)) == -1) {
		fail(res, PROTO_ERR_INVALID_CREDENTIALS, "assertion",
		    "the identity is too long to be a user of the database");
		return;
	}
	if (req->db == NULL || (!req->db->booted &&
	    db_ready(cfg, req->db, 1) == -1)) {
		fail(res, PROTO_ERR_UNAVAILABLE, "",
		    "Resource is not available");
		return;
	}
	q.service = svc->name;
	q.email = email;
	q.generation = id->generation;
	q.keys_changed_at = req->keys_changed_at;
	/* X-KeyID's; X-Client-State's where there is no key id (/v1/token). */
	q.client_state = req->key_client_state != NULL ?
	    req->key_client_state : req->keys_changed_at == 0 &&
	    req->client_state != NULL ? req->client_state : "";
	t0 = mono_us();
	st = users_assign(req->db->db, &q, wall_ms(), &rec, &why);
	metric_hist_observe(&req->db->time, stats_bounds, STATS_NBOUNDS,
	    (double)(mono_us() - t0) / 1e6);
	if (st != USERS_OK) {
		/* The operator's to know; the client gets Mozilla's words. */
		if (st == USERS_ERROR || st == USERS_UNKNOWN_SERVICE ||
		    (st == USERS_UNAVAILABLE && req->db->state != 0))
			log_warnx("database: service %s: %s", svc->name,
			    users_last_error(req->db->db));
		req->db->state = st == USERS_UNAVAILABLE ? 0 : 1;
		assign_failed(st, why, res);
		return;
	}
	if (req->db->state == 0)
		log_info("database: answering again");
	req->db->state = 1;
	if (metrics_hash(service_metrics_secret(svc), id->user,
	    strlen(id->user), res->hashed_fxa_uid) == -1 ||
	    snprintf(tohash, sizeof(tohash), "%snone", res->hashed_fxa_uid) < 0 ||
	    metrics_hash(service_metrics_secret(svc), tohash, strlen(tohash),
	    device) == -1) {
		fail(res, PROTO_ERR_INTERNAL, "", "Server error");
		return;
	}
	fxa_kid(&rec, q.client_state, kid, sizeof(kid));
	res->duration = req->duration > 0 && req->duration <= svc->duration ?
	    req->duration : svc->duration;
	res->uid = (uint64_t)rec.uid;
	res->expires = now + res->duration;
	snprintf(res->endpoint, sizeof(res->endpoint), "%s", rec.endpoint);
	res->api_endpoint = res->endpoint;
	res->node_type = svc->node_type;
	claims.uid = res->uid;
	claims.node = rec.node;
	claims.expires = res->expires;
	claims.fxa_uid = id->user;
	claims.fxa_kid = kid;
	claims.hashed_fxa_uid = res->hashed_fxa_uid;
	claims.hashed_device_id = device;
	if (token_mint(svc->format, &svc->secrets, &claims, now, res->token,
	    res->key) == -1)
		fail(res, PROTO_ERR_INTERNAL, "", "Server error");
}

/* ---- the job ---------------------------------------------------------- */

/*
 * An unknown service.  "version" when a service of the same application
 * exists (its name up to a '-' is a prefix of the one asked for), which
 * GET /1.0 answers as Mozilla does ("Unsupported application version").
 */
static void
unknown_service(const struct config *cfg, const struct mint_request *req,
    struct mint_result *res)
{
	const char	*name;
	size_t		 i, k;

	for (i = 0; i < cfg->nservices; i++) {
		name = cfg->services[i].name;
		for (k = 0; k < req->service_len; k++)
			if (req->service[k] == '-' && name[k] == '-' &&
			    memcmp(name, req->service, k) == 0) {
				fail(res, PROTO_ERR_UNKNOWN_SERVICE, "version",
				    "unknown service");
				return;
			} else if (name[k] == '\0')
				break;
	}
	fail(res, PROTO_ERR_UNKNOWN_SERVICE, "service", "unknown service");
}

void
mint_token(const struct config *cfg, const struct mint_request *req,
    int64_t now, struct mint_result *res)
{
	struct identity		 id;
	struct token_claims	 claims = { 0 };
	const struct issuer	*fx;
	int			 backed;

	memset(res, 0, sizeof(*res));
	if ((res->svc = find_service(cfg, req->service,
	    req->service_len)) == NULL) {
		unknown_service(cfg, req, res);
		return;
	}
	if ((backed = route(req, res)) == -1)
		return;
	if (backed && res->svc->nodes_database) {
		fail(res, PROTO_ERR_INVALID_CREDENTIALS, "assertion", "this "
		    "service takes OAuth Bearer tokens, not BrowserID "
		    "assertions");
		return;
	}
	if (backed) {
		if (browserid_uid(cfg, req, now, res) == -1)
			return;
		goto issue;
	}
	fx = fxa_route(cfg->issuers, cfg->nissuers, req->assertion,
	    req->assertion_len);
	if ((fx != NULL ? verify_fxa(fx, req, now, &id, res) :
	    verify_jwt(cfg, req, now, &id, res)) == -1)
		return;
	if (res->svc->nodes_database) {
		issue_assigned(cfg, req, &id, now, res);
		return;
	}
	if (mint_uid(cfg, id.issuer->uid_namespace, id.user,
	    &res->uid) == -1) {
		fail(res, PROTO_ERR_INTERNAL, "assertion",
		    "cannot derive the user id");
		return;
	}
issue:
	/* A service with several nodes mints with the uid's node. */
	if ((res->svc = config_node_for(res->svc, res->uid)) == NULL) {
		fail(res, PROTO_ERR_INTERNAL, "service", "cannot choose a node");
		return;
	}
	res->duration = res->svc->duration;
	res->expires = now + res->duration;
	res->api_endpoint = res->svc->node;
	claims.uid = res->uid;
	claims.node = res->svc->node;
	claims.expires = res->expires;
	claims.client_state = req->client_state;
	if (token_mint(res->svc->format, &res->svc->secrets, &claims, now,
	    res->token, res->key) == -1)
		fail(res, PROTO_ERR_INTERNAL, "service",
		    "cannot mint the token");
}
