/*
 * fuzz_config.c - libFuzzer harness of the configuration file parser:
 * config_load (src/config.c) over the INI reader (src/core/ini.c), with
 * the secret, nodes, JWKS and BrowserID key files it loads on the spot.
 *
 * The supervisor parses the file at start and on every SIGHUP, and
 * `tokend -t` checks files an operator is still writing: a file of any
 * bytes must give a config or an error, never a crash, a leak or a hang,
 * and the error must start with the file's name, so that the operator
 * learns which file (and, from there, which line) is wrong.  A config
 * that loads must also purge and free cleanly, as the front does.
 *
 * The input is written to one fixed file per process; the files it may
 * name (uid.secret, sync.secret, example.jwks, ...) are created once,
 * beside it, by LLVMFuzzerInitialize, and removed at exit.  One more,
 * fuzz.file, holds bytes of the input, so that the secret, nodes, JWKS
 * and BrowserID key readers get fuzzed bytes too, through any key that
 * names it.
 *
 * Input: the config file's bytes, then optionally a 0xff byte and the
 * bytes of fuzz.file (empty without one).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#include "../fuzz.h"

#define SECRET_A	"00112233445566778899aabbccddeeff00112233445566778899"
#define SECRET_B	"0123456789abcdef0123456789abcdef0123456789abcdef0123"

/* The RFC 7515 A.3 P-256 key, as the unit tests' keys.jwks. */
#define JWKS_EC \
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k1\"," \
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"," \
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}\n"

/* mockmyid.com's BrowserID key (tests/unit/vectors/browserid). */
#define BROWSERID_KEY \
    "{\"algorithm\":\"RS\",\"n\":\"1549887475809027603946509410583723156" \
    "7265546373975960480941122651107772824121527483107402353899846252489" \
    "8370248701917073947431963995829594255139047629967566720896935410098" \
    "9203084882507964978308600555444249023290087579285178620394808845794" \
    "2416978976455297428077460890650409549242124655536986141363719589882" \
    "1600814807850489652856861420023207670666748797372380120641566758995" \
    "1250314322548193386450779311845780579206444550283416231553211396374" \
    "6801770187685650408560424682654937744713813773896962263709692724630" \
    "6509521595969513482640050043750176104418359560732757087402395180114" \
    "00991972811669493356682993446554779893834303\",\"e\":\"65537\"}\n"

/* The files a fuzzed config may name, by the names conf/ and tests use. */
static const struct {
	const char	*name;
	const char	*content;
	mode_t		 mode;
} files[] = {
	{ "uid.secret", SECRET_A "\n", 0600 },
	{ "sync.secret", SECRET_B "\n" SECRET_A "\n", 0600 },
	{ "other.secret", "# rotated\n\n" SECRET_B "\r\n", 0400 },
	{ "example-hs.secret", SECRET_A SECRET_B "\n", 0600 },
	{ "loose.secret", SECRET_A "\n", 0644 },
	{ "short.secret", "short\n", 0600 },
	{ "sync.nodes", "https://sync-1.example.com," SECRET_A "\n"
	    "https://sync-2.example.com," SECRET_B "," SECRET_A "\n", 0600 },
	{ "example.jwks", JWKS_EC, 0644 },
	{ "keys.jwks", JWKS_EC, 0644 },
	{ "firefox-accounts.json", BROWSERID_KEY, 0644 },
	{ "idp-ca.pem", "-----BEGIN CERTIFICATE-----\n", 0644 },
};
#define NFILES	(sizeof(files) / sizeof(files[0]))

static char	dir[64];
static char	conf_path[PATH_MAX];
static char	extra_path[PATH_MAX];

static int
write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int	fd, rc = 0;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	/* fchmod: the umask neither loosens nor tightens the mode. */
	if (write(fd, buf, len) != (ssize_t)len || fchmod(fd, mode) == -1)
		rc = -1;
	if (close(fd) == -1)
		rc = -1;
	return rc;
}

static void
remove_files(void)
{
	char	path[PATH_MAX];
	size_t	i;

	for (i = 0; i < NFILES; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
		unlink(path);
	}
	unlink(conf_path);
	unlink(extra_path);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	path[PATH_MAX];
	size_t	i;

	snprintf(dir, sizeof(dir), "/tmp/tokend-fuzz-config.%ld",
	    (long)getpid());
	snprintf(conf_path, sizeof(conf_path), "%s/tokend.conf", dir);
	snprintf(extra_path, sizeof(extra_path), "%s/fuzz.file", dir);
	if (mkdir(dir, 0700) == -1)
		abort();
	atexit(remove_files);
	for (i = 0; i < NFILES; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
		if (write_file(path, files[i].content,
		    strlen(files[i].content), files[i].mode) == -1)
			abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*c;
	const uint8_t	*cut = memchr(data, 0xff, size);
	size_t		 len = cut != NULL ? (size_t)(cut - data) : size;
	char		 err[2048];

	if (write_file(conf_path, data, len, 0644) == -1 ||
	    write_file(extra_path, cut != NULL ? cut + 1 : data,
	    cut != NULL ? size - len - 1 : 0, 0600) == -1)
		abort();
	err[0] = '\0';
	if ((c = config_load(conf_path, err, sizeof(err))) == NULL) {
		FUZZ_CHECK(strncmp(err, conf_path, strlen(conf_path)) == 0);
		FUZZ_CHECK(err[strlen(conf_path)] == ':');
		return 0;
	}
	config_purge_secrets(c);
	config_free(c);
	return 0;
}
