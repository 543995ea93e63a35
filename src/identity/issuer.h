/*
 * issuer.h - the trusted issuers of identity assertions, as identity reads
 * them: [issuer NAME] (JWTs, jws.c) and [browserid NAME] (BrowserID
 * certificates, browserid.c).
 *
 * Identity owns these structs and config.c fills them from the INI file:
 * the verifiers take the arrays as parameters and never see the rest of
 * the configuration, so identity depends on core alone and config.h may
 * include this without a loop (issue 14).
 */
#ifndef TOKEND_ISSUER_H
#define TOKEND_ISSUER_H

#include <stddef.h>
#include <stdint.h>

struct jwks;
struct browserid_key;

/* Which claim of an issuer's JWT is the user's identity. */
enum identity_claim {
	IDENTITY_SUB,		/* "sub" (the default) */
	IDENTITY_EMAIL,		/* "email", which must look like an address */
};

/* What an [issuer]'s "type" says its assertions are. */
enum issuer_type {
	ISSUER_JWT = 0,		/* "jwt" (the default): JWTs it signs, jws.c */
	ISSUER_FXA_OAUTH,	/* "fxa-oauth": Firefox Accounts OAuth tokens,
				   fxa.c (Authorization: Bearer) */
};

/* One "name=value" of an issuer's "require". */
struct claim_req {
	char		*name;
	int		 is_bool;	/* value true/false: a JSON boolean */
	int		 bval;
	char		*sval;		/* otherwise: this string, exactly */
};

/*
 * An issuer's HS* shared secret as identity reads it; len 0: none.  The
 * bytes sit in secret memory (wiped, kept out of core dumps) that config.c
 * loads and frees with tokens/secret.h, which identity may not include.
 */
struct issuer_secret {
	uint8_t		*bytes;
	size_t		 len;
};

struct issuer {
	char		*name;		/* section name: [issuer NAME] */
	int		 type;		/* enum issuer_type */
	/* type fxa-oauth (fxa.c); NULL/0 for jwt */
	char		*verify_url;	/* FxA's /v1/verify */
	char		*verify_ca_file; /* CA bundle for it, or NULL */
	char		*scope;		/* the scope a token must hold */
	char		*email_domain;	/* users are <fxa uid>@email_domain */
	int		 timeout_ms;	/* the whole verify_url call */
	int		 timeout_line;	/* where timeout is set, for messages */
	char		*iss;		/* required "iss" claim */
	char		*audience;	/* required in "aud" */
	char		*uid_namespace;	/* keys its uids: as set, or iss */
	/*
	 * The key set in use, or NULL (jwks_url only, not fetched yet).  The
	 * one member of the config that changes after load: it is
	 * per-process mutable state owned by the worker, where keys.c swaps
	 * it when jwks_file changes on disk or jwks_url is fetched.  The
	 * supervisor and the front never change it.  Only the worker's main
	 * thread reads or swaps it: keys.c's fetch thread hands a parsed set
	 * over and never touches this.
	 */
	struct jwks	*jwks;
	char		*jwks_file;	/* resolved path, or NULL */
	char		*jwks_url;	/* https:// URL, or NULL */
	char		*jwks_ca_file;	/* CA bundle for jwks_url, or NULL */
	int64_t		 jwks_refresh;	/* seconds between fetches */
	struct issuer_secret hs_secret;	/* HS* shared secret; len 0 if none */
	unsigned	 algorithms;	/* set of JWS_ALG_BIT() */
	int64_t		 leeway;	/* seconds of clock skew allowed */
	int		 identity;	/* enum identity_claim */
	struct claim_req *require;	/* claims that must have a value */
	size_t		 nrequire;
	char		*services_list;	/* as written; "*": every service */
	char		**services;	/* services_list split, checked; */
	size_t		 nservices;	/* 0 (NULL): every service */
	int		 line;		/* where the section starts */
};


/* A BrowserID certificate issuer: [browserid NAME]. */
struct browserid_issuer {
	char		*name;		/* section name */
	char		*issuer;	/* the certificate's "iss" */
	char		*uid_namespace;	/* keys its uids: as set, or issuer */
	struct browserid_key *key;	/* public_key_file, parsed */
	char		*audience;	/* the assertion's "aud", exactly */
	int		 secondary;	/* 1: may vouch for any email domain */
	int64_t		 leeway;	/* seconds of clock skew allowed */
	char		*services_list;	/* as written; NULL: every service */
	char		**services;	/* services_list split, checked */
	size_t		 nservices;
	int		 line;
};

/*
 * Whether assertions of is may be exchanged for tokens of service name
 * (browserid_allows_service: name[0..len)).  Both kinds of section keep
 * their "services" the same way: none listed ("*") allows every service.
 */
int		 issuer_allows_service(const struct issuer *is,
		    const char *name);
int		 browserid_allows_service(const struct browserid_issuer *is,
		    const char *name, size_t len);

#endif
