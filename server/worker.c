/*
 * worker.c: one pre-forked worker: waits on the listeners, accepts a
 * connection, fills in the session and hands it to the protocol module.
 * It knows no protocol beyond the module table, and parses no client
 * bytes itself.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocols/protocol.h"
#include "server/io.h"
#include "server/log.h"
#include "server/privsep.h"
#include "server/session.h"
#include "server/worker.h"

/* Set by SIGTERM; the pipe wakes a worker waiting in poll(), so that a
 * signal arriving just before the wait is not lost. */
static volatile sig_atomic_t stopping;
static int wake[2] = { -1, -1 };

/* on_term: the master asks this worker to stop after its session. */
static void
on_term(int sig)
{
	int	 saved = errno;

	stopping = 1;
	if (wake[1] != -1) {
		ssize_t n = write(wake[1], "", 1);	/* full: awake anyway */
		(void)n;
	}
	errno = saved;
}

/* signals: the worker's dispositions; blocking calls see EINTR. */
static void
signals(void)
{
	struct sigaction sa;
	sigset_t	 none;

	if (pipe(wake) == -1 ||
	    fcntl(wake[0], F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(wake[1], F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(wake[1], F_SETFL, O_NONBLOCK) == -1)
		fatal("worker: pipe");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* is_loopback: whether a peer address is 127/8 or ::1 (or v4-mapped). */
static bool
is_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in  *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family != AF_INET6)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
		return true;
	return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
	    sin6->sin6_addr.s6_addr[12] == 127;
}

/* name_of: numeric host and port of a socket address. */
static void
name_of(const struct sockaddr_storage *ss, socklen_t len, char *host,
    size_t hostlen, int *port)
{
	char	 serv[16];

	if (getnameinfo((const struct sockaddr *)ss, len, host,
	    (socklen_t)hostlen, serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		strlcpy(host, "unknown", hostlen);
		*port = 0;
		return;
	}
	*port = atoi(serv);
}

/* serve: runs one session on fd accepted from l. */
static void
serve(const struct conf *conf, const struct listener *l, int fd,
    const struct sockaddr_storage *peer, socklen_t plen, int authq)
{
	struct session		 s;
	struct sockaddr_storage	 local;
	socklen_t		 llen = sizeof(local);
	int			 flags;

	memset(&s, 0, sizeof(s));
	s.conf = conf;
	s.proto = l->proto;
	s.fd = fd;
	s.tls_listener = l->tls;
	s.relay = -1;
	s.authq = authq;
	name_of(peer, plen, s.rip, sizeof(s.rip), &s.rport);
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
		name_of(&local, llen, s.lip, sizeof(s.lip), &s.lport);
	s.loopback = is_loopback(peer);
	/* Accepted sockets inherit O_NONBLOCK on the BSDs; sessions block. */
	if ((flags = fcntl(fd, F_GETFL)) != -1)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	log_debug("%s: connection from %s:%d", l->name, s.rip, s.rport);
	session_title(&s, "pre-auth");
	l->proto->serve(&s);
	if (s.handed_off && s.relay != -1) {
		/* A TLS session lives on in the session process, through
		 * this one (see session_login()), which times it out
		 * itself: this bound is only a backstop. */
		io_set_timeout(s.io, conf->idle_timeout + 30);
		session_title(&s, "tls relay");
		(void)io_relay(s.io, s.relay);
		close(s.relay);
	}
	io_free(&s.io);
	if (s.dropped) {
		/* This process now belongs to the mail user: it ends here
		 * and the master starts a fresh worker. */
		close(fd);
		exit(0);
	}
}

/* accept_one: accepts from a ready listener and serves the connection. */
static void
accept_one(const struct conf *conf, const struct listener *l, int authq)
{
	struct sockaddr_storage	 peer;
	socklen_t		 plen = sizeof(peer);
	int			 fd;

	fd = accept(l->fd, (struct sockaddr *)&peer, &plen);
	if (fd == -1) {
		/* Another worker took it, or the client gave up. */
		if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR && errno != ECONNABORTED)
			log_warn("%s: accept", l->name);
		return;
	}
	serve(conf, l, fd, &peer, plen, authq);
	close(fd);
}

void
worker_main(const struct conf *conf, const struct listener *l, int nl,
    int authq)
{
	struct pollfd	 pfd[LISTENERS_MAX + 1];
	int		 i, n;

	signals();
	privsep_sandbox(conf);
	for (i = 0; i < nl; i++) {
		pfd[i].fd = l[i].fd;
		pfd[i].events = POLLIN;
	}
	pfd[nl].fd = wake[0];
	pfd[nl].events = POLLIN;
	while (!stopping) {
		setproctitle("worker idle");
		n = poll(pfd, (nfds_t)nl + 1, -1);
		if (n == -1) {
			if (errno != EINTR)
				fatal("worker: poll");
			continue;
		}
		for (i = 0; i < nl && !stopping; i++)
			if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
				accept_one(conf, &l[i], authq);
	}
	exit(0);
}
