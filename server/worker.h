/*
 * worker.h: a pre-forked worker.  It accepts one connection on its
 * pool's listeners (blocked in accept(2) on a lone listener, else taking
 * turns with the pool's accept lock), runs the connection's protocol to
 * its end, then waits again, until the master tells it to stop or it has
 * served its share.
 */
#ifndef POSTERN_WORKER_H
#define POSTERN_WORKER_H

#include "server/conf.h"

struct protocol;
struct session;

struct listener {
	int			 fd;	/* listening; blocking when lone */
	const struct protocol	*proto;
	char			 name[96];	/* "127.0.0.1:110 (pop3)" */
	bool			 tls;	/* TLS from the first byte */
	bool			 proxy;	/* a PROXY protocol header first */
	bool			 lone;	/* its pool's only listener: the
					   pool's workers block in accept(2)
					   on it, without the accept lock */
};

/* How a worker ends when max_session_time cuts its session (or a
 * session process's) short: the master or the auth process logs it. */
#define SESSION_EXIT_TIMEUP	3

/* Texts of the refusals and closings, for the protocols' refuse hook. */
#define REFUSE_CONNECTIONS	"too many connections"
#define REFUSE_PER_IP		"too many connections from your address"
#define REFUSE_PER_USER		"too many sessions for this user"
#define REFUSE_SHUTDOWN		"server shutting down"
#define REFUSE_TIMEUP		"session time limit reached"

struct worker_args {
	const struct conf	*conf;
	const struct listener	*l;	/* every listener */
	int			 nl;
	bool			 local;	/* the local pool: serves the
					   listeners whose protocol is local,
					   unsandboxed; else the others,
					   chrooted */
	int			 authq;	/* the auth process's queue, -1:
					   logins are checked here */
	int			 lockfd;	/* the accept lock file */
	int			 slot;	/* in the scoreboard */
};

/*
 * Serves connections until SIGTERM, or max_sessions_per_worker of them.
 * A pre-login worker first chroots and takes the unprivileged user; a
 * local one takes mail_user when set; otherwise it stays root and serves
 * each session in a child that takes the unprivileged user, answering
 * its lookups and deliveries (delegate_mta()).
 * Signals: SIGTERM ends it at once when idle, after its session when
 * busy; SIGUSR2 (the end of a shutdown's grace) sends the client the
 * protocol's closing reply, where the stream is in the clear, and ends
 * it at once.  Never returns.
 */
void	worker_main(const struct worker_args *w) __attribute__((noreturn));

/*
 * In the session process after a login: arms SIGUSR2 and SIGALRM (the
 * time left of max_session_time from since) to send the client the
 * protocol's closing reply on fd and end the process.
 */
void	worker_session_signals(const struct session *s, long since);
/* ... and disarms them when the session is over (a mail worker goes on
 * to another). */
void	worker_session_end(void);

#endif
