/*
 * privsep.c: identities.  Resolves the unprivileged user and the mail
 * user at start-up, sandboxes pre-login workers (chroot, setuid and
 * system call filters), and gives session processes their account's uid
 * and gid (and a filter of their own), checking that none of it can be
 * undone.  Never called with client input.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "protocols/protocol.h"
#include "server/compat.h"
#include "server/log.h"
#include "server/passwd.h"
#include "server/privsep.h"
#include "server/scoreboard.h"

/* lookup: the uid and gid of the unprivileged user that setting names;
 * -1 with the reason in why when there is none, or it is root. */
static int
lookup(const char *setting, const char *name, uid_t *uid, gid_t *gid,
    char *why, size_t len)
{
	struct passwd	*pw;

	if ((pw = getpwnam(name)) == NULL) {
		snprintf(why, len, "%s \"%s\" does not exist", setting, name);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(why, len, "%s \"%s\" is root: it must be "
		    "unprivileged", setting, name);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* users: looks up user and mail_user (when set) into conf. */
static int
users(struct conf *conf, char *why, size_t len)
{
	if (lookup("user", conf->user, &conf->user_uid, &conf->user_gid,
	    why, len) == -1)
		return -1;
	if (conf->mail_user[0] != '\0' && lookup("mail_user",
	    conf->mail_user, &conf->mail_uid, &conf->mail_gid, why, len) == -1)
		return -1;
	return 0;
}

/* empty_dir_ok: whether the chroot directory is one, belongs to root and
 * is writable by nobody else; -1 with the reason in why. */
static int
empty_dir_ok(const char *path, char *why, size_t len)
{
	struct stat	 st;

	if (lstat(path, &st) == -1) {
		snprintf(why, len, "chroot directory %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(why, len, "chroot directory %s must be a directory "
		    "owned by root and writable by no one else", path);
		return -1;
	}
	return 0;
}

/* spool_ok: whether LMTP's sessions, which run as mail_user or else as
 * user, can make their spool files in lmtp_temp_dir (they have no
 * group but their user's); checked only when a listener serves LMTP.
 * -1 with the reason in why. */
static int
spool_ok(const struct conf *c, char *why, size_t len)
{
	const struct protocol *p;
	struct stat	 st;
	bool		 mail = c->mail_user[0] != '\0';
	uid_t		 uid = mail ? c->mail_uid : c->user_uid;
	gid_t		 gid = mail ? c->mail_gid : c->user_gid;
	mode_t		 need;
	int		 i;

	for (i = 0; i < c->nlisteners; i++)
		if ((p = protocol_find(c->listeners[i].protocol)) != NULL &&
		    p->local)
			break;
	if (i == c->nlisteners)
		return 0;
	if (stat(c->lmtp_temp_dir, &st) == -1) {
		snprintf(why, len, "lmtp_temp_dir %s: %s", c->lmtp_temp_dir,
		    strerror(errno));
		return -1;
	}
	need = st.st_uid == uid ? S_IWUSR | S_IXUSR : st.st_gid == gid ?
	    S_IWGRP | S_IXGRP : S_IWOTH | S_IXOTH;
	if (!S_ISDIR(st.st_mode) || (st.st_mode & need) != need) {
		snprintf(why, len, "lmtp_temp_dir %s: LMTP's sessions, as %s "
		    "\"%s\", cannot make files there", c->lmtp_temp_dir,
		    mail ? "mail_user" : "user", mail ? c->mail_user : c->user);
		return -1;
	}
	return 0;
}

int
privsep_init(struct conf *conf)
{
	char	 why[PATH_MAX + 128];

	conf->privsep = geteuid() == 0;
	if (!conf->privsep) {
		log_warnx("not started as root: no privilege separation, every "
		    "session runs as uid %ld", (long)geteuid());
		return 0;
	}
	if (users(conf, why, sizeof(why)) == -1) {
		log_warnx("%s", why);
		return -1;
	}
	if (mkdir(conf->chroot, 0755) == -1 && errno != EEXIST) {
		log_warn("chroot directory %s", conf->chroot);
		return -1;
	}
	if (empty_dir_ok(conf->chroot, why, sizeof(why)) == -1 ||
	    spool_ok(conf, why, sizeof(why)) == -1) {
		log_warnx("%s", why);
		return -1;
	}
	return 0;
}

int
privsep_check(const struct conf *conf, char *why, size_t len)
{
	struct conf	 c = *conf;
	struct stat	 st;
	char		 parent[PATH_MAX], *slash;

	if (geteuid() != 0)
		return 0;
	if (users(&c, why, len) == -1 || spool_ok(&c, why, len) == -1)
		return -1;
	if (lstat(conf->chroot, &st) == 0 || errno != ENOENT)
		return empty_dir_ok(conf->chroot, why, len);
	/* Missing: the start makes it, in a directory that must exist. */
	strlcpy(parent, conf->chroot, sizeof(parent));
	if ((slash = strrchr(parent, '/')) != NULL)
		slash[slash == parent] = '\0';
	if (stat(parent, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(why, len, "chroot directory %s cannot be made: %s "
		    "is no directory", conf->chroot, parent);
		return -1;
	}
	return 0;
}

/* drop: setgroups, setgid, setuid, and proof that root is gone. */
static int
drop(uid_t uid, gid_t gid)
{
	if (setgroups(1, &gid) == -1 || setgid(gid) == -1 ||
	    setuid(uid) == -1) {
		log_warn("cannot switch to uid %ld gid %ld", (long)uid,
		    (long)gid);
		return -1;
	}
	if (setuid(0) != -1 || geteuid() == 0 || getegid() != gid)
		fatalx("could regain root after switching to uid %ld",
		    (long)uid);
	return 0;
}

/* no_filter: logs that the kernel refused who (a kind of process, or an
 * account's session) its system call filter; once a minute per who, as a
 * kernel without filters refuses every new worker and session. */
static void
no_filter(const char *who)
{
	char		 tail[64];
	unsigned	 more;
	int		 saved = errno;

	if (!sb_log_now("no system call filter", who, strlen(who), &more))
		return;
	sb_log_tail(more, tail, sizeof(tail));
	log_warnx("%s: no system call filter: %s%s", who, strerror(saved),
	    tail);
}

void
privsep_sandbox(const struct conf *conf)
{
	if (!conf->privsep)
		return;
	tzset();	/* /etc/localtime is out of reach after chroot */
	if (chroot(conf->chroot) == -1 || chdir("/") == -1)
		fatal("chroot %s", conf->chroot);
	if (drop(conf->user_uid, conf->user_gid) == -1)
		exit(1);
	if (compat_sandbox(SANDBOX_PRELOGIN) == -1)
		no_filter("pre-login worker");
}

int
privsep_unroot(const struct conf *conf)
{
	passwd_forget();
	if (drop(conf->user_uid, conf->user_gid) == -1)
		return -1;
	if (compat_sandbox(SANDBOX_PRELOGIN) == -1)
		no_filter("local worker's session");
	return 0;
}

void
privsep_root_sandbox(const struct conf *conf, const char *who)
{
	if (conf->privsep && compat_sandbox(SANDBOX_ROOT) == -1)
		no_filter(who);
}

/* resolve: the uid and gid account u runs as, whoever we are.  Returns
 * 0, or -1 after logging why it must be refused. */
static int
resolve(const struct conf *conf, const struct auth_user *u, uid_t *uid_r,
    gid_t *gid_r)
{
	uid_t	 uid;
	gid_t	 gid;

	if (u->uid == 0) {
		log_warnx("account %s has uid 0: refused", u->name);
		return -1;
	}
	if (u->uid > 0) {
		uid = (uid_t)u->uid;
		gid = u->gid >= 0 ? (gid_t)u->gid : uid;
		if (u->gid < 0) {
			struct passwd *pw = getpwuid(uid);

			if (pw != NULL)
				gid = pw->pw_gid;
		}
	} else if (conf->privsep && conf->mail_user != NULL &&
	    conf->mail_user[0] != '\0') {
		uid = conf->mail_uid;
		gid = conf->mail_gid;
	} else if (geteuid() != 0 || !conf->privsep) {
		/* Not root, or a test harness without separation: serve the
		 * account as ourselves.  posternd started as root always
		 * separates, so this never serves a client as root. */
		uid = geteuid();
		gid = getegid();
	} else {
		log_warnx("account %s names no uid and mail_user is not set: "
		    "refused rather than served as root", u->name);
		return -1;
	}
	*uid_r = uid;
	*gid_r = gid;
	return 0;
}

int
privsep_identity(const struct conf *conf, const struct auth_user *u,
    uid_t *uid_r, gid_t *gid_r)
{
	uid_t	 uid;
	gid_t	 gid;

	if (resolve(conf, u, &uid, &gid) == -1)
		return -1;
	if (geteuid() != 0 && uid != geteuid()) {
		log_warnx("account %s runs as uid %ld: posternd must start as "
		    "root to serve it", u->name, (long)uid);
		return -1;
	}
	*uid_r = uid;
	*gid_r = gid;
	return 0;
}

int
privsep_own(const struct conf *conf, const struct auth_user *u)
{
	uid_t	 uid;
	gid_t	 gid;

	if (resolve(conf, u, &uid, &gid) == -1)
		return -1;
	return uid == geteuid();
}

int
privsep_become(const struct conf *conf, const struct auth_user *u)
{
	uid_t	 uid;
	gid_t	 gid;

	if (privsep_identity(conf, u, &uid, &gid) == -1)
		return -1;
	if (geteuid() != 0 || (uid == geteuid() && gid == getegid()))
		return 0;
	passwd_forget();	/* no other account's hash goes along */
	if (compat_sandbox(SANDBOX_SESSION) == -1)
		no_filter(u->name);
	return drop(uid, gid);
}
