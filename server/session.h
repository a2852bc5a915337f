/*
 * session.h: what a worker knows of the connection it serves, and the
 * services every protocol module uses around login: the login itself
 * (credentials, log lines, failure delay, taking the user's identity),
 * the logout line and the process title.  One session per worker at a
 * time.
 */
#ifndef POSTERN_SESSION_H
#define POSTERN_SESSION_H

#include <stdbool.h>

#include "server/auth.h"
#include "server/conf.h"
#include "server/limits.h"

struct io;
struct protocol;

struct session {
	const struct conf	*conf;
	const struct protocol	*proto;
	int			 fd;		/* the connected socket */
	char			 rip[64];	/* remote address, for logs */
	char			 lip[64];	/* local address */
	int			 rport;
	int			 lport;
	bool			 loopback;	/* the peer is on loopback */
	bool			 tls;		/* the stream is encrypted */
	bool			 dropped;	/* took a user's uid: the
						   worker exits afterwards */
	char			 user[USER_MAX + 1];	/* once logged in */
	struct io		*io;		/* from session_io() */
};

/*
 * The session's line reader and writer on s->fd, for the protocol module
 * to speak through; freed by the worker when the session ends.  Waits
 * are bounded by login_timeout until the protocol sets another.
 * Returns s->io, or NULL after logging why (out of memory).
 */
struct io *session_io(struct session *s, size_t max_line);

/* Sets the process title: "posternd: pop3 alice 192.0.2.7". */
void	session_title(const struct session *s, const char *what);
/* Whether a password may be sent in the clear on this connection. */
bool	session_plaintext_ok(const struct session *s);

/*
 * Checks a login request for a protocol module.  Logs one line either
 * way ("login: user=<u> rip=A proto=P" or "auth failed: user=<u> rip=A
 * proto=P reason=R"); a failure is answered only after auth_fail_delay
 * seconds.  On success records the user in s, and when the account names
 * a uid and the worker runs as root, takes that uid and gid for good.
 * Returns AUTH_OK (and fills *u), AUTH_FAILED or AUTH_TEMPFAIL.
 */
enum auth_result session_login(struct session *s,
	    const struct auth_request *req, struct auth_user *u);
/* Logs "logout: user=<u> rip=A proto=P " followed by stats. */
void	session_logout(const struct session *s, const char *stats);
/* Copies client text into out for a log line, control bytes as '?'. */
void	session_safe(const char *in, char *out, size_t outlen);

#endif
