/*
 * session.c: the services around a login that every protocol module
 * shares: credential checks with their fixed log lines and failure delay,
 * taking the mail user's identity, the logout line, the process title.
 * Protocol modules never call auth_request() or setuid() themselves.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocols/protocol.h"
#include "server/authd.h"
#include "server/io.h"
#include "server/log.h"
#include "server/privsep.h"
#include "server/session.h"
#include "server/tls.h"

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
	if (s->io != NULL)
		return s->io;
	if ((s->io = io_new(s->fd, max_line)) == NULL) {
		log_warn("%s: rip=%s: cannot set up the connection",
		    s->proto->name, s->rip);
		return NULL;
	}
	if (s->npending > 0 &&
	    io_push_input(s->io, s->pending, s->npending) == -1) {
		log_warnx("%s: rip=%s: %zu octets sent after the login do not "
		    "fit the line buffer", s->proto->name, s->rip, s->npending);
		io_free(&s->io);
		return NULL;
	}
	io_set_timeout(s->io, s->conf->login_timeout);
	if (s->tls_listener && session_start_tls(s) == -1) {
		io_free(&s->io);
		return NULL;
	}
	return s->io;
}

bool
session_tls_available(const struct session *s)
{
	return !s->tls && tls_context() != NULL;
}

int
session_start_tls(struct session *s)
{
	char	 info[128];
	size_t	 n;

	if (tls_context() == NULL) {
		log_warnx("tls: rip=%s proto=%s: TLS is not configured",
		    s->rip, s->proto->name);
		return -1;
	}
	if ((n = io_pending(s->io)) > 0)
		log_warnx("tls: rip=%s proto=%s: dropped %zu octets sent in "
		    "the clear before the TLS handshake", s->rip,
		    s->proto->name, n);
	if (io_start_tls(s->io, tls_context()) == -1) {
		log_info("tls: rip=%s proto=%s handshake failed: %s", s->rip,
		    s->proto->name, io_tls_error(s->io));
		return -1;
	}
	s->tls = true;
	io_tls_info(s->io, info, sizeof(info));
	log_debug("tls: rip=%s proto=%s %s", s->rip, s->proto->name, info);
	return 0;
}

void
session_title(const struct session *s, const char *what)
{
	setproctitle("%s %s %s", s->proto->name, what, s->rip);
}

void
session_request(const struct session *s, struct auth_request *req,
    enum auth_mech mech, const char *user, const char *secret)
{
	memset(req, 0, sizeof(*req));
	req->mech = mech;
	req->user = user;
	req->secret = secret;
	req->rhost = s->rip;
	req->rport = s->rport;
}

const char *
session_state_dir(const struct session *s)
{
	return s->resumed ? NULL : s->conf->state_dir;
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

/* become: takes the account's uid and gid for the rest of the process
 * (the path without privilege separation). */
static int
become(struct session *s, const struct auth_user *u)
{
	uid_t	 before = geteuid();
	int	 rc = privsep_become(s->conf, u);

	/* Changed, or root that may have half-changed: not reusable. */
	if (geteuid() != before || (before == 0 && rc == -1))
		s->dropped = true;
	return rc;
}

/* hand_off: asks the auth process to check req and take the connection
 * over; this process keeps the session only if the login fails. */
static enum auth_result
hand_off(struct session *s, const struct auth_request *req,
    struct auth_user *u, const char **why_r)
{
	const char	*pending;
	size_t		 plen;
	enum auth_result r;
	int		 conn = s->fd, sp[2] = { -1, -1 };

	/* Replies still buffered go out before the connection moves. */
	if (io_flush(s->io) == -1) {
		*why_r = "connection lost";
		return AUTH_TEMPFAIL;
	}
	/* TLS state cannot move to another process: the session process
	 * gets one end of a socket pair, and this process relays between
	 * the other end and the TLS stream (worker.c) until it ends. */
	if (io_is_tls(s->io)) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1) {
			log_warn("%s: rip=%s: socketpair", s->proto->name,
			    s->rip);
			*why_r = "cannot relay the TLS session";
			return AUTH_TEMPFAIL;
		}
		conn = sp[1];
	}
	plen = io_peek_pending(s->io, &pending);
	r = authd_login(s->authq, s, req, conn, pending, plen, u, why_r);
	if (sp[1] != -1)
		close(sp[1]);
	if (r == AUTH_OK) {
		io_take_pending(s->io, NULL, plen);
		s->handed_off = true;
		s->relay = sp[0];
	} else if (sp[0] != -1)
		close(sp[0]);
	return r;
}

unsigned
session_fail_delay(const struct conf *conf, int n)
{
	unsigned	 d, cap;

	if (conf->auth_fail_delay <= 0 || n <= 0)
		return 0;
	d = (unsigned)conf->auth_fail_delay;
	cap = conf->auth_fail_delay_max > conf->auth_fail_delay ?
	    (unsigned)conf->auth_fail_delay_max : d;
	while (--n > 0 && d < cap)
		d *= 2;
	return d < cap ? d : cap;
}

/* fail_wait: logs a failed login, counts it when the credentials were
 * refused (not for a server-side failure), and waits before the reply. */
static void
fail_wait(struct session *s, const char *safe, const char *why, bool count)
{
	unsigned	 d;

	log_info("auth failed: user=<%s> rip=%s proto=%s reason=%s",
	    safe, s->rip, s->proto->name, why);
	if (count)
		s->auth_failures++;
	d = session_fail_delay(s->conf, s->auth_failures > 0 ?
	    s->auth_failures : 1);
	if (d > 0)
		sleep(d);
}

void
session_auth_failed(struct session *s, const char *user, const char *why)
{
	char	 safe[USER_MAX + 1];

	session_safe(user, safe, sizeof(safe));
	fail_wait(s, safe, why, true);
}

bool
session_auth_exhausted(const struct session *s)
{
	return s->conf->max_auth_failures > 0 &&
	    s->auth_failures >= s->conf->max_auth_failures;
}

enum auth_result
session_login(struct session *s, const struct auth_request *req,
    struct auth_user *u)
{
	enum auth_result r;
	const char	*why = "unknown";
	char		 safe[USER_MAX + 1];

	session_safe(req->user, safe, sizeof(safe));
	if (s->authq >= 0)
		r = hand_off(s, req, u, &why);
	else {
		r = auth_request(s->conf, req, u, &why);
		if (r == AUTH_OK && become(s, u) == -1) {
			r = AUTH_TEMPFAIL;
			why = "cannot take the account's identity";
		}
	}
	if (r != AUTH_OK) {
		fail_wait(s, safe, why, r == AUTH_FAILED);
		return r;
	}
	/* The auth process refused the session over a limit, answered the
	 * client and logged it: the connection is gone, but not logged in. */
	if (s->handed_off && u->name[0] == '\0')
		return AUTH_OK;
	strlcpy(s->user, u->name, sizeof(s->user));
	s->account = *u;
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
