/*
 * session.c: the services around a login that every protocol module
 * shares: credential checks with their fixed log lines and failure delay,
 * taking the mail user's identity, the logout line, the process title.
 * Protocol modules never call auth_request() or setuid() themselves.
 */
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocols/protocol.h"
#include "server/io.h"
#include "server/log.h"
#include "server/session.h"

void
session_safe(const char *in, char *out, size_t outlen)
{
	size_t	 i;

	if (outlen == 0)
		return;
	for (i = 0; in[i] != '\0' && i + 1 < outlen; i++) {
		unsigned char c = (unsigned char)in[i];

		/* Control bytes could forge log lines; '>' would end the
		 * user=<...> field early.  UTF-8 passes through. */
		out[i] = (c < 0x20 || c == 0x7f || c == '>') ? '?' : in[i];
	}
	out[i] = '\0';
}

struct io *
session_io(struct session *s, size_t max_line)
{
	if ((s->io = io_new(s->fd, max_line)) == NULL) {
		log_warn("%s: rip=%s: cannot set up the connection",
		    s->proto->name, s->rip);
		return NULL;
	}
	io_set_timeout(s->io, s->conf->login_timeout);
	return s->io;
}

void
session_title(const struct session *s, const char *what)
{
	setproctitle("%s %s %s", s->proto->name, what, s->rip);
}

bool
session_plaintext_ok(const struct session *s)
{
	switch (s->conf->plaintext_auth) {
	case PLAINTEXT_ALWAYS:
		return true;
	case PLAINTEXT_LOOPBACK:
		return s->tls || s->loopback;
	case PLAINTEXT_NEVER:
	default:
		return s->tls;
	}
}

/* become: takes the account's uid and gid for the rest of the process. */
static int
become(struct session *s, const struct auth_user *u)
{
	gid_t		 gid;
	struct passwd	*pw;

	if (u->uid < 0 || (uid_t)u->uid == geteuid())
		return 0;
	if (geteuid() != 0) {
		log_warnx("%s: cannot switch to uid %ld: not running as root",
		    s->proto->name, u->uid);
		return -1;
	}
	if (u->gid >= 0)
		gid = (gid_t)u->gid;
	else if ((pw = getpwuid((uid_t)u->uid)) != NULL)
		gid = pw->pw_gid;
	else {
		log_warnx("%s: uid %ld has no gid and no passwd entry",
		    s->proto->name, u->uid);
		return -1;
	}
	s->dropped = true;
	if (setgroups(1, &gid) == -1 || setgid(gid) == -1 ||
	    setuid((uid_t)u->uid) == -1) {
		log_warn("%s: cannot switch to uid %ld gid %ld",
		    s->proto->name, u->uid, (long)gid);
		return -1;
	}
	if (setuid(0) != -1 || geteuid() == 0)
		fatalx("%s: could regain root after dropping it",
		    s->proto->name);
	return 0;
}

enum auth_result
session_login(struct session *s, const struct auth_request *req,
    struct auth_user *u)
{
	enum auth_result r;
	const char	*why = "unknown";
	char		 safe[USER_MAX + 1];

	session_safe(req->user, safe, sizeof(safe));
	r = auth_request(s->conf, req, u, &why);
	if (r == AUTH_OK && become(s, u) == -1) {
		r = AUTH_TEMPFAIL;
		why = "cannot take the account's identity";
	}
	if (r != AUTH_OK) {
		log_info("auth failed: user=<%s> rip=%s proto=%s reason=%s",
		    safe, s->rip, s->proto->name, why);
		if (s->conf->auth_fail_delay > 0)
			sleep((unsigned)s->conf->auth_fail_delay);
		return r;
	}
	strlcpy(s->user, u->name, sizeof(s->user));
	log_info("login: user=<%s> rip=%s proto=%s", safe, s->rip,
	    s->proto->name);
	return AUTH_OK;
}

void
session_logout(const struct session *s, const char *stats)
{
	char	 safe[USER_MAX + 1];

	session_safe(s->user, safe, sizeof(safe));
	log_info("logout: user=<%s> rip=%s proto=%s %s", safe, s->rip,
	    s->proto->name, stats);
}
