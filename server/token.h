/*
 * token.h: MRP's login tokens (postern-mrp(7)).  A token is 36 random
 * characters in the form of a version 4 UUID; only its SHA-256 hash is
 * kept, in TOKEN_FILE in the top directory of the account's Maildir,
 * owned by the account (the session process, running as the account,
 * writes it; the auth process reads it as root).  One token per account:
 * issuing a new one replaces the old one.
 */
#ifndef POSTERN_TOKEN_H
#define POSTERN_TOKEN_H

#include "server/auth.h"
#include "server/conf.h"

#define TOKEN_LEN	36		/* "fd725648-932b-45d4-b16a-83c2c5cc2474" */
#define TOKEN_FILE	"postern-mrp-token"

/* Whether s has the form of a token: TOKEN_LEN octets from 0x21 to 0x7e
 * (what a client may send; only tokens this server made ever match). */
int	token_valid(const char *s);
/*
 * Makes a new token into out (TOKEN_LEN + 1 octets) and stores its hash
 * as the token of the Maildir at maildir, atomically replacing any
 * earlier one (written as the calling process, mode 0600).  Returns 0,
 * or -1 (logged; out is then wiped).
 */
int	token_issue(const char *maildir, char *out);
/*
 * Checks token against the stored hash of the Maildir at maildir, in
 * constant time.  The file must be a regular file, not a symlink, not
 * writable by group or others, and owned by uid when uid >= 0.  Returns
 * AUTH_OK, AUTH_FAILED (no token issued, or another token), or
 * AUTH_TEMPFAIL (unreadable or unsafe file; logged); *why_r says why.
 */
enum auth_result token_check(const char *maildir, long uid,
	    const char *token, const char **why_r);
/*
 * The AUTH_MECH_TOKEN check of auth_request(): finds user's account with
 * auth_lookup() and checks token against it, the file owned by the
 * account's uid (or mail_user's with privilege separation, for accounts
 * that name none); an unknown user costs what a known one does.  Results
 * as token_check(); *u filled on AUTH_OK.
 */
enum auth_result token_auth(const struct conf *conf, const char *user,
	    const char *token, struct auth_user *u, const char **why_r);

#endif
