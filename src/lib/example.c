/*
 * example.c - how a C service uses libtokend-verify, and the integration
 * tests' way to drive the shared library.
 *
 *   tokend-verify-example [-f tokenlib|fernet] SECRET_FILE < tokens
 *
 * Loads the service's secret file once, then checks each token read from
 * standard input (one a line) at the current time and prints one line per
 * token:
 *
 *   ok SECRET_INDEX FORMAT UID KEY PAYLOAD
 *   invalid STATUS REASON
 *
 * A real service does the same per request: tokend_verify() on the token
 * from its Authorization header, then uses t.uid, and t.key to check the
 * request's signature (Hawk, in Mozilla's services).  Built against the
 * installed library with:
 *
 *   cc -o example example.c $(pkg-config --cflags --libs tokend-verify)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tokend/verify.h>

int
main(int argc, char **argv)
{
	struct tokend_verifier	*v;
	struct tokend_token	 t;
	char			 line[TOKEND_TOKEN_MAX + 2], err[512];
	int			 rc, first = 1;

	if (argc == 4 && strcmp(argv[1], "-f") == 0) {
		first = 3;
	} else if (argc != 2) {
		fprintf(stderr, "usage: tokend-verify-example [-f FORMAT] "
		    "SECRET_FILE < tokens\n");
		return 2;
	}
	if ((v = tokend_verifier_new()) == NULL ||
	    tokend_verifier_load_file(v, argv[first], err, sizeof(err)) == -1) {
		fprintf(stderr, "tokend-verify-example: %s\n",
		    v == NULL ? "out of memory" : err);
		return 2;
	}
	if (first == 3 && tokend_verifier_set_format(v,
	    strcmp(argv[2], "fernet") == 0 ? TOKEND_FORMAT_FERNET :
	    TOKEND_FORMAT_TOKENLIB) == -1)
		return 2;
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		rc = tokend_verify(v, line, (int64_t)time(NULL), &t);
		if (rc == TOKEND_OK)
			printf("ok %u %s %llu %s %s\n", t.secret_index,
			    tokend_format_name(t.format),
			    (unsigned long long)t.uid, t.key, t.payload);
		else
			printf("invalid %d %s\n", rc, tokend_strerror(rc));
		tokend_token_clear(&t);
		fflush(stdout);
	}
	tokend_verifier_free(v);
	return 0;
}
