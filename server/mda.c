/*
 * mda.c: local delivery (mda.h).  It owns the recipient lookup every
 * delivery path shares, the rule of whose address a sender is, and the
 * delivery children that write a copy as its recipient.  It never
 * delivers as uid 0, never holds a message in memory, and never leaves
 * a copy in tmp/ once a job has ended or its child is gone.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "server/limits.h"
#include "server/log.h"
#include "server/mda.h"
#include "server/passwd.h"
#include "server/privsep.h"

/* Seconds a delivery child waits for mda_end() beyond idle_timeout (the
 * longest a PAPM relay command runs between the two phases). */
#define MDA_SLACK	300

/* Room for a header line mda_headers() writes. */
#define MDA_LINE_MAX	1024

/* What a delivery child reports: once its copy is in tmp/ (err only),
 * and once it is committed. */
struct report {
	int	 err;
	off_t	 size;
	char	 name[DELIVER_NAME_MAX];
};

/* identity: whether account u has an identity to be delivered as;
 * MDA_NOIDENT (logged, *u cleared) when it has none. */
static enum mda_found
identity(const struct conf *conf, struct auth_user *u)
{
	uid_t	 uid;
	gid_t	 gid;

	if (privsep_identity(conf, u, &uid, &gid) == -1) {
		memset(u, 0, sizeof(*u));
		return MDA_NOIDENT;
	}
	return MDA_FOUND;
}

/* entry: the account of passwd-file entry e, as mda_lookup() says. */
static enum mda_found
entry(const struct conf *conf, const struct passwd_entry *e,
    struct auth_user *u)
{
	memset(u, 0, sizeof(*u));
	if (e->uid == 0)
		return MDA_ROOT;
	if (auth_maildir_path(conf->maildir, e->user, e->home, u->maildir,
	    sizeof(u->maildir)) == -1) {
		memset(u, 0, sizeof(*u));
		return MDA_BADPATH;
	}
	strlcpy(u->name, e->user, sizeof(u->name));
	u->uid = e->uid;
	u->gid = e->gid;
	return identity(conf, u);
}

/* find: the passwd-file entry of addr, else of its local part.  1 found,
 * 0 unknown, -1 when the file cannot be read. */
static int
find(const struct conf *conf, const char *addr, struct passwd_entry *e)
{
	char		 local[USER_MAX + 1];
	const char	*at;
	int		 rc;

	if (auth_valid_user(addr) &&
	    (rc = passwd_lookup(conf->passwd_file, addr, e)) != 0)
		return rc;
	if ((at = strrchr(addr, '@')) == NULL || at == addr ||
	    (size_t)(at - addr) >= sizeof(local))
		return 0;
	memcpy(local, addr, (size_t)(at - addr));
	local[at - addr] = '\0';
	if (!auth_valid_user(local))
		return 0;
	return passwd_lookup(conf->passwd_file, local, e);
}

enum mda_found
mda_lookup(const struct conf *conf, const char *addr, struct auth_user *u)
{
	struct passwd_entry	 e;
	enum mda_found		 r;

	memset(u, 0, sizeof(*u));
	switch (find(conf, addr, &e)) {
	case -1:
		r = MDA_UNREADABLE;
		break;
	case 0:
		r = MDA_UNKNOWN;
		break;
	default:
		r = entry(conf, &e, u);
		break;
	}
	explicit_bzero(&e, sizeof(e));
	return r;
}

enum mda_found
mda_account(const struct conf *conf, const char *user, struct auth_user *u)
{
	const char	*why;

	switch (auth_lookup(conf, user, u, &why)) {
	case AUTH_OK:
		return identity(conf, u);
	case AUTH_FAILED:
		return MDA_UNKNOWN;
	default:
		return strcmp(why, "bad maildir path") == 0 ? MDA_BADPATH :
		    MDA_UNREADABLE;
	}
}

bool
mda_listed(const char *list, const char *word)
{
	size_t	 n, len = strlen(word);

	while (list != NULL && *list != '\0') {
		list += strspn(list, " ,\t");
		n = strcspn(list, " ,\t");
		if (n > 0 && n == len && strncasecmp(list, word, n) == 0)
			return true;
		list += n;
	}
	return false;
}

bool
mda_local_domain(const struct conf *conf, const char *d)
{
	return strcasecmp(d, conf->hostname) == 0 ||
	    mda_listed(conf->papm_helo_domains, d);
}

bool
mda_own_address(const struct conf *conf, const char *user, const char *addr)
{
	const char	*at = strrchr(addr, '@'), *uat;
	size_t		 len;

	if (strcmp(addr, user) == 0)
		return true;
	if (at == NULL)
		return false;
	len = (size_t)(at - addr);
	if ((uat = strrchr(user, '@')) != NULL)	/* "alice@example.org" */
		return (size_t)(uat - user) == len &&
		    strncmp(addr, user, len) == 0 &&
		    strcasecmp(at + 1, uat + 1) == 0;
	return strlen(user) == len && strncmp(addr, user, len) == 0 &&
	    mda_local_domain(conf, at + 1);
}

/* header: writes "name: <value>" and a newline to d. */
static int
header(struct delivery *d, const char *name, const char *value)
{
	char	 line[MDA_LINE_MAX];
	int	 n;

	n = snprintf(line, sizeof(line), "%s: <%s>\n", name, value);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return deliver_write(d, line, (size_t)n);
}

int
mda_headers(struct delivery *d, const char *sender, const char *rcpt)
{
	if (sender != NULL && header(d, "Return-Path", sender) == -1)
		return -1;
	if (rcpt != NULL && header(d, "Delivered-To", rcpt) == -1)
		return -1;
	return 0;
}

/* copy: begins a delivery into maildir and writes the headers and the
 * whole of m->fd.  Returns the handle, or NULL with errno set. */
static struct delivery *
copy(const char *maildir, const struct mda_msg *m, const char *rcpt)
{
	struct delivery	*d;

	errno = 0;
	if (lseek(m->fd, 0, SEEK_SET) == -1 ||
	    (d = deliver_begin(maildir, NULL)) == NULL)
		goto fail;
	if (mda_headers(d, m->sender, rcpt) == -1 ||
	    deliver_copy(d, m->fd) == -1) {
		deliver_abort(&d);
		goto fail;
	}
	return d;
fail:
	if (errno == 0)
		errno = EIO;
	return NULL;
}

/* put: sends one report; -1 when the parent is gone. */
static int
put(int sock, const struct report *rep)
{
	ssize_t	 n;

	while ((n = send(sock, rep, sizeof(*rep), MSG_NOSIGNAL)) == -1 &&
	    errno == EINTR)
		;
	return n == (ssize_t)sizeof(*rep) ? 0 : -1;
}

/* get: the child's next report into *rep; -1 when it died first. */
static int
get(int sock, struct report *rep)
{
	ssize_t	 n;

	memset(rep, 0, sizeof(*rep));
	while ((n = recv(sock, rep, sizeof(*rep), 0)) == -1 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(*rep))
		return -1;
	rep->name[sizeof(rep->name) - 1] = '\0';
	return 0;
}

/* decision: in a delivery child, waits for mda_end()'s word: true for
 * commit; false for abort, the parent gone, or too long a wait. */
static bool
decision(const struct conf *conf, int sock)
{
	struct pollfd	 pfd = { sock, POLLIN, 0 };
	char		 c = 0;
	int		 r;

	while ((r = poll(&pfd, 1, (conf->idle_timeout + MDA_SLACK) * 1000))
	    == -1 && errno == EINTR)
		;
	if (r != 1)
		return false;
	while (recv(sock, &c, 1, 0) == -1 && errno == EINTR)
		;
	return c == 'c';
}

/* child: a delivery child: takes u's identity, writes the copy, reports,
 * and commits it or gives it up as the parent says.  Never returns. */
static void __attribute__((noreturn))
child(const struct conf *conf, const struct mda_msg *m,
    const struct auth_user *u, const char *rcpt, int sock)
{
	struct delivery	*d = NULL;
	struct report	 rep;

	memset(&rep, 0, sizeof(rep));
	if (privsep_become(conf, u) == -1)
		rep.err = EPERM;
	else if ((d = copy(u->maildir, m, rcpt)) == NULL)
		rep.err = errno;
	if (put(sock, &rep) == -1 || rep.err != 0 || !decision(conf, sock)) {
		deliver_abort(&d);
		_exit(0);
	}
	if (deliver_commit(&d, rep.name, sizeof(rep.name), NULL,
	    &rep.size) == -1)
		rep.err = errno != 0 ? errno : EIO;
	(void)put(sock, &rep);
	_exit(0);
}

/* reap: closes job j's socket and waits for its child to end. */
static void
reap(struct mda_job *j)
{
	int	 status;

	close(j->sock);
	j->sock = -1;
	while (waitpid(j->pid, &status, 0) == -1 && errno == EINTR)
		;
	j->pid = 0;
}

/* spawn: starts jobs[i]'s delivery child and waits for its first report.
 * Returns 0, or -1 with jobs[i].err set. */
static int
spawn(const struct conf *conf, const struct mda_msg *m,
    const struct auth_user *u, const char *rcpt, struct mda_job *jobs,
    size_t i)
{
	struct mda_job	*j = &jobs[i];
	struct report	 rep;
	size_t		 k;
	int		 sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1) {
		j->err = errno;
		log_warn("delivery child");
		return -1;
	}
	if ((j->pid = fork()) == -1) {
		j->err = errno;
		j->pid = 0;
		log_warn("delivery child");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (j->pid == 0) {
		close(sv[0]);
		for (k = 0; k < i; k++)
			if (jobs[k].pid != 0)
				close(jobs[k].sock);
		child(conf, m, u, rcpt, sv[1]);
	}
	close(sv[1]);
	j->sock = sv[0];
	if (get(j->sock, &rep) == -1) {
		log_warnx("delivery child %ld died", (long)j->pid);
		rep.err = EIO;
	}
	if (rep.err != 0) {
		j->err = rep.err;
		reap(j);
		return -1;
	}
	return 0;
}

int
mda_begin(const struct conf *conf, const struct mda_msg *m,
    const struct auth_user *u, const char *rcpt, struct mda_job *jobs,
    size_t i)
{
	struct mda_job	*j = &jobs[i];
	uid_t		 uid;
	gid_t		 gid;

	memset(j, 0, sizeof(*j));
	j->sock = -1;
	if (privsep_identity(conf, u, &uid, &gid) == -1) {
		j->err = EPERM;
		return -1;
	}
	if (uid != geteuid())
		return spawn(conf, m, u, rcpt, jobs, i);
	if ((j->d = copy(u->maildir, m, rcpt)) == NULL) {
		j->err = errno;
		return -1;
	}
	return 0;
}

/* end_child: mda_end() for a job in a delivery child. */
static int
end_child(struct mda_job *j, bool commit)
{
	struct report	 rep;
	ssize_t		 n;

	while ((n = send(j->sock, commit ? "c" : "a", 1, MSG_NOSIGNAL)) ==
	    -1 && errno == EINTR)
		;
	if (!commit) {
		reap(j);	/* it removes its copy, then ends */
		return 0;
	}
	if (n != 1 || get(j->sock, &rep) == -1) {
		log_warnx("delivery child %ld died", (long)j->pid);
		rep.err = EIO;
	}
	reap(j);
	j->err = rep.err;
	if (rep.err != 0)
		return -1;
	memcpy(j->name, rep.name, sizeof(j->name));
	j->size = rep.size;
	return 0;
}

int
mda_end(struct mda_job *j, bool commit)
{
	if (j->pid != 0)
		return end_child(j, commit);
	if (j->d == NULL)
		return j->err != 0 ? -1 : 0;
	if (!commit) {
		deliver_abort(&j->d);
		return 0;
	}
	if (deliver_commit(&j->d, j->name, sizeof(j->name), NULL,
	    &j->size) == -1) {
		j->err = errno != 0 ? errno : EIO;
		return -1;
	}
	return 0;
}
