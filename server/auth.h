/*
 * auth.h: checks a user's credentials against the configured backend and
 * says where the user's mail is.  Protocol modules call it through
 * session_login(), which adds logging and the failure delay.
 */
#ifndef POSTERN_AUTH_H
#define POSTERN_AUTH_H

#include <limits.h>

#include "server/conf.h"
#include "server/limits.h"

struct auth_user {
	char	name[USER_MAX + 1];
	char	maildir[PATH_MAX];	/* absolute */
	long	uid;			/* -1: keep the server's */
	long	gid;
};

enum auth_result {
	AUTH_OK,
	AUTH_FAILED,		/* unknown user or wrong password */
	AUTH_TEMPFAIL,		/* the backend could not answer */
};

/* What a client offers to prove who it is. */
enum auth_mech {
	AUTH_MECH_PASSWORD,	/* USER/PASS, SASL PLAIN and LOGIN */
	AUTH_MECH_APOP,		/* RFC 1939 APOP: MD5(challenge secret) */
	AUTH_MECH_RPOP,		/* 1985 draft: trusted host and port */
	AUTH_MECH_TOKEN,	/* MRP TOKEN: a token issued at a login
				   (token.h) */
	AUTH_MECH_CREATE,	/* MRP CREATE: a new account with this
				   password (account.h) */
};

struct auth_request {
	enum auth_mech	 mech;
	const char	*user;
	const char	*secret;	/* password; APOP hex digest; RPOP
					   the client's remote user name;
					   TOKEN the token */
	const char	*challenge;	/* APOP: the greeting's timestamp */
	const char	*rhost;		/* RPOP: the client's address */
	int		 rport;		/* RPOP: the client's port */
};

/*
 * Checks a request with the mechanism it names: the one entry point of
 * authentication, used by session_login() (and the auth process).
 *  - AUTH_MECH_PASSWORD: the passdb's password (passwd-file hash; PAM or
 *    shadow(5) for passdb "system").
 *  - AUTH_MECH_APOP: secret must be MD5(challenge secret) in 32 hex
 *    digits, the secret being user's line in apop_secrets.
 *  - AUTH_MECH_RPOP: rhost and a reserved rport (< 1024) must be listed
 *    in rpop_trust_file with secret (the remote user) and user (the
 *    local one).
 *  - AUTH_MECH_TOKEN: secret must be the account's MRP token (token.h).
 *  - AUTH_MECH_CREATE: creates the account user with password secret
 *    for a client at rhost (account.h), which then logs in.
 * APOP and RPOP then find the account with auth_lookup().  Results as
 * auth_check()'s; a credential file that is missing or whose owner or
 * mode is unsafe gives AUTH_TEMPFAIL (and a log line).
 */
enum auth_result auth_request(const struct conf *conf,
	    const struct auth_request *req, struct auth_user *u,
	    const char **why_r);

/*
 * Finds the account of user, whose credentials were checked otherwise,
 * in the configured passdb (passwd-file or system).  Results as
 * auth_check()'s.
 */
enum auth_result auth_lookup(const struct conf *conf, const char *user,
	    struct auth_user *u, const char **why_r);

/*
 * Checks user and password.  On AUTH_OK fills *u.  Otherwise *why_r says
 * why, for the log (never for the client).  An unknown user takes as
 * long as a wrong password.
 */
enum auth_result auth_check(const struct conf *conf, const char *user,
	    const char *password, struct auth_user *u, const char **why_r);

/*
 * Expands a Maildir template: %u the user, %n its local part, %d its
 * domain, %h its home, %% a percent sign.  Returns 0, or -1 when the
 * result is too long, not absolute, or a field it needs is empty.
 */
int	auth_maildir_path(const char *tmpl, const char *user, const char *home,
	    char *out, size_t outlen);

/* Whether name is acceptable as a user name (1 to USER_MAX octets, no
 * control characters, space, '/' or ':', not "." or "..", no leading
 * '-'; see auth.c). */
int	auth_valid_user(const char *name);

#endif
