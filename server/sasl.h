/*
 * sasl.h: the server side of the SASL mechanisms Postern offers (RFC
 * 4422): PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login).  It
 * turns the client's base64 lines into a user name and a password and
 * the server's challenges into base64; it knows nothing of any protocol's
 * framing ("+ " lines in POP3 and IMAP) and checks no credentials, which
 * stay behind auth_request().
 */
#ifndef POSTERN_SASL_H
#define POSTERN_SASL_H

#include <stdbool.h>

#include "server/limits.h"

enum sasl_mech {
	SASL_PLAIN,		/* authzid NUL authcid NUL passwd, one step */
	SASL_LOGIN,		/* "Username:", then "Password:" */
	SASL_NMECHS
};

enum sasl_status {
	SASL_CONTINUE,		/* send challenge, read another response */
	SASL_DONE,		/* authcid and passwd are filled */
	SASL_CANCELLED,		/* the client answered "*" */
	SASL_BAD_BASE64,	/* a response that is not base64 */
	SASL_MALFORMED,		/* decoded, but not the mechanism's form:
				   NULs misplaced, an empty or over-long
				   name or password */
	SASL_AUTHZID,		/* PLAIN asked to act as another user: no
				   proxy authorization (authcid is kept
				   for the log, the password wiped) */
};

/* Longest base64 challenge a mechanism sends, NUL included. */
#define SASL_CHALLENGE_MAX	64

struct sasl {
	enum sasl_mech	 mech;
	int		 step;
	char		 authcid[USER_MAX + 1];
	char		 passwd[PASSWORD_MAX + 1];
	char		 challenge[SASL_CHALLENGE_MAX];	/* base64, maybe "" */
};

/* The mechanism called name, matched without regard to case, or -1. */
int		 sasl_mech_find(const char *name);
/* The name of mech in capitals ("PLAIN"), or NULL past the last one:
 * for (i = 0; (n = sasl_mech_name(i)) != NULL; i++) lists them. */
const char	*sasl_mech_name(int mech);
/* Whether mech sends the password itself, so that it is offered only
 * where plaintext passwords are (both of today's mechanisms do). */
bool		 sasl_mech_plaintext(int mech);

/*
 * Starts an exchange in *sa.  ir is the initial response as the client
 * sent it in base64, "=" for an empty one (RFC 4422 section 4), or NULL
 * for none.  Returns SASL_CONTINUE with sa->challenge to send, SASL_DONE,
 * or a failure (SASL_BAD_BASE64, SASL_MALFORMED, SASL_AUTHZID).  After
 * anything but SASL_CONTINUE the exchange is over.
 */
enum sasl_status sasl_start(struct sasl *sa, enum sasl_mech mech,
		    const char *ir);
/*
 * Feeds one client response line (base64, or "*" to cancel) to an
 * exchange that returned SASL_CONTINUE.  Returns as sasl_start, or
 * SASL_CANCELLED.
 */
enum sasl_status sasl_step(struct sasl *sa, const char *line);
/* Wipes the credentials and the state of *sa. */
void		 sasl_clear(struct sasl *sa);

#endif
