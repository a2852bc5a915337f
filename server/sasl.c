/*
 * sasl.c: the PLAIN and LOGIN mechanisms as state machines over base64
 * lines, for any protocol.  It only parses: it never checks a password,
 * never logs one, and wipes every buffer that held one.
 */
#include <string.h>
#include <strings.h>

#include "server/base64.h"
#include "server/sasl.h"

/* The largest decoded PLAIN message: authzid, authcid, password, NULs. */
#define SASL_DECODED_MAX	(USER_MAX + 1 + USER_MAX + 1 + PASSWORD_MAX)

/* LOGIN's prompts, "Username:" and "Password:", in base64. */
#define LOGIN_USERNAME	"VXNlcm5hbWU6"
#define LOGIN_PASSWORD	"UGFzc3dvcmQ6"

static const char *const names[SASL_NMECHS] = {
	[SASL_PLAIN] = "PLAIN",
	[SASL_LOGIN] = "LOGIN",
};

int
sasl_mech_find(const char *name)
{
	int	 i;

	for (i = 0; i < SASL_NMECHS; i++)
		if (strcasecmp(name, names[i]) == 0)
			return i;
	return -1;
}

const char *
sasl_mech_name(int mech)
{
	return mech >= 0 && mech < SASL_NMECHS ? names[mech] : NULL;
}

bool
sasl_mech_plaintext(int mech)
{
	return mech == SASL_PLAIN || mech == SASL_LOGIN;
}

/*
 * Decodes a base64 response into buf (NUL-terminated).  Returns its
 * length, or -1 after setting *st to the failure.
 */
static ssize_t
decode(const char *b64, char *buf, size_t buflen, enum sasl_status *st)
{
	ssize_t	 n;

	n = base64_decode(b64, strlen(b64), buf, buflen - 1);
	if (n == BASE64_INVALID) {
		*st = SASL_BAD_BASE64;
		return -1;
	}
	if (n < 0) {
		*st = SASL_MALFORMED;
		return -1;
	}
	buf[n] = '\0';
	return n;
}

/* Copies a decoded field of len octets into out (size outlen): 1 to
 * outlen - 1 octets without NUL.  Returns 0, or -1. */
static int
field(const char *s, size_t len, char *out, size_t outlen)
{
	if (len == 0 || len >= outlen || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd. */
static enum sasl_status
plain(struct sasl *sa, const char *b64)
{
	char		 buf[SASL_DECODED_MAX + 1];
	const char	*authcid, *pw, *end;
	enum sasl_status st = SASL_MALFORMED;
	ssize_t		 n;

	if ((n = decode(b64, buf, sizeof(buf), &st)) < 0)
		goto out;
	end = buf + n;
	st = SASL_MALFORMED;
	if ((authcid = memchr(buf, '\0', (size_t)n)) == NULL)
		goto out;
	authcid++;
	if ((pw = memchr(authcid, '\0', (size_t)(end - authcid))) == NULL)
		goto out;
	pw++;
	if (field(authcid, (size_t)(pw - 1 - authcid), sa->authcid,
	    sizeof(sa->authcid)) == -1 ||
	    field(pw, (size_t)(end - pw), sa->passwd,
	    sizeof(sa->passwd)) == -1)
		goto out;
	/* An authzid, when given, must name the same user; the authcid is
	 * kept for the log line of the refusal, the password is not. */
	if (buf[0] != '\0' && strcmp(buf, sa->authcid) != 0) {
		explicit_bzero(buf, sizeof(buf));
		explicit_bzero(sa->passwd, sizeof(sa->passwd));
		return SASL_AUTHZID;
	}
	st = SASL_DONE;
out:
	explicit_bzero(buf, sizeof(buf));
	if (st != SASL_DONE)
		sasl_clear(sa);
	return st;
}

/* LOGIN: the user name, then the password, each a whole response. */
static enum sasl_status
login(struct sasl *sa, const char *b64)
{
	char		 buf[PASSWORD_MAX + 2];
	enum sasl_status st = SASL_MALFORMED;
	ssize_t		 n;

	if ((n = decode(b64, buf, sizeof(buf), &st)) < 0)
		goto out;
	st = SASL_MALFORMED;
	if (sa->step == 0) {
		if (field(buf, (size_t)n, sa->authcid,
		    sizeof(sa->authcid)) == -1)
			goto out;
		sa->step = 1;
		strlcpy(sa->challenge, LOGIN_PASSWORD, sizeof(sa->challenge));
		st = SASL_CONTINUE;
	} else {
		if (field(buf, (size_t)n, sa->passwd,
		    sizeof(sa->passwd)) == -1)
			goto out;
		st = SASL_DONE;
	}
out:
	explicit_bzero(buf, sizeof(buf));
	if (st != SASL_DONE && st != SASL_CONTINUE)
		sasl_clear(sa);
	return st;
}

/* Hands a base64 response to the mechanism's next step. */
static enum sasl_status
respond(struct sasl *sa, const char *b64)
{
	sa->challenge[0] = '\0';
	return sa->mech == SASL_LOGIN ? login(sa, b64) : plain(sa, b64);
}

enum sasl_status
sasl_start(struct sasl *sa, enum sasl_mech mech, const char *ir)
{
	sasl_clear(sa);
	sa->mech = mech;
	if (ir == NULL) {
		/* No initial response: PLAIN asks with an empty challenge. */
		strlcpy(sa->challenge, mech == SASL_LOGIN ? LOGIN_USERNAME :
		    "", sizeof(sa->challenge));
		return SASL_CONTINUE;
	}
	/* "=" is an empty response; "*" cannot cancel before a challenge
	 * (RFC 5034 section 4) and is simply not base64. */
	if (strcmp(ir, "=") == 0)
		ir = "";
	return respond(sa, ir);
}

enum sasl_status
sasl_step(struct sasl *sa, const char *line)
{
	if (strcmp(line, "*") == 0) {
		sasl_clear(sa);
		return SASL_CANCELLED;
	}
	return respond(sa, line);
}

void
sasl_clear(struct sasl *sa)
{
	explicit_bzero(sa, sizeof(*sa));
}
