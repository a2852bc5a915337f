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
#include <time.h>

#include "server/auth.h"
#include "server/conf.h"
#include "server/limits.h"

struct msgid;

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
	bool			 tls_listener;	/* accepted on a tls = true
						   listener: TLS from the
						   first byte */
	bool			 dropped;	/* took a user's uid: the
						   worker exits afterwards */
	char			 user[USER_MAX + 1];	/* once logged in */
	struct io		*io;		/* from session_io() */
	int			 authq;		/* the auth process's queue,
						   -1: check logins here */
	int			 deliverq;	/* resumed or split: the
						   channel for deliveries
						   as other users to the
						   auth process, or to the
						   root local worker
						   (delegate.h); -1: none */
	bool			 handed_off;	/* logged in: a session
						   process took over */
	bool			 resumed;	/* this is that process */
	bool			 split;		/* a child of a local worker
						   that stays root, serving
						   the client without root */
	struct msgid		*msgid;		/* resumed: the global ID
						   counter, opened before
						   root was given up; NULL:
						   opened by name */
	int			 relay;		/* handed off over TLS: the
						   worker relays the stream
						   to this socket; -1 none */
	struct auth_user	 account;	/* once logged in */
	enum auth_mech		 login_mech;	/* resumed: how the login
						   was proven (MRP answers
						   LOGIN with a token) */
	char			 login_state[256];	/* resumed: the
						   protocol's state sent
						   with the login request
						   (MRP's AUTH channel) */
	const char		*pending;	/* resumed: what the client
						   sent after its login
						   command, read first */
	size_t			 npending;
	int			 auth_failures;	/* failed logins so far */
	time_t			 since;		/* the connection's start, for
						   max_session_time */
};

/*
 * The session's line reader and writer on s->fd, for the protocol module
 * to speak through, its lines up to max_line octets; freed by the worker
 * when the session ends.  In a session process it first returns what the
 * client pipelined after its login (s->pending).  Waits
 * are bounded by login_timeout until the protocol sets another.  On a
 * TLS listener the TLS handshake is done first.  Returns s->io, or NULL
 * after logging why (out of memory, a failed handshake): the session
 * then ends without a word.
 */
struct io *session_io(struct session *s, size_t max_line);

/* Whether a protocol may offer STLS/STARTTLS: TLS is configured and the
 * session is not encrypted yet. */
bool	session_tls_available(const struct session *s);
/*
 * Starts TLS on the session's stream, once the protocol's go-ahead reply
 * is buffered (it is flushed first).  Input the client sent in the clear
 * after the command and before the handshake is dropped and logged,
 * never run (RFC 2595 section 4).  Sets s->tls.  Returns 0, or -1 after
 * logging "tls: rip=A proto=P handshake failed: reason": the session
 * must end at once, without another word.
 */
int	session_start_tls(struct session *s);

/* Sets the process title: "posternd: pop3 alice 192.0.2.7". */
void	session_title(const struct session *s, const char *what);
/* Whether a password may be sent in the clear on this connection. */
bool	session_plaintext_ok(const struct session *s);
/*
 * Where the session may open the global ID counter itself (for struct
 * mail_opts): state_dir, unless the session was resumed in a process of
 * its own, which has only the counter root opened for it, s->msgid (a
 * second try as the account could only fail, and log, at each login);
 * NULL then.
 */
const char *session_state_dir(const struct session *s);

/* Fills req: a login request of mechanism mech for user with secret,
 * from the session's client, without a challenge. */
void	session_request(const struct session *s, struct auth_request *req,
	    enum auth_mech mech, const char *user, const char *secret);

/*
 * Checks a login request for a protocol module.  Logs one line either
 * way ("login: user=<u> rip=A proto=P" or "auth failed: user=<u> rip=A
 * proto=P reason=R"); a failure is counted (AUTH_FAILED) and answered
 * only after session_fail_delay() seconds.  On success records the account in s.  With privilege
 * separation (s->authq >= 0) the auth process checks the request and
 * starts a session process that carries on with the connection and the
 * input not yet read: s->handed_off is then set and the protocol module
 * must end its session without another word, and without a logout line.
 * A TLS session's state cannot move: the session process gets one end of
 * a socket pair instead of the connection, and s->relay the other, which
 * the worker relays to and from the TLS stream until the session ends.
 * Without it, the check is done here and this process takes the
 * account's identity when it can.  A protocol module's serve function is
 * called with s->resumed set in the session process, and s->account
 * filled: it answers the login and goes on.
 * Returns AUTH_OK (and fills *u), AUTH_FAILED or AUTH_TEMPFAIL.
 */
enum auth_result session_login(struct session *s,
	    const struct auth_request *req, struct auth_user *u);
/*
 * Failed logins of a connection, counted by session_login() (AUTH_FAILED
 * only) and session_auth_failed(): the n-th failure (n >= 1) is answered
 * after session_fail_delay(conf, n) seconds, auth_fail_delay doubled for
 * each failure before it, up to auth_fail_delay_max (or auth_fail_delay
 * when that is larger); 0 when auth_fail_delay is 0.
 */
unsigned session_fail_delay(const struct conf *conf, int n);
/*
 * Records a login refused before its credentials were checked (a SASL
 * authorization identity naming another user): logs the "auth failed"
 * line with why, counts the failure and waits, as session_login() does.
 */
void	session_auth_failed(struct session *s, const char *user,
	    const char *why);
/* Whether the connection has reached max_auth_failures failed logins
 * (0: no limit): the protocol module must then close it. */
bool	session_auth_exhausted(const struct session *s);
/* Logs "logout: user=<u> rip=A proto=P " followed by stats. */
void	session_logout(const struct session *s, const char *stats);
/* Copies client text into out for a log line, control bytes as '?'. */
void	session_safe(const char *in, char *out, size_t outlen);

#endif
