/*
 * account.h: creating virtual-user accounts in the passwd-file, for MRP's
 * CREATE (postern-mrp(7)).  Only with passdb passwd-file and mrp_create
 * on; one creation at a time (an fcntl lock on passwd_file".lock"), the
 * new file written beside the old one and renamed into place, and at
 * most mrp_create_rate accounts per client address per hour (counted in
 * ACCOUNT_RATE_FILE in state_dir).  With privilege separation it runs in
 * the auth process, as root.
 */
#ifndef POSTERN_ACCOUNT_H
#define POSTERN_ACCOUNT_H

#include <stdbool.h>

#include "server/auth.h"
#include "server/conf.h"

#define ACCOUNT_NAME_MIN	8
#define ACCOUNT_NAME_MAX	30
#define ACCOUNT_PASSWORD_MIN	8
#define ACCOUNT_PASSWORD_MAX	30
#define ACCOUNT_RATE_FILE	"mrp-create-rate"
#define ACCOUNT_RATE_WINDOW	3600		/* seconds */

/* Whether name may name a new account: 8 to 30 octets of letters,
 * digits and . _ + - @, starting with a letter or a digit. */
bool	account_name_valid(const char *name);
/* Whether pw may be a new account's password: 8 to 30 octets of visible
 * 7-bit ASCII. */
bool	account_password_valid(const char *pw);

/*
 * Creates the account user with password, asked for by a client at rip:
 * its home mrp_create_home/user and its Maildir (as the maildir template
 * says) owned by the identity its sessions run as, then its line
 * "user:hash::::home::" in the passwd-file.  A name is refused when any
 * account has it in another case.  On AUTH_OK fills *u as auth_lookup()
 * does.  AUTH_FAILED: creation off, invalid name or password, name
 * taken, rate limit reached; AUTH_TEMPFAIL: a file could not be written
 * (logged).  *why_r says why, for the log.
 */
enum auth_result account_create(const struct conf *conf, const char *user,
	    const char *password, const char *rip, struct auth_user *u,
	    const char **why_r);

#endif
