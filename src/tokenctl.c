/*
 * tokenctl.c - the operator's companion to tokend.
 *
 *   tokenctl bench -c tokend.conf -s SERVICE [-n COUNT] [-t SECONDS] FILE
 *       Reads assertions (one a line) from FILE and runs them through the
 *       exact pipeline a worker runs (mint_token: verify, uid, mint), in
 *       this one process on one core.  Prints tokens per second and
 *       microseconds of CPU per token: the ceiling scripts/bench compares
 *       the daemon with.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "mint.h"

#define MAX_ASSERTIONS	100000

static void
usage(void)
{
	fprintf(stderr, "usage: tokenctl bench -c CONFIG -s SERVICE "
	    "[-n COUNT] [-t SECONDS] FILE\n");
	exit(2);
}

/* One assertion per line; returns the count, exits on error. */
static size_t
read_assertions(const char *path, char ***out)
{
	FILE	*f;
	char	*line = NULL, **v;
	size_t	 cap = 0, n = 0;
	ssize_t	 len;

	if ((f = fopen(path, "r")) == NULL)
		fatal("%s", path);
	if ((v = calloc(MAX_ASSERTIONS, sizeof(*v))) == NULL)
		fatal("calloc");
	while (n < MAX_ASSERTIONS && (len = getline(&line, &cap, f)) != -1) {
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len > 0 && (v[n++] = strdup(line)) == NULL)
			fatal("strdup");
	}
	free(line);
	fclose(f);
	if (n == 0)
		fatalx("%s: no assertions", path);
	*out = v;
	return n;
}

static double
cpu_seconds(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int
bench(int argc, char **argv)
{
	const char		*conf = NULL, *service = NULL;
	struct config		*cfg;
	struct mint_request	 req;
	struct mint_result	 res;
	char			 err[1024], **as;
	size_t			 n, i, done = 0, failed = 0;
	long			 count = 0;
	double			 seconds = 3, cpu0, cpu, wall;
	uint64_t		 t0, deadline;
	int			 ch;

	while ((ch = getopt(argc, argv, "c:s:n:t:")) != -1) {
		switch (ch) {
		case 'c': conf = optarg; break;
		case 's': service = optarg; break;
		case 'n': count = strtol(optarg, NULL, 10); break;
		case 't': seconds = strtod(optarg, NULL); break;
		default: usage();
		}
	}
	if (conf == NULL || service == NULL || optind + 1 != argc)
		usage();
	if ((cfg = config_load(conf, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	n = read_assertions(argv[optind], &as);
	req.service = service;
	req.service_len = strlen(service);
	t0 = mono_us();
	deadline = t0 + (uint64_t)(seconds * 1e6);
	cpu0 = cpu_seconds();
	for (i = 0; count > 0 ? (long)done < count : mono_us() < deadline;
	    i = (i + 1) % n) {
		req.assertion = as[i];
		req.assertion_len = strlen(as[i]);
		mint_token(cfg, &req, wall_s(), &res);
		if (res.error != NULL && failed++ == 0)
			fprintf(stderr, "tokenctl: assertion %zu: %s\n", i,
			    res.description);
		done++;
	}
	wall = (double)(mono_us() - t0) / 1e6;
	cpu = cpu_seconds() - cpu0;
	printf("tokens: %zu\nfailed: %zu\nseconds: %.3f\n"
	    "tokens_per_second: %.0f\ncpu_us_per_token: %.2f\n",
	    done, failed, wall, (double)done / wall, cpu * 1e6 / (double)done);
	for (i = 0; i < n; i++)
		free(as[i]);
	free(as);
	config_free(cfg);
	return failed == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	log_init("tokenctl", LOG_LVL_WARN);
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "bench") == 0)
		return bench(argc - 1, argv + 1);
	usage();
	return 2;
}
