/*
 * token.c: issues and checks MRP login tokens.  It keeps only a hash of
 * each token, never logs a token, compares in constant time, and opens
 * the token file without following a symlink.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "server/auth.h"
#include "server/log.h"
#include "server/token.h"
#include "storage/file.h"

#define TOKEN_PREFIX	"sha256:"
#define TOKEN_HEX	64		/* SHA-256 in hexadecimal */
#define TOKEN_LINE	(sizeof(TOKEN_PREFIX) - 1 + TOKEN_HEX + 1)

/* Whether s looks like a token. */
int
token_valid(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= TOKEN_LEN || s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return i == TOKEN_LEN;
}

/* hash_hex: SHA-256 of s in lower-case hexadecimal into out
 * (TOKEN_HEX + 1 octets).  0, or -1 when the digest failed. */
static int
hash_hex(const char *s, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, i;

	if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen * 2 != TOKEN_HEX) {
		log_warnx("token: SHA-256 failed");
		return -1;
	}
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0f];
	}
	out[TOKEN_HEX] = '\0';
	return 0;
}

/* generate: 122 random bits in the form of a version 4 UUID. */
static void
generate(char *out)
{
	unsigned char	 r[16];

	arc4random_buf(r, sizeof(r));
	r[6] = (r[6] & 0x0f) | 0x40;
	r[8] = (r[8] & 0x3f) | 0x80;
	(void)snprintf(out, TOKEN_LEN + 1, "%02x%02x%02x%02x-%02x%02x-"
	    "%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2],
	    r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
	    r[13], r[14], r[15]);
	explicit_bzero(r, sizeof(r));
}

/* store: writes line as the token file of the Maildir dirfd, through a
 * temporary file renamed into place. */
static int
store(int dirfd, const char *maildir, const char *line)
{
	char	 tmp[64];
	int	 fd, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", TOKEN_FILE,
	    (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -1;
	(void)unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("token: %s/%s", maildir, tmp);
		return -1;
	}
	if (file_write_all(fd, line, strlen(line), NULL) == -1 || fsync(fd) == -1) {
		log_warn("token: %s/%s", maildir, tmp);
		(void)close(fd);
		(void)unlinkat(dirfd, tmp, 0);
		return -1;
	}
	if (close(fd) == -1 || renameat(dirfd, tmp, dirfd, TOKEN_FILE) == -1) {
		log_warn("token: %s/%s", maildir, TOKEN_FILE);
		(void)unlinkat(dirfd, tmp, 0);
		return -1;
	}
	(void)fsync(dirfd);
	return 0;
}

/* Issues a new token for the Maildir at maildir. */
int
token_issue(const char *maildir, char *out)
{
	char	 hex[TOKEN_HEX + 1], line[TOKEN_LINE + 1];
	int	 dirfd, n, rc = -1;

	generate(out);
	dirfd = open(maildir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd == -1)
		log_warn("token: %s", maildir);
	else if (hash_hex(out, hex) == 0) {
		n = snprintf(line, sizeof(line), "%s%s\n", TOKEN_PREFIX, hex);
		if (n > 0 && (size_t)n < sizeof(line))
			rc = store(dirfd, maildir, line);
	}
	if (dirfd != -1)
		(void)close(dirfd);
	if (rc == -1)
		explicit_bzero(out, TOKEN_LEN + 1);
	return rc;
}

/* read_hash: the stored hash of the Maildir at maildir into hex.
 * Returns AUTH_OK, AUTH_FAILED (none stored) or AUTH_TEMPFAIL. */
static enum auth_result
read_hash(const char *maildir, long uid, char *hex, const char **why_r)
{
	struct stat	 st;
	char		 buf[TOKEN_LINE + 2];
	ssize_t		 n;
	int		 dirfd, fd;

	if ((dirfd = open(maildir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		*why_r = "no token issued";
		return AUTH_FAILED;
	}
	fd = openat(dirfd, TOKEN_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	(void)close(dirfd);
	if (fd == -1 && errno == ENOENT) {
		*why_r = "no token issued";
		return AUTH_FAILED;
	}
	if (fd == -1 || fstat(fd, &st) == -1) {
		log_warn("token: %s/%s", maildir, TOKEN_FILE);
		if (fd != -1)
			(void)close(fd);
		*why_r = "token file unreadable";
		return AUTH_TEMPFAIL;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 022) != 0 ||
	    (uid >= 0 && st.st_uid != (uid_t)uid)) {
		log_warnx("token: %s/%s: not a regular file of the account, "
		    "or writable by others: ignored", maildir, TOKEN_FILE);
		(void)close(fd);
		*why_r = "token file unsafe";
		return AUTH_TEMPFAIL;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n != (ssize_t)TOKEN_LINE ||
	    strncmp(buf, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1) != 0 ||
	    buf[TOKEN_LINE - 1] != '\n') {
		log_warnx("token: %s/%s: malformed", maildir, TOKEN_FILE);
		*why_r = "token file malformed";
		return AUTH_TEMPFAIL;
	}
	memcpy(hex, buf + sizeof(TOKEN_PREFIX) - 1, TOKEN_HEX);
	hex[TOKEN_HEX] = '\0';
	return AUTH_OK;
}

/* Checks token against the Maildir's stored hash. */
enum auth_result
token_check(const char *maildir, long uid, const char *token,
    const char **why_r)
{
	char		 want[TOKEN_HEX + 1], got[TOKEN_HEX + 1];
	enum auth_result r;

	if (hash_hex(token, got) == -1) {
		*why_r = "digest failed";
		return AUTH_TEMPFAIL;
	}
	if (!token_valid(token)) {
		*why_r = "malformed token";
		return AUTH_FAILED;
	}
	if ((r = read_hash(maildir, uid, want, why_r)) != AUTH_OK)
		return r;
	if (CRYPTO_memcmp(want, got, TOKEN_HEX) != 0) {
		*why_r = "wrong token";
		return AUTH_FAILED;
	}
	return AUTH_OK;
}

/* Finds user's account and checks token against it. */
enum auth_result
token_auth(const struct conf *conf, const char *user, const char *token,
    struct auth_user *u, const char **why_r)
{
	char		 hex[TOKEN_HEX + 1];
	enum auth_result r;

	if (token == NULL) {
		*why_r = "no token";
		return AUTH_FAILED;
	}
	r = auth_lookup(conf, user, u, why_r);
	if (r != AUTH_OK) {
		/* The hash a known user's check costs. */
		(void)hash_hex(token, hex);
		return r;
	}
	/* The owner the file must have: the account's uid, or the one its
	 * sessions run as (a hard link to another file is refused). */
	r = token_check(u->maildir, u->uid >= 0 ? u->uid : conf->privsep ?
	    (long)conf->mail_uid : -1, token, why_r);
	if (r != AUTH_OK)
		memset(u, 0, sizeof(*u));
	return r;
}
