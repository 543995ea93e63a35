/*
 * main.c - command line of tokend: check the config, or become the
 * supervisor of a front and a pool of workers.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core/log.h"
#include "core/proctitle.h"
#include "core/version.h"
#include "supervisor.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: tokend [-t] [-d] [--worker] -c FILE\n"
	    "  -c FILE  configuration file (see tokend.conf(5))\n"
	    "  --worker run a worker host: workers only, connecting to the\n"
	    "           front of [remote] connect (no HTTP front here)\n"
	    "  -t       check the configuration and exit (0 good, 1 bad)\n"
	    "  -d       log at debug level\n"
	    "  -V       print the version\n"
	    "  -h       print this (also --help)\n");
}

/* --help as well as -h: what every operator types first. */
static const struct option long_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "worker", no_argument, NULL, 'W' },
	{ NULL, 0, NULL, 0 }
};

int
main(int argc, char **argv)
{
	struct config	*cfg;
	const char	*path = NULL;
	char		 err[CONFIG_ERRLEN];
	int		 ch, test = 0, debug = 0, worker_host = 0;

	while ((ch = getopt_long(argc, argv, "c:dhtV", long_opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 't':
			test = 1;
			break;
		case 'V':
			printf("tokend %s (commit %s, built %s)\n",
			    tokend_version, tokend_commit, tokend_build);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case 'W':
			worker_host = 1;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("supervisor", debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	if ((cfg = config_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	/* One role per file: a front listens, a worker host connects. */
	if (worker_host != (cfg->remote.connect != NULL)) {
		fprintf(stderr, worker_host ? "%s: tokend --worker needs "
		    "[remote] connect (the front's endpoint)\n" : "%s: [remote] "
		    "connect is a worker host's: run tokend --worker -c %s\n",
		    path, path);
		config_free(cfg);
		return 1;
	}
	if (test) {
		fprintf(stderr, "%s: configuration OK\n", path);
		config_free(cfg);
		return 0;
	}
	if (!debug)
		log_set_level(cfg->log_level);
	log_set_format(cfg->log_format);
	proctitle_init(argc, argv);
	return supervisor_main(cfg, worker_host);
}
