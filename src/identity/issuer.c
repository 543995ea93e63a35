/*
 * issuer.c - what the issuer sections themselves answer: whether a
 * section's assertions may be exchanged for tokens of a service.  [issuer]
 * and [browserid] keep their "services" list alike, so one rule serves
 * both, and a change to it (a pattern, say) is made once.
 */
#include "identity/issuer.h"

#include <string.h>

/* Whether services[0..n) holds name[0..len); a list of none holds all. */
static int
services_allow(char *const *services, size_t n, const char *name,
    size_t len)
{
	size_t	 i;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (strlen(services[i]) == len &&
		    memcmp(services[i], name, len) == 0)
			return 1;
	return 0;
}

int
issuer_allows_service(const struct issuer *is, const char *name)
{
	return services_allow(is->services, is->nservices, name,
	    strlen(name));
}

int
browserid_allows_service(const struct browserid_issuer *is,
    const char *name, size_t len)
{
	return services_allow(is->services, is->nservices, name, len);
}
