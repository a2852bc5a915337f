/*
 * auth_system.h: the "system" passdb: accounts from the system's password
 * database (getpwnam(3)), passwords checked through PAM when Postern was
 * built with it, else against the shadow(5) hash with crypt(3).  Used by
 * auth.c only; it must run as root to read shadow hashes.
 */
#ifndef POSTERN_AUTH_SYSTEM_H
#define POSTERN_AUTH_SYSTEM_H

#include <pwd.h>

#include "server/auth.h"
#include "server/conf.h"

/*
 * Checks user's password (PAM service pam_service; shadow(5) when that is
 * empty or Postern has no PAM); rhost, when not NULL, is the client's
 * address for PAM_RHOST.  Then as auth_system_account().  An unknown
 * user costs what a wrong password costs.  Returns AUTH_OK (and fills
 * *u), AUTH_FAILED or AUTH_TEMPFAIL, *why_r saying why for the log.
 */
enum auth_result auth_system_check(const struct conf *conf,
	    const char *user, const char *password, const char *rhost,
	    struct auth_user *u, const char **why_r);

/* The account of user, whose credentials were checked otherwise (APOP,
 * RPOP).  Results as auth_system_check()'s. */
enum auth_result auth_system_lookup(const struct conf *conf,
	    const char *user, struct auth_user *u, const char **why_r);

/*
 * Fills *u from a passwd entry: uid 0 and uids below first_valid_uid are
 * refused (AUTH_FAILED), the Maildir is the maildir template with %h the
 * entry's home (AUTH_TEMPFAIL when it does not expand).
 */
enum auth_result auth_system_account(const struct conf *conf,
	    const struct passwd *pw, struct auth_user *u, const char **why_r);

#ifdef HAVE_PAM
#include <security/pam_appl.h>

/* What the PAM conversation answers with. */
struct auth_pam_data {
	const char	*user;
	const char	*password;
};

/*
 * The PAM conversation: a prompt without echo (the password) is answered
 * with data->password, one with echo (a login name) with data->user;
 * error and information messages get no answer.  Returns PAM_SUCCESS, or
 * PAM_CONV_ERR for an unknown message style (nothing allocated), or
 * PAM_BUF_ERR.
 */
int	auth_system_conv(int n, const struct pam_message **msg,
	    struct pam_response **resp, void *data);

/*
 * Authenticates user with password through PAM service, then checks the
 * account (pam_acct_mgmt).  Returns 1, 0 when refused, -1 when PAM
 * failed (service missing, a module error); *why_r says why.
 */
int	auth_system_pam(const char *service, const char *user,
	    const char *password, const char *rhost, const char **why_r);
#endif

#endif
