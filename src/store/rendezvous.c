/*
 * rendezvous.c - node assignment without state: rendezvous (highest random
 * weight) hashing over the node URLs of a nodes_file (docs/tokens.md).
 *
 * Every node scores the uid and the highest score wins, the first in the
 * list on a tie.  A node's seed depends only on its URL, so a uid keeps
 * its node whatever the order of the file, and adding or removing a node
 * moves only the uids that node gains or loses.  The seeds are hashed once,
 * here, so a request costs one splitmix64 per node.
 */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct rendezvous {
	struct store	 base;		/* first: a struct store * is one */
	size_t		 n;
	uint64_t	 seed[];	/* of each node, in list order */
};

static uint64_t
splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* First 8 bytes of SHA-256(url), big-endian: a node's seed. */
static int
node_seed(const char *url, uint64_t *seed)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned	i;

	if (EVP_Digest(url, strlen(url), md, NULL, EVP_sha256(), NULL) != 1)
		return -1;
	for (*seed = 0, i = 0; i < 8; i++)
		*seed = *seed << 8 | md[i];
	return 0;
}

static int
rendezvous_node_for(struct store *s, const struct store_user *user,
    size_t *node, char *err, size_t errlen)
{
	const struct rendezvous	*r = (const struct rendezvous *)s;
	uint64_t		 score, top = 0;
	size_t			 i;

	*node = 0;
	for (i = 0; i < r->n; i++) {
		score = splitmix64(r->seed[i] ^ user->uid);
		if (i == 0 || score > top) {
			*node = i;
			top = score;
		}
	}
	return 0;
}

static void
rendezvous_free(struct store *s)
{
	free(s);
}

static const struct store_ops rendezvous_ops = {
	"rendezvous", rendezvous_node_for, rendezvous_free
};

struct store *
store_rendezvous_new(const char *const *urls, size_t n, char *err,
    size_t errlen)
{
	struct rendezvous	*r;
	size_t			 i;

	if (n == 0) {
		snprintf(err, errlen, "no nodes to choose from");
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r) + n * sizeof(r->seed[0]))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->base.ops = &rendezvous_ops;
	r->n = n;
	for (i = 0; i < n; i++)
		if (node_seed(urls[i], &r->seed[i]) == -1) {
			snprintf(err, errlen, "cannot hash node %s", urls[i]);
			free(r);
			return NULL;
		}
	return &r->base;
}
