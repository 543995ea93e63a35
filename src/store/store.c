/*
 * store.c - calls into whichever node-assignment store a service has
 * (store.h): the callers never know which implementation answers.
 */
#include "store/store.h"

int
store_node_for(struct store *s, const struct store_user *user, size_t *node,
    char *err, size_t errlen)
{
	return s->ops->node_for(s, user, node, err, errlen);
}

void
store_free(struct store *s)
{
	if (s != NULL)
		s->ops->free(s);
}
