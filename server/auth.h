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
