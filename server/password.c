/*
 * password.c: checks a password against a stored hash and makes new
 * hashes, through crypt(3).  It never logs or keeps a password, compares
 * only in constant time and wipes every buffer that held a secret.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#ifdef HAVE_CRYPT_H
#include <crypt.h>
#endif
#ifdef __OpenBSD__
#include <pwd.h>
#endif

#include <openssl/crypto.h>

#include "server/log.h"
#include "server/password.h"

#ifndef CRYPT_GENSALT_OUTPUT_SIZE
#define CRYPT_GENSALT_OUTPUT_SIZE	192
#endif

/* Room for any crypt(3) result (libxcrypt's CRYPT_OUTPUT_SIZE is 384). */
#define PASSWORD_CRYPT_OUT	512

/* How many characters of an unknown scheme name the log shows. */
#define SCHEME_LOG_MAX		32

enum scheme_kind {
	SCHEME_PLAIN,
	SCHEME_CRYPT,
	SCHEME_UNKNOWN,
};

/* Dovecot's scheme names this module understands. */
static const struct scheme {
	const char		*name;
	enum scheme_kind	 kind;
} schemes[] = {
	{ "PLAIN",		SCHEME_PLAIN },
	{ "CRYPT",		SCHEME_CRYPT },
	{ "SHA512-CRYPT",	SCHEME_CRYPT },
	{ "SHA256-CRYPT",	SCHEME_CRYPT },
	{ "BLF-CRYPT",		SCHEME_CRYPT },
	{ "MD5-CRYPT",		SCHEME_CRYPT },
};

/*
 * Hashes password_waste() spends its time on, best first: the first one
 * crypt(3) supports is used.  yescrypt at libxcrypt's default cost is what
 * password_hash() makes on Linux; SHA-512 is FreeBSD's; bcrypt OpenBSD's.
 */
#define WASTE_YESCRYPT	"$y$j9T$OLcyXDTH.d2MLOSOTO3aF.$" \
	"A823YfGpWyjKTnL9Fgkl0nt/SyatnDbsOHX0PEJ3WH8"
#define WASTE_SHA512	"$6$qm6rS00Fuvk1nLER$9gJ8OZHPz09S9L6xs1okMkHnIuVUpnQ" \
	"SlRXmvTWnmNqWK5OYRVpuxVONy2UhikKBPg/iPBW/cCOG3Nf7dex1a0"
#define WASTE_BCRYPT	"$2b$10$fREgHryohetrjYRauOVTf.kOeJbPtepiLarf5/7gfBm" \
	"fHoHcxNkpi"

static const char *const waste_hashes[] = {
	WASTE_YESCRYPT,
	WASTE_SHA512,
	WASTE_BCRYPT,
};

/*
 * Runs crypt(3) on plain with setting and copies the result into out.
 * Returns 0, or -1 (errno) when crypt fails or the result does not fit.
 */
static int
password_crypt(const char *plain, const char *setting, char *out,
    size_t outlen)
{
	const char	*r;
	int		 ret = 0;
#ifdef HAVE_CRYPT_R
	struct crypt_data *data;

	/* Large (32 KiB in libxcrypt): not for the stack. */
	if ((data = calloc(1, sizeof(*data))) == NULL) {
		log_warn("password: calloc");
		return -1;
	}
	errno = 0;
	r = crypt_r(plain, setting, data);
#else
	errno = 0;
	r = crypt(plain, setting);
#endif
	if (r == NULL || r[0] == '*') {
		if (errno == 0)
			errno = EINVAL;
		ret = -1;
	} else if (strlcpy(out, r, outlen) >= outlen) {
		explicit_bzero(out, outlen);
		errno = ERANGE;
		ret = -1;
	}
#ifdef HAVE_CRYPT_R
	explicit_bzero(data, sizeof(*data));
	free(data);
#else
	if (r != NULL)
		explicit_bzero((char *)r, strlen(r));
#endif
	return ret;
}

/* Whether the crypt(3) hash of plain is hash, compared in constant time. */
static bool
password_crypt_match(const char *hash, const char *plain)
{
	char	 out[PASSWORD_CRYPT_OUT];
	size_t	 len;
	bool	 ok;

	if (password_crypt(plain, hash, out, sizeof(out)) == -1) {
		/* ERANGE: a password longer than crypt(3) takes (libxcrypt:
		 * 511 octets), which no stored hash can be made from.  The
		 * client chose it: not worth a log line. */
		if (errno != ERANGE)
			log_warnx("password: crypt(3) cannot use a stored hash "
			    "(unsupported or malformed)");
		return false;
	}
	len = strlen(out);
	ok = len == strlen(hash) && CRYPTO_memcmp(out, hash, len) == 0;
	explicit_bzero(out, sizeof(out));
	return ok;
}

/*
 * Whether plain is the cleartext stored: the octets are compared in
 * constant time, the lengths are not (as Dovecot's {PLAIN}).  No digest:
 * OpenSSL 3's first one costs a process some 150 kB of heap, and every
 * worker that checks its own logins would pay it.
 */
static bool
password_plain_match(const char *stored, const char *plain)
{
	size_t	 len = strlen(stored);

	return len == strlen(plain) && CRYPTO_memcmp(stored, plain, len) == 0;
}

/*
 * Splits an optional {SCHEME} prefix off stored.  Sets *hash_r to what
 * follows it and returns the scheme's kind; no prefix means crypt(3).
 */
static enum scheme_kind
password_scheme(const char *stored, const char **hash_r)
{
	const char	*close;
	size_t		 len, i;

	*hash_r = stored;
	if (stored[0] != '{' || (close = strchr(stored, '}')) == NULL)
		return SCHEME_CRYPT;
	len = close - (stored + 1);
	*hash_r = close + 1;
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strlen(schemes[i].name) == len &&
		    strncasecmp(schemes[i].name, stored + 1, len) == 0)
			return schemes[i].kind;
	}
	log_warnx("password: unknown scheme {%.*s}",
	    len > SCHEME_LOG_MAX ? SCHEME_LOG_MAX : (int)len, stored + 1);
	return SCHEME_UNKNOWN;
}

/* Whether plain matches stored, whatever its scheme. */
bool
password_verify(const char *stored, const char *plain)
{
	const char	*hash;

	switch (password_scheme(stored, &hash)) {
	case SCHEME_PLAIN:
		/* An empty stored password never matches, even "". */
		if (hash[0] == '\0')
			return false;
		return password_plain_match(hash, plain);
	case SCHEME_CRYPT:
		/* Empty, or locked ("*", "!" as in shadow(5)): never matches,
		 * but costs what a check costs. */
		if (hash[0] == '\0' || hash[0] == '*' || hash[0] == '!') {
			password_waste(plain);
			return false;
		}
		return password_crypt_match(hash, plain);
	case SCHEME_UNKNOWN:
	default:
		return false;
	}
}

/* Spends what a check of a default hash costs, for unknown users. */
void
password_waste(const char *plain)
{
	char	 out[PASSWORD_CRYPT_OUT];
	size_t	 i;

	for (i = 0; i < sizeof(waste_hashes) / sizeof(waste_hashes[0]); i++) {
		if (password_crypt(plain, waste_hashes[i], out,
		    sizeof(out)) == 0)
			break;
	}
	explicit_bzero(out, sizeof(out));
}

#if defined(HAVE_CRYPT_GENSALT_RN)
/* A new hash with the best method libxcrypt offers: yescrypt, SHA-512. */
int
password_hash(const char *plain, char *out, size_t outlen)
{
	static const char *const prefixes[] = { "$y$", "$6$" };
	char	 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	size_t	 i;
	int	 saved = EINVAL;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		/* No random bytes given: libxcrypt reads the OS's. */
		if (crypt_gensalt_rn(prefixes[i], 0, NULL, 0, salt,
		    sizeof(salt)) == NULL) {
			saved = errno;
			continue;
		}
		if (password_crypt(plain, salt, out, outlen) == 0)
			return 0;
		saved = errno;
	}
	errno = saved;
	return -1;
}
#elif defined(__OpenBSD__)
/* A new bcrypt hash: OpenBSD's crypt(3) knows nothing else. */
int
password_hash(const char *plain, char *out, size_t outlen)
{
	return crypt_newhash(plain, "bcrypt,a", out, outlen);
}
#else
/* A new SHA-512 hash with a 16-character random salt. */
int
password_hash(const char *plain, char *out, size_t outlen)
{
	static const char chars[] = "./0123456789"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	char	 salt[3 + 16 + 2];
	size_t	 i;

	memcpy(salt, "$6$", 3);
	for (i = 0; i < 16; i++)
		salt[3 + i] = chars[arc4random_uniform(sizeof(chars) - 1)];
	salt[3 + 16] = '$';
	salt[3 + 16 + 1] = '\0';
	return password_crypt(plain, salt, out, outlen);
}
#endif
