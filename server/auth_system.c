/*
 * auth_system.c: the "system" passdb.  Accounts come from getpwnam(3);
 * passwords are checked through PAM, or against the shadow(5) hash with
 * crypt(3).  It never lets uid 0 or a uid below first_valid_uid in, never
 * keeps a password beyond the check, and leaves delays to session.c.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SHADOW_H
#include <shadow.h>
#endif

#include "server/auth.h"
#include "server/auth_system.h"
#include "server/limits.h"
#include "server/log.h"
#include "server/password.h"

#ifndef PAM_MAX_NUM_MSG
#define PAM_MAX_NUM_MSG	32
#endif

/* What is kept of a passwd entry: getpwnam's storage does not survive a
 * PAM module's own lookups. */
struct sysacct {
	struct passwd	 pw;
	char		 name[USER_MAX + 1];
	char		 home[PATH_MAX];
};

/* sys_getpw: looks user up into *a.  Returns 1, 0 when unknown, -1 when
 * the database failed (logged). */
static int
sys_getpw(const char *user, struct sysacct *a)
{
	struct passwd	*pw;

	memset(a, 0, sizeof(*a));
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		if (errno == 0 || errno == ENOENT || errno == ESRCH ||
		    errno == EBADF || errno == EPERM)
			return 0;
		log_warn("auth: getpwnam");
		return -1;
	}
	if (strlcpy(a->name, pw->pw_name, sizeof(a->name)) >=
	    sizeof(a->name) || strlcpy(a->home, pw->pw_dir != NULL ?
	    pw->pw_dir : "", sizeof(a->home)) >= sizeof(a->home)) {
		log_warnx("auth: passwd entry of uid %lu: name or home too "
		    "long", (unsigned long)pw->pw_uid);
		return 0;
	}
	a->pw.pw_name = a->name;
	a->pw.pw_dir = a->home;
	a->pw.pw_uid = pw->pw_uid;
	a->pw.pw_gid = pw->pw_gid;
	a->pw.pw_passwd = NULL;
	return 1;
}

/* Fills *u from a passwd entry, refusing low uids. */
enum auth_result
auth_system_account(const struct conf *conf, const struct passwd *pw,
    struct auth_user *u, const char **why_r)
{
	memset(u, 0, sizeof(*u));
	if (pw->pw_uid == 0) {
		*why_r = "uid 0 refused";
		return AUTH_FAILED;
	}
	if ((long)pw->pw_uid < conf->first_valid_uid) {
		*why_r = "uid below first_valid_uid";
		return AUTH_FAILED;
	}
	if (strlcpy(u->name, pw->pw_name, sizeof(u->name)) >= sizeof(u->name)) {
		memset(u, 0, sizeof(*u));
		*why_r = "invalid user name";
		return AUTH_FAILED;
	}
	if (conf->maildir == NULL || auth_maildir_path(conf->maildir,
	    pw->pw_name, pw->pw_dir, u->maildir, sizeof(u->maildir)) == -1) {
		memset(u, 0, sizeof(*u));
		*why_r = "bad maildir path";
		return AUTH_TEMPFAIL;
	}
	u->uid = (long)pw->pw_uid;
	u->gid = (long)pw->pw_gid;
	*why_r = "ok";
	return AUTH_OK;
}

/* Finds a system account without checking a password. */
enum auth_result
auth_system_lookup(const struct conf *conf, const char *user,
    struct auth_user *u, const char **why_r)
{
	struct sysacct	 a;

	memset(u, 0, sizeof(*u));
	switch (sys_getpw(user, &a)) {
	case -1:
		*why_r = "passwd database unavailable";
		return AUTH_TEMPFAIL;
	case 0:
		*why_r = "unknown user";
		return AUTH_FAILED;
	default:
		return auth_system_account(conf, &a.pw, u, why_r);
	}
}

/*
 * sys_shadow: checks password against the account's shadow(5) hash (on
 * the BSDs, the hash getpwnam gives root).  Returns 1, 0 when wrong or
 * the account is locked or expired, -1 when the hash cannot be read.
 */
static int
sys_shadow(const char *user, const char *password, const char **why_r)
{
	char		 stored[PASSWORD_MAX + 16];
	const char	*hash = NULL;
	struct passwd	*pw;
	bool		 expired = false;
	int		 ok;
#ifdef HAVE_GETSPNAM
	struct spwd	*sp;

	errno = 0;
	if ((sp = getspnam(user)) != NULL) {
		hash = sp->sp_pwdp;
		expired = sp->sp_expire > 0 &&
		    (long)(time(NULL) / 86400) >= sp->sp_expire;
	} else if (errno == EACCES || errno == EPERM) {
		log_warnx("auth: cannot read shadow passwords (not root?)");
		*why_r = "shadow unreadable";
		password_waste(password);
		return -1;
	}
#endif
	if (hash == NULL && (pw = getpwnam(user)) != NULL)
		hash = pw->pw_passwd;
	/* "x": the hash is in a shadow file we did not get. */
	if (hash == NULL || strcmp(hash, "x") == 0 || snprintf(stored,
	    sizeof(stored), "{CRYPT}%s", hash) >= (int)sizeof(stored)) {
		password_waste(password);
		*why_r = "no password hash";
		return 0;
	}
	ok = password_verify(stored, password);
	explicit_bzero(stored, sizeof(stored));
	if (!ok) {
		*why_r = "wrong password";
		return 0;
	}
	if (expired) {
		*why_r = "account expired";
		return 0;
	}
	return 1;
}

#ifdef HAVE_PAM
/* Answers PAM's prompts with the user name and password. */
int
auth_system_conv(int n, const struct pam_message **msg,
    struct pam_response **resp, void *data)
{
	const struct auth_pam_data *d = data;
	struct pam_response	*r;
	const char		*answer;
	int			 i, err = PAM_CONV_ERR;

	*resp = NULL;
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	if ((r = calloc((size_t)n, sizeof(*r))) == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			answer = d->password;
			break;
		case PAM_PROMPT_ECHO_ON:
			answer = d->user;
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			continue;
		default:
			goto fail;
		}
		if ((r[i].resp = strdup(answer)) == NULL) {
			err = PAM_BUF_ERR;
			goto fail;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (i = 0; i < n; i++)
		if (r[i].resp != NULL) {
			explicit_bzero(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	free(r);
	return err;
}

#ifdef PAM_FAIL_DELAY
/* pam_no_delay: PAM's own failure delay is replaced by session.c's. */
static void
pam_no_delay(int retval, unsigned usec, void *appdata)
{
}
#endif

/* Authenticates user and checks the account through PAM. */
int
auth_system_pam(const char *service, const char *user, const char *password,
    const char *rhost, const char **why_r)
{
	struct auth_pam_data	 d = { user, password };
	struct pam_conv		 conv = { auth_system_conv, &d };
	pam_handle_t		*ph = NULL;
	int			 rc, res = -1;

	if ((rc = pam_start(service, user, &conv, &ph)) != PAM_SUCCESS) {
		log_warnx("auth: pam_start(%s) failed (%d)", service, rc);
		*why_r = "PAM unavailable";
		return -1;
	}
	if (rhost != NULL)
		(void)pam_set_item(ph, PAM_RHOST, rhost);
#ifdef PAM_FAIL_DELAY
	(void)pam_set_item(ph, PAM_FAIL_DELAY, (const void *)pam_no_delay);
#endif
	rc = pam_authenticate(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	switch (rc) {
	case PAM_SUCCESS:
		rc = pam_acct_mgmt(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
		res = rc == PAM_SUCCESS ? 1 : 0;
		*why_r = rc == PAM_SUCCESS ? "ok" :
		    rc == PAM_NEW_AUTHTOK_REQD ? "password expired" :
		    rc == PAM_ACCT_EXPIRED ? "account expired" :
		    "PAM refused the account";
		break;
	case PAM_AUTH_ERR:
	case PAM_USER_UNKNOWN:
	case PAM_MAXTRIES:
	case PAM_CRED_INSUFFICIENT:
	case PAM_PERM_DENIED:
		res = 0;
		*why_r = "wrong password";
		break;
	default:
		log_warnx("auth: PAM service %s: %s", service,
		    pam_strerror(ph, rc));
		*why_r = "PAM error";
		break;
	}
	pam_end(ph, rc);
	return res;
}
#endif

/* Checks a system account's password, then the account. */
enum auth_result
auth_system_check(const struct conf *conf, const char *user,
    const char *password, const char *rhost, struct auth_user *u,
    const char **why_r)
{
	struct sysacct	 a;
	int		 rc;

	memset(u, 0, sizeof(*u));
	if (strlen(password) > PASSWORD_MAX) {
		*why_r = "password too long";
		return AUTH_FAILED;
	}
	if (!auth_valid_user(user)) {
		password_waste(password);
		*why_r = "invalid user name";
		return AUTH_FAILED;
	}
	switch (sys_getpw(user, &a)) {
	case -1:
		*why_r = "passwd database unavailable";
		return AUTH_TEMPFAIL;
	case 0:
		password_waste(password);
		*why_r = "unknown user";
		return AUTH_FAILED;
	default:
		break;
	}
#ifdef HAVE_PAM
	if (conf->pam_service != NULL && conf->pam_service[0] != '\0')
		rc = auth_system_pam(conf->pam_service, a.name, password,
		    rhost, why_r);
	else
#endif
		rc = sys_shadow(a.name, password, why_r);
	if (rc != 1)
		return rc == 0 ? AUTH_FAILED : AUTH_TEMPFAIL;
	/* The password was right: only now say that the uid is refused. */
	return auth_system_account(conf, &a.pw, u, why_r);
}
