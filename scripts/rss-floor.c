/*
 * rss-floor.c - the least a tokend worker could be resident in: a process
 * that links what a worker must (libcrypto, libzmq, jansson), holds a
 * ZeroMQ context with a DEALER socket, has read a JWK Set with jansson and
 * has verified one RS256 JWS with OpenSSL.  scripts/bench --floor builds and
 * runs it and prints its VmRSS as floor_worker_rss_kib.
 *
 * usage: rss-floor JWKS_FILE   (tests/unit/vectors/rfc7515.jwks.json: its
 * first key is RFC 7515 A.2's, which signed the JWS below)
 * Prints "rss_kib: N" and exits 0 if the signature verified, else 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <zmq.h>

/* RFC 7515 A.2: an RS256 JWS. */
static const char A2_JWS[] = "eyJhbGciOiJSUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0"
    "dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"
    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"
    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"
    "p0igcN_IoypGlUPQGe77Rw";

/* base64url without padding into out; returns the length or -1. */
static int
b64url(const char *in, size_t len, unsigned char *out, size_t cap)
{
	char	*b = calloc(1, len + 4);
	size_t	 i, n = len;
	int	 r;

	if (b == NULL)
		return -1;
	for (i = 0; i < len; i++)
		b[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
	while (n % 4)
		b[n++] = '=';
	r = EVP_DecodeBlock(out, (unsigned char *)b, (int)n);
	if (r >= 0)
		r -= (int)(n - len);
	free(b);
	return r < 0 || (size_t)r > cap ? -1 : r;
}

static BIGNUM *
jwk_bn(json_t *key, const char *name)
{
	unsigned char	 buf[1024];
	const char	*s = json_string_value(json_object_get(key, name));
	int		 n;

	if (s == NULL || (n = b64url(s, strlen(s), buf, sizeof(buf))) < 0)
		return NULL;
	return BN_bin2bn(buf, n, NULL);
}

static EVP_PKEY *
rsa_key(const char *path)
{
	json_error_t	 err;
	json_t		*set = json_load_file(path, 0, &err), *key;
	OSSL_PARAM_BLD	*bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM	*params;
	EVP_PKEY_CTX	*ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY	*pkey = NULL;

	if (set == NULL || bld == NULL || ctx == NULL)
		return NULL;
	key = json_array_get(json_object_get(set, "keys"), 0);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, jwk_bn(key, "n"));
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, jwk_bn(key, "e"));
	params = OSSL_PARAM_BLD_to_param(bld);
	if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	return pkey;	/* the rest is left for exit: this process is a probe */
}

int
main(int argc, char **argv)
{
	unsigned char	 sig[512];
	const char	*dot;
	EVP_MD_CTX	*md = EVP_MD_CTX_new();
	EVP_PKEY	*pkey;
	void		*zctx, *sock;
	char		 line[128];
	FILE		*f;
	int		 n, ok;

	if (argc != 2 || (pkey = rsa_key(argv[1])) == NULL)
		return 2;
	dot = strrchr(A2_JWS, '.');
	n = b64url(dot + 1, strlen(dot + 1), sig, sizeof(sig));
	ok = n > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
	    pkey) == 1 && EVP_DigestVerify(md, sig, (size_t)n,
	    (const unsigned char *)A2_JWS, (size_t)(dot - A2_JWS)) == 1;
	zctx = zmq_ctx_new();
	sock = zmq_socket(zctx, ZMQ_DEALER);
	zmq_connect(sock, "ipc:///nonexistent/tokend-rss-floor.sock");
	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return 2;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			printf("rss_kib: %ld\n", strtol(line + 6, NULL, 10));
	fclose(f);
	zmq_close(sock);
	zmq_ctx_term(zctx);
	return ok ? 0 : 1;
}
