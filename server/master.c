/*
 * master.c: the master process.  Binds the listeners, pre-forks the
 * workers and keeps their number up, reloads the TLS certificate on
 * SIGHUP, and shuts the workers down on SIGTERM or SIGINT.  It never
 * reads a byte from a client.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "protocols/protocol.h"
#include "server/limits.h"
#include "server/log.h"
#include "server/authd.h"
#include "server/master.h"
#include "server/tls.h"

/* Workers that die this soon after starting count as failing to start. */
#define EARLY_DEATH_SECS	2
#define EARLY_DEATHS_MAX	5

struct pool {
	pid_t	*pid;		/* slot -> worker pid, 0 when empty */
	time_t	*born;
	int	 size;
	int	 early;		/* recent early deaths */
	int	 q[2];		/* the auth queue: [0] authd, [1] workers */
	pid_t	 authd;		/* the auth process, 0 when none */
};

static volatile sig_atomic_t got_term, got_chld, got_hup, got_alrm;

/* on_signal: records a signal for the master loop. */
static void
on_signal(int sig)
{
	if (sig == SIGCHLD)
		got_chld = 1;
	else if (sig == SIGALRM)
		got_alrm = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

/* bind_unix: a listening UNIX socket at lc->path, mode 0660, replacing
 * a stale socket there but no other kind of file; or -1. */
static int
bind_unix(const struct listener_conf *lc, struct listener *l)
{
	struct sockaddr_un sun;
	struct stat	 st;
	int		 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, lc->path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		log_warnx("listen %s: path too long", lc->path);
		return -1;
	}
	if (lstat(lc->path, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)unlink(lc->path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(lc->path, 0660) == -1 || listen(fd, 128) == -1 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("listen %s", lc->path);
		if (fd != -1)
			close(fd);
		return -1;
	}
	l->fd = fd;
	l->proto = protocol_find(lc->protocol);
	snprintf(l->name, sizeof(l->name), "%s (%s)", lc->path, lc->protocol);
	return 0;
}

/* bind_one: a listening socket for one listen section, or -1. */
static int
bind_one(const struct listener_conf *lc, struct listener *l)
{
	struct addrinfo	 hints, *ai;
	const char	*addr = strcmp(lc->address, "*") == 0 ?
			    "0.0.0.0" : lc->address;
	char		 port[8], host[64];
	int		 fd, on = 1, rc;
	struct sockaddr_storage ss;
	socklen_t	 len = sizeof(ss);

	if (lc->path != NULL)
		return bind_unix(lc, l);
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", lc->port);
	if ((rc = getaddrinfo(addr, port, &hints, &ai)) != 0) {
		log_warnx("listen %s port %d: %s", lc->address, lc->port,
		    gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd == -1) {
		log_warn("listen %s port %d: socket", addr, lc->port);
		freeaddrinfo(ai);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, 128) == -1 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		log_warn("listen %s port %d", addr, lc->port);
		freeaddrinfo(ai);
		close(fd);
		return -1;
	}
	freeaddrinfo(ai);
	if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host),
	    port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		strlcpy(host, addr, sizeof(host));
	l->fd = fd;
	l->proto = protocol_find(lc->protocol);
	snprintf(l->name, sizeof(l->name), "%s%s%s:%s (%s)",
	    strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
	    port, lc->protocol);
	return 0;
}

int
master_listen(const struct conf *conf, struct listener *l)
{
	int	 i;

	for (i = 0; i < conf->nlisteners; i++) {
		if (bind_one(&conf->listeners[i], &l[i]) == -1) {
			while (--i >= 0)
				close(l[i].fd);
			return -1;
		}
		l[i].tls = conf->listeners[i].tls;
		log_info("listening on %s%s", l[i].name,
		    l[i].tls ? " with TLS" : "");
	}
	return conf->nlisteners;
}

/* spawn: forks the worker for slot i. */
static void
spawn(const struct conf *conf, struct pool *p, int i, struct listener *l,
    int nl, void (*child_init)(void))
{
	pid_t	 pid;

	pid = fork();
	if (pid == -1) {
		log_warn("fork");
		return;
	}
	if (pid == 0) {
		if (child_init != NULL)
			child_init();
		if (p->q[0] != -1)
			close(p->q[0]);
		worker_main(conf, l, nl, p->q[1]);
	}
	p->pid[i] = pid;
	p->born[i] = time(NULL);
}

/* reap: collects dead workers and empties their slots; with
 * WNOHANG in flags it does not wait. */
static void
reap(struct pool *p, int flags)
{
	pid_t	 pid;
	int	 status, i;

	while ((pid = waitpid(-1, &status, flags)) > 0) {
		if (pid == p->authd) {
			log_warnx("auth process %ld ended (status %d)",
			    (long)pid, status);
			p->authd = 0;
			continue;
		}
		for (i = 0; i < p->size; i++)
			if (p->pid[i] == pid)
				break;
		if (i == p->size)
			continue;
		p->pid[i] = 0;
		if (WIFSIGNALED(status))
			log_warnx("worker %ld killed by signal %d",
			    (long)pid, WTERMSIG(status));
		else if (WEXITSTATUS(status) != 0)
			log_warnx("worker %ld exited with status %d",
			    (long)pid, WEXITSTATUS(status));
		if (time(NULL) - p->born[i] < EARLY_DEATH_SECS &&
		    (WIFSIGNALED(status) || WEXITSTATUS(status) != 0))
			p->early++;
		else
			p->early = 0;
	}
}

/* spawn_authd: forks the auth process, if privileges are separated. */
static void
spawn_authd(const struct conf *conf, struct pool *p, struct listener *l,
    int nl, void (*child_init)(void))
{
	pid_t	 pid;
	int	 i;

	if (p->q[0] == -1 || p->authd != 0)
		return;
	if ((pid = fork()) == -1) {
		log_warn("fork of the auth process");
		return;
	}
	if (pid == 0) {
		if (child_init != NULL)
			child_init();
		for (i = 0; i < nl; i++)
			close(l[i].fd);
		close(p->q[1]);
		authd_main(conf, p->q[0]);
	}
	p->authd = pid;
}

/* alive: how many workers have not been reaped. */
static int
alive(const struct pool *p)
{
	int	 i, n = p->authd != 0;

	for (i = 0; i < p->size; i++)
		if (p->pid[i] != 0)
			n++;
	return n;
}

/* refill: starts workers for empty slots, slowly if they keep dying. */
static void
refill(const struct conf *conf, struct pool *p, struct listener *l, int nl,
    void (*child_init)(void))
{
	int	 i;

	if (p->early >= EARLY_DEATHS_MAX) {
		log_warnx("workers keep dying at start; waiting a second");
		sleep(1);
		p->early = 0;
	}
	spawn_authd(conf, p, l, nl, child_init);
	for (i = 0; i < p->size; i++)
		if (p->pid[i] == 0)
			spawn(conf, p, i, l, nl, child_init);
	/* A fork that failed is tried again in a second. */
	if (alive(p) < p->size + (p->q[0] != -1))
		alarm(1);
}

/* signal_all: sends sig to every worker. */
static void
signal_all(const struct pool *p, int sig)
{
	int	 i;

	for (i = 0; i < p->size; i++)
		if (p->pid[i] != 0)
			kill(p->pid[i], sig);
	if (p->authd != 0)
		kill(p->authd, sig);
}

/* shutdown_pool: stops the workers, busy ones within the grace period. */
static void
shutdown_pool(const struct conf *conf, struct pool *p)
{
	struct timespec	 tick = { 0, 50 * 1000 * 1000 }, now, end;
	pid_t		 pid;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += conf->shutdown_grace;
	signal_all(p, SIGTERM);
	for (;;) {
		reap(p, WNOHANG);
		if (alive(p) == 0)
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec &&
		    now.tv_nsec >= end.tv_nsec))
			break;
		nanosleep(&tick, NULL);
	}
	if (alive(p) > (p->authd != 0))
		log_warnx("%d busy workers still running after %d s; killing "
		    "them", alive(p) - (p->authd != 0), conf->shutdown_grace);
	/* The auth process ends its own sessions after the same grace. */
	pid = p->authd;
	p->authd = 0;
	signal_all(p, SIGKILL);
	p->authd = pid;
	for (;;) {
		reap(p, WNOHANG);
		if (alive(p) == 0)
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec + 5)
			break;
		nanosleep(&tick, NULL);
	}
	signal_all(p, SIGKILL);
	reap(p, 0);
}

/*
 * reload: SIGHUP loads the TLS certificate and key again.  Only workers
 * forked afterwards have the new context, so on success every worker is
 * told to exit after its session (an idle one exits at once) and
 * refill() replaces it.  Other settings need a restart.
 */
static void
reload(const struct conf *conf, const struct pool *p)
{
	int	 i;

	if (tls_reload(conf) == 1) {
		log_info("SIGHUP: restarting the workers for the new TLS "
		    "certificate");
		for (i = 0; i < p->size; i++)
			if (p->pid[i] != 0)
				kill(p->pid[i], SIGTERM);
	}
	log_warnx("SIGHUP: only TLS certificates are reloaded; restart "
	    "posternd to apply a new configuration");
}

/* master_signals: handlers, with those signals blocked outside waits. */
static void
master_signals(sigset_t *wait_mask)
{
	struct sigaction sa;
	sigset_t	 block;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, wait_mask);
	sigdelset(wait_mask, SIGCHLD);
	sigdelset(wait_mask, SIGTERM);
	sigdelset(wait_mask, SIGINT);
	sigdelset(wait_mask, SIGHUP);
	sigdelset(wait_mask, SIGALRM);
}

int
master_run(const struct conf *conf, struct listener *l, int nl,
    void (*child_init)(void))
{
	struct pool	 p;
	sigset_t	 wait_mask;
	int		 i;

	memset(&p, 0, sizeof(p));
	p.q[0] = p.q[1] = -1;
	if (conf->privsep && authd_queue(p.q) == -1)
		fatal("master: auth queue");
	p.size = conf->workers;
	p.pid = calloc((size_t)p.size, sizeof(*p.pid));
	p.born = calloc((size_t)p.size, sizeof(*p.born));
	if (p.pid == NULL || p.born == NULL)
		fatal("master: calloc");
	master_signals(&wait_mask);
	setproctitle("master");
	log_info("started %d workers", p.size);
	refill(conf, &p, l, nl, child_init);
	while (!got_term) {
		sigsuspend(&wait_mask);
		if (got_hup) {
			got_hup = 0;
			reload(conf, &p);
		}
		if (got_chld || got_alrm) {
			got_chld = got_alrm = 0;
			reap(&p, WNOHANG);
			if (!got_term)
				refill(conf, &p, l, nl, child_init);
		}
	}
	log_info("shutting down");
	for (i = 0; i < nl; i++)
		close(l[i].fd);
	shutdown_pool(conf, &p);
	free(p.pid);
	free(p.born);
	log_info("stopped");
	return 0;
}
