/*
 * auth.c: decides whether a user name and password log in, and where that
 * user's Maildir is.  It never tells the client why a login failed, never
 * lets uid 0 in, and makes an unknown user cost what a known one costs.
 */
#include <stdbool.h>
#include <string.h>

#include "server/auth.h"
#include "server/conf.h"
#include "server/limits.h"
#include "server/passwd.h"
#include "server/password.h"

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

/* Checks user and password against the passwd-file; fills *u. */
enum auth_result
auth_request(const struct conf *conf, const struct auth_request *req,
    struct auth_user *u, const char **why_r)
{
	switch (req->mech) {
	case AUTH_MECH_PASSWORD:
		return auth_check(conf, req->user, req->secret, u, why_r);
	case AUTH_MECH_APOP:
	case AUTH_MECH_RPOP:
	default:
		memset(u, 0, sizeof(*u));
		*why_r = "mechanism not available";
		return AUTH_FAILED;
	}
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
	else if (e.uid == 0)
		*why_r = "uid 0 refused";
	else if (conf->maildir == NULL || auth_maildir_path(conf->maildir,
	    e.user, e.home, u->maildir, sizeof(u->maildir)) == -1) {
		*why_r = "bad maildir path";
		res = AUTH_TEMPFAIL;
	} else {
		memcpy(u->name, e.user, sizeof(u->name));
		u->uid = e.uid;
		u->gid = e.gid;
		*why_r = "ok";
		res = AUTH_OK;
	}
	explicit_bzero(&e, sizeof(e));
	if (res != AUTH_OK)
		memset(u, 0, sizeof(*u));
	return res;
}
