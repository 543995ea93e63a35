/*
 * mint.c - one job, start to finish, inside a worker.
 *
 * Order matters for what a client learns: an unknown service is reported
 * before the assertion is looked at (it costs nothing and says nothing
 * about the credential), and the assertion is verified before anything is
 * derived from it, by the verifier the request named if it named one.
 */
#include "mint.h"

#include <string.h>

#include "identity/browserid.h"
#include "core/clock.h"
#include "config.h"
#include "core/hkdf.h"
#include "identity/jws.h"
#include "identity/issuer.h"
#include "identity/jose.h"
#include "identity/keys.h"
#include "pool/protocol.h"
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

void
mint_token(const struct config *cfg, const struct mint_request *req,
    int64_t now, struct mint_result *res)
{
	struct jwt_identity	 id;
	struct token_claims	 claims = { 0 };
	enum jose_err		 e;
	int			 backed;

	memset(res, 0, sizeof(*res));
	if ((res->svc = find_service(cfg, req->service,
	    req->service_len)) == NULL) {
		fail(res, PROTO_ERR_UNKNOWN_SERVICE, "service",
		    "unknown service");
		return;
	}
	if ((backed = route(req, res)) == -1)
		return;
	if (backed) {
		if (browserid_uid(cfg, req, now, res) == -1)
			return;
		goto issue;
	}
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
		return;
	}
	if (mint_uid(cfg, id.issuer->uid_namespace, id.ident,
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
	res->expires = now + res->svc->duration;
	claims.uid = res->uid;
	claims.node = res->svc->node;
	claims.expires = res->expires;
	claims.client_state = req->client_state;
	if (token_mint(res->svc->format, &res->svc->secrets, &claims, now,
	    res->token, res->key) == -1)
		fail(res, PROTO_ERR_INTERNAL, "service",
		    "cannot mint the token");
}
