/*
 * auth.c: decides whether a login request (a password, an APOP digest,
 * an RPOP trusted pair) logs in, and where that user's Maildir is.  It
 * never tells the client why a login failed, never lets uid 0 in, and
 * makes an unknown user cost what a known one costs.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "server/auth.h"
#include "server/auth_system.h"
#include "server/authfile.h"
#include "server/conf.h"
#include "server/limits.h"
#include "server/log.h"
#include "server/passwd.h"
#include "server/password.h"
#include "server/token.h"
#include "server/account.h"

/* An APOP digest: MD5 in lower case hexadecimal. */
#define APOP_HEX	32

/*
 * User names: 1 to USER_MAX octets, and none of
 *  - control characters (< 0x20, 0x7f): they would forge log lines;
 *  - space: POP3 separates arguments with it and log parsers split on it;
 *  - '/': the name is put into Maildir paths;
 *  - ':': the passwd-file's field separator;
 *  - "." or "..": path components;
 *  - a leading '-': read as an option by any tool the name reaches.
 * Octets 0x80 and above are allowed so that UTF-8 names work.
 */
int
auth_valid_user(const char *name)
{
	const unsigned char	*p;
	size_t			 len;

	len = strlen(name);
	if (len == 0 || len > USER_MAX)
		return 0;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    name[0] == '-')
		return 0;
	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == ' ' || *p == '/' ||
		    *p == ':')
			return 0;
	}
	return 1;
}

/* Appends len octets of s to out at *pos; -1 when they do not fit. */
static int
auth_append(char *out, size_t outlen, size_t *pos, const char *s, size_t len)
{
	if (len >= outlen - *pos)
		return -1;
	memcpy(out + *pos, s, len);
	*pos += len;
	out[*pos] = '\0';
	return 0;
}

/* Whether path has a "." or ".." component, which could leave the tree
 * the template meant. */
static bool
auth_has_dots(const char *path)
{
	const char	*p = path, *end;
	size_t		 len;

	while (*p != '\0') {
		p += strspn(p, "/");
		end = strchr(p, '/');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		if ((len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return true;
		p += len;
	}
	return false;
}

/* Expands a Maildir template (%u %n %d %h %%) into an absolute path. */
int
auth_maildir_path(const char *tmpl, const char *user, const char *home,
    char *out, size_t outlen)
{
	const char	*at, *p, *s;
	size_t		 pos = 0, len;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	at = strrchr(user, '@');
	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			s = p;
			len = 1;
		} else {
			switch (*++p) {
			case 'u':
				s = user;
				len = strlen(user);
				break;
			case 'n':
				s = user;
				len = at != NULL ? (size_t)(at - user) :
				    strlen(user);
				break;
			case 'd':
				s = at != NULL ? at + 1 : "";
				len = strlen(s);
				break;
			case 'h':
				s = home != NULL ? home : "";
				len = strlen(s);
				break;
			case '%':
				s = p;
				len = 1;
				break;
			default:	/* unknown, or '%' at the end */
				goto bad;
			}
			/* An empty field would leave a hole in the path. */
			if (len == 0)
				goto bad;
		}
		if (auth_append(out, outlen, &pos, s, len) == -1)
			goto bad;
	}
	if (out[0] != '/' || auth_has_dots(out))
		goto bad;
	return 0;
bad:
	out[0] = '\0';
	return -1;
}

/* Whether a setting naming a file is set (NULL, as in tests, is not). */
static bool
auth_set(const char *setting)
{
	return setting != NULL && setting[0] != '\0';
}

/*
 * apop_secret: finds user's line "user:secret" in apop_secrets and copies
 * the secret into out.  Returns 1, 0 when the user has none, -1 when the
 * file cannot be used (logged).
 */
static int
apop_secret(const char *path, const char *user, char *out, size_t outlen)
{
	char		 line[AUTH_FILE_LINE_MAX];
	FILE		*fp;
	const char	*colon;
	unsigned	 lineno = 0;
	size_t		 ulen = strlen(user);
	int		 rc, found = 0;

	if ((fp = authfile_open("apop_secrets", path, true)) == NULL)
		return -1;
	/* Every line is read, so that where a user's line is takes no
	 * different time. */
	while ((rc = authfile_line(fp, path, line, sizeof(line),
	    &lineno)) == 1) {
		if ((colon = strchr(line, ':')) == NULL || colon == line ||
		    colon[1] == '\0') {
			log_warnx("%s:%u: not \"user:secret\"; skipped", path,
			    lineno);
			continue;
		}
		if (found || (size_t)(colon - line) != ulen ||
		    memcmp(line, user, ulen) != 0)
			continue;
		if (strlcpy(out, colon + 1, outlen) >= outlen) {
			log_warnx("%s:%u: secret longer than %d octets; "
			    "skipped", path, lineno, PASSWORD_MAX);
			explicit_bzero(out, outlen);
			continue;
		}
		found = 1;
	}
	authfile_close(fp, line, sizeof(line));
	if (rc == -1) {
		explicit_bzero(out, outlen);
		return -1;
	}
	return found;
}

/* apop_hex: MD5(challenge secret) in lower case hex into out. */
static int
apop_hex(const char *challenge, const char *secret, char out[APOP_HEX + 1])
{
	EVP_MD_CTX	*ctx;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, i;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, challenge, strlen(challenge)) == 1 &&
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 16;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		log_warnx("auth: MD5 is not available for APOP");
		return -1;
	}
	for (i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	explicit_bzero(md, sizeof(md));
	return 0;
}

/* apop_check: RFC 1939 APOP, the digest of the greeting's timestamp and
 * the user's secret from apop_secrets. */
static enum auth_result
apop_check(const struct conf *conf, const struct auth_request *req,
    const char **why_r)
{
	char		 secret[PASSWORD_MAX + 1], want[APOP_HEX + 1];
	char		 got[APOP_HEX + 1];
	enum auth_result res = AUTH_FAILED;
	size_t		 i;
	int		 rc;

	if (!auth_set(conf->apop_secrets)) {
		*why_r = "APOP not configured";
		return AUTH_FAILED;
	}
	if (req->challenge == NULL || req->challenge[0] != '<' ||
	    req->secret == NULL) {
		*why_r = "APOP without a challenge";
		return AUTH_FAILED;
	}
	/* RFC 1939: 32 hex digits, in lower case; upper case is taken. */
	for (i = 0; i < APOP_HEX && isxdigit((unsigned char)req->secret[i]);
	    i++)
		got[i] = (char)tolower((unsigned char)req->secret[i]);
	got[i] = '\0';
	if (i != APOP_HEX || req->secret[i] != '\0') {
		*why_r = "malformed APOP digest";
		return AUTH_FAILED;
	}
	rc = apop_secret(conf->apop_secrets, req->user, secret,
	    sizeof(secret));
	if (rc == -1) {
		*why_r = "apop_secrets unusable";
		return AUTH_TEMPFAIL;
	}
	/* No secret: digest a dummy, so that it costs what a check does. */
	if (rc == 0)
		strlcpy(secret, "\001no secret", sizeof(secret));
	if (apop_hex(req->challenge, secret, want) == -1) {
		*why_r = "APOP digest unavailable";
		res = AUTH_TEMPFAIL;
	} else if (CRYPTO_memcmp(want, got, APOP_HEX) != 0 || rc == 0)
		*why_r = rc == 0 ? "no APOP secret" : "wrong APOP digest";
	else
		res = AUTH_OK;
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(want, sizeof(want));
	return res;
}

/* rpop_addr: a numeric IPv4 or IPv6 address as 16 octets, IPv4 mapped
 * into IPv6 (::ffff:a.b.c.d).  Returns 0, or -1 when s is not one. */
static int
rpop_addr(const char *s, unsigned char out[16])
{
	struct in_addr	 a4;

	if (inet_pton(AF_INET6, s, out) == 1)
		return 0;
	if (inet_pton(AF_INET, s, &a4) != 1)
		return -1;
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, &a4, 4);
	return 0;
}

/* auth_word: cuts the next word, separated by spaces or tabs, off *sp;
 * NULL when none is left. */
static char *
auth_word(char **sp)
{
	char	*w;

	*sp += strspn(*sp, " \t");
	if (**sp == '\0')
		return NULL;
	w = *sp;
	*sp += strcspn(*sp, " \t");
	if (**sp != '\0')
		*(*sp)++ = '\0';
	return w;
}

/*
 * rpop_trusted: whether rpop_trust_file has the line "host ruser luser"
 * for this client address, remote user and local user.  Returns 1, 0, or
 * -1 when the file cannot be used (logged).
 */
static int
rpop_trusted(const char *path, const unsigned char addr[16],
    const char *ruser, const char *luser)
{
	char		 line[AUTH_FILE_LINE_MAX];
	unsigned char	 a[16];
	char		*host, *r, *l, *rest;
	FILE		*fp;
	unsigned	 lineno = 0;
	int		 rc, found = 0;

	if ((fp = authfile_open("rpop_trust_file", path, false)) == NULL)
		return -1;
	while (!found && (rc = authfile_line(fp, path, line, sizeof(line),
	    &lineno)) == 1) {
		rest = line;
		host = auth_word(&rest);
		r = auth_word(&rest);
		l = auth_word(&rest);
		if (l == NULL || auth_word(&rest) != NULL ||
		    rpop_addr(host, a) == -1) {
			log_warnx("%s:%u: not \"client-address remote-user "
			    "local-user\"; skipped", path, lineno);
			continue;
		}
		found = memcmp(a, addr, 16) == 0 && strcmp(r, ruser) == 0 &&
		    strcmp(l, luser) == 0;
	}
	authfile_close(fp, line, sizeof(line));
	return found ? 1 : rc == -1 ? -1 : 0;
}

/* rpop_check: the 1985 draft's RPOP: a client on a reserved port of a
 * trusted host vouches for its remote user, who may read luser's mail. */
static enum auth_result
rpop_check(const struct conf *conf, const struct auth_request *req,
    const char **why_r)
{
	unsigned char	 addr[16];

	if (!auth_set(conf->rpop_trust_file)) {
		*why_r = "RPOP disabled";
		return AUTH_FAILED;
	}
	if (req->rport <= 0 || req->rport >= 1024) {
		*why_r = "RPOP from an unreserved port";
		return AUTH_FAILED;
	}
	if (req->rhost == NULL || rpop_addr(req->rhost, addr) == -1) {
		*why_r = "RPOP from an unknown address";
		return AUTH_FAILED;
	}
	if (req->secret == NULL || !auth_valid_user(req->secret)) {
		*why_r = "invalid RPOP remote user";
		return AUTH_FAILED;
	}
	switch (rpop_trusted(conf->rpop_trust_file, addr, req->secret,
	    req->user)) {
	case -1:
		*why_r = "rpop_trust_file unusable";
		return AUTH_TEMPFAIL;
	case 0:
		*why_r = "RPOP pair not trusted";
		return AUTH_FAILED;
	default:
		return AUTH_OK;
	}
}

/* passwd_account: the account of a passwd-file entry whose credentials
 * were checked: uid 0 refused, the Maildir from the template. */
static enum auth_result
passwd_account(const struct conf *conf, const struct passwd_entry *e,
    struct auth_user *u, const char **why_r)
{
	if (e->uid == 0) {
		*why_r = "uid 0 refused";
		return AUTH_FAILED;
	}
	if (conf->maildir == NULL || auth_maildir_path(conf->maildir,
	    e->user, e->home, u->maildir, sizeof(u->maildir)) == -1) {
		*why_r = "bad maildir path";
		return AUTH_TEMPFAIL;
	}
	memcpy(u->name, e->user, sizeof(u->name));
	u->uid = e->uid;
	u->gid = e->gid;
	*why_r = "ok";
	return AUTH_OK;
}

/* Finds the account of a user whose credentials were checked another way
 * (APOP, RPOP) in the configured backend. */
enum auth_result
auth_lookup(const struct conf *conf, const char *user, struct auth_user *u,
    const char **why_r)
{
	struct passwd_entry	 e;
	enum auth_result	 res;

	memset(u, 0, sizeof(*u));
	if (!auth_valid_user(user)) {
		*why_r = "invalid user name";
		return AUTH_FAILED;
	}
	if (conf->passdb == PASSDB_SYSTEM)
		return auth_system_lookup(conf, user, u, why_r);
	if (!auth_set(conf->passwd_file)) {
		*why_r = "passwd-file unreadable";
		return AUTH_TEMPFAIL;
	}
	switch (passwd_lookup(conf->passwd_file, user, &e)) {
	case -1:
		*why_r = "passwd-file unreadable";
		return AUTH_TEMPFAIL;
	case 0:
		*why_r = "unknown user";
		return AUTH_FAILED;
	default:
		break;
	}
	res = passwd_account(conf, &e, u, why_r);
	explicit_bzero(&e, sizeof(e));
	if (res != AUTH_OK)
		memset(u, 0, sizeof(*u));
	return res;
}

/* Checks a request with the mechanism it names; fills *u. */
enum auth_result
auth_request(const struct conf *conf, const struct auth_request *req,
    struct auth_user *u, const char **why_r)
{
	enum auth_result	 r;

	memset(u, 0, sizeof(*u));
	if (req->user == NULL) {
		*why_r = "invalid user name";
		return AUTH_FAILED;
	}
	switch (req->mech) {
	case AUTH_MECH_PASSWORD:
		if (req->secret == NULL) {
			*why_r = "no password";
			return AUTH_FAILED;
		}
		if (conf->passdb == PASSDB_SYSTEM)
			return auth_system_check(conf, req->user, req->secret,
			    req->rhost, u, why_r);
		return auth_check(conf, req->user, req->secret, u, why_r);
	case AUTH_MECH_APOP:
		r = apop_check(conf, req, why_r);
		break;
	case AUTH_MECH_RPOP:
		r = rpop_check(conf, req, why_r);
		break;
	case AUTH_MECH_TOKEN:
		return token_auth(conf, req->user, req->secret, u, why_r);
	case AUTH_MECH_CREATE:
		return account_create(conf, req->user, req->secret,
		    req->rhost != NULL ? req->rhost : "", u, why_r);
	default:
		*why_r = "mechanism not available";
		return AUTH_FAILED;
	}
	if (r != AUTH_OK)
		return r;
	return auth_lookup(conf, req->user, u, why_r);
}

enum auth_result
auth_check(const struct conf *conf, const char *user, const char *password,
    struct auth_user *u, const char **why_r)
{
	struct passwd_entry	 e;
	enum auth_result	 res = AUTH_FAILED;

	memset(u, 0, sizeof(*u));
	if (strlen(password) > PASSWORD_MAX) {
		/* Refused before hashing: the length is no secret. */
		*why_r = "password too long";
		return AUTH_FAILED;
	}
	if (!auth_valid_user(user)) {
		password_waste(password);
		*why_r = "invalid user name";
		return AUTH_FAILED;
	}
	if (conf->passwd_file == NULL) {
		*why_r = "passwd-file unreadable";
		return AUTH_TEMPFAIL;
	}
	switch (passwd_lookup(conf->passwd_file, user, &e)) {
	case -1:
		*why_r = "passwd-file unreadable";
		return AUTH_TEMPFAIL;
	case 0:
		password_waste(password);
		*why_r = "unknown user";
		return AUTH_FAILED;
	default:
		break;
	}

	if (!password_verify(e.hash, password))
		*why_r = "wrong password";
	else
		res = passwd_account(conf, &e, u, why_r);
	explicit_bzero(&e, sizeof(e));
	if (res != AUTH_OK)
		memset(u, 0, sizeof(*u));
	return res;
}
