/*
 * worker.c: one pre-forked worker: waits for a connection on its pool's
 * listeners (blocked in accept(2) on a lone listener, else holding the
 * pool's accept lock), accepts it, checks the connection
 * limits, fills in the session and hands it to the protocol module,
 * keeping its scoreboard slot up to date; and the signals that end a
 * session early, with the protocol's closing reply, in workers and
 * session processes alike; a local worker that stays root serves each
 * session in a child without root.  It knows no protocol beyond the
 * module table, and parses no client bytes itself.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "protocols/protocol.h"
#include "server/io.h"
#include "server/compat.h"
#include "server/delegate.h"
#include "server/log.h"
#include "server/peer.h"
#include "server/privsep.h"
#include "server/proxy.h"
#include "server/scoreboard.h"
#include "server/session.h"
#include "server/worker.h"

/* What a signal may do, by what the process is doing. */
enum phase {
	PHASE_IDLE,		/* between connections, signals blocked
				   but in ppoll() */
	PHASE_LOCK,		/* waiting for the accept lock */
	PHASE_ACCEPT,		/* blocked in accept(2), a lone listener */
	PHASE_BUSY,		/* serving a connection */
	PHASE_RELAY,		/* relaying a TLS session */
	PHASE_SPLIT,		/* a root local worker, its session in
				   a child */
	PHASE_SESSION,		/* a session process */
};

/*
 * The signal handlers' view of the process: set before the signals that
 * read them are unblocked.  The replies are made before the session
 * starts, as snprintf is no business of a handler.
 */
static volatile sig_atomic_t	 stopping;	/* SIGTERM: no new session */
static volatile sig_atomic_t	 phase = PHASE_IDLE;
static const struct session *volatile current;
static volatile pid_t		 child;		/* PHASE_SPLIT: the session's */
static int			 lfd[LISTENERS_MAX];	/* the pool's
							   listeners */
static volatile sig_atomic_t	 nlfd;
static char			 closing[256], timeup[256];
static volatile size_t		 closing_len, timeup_len;

/* say: in a handler, sends a prepared reply, where the stream is in the
 * clear (a TLS stream's state is the interrupted code's). */
static void
say(const char *buf, size_t len)
{
	const struct session *s = current;

	if (s == NULL || len == 0)
		return;
	if (phase == PHASE_SESSION || (phase == PHASE_BUSY && !s->tls &&
	    !s->tls_listener && !s->handed_off))
		(void)send(s->fd, buf, len, MSG_DONTWAIT);
}

/* on_term: SIGTERM and SIGINT: stop; at once while waiting for the
 * lock, after the session while busy, letting the listeners go now.  In
 * accept(2) it only says so: the call ends (EINTR), or it has just taken
 * a connection, which is served first (compat_accept_wakes()). */
static void
on_term(int sig)
{
	int	 i;

	stopping = 1;
	if (phase == PHASE_LOCK)
		_exit(0);
	if (phase == PHASE_BUSY || phase == PHASE_RELAY ||
	    phase == PHASE_SPLIT) {
		for (i = 0; i < nlfd; i++)
			(void)close(lfd[i]);
		nlfd = 0;
	}
}

/* on_close: SIGUSR2, the end of a shutdown's grace: the closing reply,
 * then the end; a TLS relay waits for its session process's, and a root
 * local worker passes the signal on to its session's child. */
static void
on_close(int sig)
{
	int	 saved = errno;

	if (phase == PHASE_SPLIT) {
		(void)kill(child, SIGUSR2);
		errno = saved;
		return;
	}
	say(closing, closing_len);
	if (phase != PHASE_RELAY)
		_exit(0);
}

/* on_alarm: SIGALRM, max_session_time is up; a relay's session process,
 * and a root local worker's session child, have their own alarm. */
static void
on_alarm(int sig)
{
	if (phase == PHASE_RELAY || phase == PHASE_SPLIT)
		return;
	say(timeup, timeup_len);
	_exit(SESSION_EXIT_TIMEUP);
}

/* handlers: the worker's and session process's dispositions; calls are
 * restarted (ppoll is not: it sees EINTR).  A mail worker sets them once
 * for all its sessions: nothing else in it changes them. */
static void
handlers(bool session)
{
	static int	 installed = -1;	/* the set in place */
	struct sigaction sa;

	if (installed == (int)session)
		return;
	installed = (int)session;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_close;
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	/* A session process finishes, or is closed at the end of the
	 * grace (SIGUSR2). */
	sa.sa_handler = session ? SIG_IGN : on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
}

/* prepare: the session's closing replies, for the handlers. */
static void
prepare(const struct session *s)
{
	size_t	 n;

	closing_len = timeup_len = 0;
	if (s->proto->refuse == NULL)
		return;
	n = s->proto->refuse(s, REFUSE_SHUTDOWN, closing, sizeof(closing));
	closing_len = n;
	n = s->proto->refuse(s, REFUSE_TIMEUP, timeup, sizeof(timeup));
	timeup_len = n;
}

/* arm: max_session_time for a connection that started at since. */
static void
arm(const struct conf *conf, time_t since)
{
	time_t	 left;

	if (conf->max_session_time <= 0)
		return;
	left = since + conf->max_session_time - time(NULL);
	alarm(left > 0 ? (unsigned)left : 1);
}

void
worker_session_signals(const struct session *s, long since)
{
	sigset_t	 none;

	handlers(true);
	current = s;
	prepare(s);
	phase = PHASE_SESSION;
	arm(s->conf, (time_t)since);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

void
worker_session_end(void)
{
	alarm(0);
	phase = PHASE_IDLE;
	current = NULL;
	closing_len = timeup_len = 0;
}

/* over_limit: the refusal a new connection earns, or NULL.  Its own
 * slot is busy already, so it counts itself.  Local listeners (the
 * MTA's), loopback and UNIX peers have no per-address limit. */
static const char *
over_limit(const struct worker_args *w, const struct session *s,
    const struct sb_addr *a)
{
	const struct conf *c = w->conf;

	if (c->max_connections > 0 && sb_connections() > c->max_connections)
		return REFUSE_CONNECTIONS;
	if (c->max_connections_per_ip > 0 && !w->local && !s->loopback &&
	    a->set && sb_connections_from(a) > c->max_connections_per_ip)
		return REFUSE_PER_IP;
	return NULL;
}

/* refuse: turns a connection away with the protocol's reply (not on a
 * TLS listener: no handshake is spent on it), logging it once a minute
 * per address for max_connections_per_ip, once a minute in all for
 * max_connections. */
static void
refuse(const struct worker_args *w, const struct listener *l,
    const struct session *s, const struct sb_addr *a, const char *why)
{
	char		 buf[512], drain[512], tail[64];
	size_t		 n = 0;
	unsigned	 more;
	bool		 per_ip = strcmp(why, REFUSE_PER_IP) == 0;

	if (!l->tls && l->proto->refuse != NULL)
		n = l->proto->refuse(s, why, buf, sizeof(buf));
	if (n > 0)
		(void)send(s->fd, buf, n, MSG_DONTWAIT);
	/* What the client sent already is read, so that closing does not
	 * reset the connection under the reply. */
	(void)shutdown(s->fd, SHUT_WR);
	while (recv(s->fd, drain, sizeof(drain), MSG_DONTWAIT) > 0)
		;
	if (!sb_log_now(why, per_ip ? a->b : NULL, per_ip ? sizeof(a->b) : 0,
	    &more))
		return;
	sb_log_tail(more, tail, sizeof(tail));
	log_warnx("refused: rip=%s proto=%s reason=%s (%s = %d)%s", s->rip,
	    l->proto->name, why, per_ip ? "max_connections_per_ip" :
	    "max_connections", per_ip ? w->conf->max_connections_per_ip :
	    w->conf->max_connections, tail);
}

/* session: the session on an accepted connection, checked against the
 * limits; signals are open while it runs. */
static void
session(const struct worker_args *w, const struct listener *l,
    struct session *s)
{
	struct sb_addr	 a;
	const char	*why;

	sb_addr_of(s->rip, &a);
	sb_busy(w->slot, l->proto->name, s->rip, &a, l->tls, s->since);
	if (l->proxy) {
		if (proxy_accept(s, l) == -1)
			return;	/* untrusted or no valid header: logged */
		sb_addr_of(s->rip, &a);
		sb_busy(w->slot, l->proto->name, s->rip, &a, l->tls,
		    s->since);
	}
	if ((why = over_limit(w, s, &a)) != NULL) {
		refuse(w, l, s, &a, why);
		return;
	}
	prepare(s);
	session_title(s, "pre-auth");
	l->proto->serve(s);
	if (s->handed_off && s->relay != -1) {
		/* A TLS session lives on in the session process, through
		 * this one (see session_login()), which times it out
		 * itself: this bound is only a backstop. */
		sb_relay(w->slot, s->user);
		phase = PHASE_RELAY;
		io_set_timeout(s->io, w->conf->idle_timeout + 30);
		session_title(s, "tls relay");
		(void)io_relay(s->io, s->relay);
		close(s->relay);
	}
}

/* split: a local worker that stays root serves the session, from its
 * PROXY header on, in a child that gives up root for good
 * (privsep_unroot()), and answers the child's lookups and deliveries
 * itself (delegate_mta()): no byte of the client's is read by a process
 * that is root.  The child has its own max_session_time. */
static void
split(const struct worker_args *w, const struct listener *l,
    struct session *s)
{
	struct delegate_peer who = { "", l->proto->name, s->rip, true };
	sigset_t	 all, old;
	pid_t		 pid;
	int		 sv[2], i, status;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1) {
		log_warn("%s: rip=%s: socketpair", l->proto->name, s->rip);
		return;
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	alarm(0);
	if ((pid = fork()) == -1) {
		log_warn("%s: rip=%s: fork", l->proto->name, s->rip);
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (pid == 0) {
		close(sv[0]);
		for (i = 0; i < nlfd; i++)
			close(lfd[i]);
		nlfd = 0;
		if (w->lockfd != -1)
			close(w->lockfd);
		if (privsep_unroot(w->conf) == -1)
			_exit(1);
		s->deliverq = sv[1];
		s->split = true;
		arm(w->conf, s->since);
		sigprocmask(SIG_SETMASK, &old, NULL);
		session(w, l, s);
		_exit(0);
	}
	close(sv[1]);
	close(s->fd);		/* the client is the child's alone */
	s->fd = -1;
	child = pid;
	phase = PHASE_SPLIT;
	sigprocmask(SIG_SETMASK, &old, NULL);
	session_title(s, "deliveries");
	delegate_mta(w->conf, &who, sv[0]);
	/* The child is ending (its end is closed), or broke the channel's
	 * rules and is ended before the channel closes, which it would
	 * see; its pid is its own until reaped. */
	sigprocmask(SIG_BLOCK, &all, &old);
	phase = PHASE_BUSY;
	child = 0;
	(void)kill(pid, SIGKILL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(sv[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
}

/* serve: one connection accepted from l, closed at the end. */
static void
serve(const struct worker_args *w, const struct listener *l, int fd,
    const struct sockaddr_storage *peer, const sigset_t *blocked, bool root)
{
	struct session		 s;
	struct sockaddr_storage	 local;
	socklen_t		 llen = sizeof(local);
	sigset_t		 none;

	memset(&s, 0, sizeof(s));
	s.conf = w->conf;
	s.proto = l->proto;
	s.fd = fd;
	s.tls_listener = l->tls;
	s.relay = -1;
	s.authq = w->authq;
	s.deliverq = -1;
	s.since = time(NULL);
	peer_name(peer, s.rip, sizeof(s.rip), &s.rport);
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
		peer_name(&local, s.lip, sizeof(s.lip), &s.lport);
	s.loopback = peer_loopback(peer);
	log_debug("%s: connection from %s:%d", l->name, s.rip, s.rport);
	closing_len = timeup_len = 0;
	current = &s;
	phase = PHASE_BUSY;
	arm(w->conf, s.since);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (root)
		split(w, l, &s);	/* a root local worker */
	else
		session(w, l, &s);
	alarm(0);
	sigprocmask(SIG_SETMASK, blocked, NULL);
	phase = PHASE_IDLE;
	current = NULL;
	io_free(&s.io);
	if (s.fd != -1)
		close(s.fd);
	if (s.dropped)		/* this process now belongs to the mail
				   user: it ends here and the master starts
				   a fresh worker */
		exit(0);
}

/* lock: takes (F_WRLCK) or lets go of (F_UNLCK) the pool's accept lock,
 * a byte of the lock file; waiting for it, SIGTERM ends the worker. */
static void
lock(const struct worker_args *w, short type, const sigset_t *blocked)
{
	struct flock	 fl;
	sigset_t	 none;
	int		 rc;

	if (w->lockfd == -1)
		return;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = w->local ? 1 : 0;
	fl.l_len = 1;
	if (type == F_UNLCK) {
		rc = fcntl(w->lockfd, F_SETLK, &fl);
	} else {
		sigemptyset(&none);
		phase = PHASE_LOCK;
		sigprocmask(SIG_SETMASK, &none, NULL);
		while ((rc = fcntl(w->lockfd, F_SETLKW, &fl)) == -1 &&
		    errno == EINTR)
			;
		sigprocmask(SIG_SETMASK, blocked, NULL);
		phase = PHASE_IDLE;
	}
	if (rc == -1)
		fatal("worker: accept lock");
}

/* take: accept(2) of one connection on a listener, blocking and
 * close-on-exec whatever the listener's mode (the BSDs' accept would
 * pass O_NONBLOCK on); failures other than a client that went or another
 * worker that was first are logged and waited out a little, not spun
 * on.  -1 when none was taken. */
static int
take(const struct listener *l, struct sockaddr_storage *peer,
    socklen_t *plen)
{
	struct timespec	 pause = { 0, 100 * 1000 * 1000 };
	int		 fd;

	*plen = sizeof(*peer);
	memset(peer, 0, sizeof(*peer));
	if ((fd = accept4(l->fd, (struct sockaddr *)peer, plen,
	    SOCK_CLOEXEC)) != -1)
		return fd;
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
	    errno != ECONNABORTED) {
		log_warn("%s: accept", l->name);
		nanosleep(&pause, NULL);
	}
	return -1;
}

/* accept_lone: waits for a connection on the pool's lone listener, in
 * a blocking accept(2), where the kernel wakes one waiting worker for
 * each connection (no herd, so no lock); SIGTERM ends the wait, or at
 * worst (when it comes just before the call) the listener's timeout.
 * -1 when none was taken. */
static int
accept_lone(const struct listener *l, struct sockaddr_storage *peer,
    socklen_t *plen, const sigset_t *blocked)
{
	sigset_t	 none;
	int		 fd = -1;

	sigemptyset(&none);
	phase = PHASE_ACCEPT;
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (!stopping)
		fd = take(l, peer, plen);
	sigprocmask(SIG_SETMASK, blocked, NULL);
	phase = PHASE_IDLE;
	return fd;
}

/* wait_accept: waits on the pool's listeners (holding the lock) and
 * accepts one connection; -1 when told to stop or the client went. */
static int
wait_accept(const struct worker_args *w, struct pollfd *pfd,
    const struct listener **mine, int n, const struct listener **l_r,
    struct sockaddr_storage *peer, socklen_t *plen)
{
	sigset_t	 none;
	int		 i, fd;

	sigemptyset(&none);
	while (!stopping) {
		if (ppoll(pfd, (nfds_t)n, NULL, &none) == -1) {
			if (errno != EINTR)
				fatal("worker: ppoll");
			continue;
		}
		for (i = 0; i < n; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			if ((fd = take(mine[i], peer, plen)) != -1) {
				*l_r = mine[i];
				return fd;
			}
		}
		return -1;
	}
	return -1;
}

/* become_local: a local worker takes mail_user when it is set, as it
 * can then deliver only for accounts that run as mail_user; otherwise
 * it stays root, to take each recipient's uid, with the filter of a
 * process that does, and serves each session in a child that does not
 * (split()).  Whether it stays root. */
static bool
become_local(const struct conf *conf)
{
	struct auth_user u;

	if (!conf->privsep)
		return false;
	if (conf->mail_user[0] == '\0') {
		privsep_root_sandbox(conf, "local worker");
		return true;
	}
	memset(&u, 0, sizeof(u));
	strlcpy(u.name, "lmtp", sizeof(u.name));
	u.uid = u.gid = -1;
	if (privsep_become(conf, &u) == -1)
		exit(1);
	return false;
}

void
worker_main(const struct worker_args *w)
{
	struct pollfd		 pfd[LISTENERS_MAX];
	const struct listener	*mine[LISTENERS_MAX], *l = NULL;
	struct sockaddr_storage	 peer;
	socklen_t		 plen;
	sigset_t		 blocked;
	int			 i, n = 0, fd, served = 0;
	bool			 root = false;

	sigemptyset(&blocked);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGUSR2);
	sigaddset(&blocked, SIGALRM);
	sigprocmask(SIG_SETMASK, &blocked, NULL);
	handlers(false);
	compat_shed_memory();
	if (w->local)
		root = become_local(w->conf);
	else
		privsep_sandbox(w->conf);
	for (i = 0; i < w->nl; i++) {
		if (w->l[i].proto->local != w->local) {
			close(w->l[i].fd);
			continue;
		}
		pfd[n].fd = w->l[i].fd;
		pfd[n].events = POLLIN;
		lfd[n] = w->l[i].fd;
		mine[n++] = &w->l[i];
	}
	nlfd = n;
	while (!stopping) {
		sb_idle(w->slot);
		setproctitle(w->local ? "local idle" : "worker idle");
		if (n == 1 && mine[0]->lone) {
			l = mine[0];
			fd = accept_lone(l, &peer, &plen, &blocked);
		} else {
			lock(w, F_WRLCK, &blocked);
			fd = wait_accept(w, pfd, mine, n, &l, &peer, &plen);
			lock(w, F_UNLCK, &blocked);
		}
		if (fd == -1)
			continue;
		serve(w, l, fd, &peer, &blocked, root);
		if (w->conf->max_sessions_per_worker > 0 &&
		    ++served >= w->conf->max_sessions_per_worker)
			break;
	}
	exit(0);
}
