/*
 * master.c: the master process.  Binds the listeners, runs the auth
 * process and two worker pools, pre-login (chrooted) and local (LMTP),
 * sized once a second from the scoreboard in the manner of Apache's
 * prefork; reloads the configuration on SIGHUP and shuts everything down
 * on SIGTERM or SIGINT.  It never reads a byte from a client, and never
 * signals a process it did not fork: pids come from fork(), not from the
 * scoreboard, which workers can write.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "protocols/protocol.h"
#include "server/authd.h"
#include "server/compat.h"
#include "server/limits.h"
#include "server/log.h"
#include "server/master.h"
#include "server/privsep.h"
#include "server/scoreboard.h"
#include "server/session.h"
#include "server/tls.h"

/* Workers that die this soon after starting count as failing to start;
 * after this many in a row the master waits a second. */
#define EARLY_DEATH_SECS	2
#define EARLY_DEATHS_MAX	5

/* Workers forked in one second when spares run short: 1, doubling each
 * second the shortage lasts, up to this (Apache's MAX_SPAWN_RATE). */
#define SPAWN_RATE_MAX		32

/* The local pool keeps one idle worker ready and retires more than two;
 * at least one runs whenever a local listener exists. */
#define LOCAL_MIN_SPARE		1
#define LOCAL_MAX_SPARE		2

/* Seconds between "clients wait in the listen queue" lines. */
#define QUEUE_LOG_SECS		60

/* Seconds processes get to send the closing reply and exit, after the
 * grace, before SIGKILL. */
#define CLOSE_WAIT_SECS		3

/* One worker slot, as the master knows it from fork() and wait(). */
struct child {
	pid_t		 pid;		/* 0: empty */
	time_t		 born;
	unsigned	 gen;		/* configuration generation */
	bool		 retiring;	/* told to stop */
};

struct pool {
	bool		 local;
	int		 first, cap;	/* its slots */
	int		 rate;		/* spawn rate */
	time_t		 queue_logged;
};

struct master {
	struct conf	*conf;
	struct listener	*l;		/* LISTENERS_MAX */
	int		 nl;
	struct child	*kids;		/* one per scoreboard worker slot */
	struct pool	 pool[2];	/* pre-login, local */
	int		 q[2];		/* the auth queue */
	pid_t		 authd;
	int		 lockfd;	/* the accept locks */
	unsigned	 gen;
	bool		 stopping;	/* shutting down */
	int		 early;		/* early deaths in a row */
	time_t		 pause_until;	/* no forks before */
	void		(*child_init)(void);
};

static volatile sig_atomic_t got_term, got_chld, got_hup, got_usr1;

/* on_signal: records a signal for the master loop. */
static void
on_signal(int sig)
{
	if (sig == SIGCHLD)
		got_chld = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

/* name_listener: "address:port (protocol)" or "path (protocol)". */
static void
name_listener(struct listener *l, const struct listener_conf *lc)
{
	struct sockaddr_storage ss;
	socklen_t	 len = sizeof(ss);
	char		 host[64], port[8];
	int		 n;

	if (lc->path != NULL)
		n = snprintf(l->name, sizeof(l->name), "%s (%s)", lc->path,
		    lc->protocol);
	else if (getsockname(l->fd, (struct sockaddr *)&ss, &len) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host),
	    port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		n = snprintf(l->name, sizeof(l->name), "%s%s%s:%s (%s)",
		    strchr(host, ':') ? "[" : "", host,
		    strchr(host, ':') ? "]" : "", port, lc->protocol);
	else
		n = snprintf(l->name, sizeof(l->name), "%s:%d (%s)",
		    lc->address, lc->port, lc->protocol);
	if (n < 0 || (size_t)n >= sizeof(l->name))
		strlcpy(l->name + sizeof(l->name) - 4, "...",
		    4);	/* a long path: the log shows its start */
}

/*
 * backlog: the listen queue: room for every connection the server admits
 * (max_connections), so that clients who find every worker busy wait
 * for one rather than have their SYN dropped; the kernel caps it at its
 * own limit (net.core.somaxconn, kern.ipc.soacceptqueue, kern.somaxconn).
 */
static int
backlog(const struct conf *conf)
{
	return conf->max_connections > 128 ? conf->max_connections : 128;
}

/* bind_unix: a listening UNIX socket at lc->path, mode 0660, replacing
 * a stale socket there but no other kind of file; or -1. */
static int
bind_unix(const struct listener_conf *lc, int queue)
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
	    chmod(lc->path, 0660) == -1 || listen(fd, queue) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("listen %s", lc->path);
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* bind_tcp: a listening TCP socket for a listen section, or -1. */
static int
bind_tcp(const struct listener_conf *lc, int queue)
{
	struct addrinfo	 hints, *ai;
	const char	*addr = strcmp(lc->address, "*") == 0 ?
			    "0.0.0.0" : lc->address;
	char		 port[8];
	int		 fd, on = 1, rc;

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
	/* Inherited by every connection accepted (Linux and the BSDs):
	 * replies go out as the io layer writes them, in bursts already,
	 * with no Nagle wait when the process that answers a pipelined
	 * login is not the one that answered the command before. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, queue) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("listen %s port %d", addr, lc->port);
		freeaddrinfo(ai);
		close(fd);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* bind_one: a listening socket for one listen section, with a listen
 * queue of queue connections; or -1. */
static int
bind_one(const struct listener_conf *lc, int queue, struct listener *l)
{
	memset(l, 0, sizeof(*l));
	l->fd = lc->path != NULL ? bind_unix(lc, queue) : bind_tcp(lc, queue);
	if (l->fd == -1)
		return -1;
	l->proto = protocol_find(lc->protocol);
	l->tls = lc->tls;
	l->proxy = lc->proxy;
	name_listener(l, lc);
	log_info("listening on %s%s", l->name, l->tls ? " with TLS" : "");
	return 0;
}

/*
 * accept_modes: the only listener of its pool (pre-login or local) is
 * lone and blocking: the pool's workers all block in accept(2) on it,
 * and the kernel wakes one of them per connection; where a signal can
 * end that wait (compat_accept_wakes(): Linux).  Where a pool has
 * several, or the system cannot, they are non-blocking, and its workers
 * take turns at them with the accept lock (worker.c).  0, or -1
 * (logged).
 */
static int
accept_modes(struct listener *l, int nl)
{
	int	 i, j, n, flags;

	for (i = 0; i < nl; i++) {
		for (n = 0, j = 0; j < nl; j++)
			if (l[j].proto->local == l[i].proto->local)
				n++;
		l[i].lone = n == 1 && compat_accept_wakes(l[i].fd) == 0;
		if ((flags = fcntl(l[i].fd, F_GETFL)) == -1 ||
		    fcntl(l[i].fd, F_SETFL, l[i].lone ?
		    flags & ~O_NONBLOCK : flags | O_NONBLOCK) == -1) {
			log_warn("listen %s: fcntl", l[i].name);
			return -1;
		}
	}
	return 0;
}

int
master_listen(const struct conf *conf, struct listener *l)
{
	int	 i;

	for (i = 0; i < conf->nlisteners; i++) {
		if (bind_one(&conf->listeners[i], backlog(conf), &l[i]) == -1) {
			while (--i >= 0)
				close(l[i].fd);
			return -1;
		}
	}
	if (accept_modes(l, conf->nlisteners) == -1) {
		for (i = 0; i < conf->nlisteners; i++)
			close(l[i].fd);
		return -1;
	}
	return conf->nlisteners;
}

/* has_listeners: whether any listener is served by the local pool (or
 * by the pre-login one). */
static bool
has_listeners(const struct master *m, bool local)
{
	int	 i;

	for (i = 0; i < m->nl; i++)
		if (m->l[i].proto->local == local)
			return true;
	return false;
}

/* spawn: forks a worker of pool p into slot i. */
static void
spawn(struct master *m, struct pool *p, int i)
{
	struct worker_args w;
	pid_t		 pid;

	sb_worker_start(i, p->local ? SB_LOCAL : SB_WORKER, m->gen);
	if ((pid = fork()) == -1) {
		log_warn("fork");
		sb_worker_clear(i);
		m->pause_until = time(NULL) + 1;
		return;
	}
	if (pid == 0) {
		if (m->child_init != NULL)
			m->child_init();
		if (m->q[0] != -1)
			close(m->q[0]);
		if (p->local && m->q[1] != -1)
			close(m->q[1]);
		memset(&w, 0, sizeof(w));
		w.conf = m->conf;
		w.l = m->l;
		w.nl = m->nl;
		w.local = p->local;
		w.authq = p->local ? -1 : m->q[1];
		w.lockfd = m->lockfd;
		w.slot = i;
		worker_main(&w);
	}
	sb_worker_pid(i, pid);
	m->kids[i].pid = pid;
	m->kids[i].born = time(NULL);
	m->kids[i].gen = m->gen;
	m->kids[i].retiring = false;
}

/* spawn_authd: forks the auth process, if privileges are separated. */
static void
spawn_authd(struct master *m)
{
	pid_t	 pid;
	int	 i;

	if (m->q[0] == -1 || m->authd != 0)
		return;
	if ((pid = fork()) == -1) {
		log_warn("fork of the auth process");
		return;
	}
	if (pid == 0) {
		if (m->child_init != NULL)
			m->child_init();
		for (i = 0; i < m->nl; i++)
			close(m->l[i].fd);
		if (m->lockfd != -1)
			close(m->lockfd);
		close(m->q[1]);
		authd_main(m->conf, m->q[0]);
	}
	m->authd = pid;
	sb_set_master(getpid(), pid, m->gen, m->conf->max_workers,
	    m->conf->max_local_workers, m->conf->max_connections);
}

/* slot_text: a printable copy of a scoreboard string field of size
 * octets, which a worker may have left unterminated. */
static void
slot_text(const char *field, size_t size, char *out, size_t outlen)
{
	char	 tmp[USER_MAX + 1];

	if (size >= sizeof(tmp))
		size = sizeof(tmp) - 1;
	memcpy(tmp, field, size);
	tmp[size] = '\0';
	session_safe(tmp, out, outlen);
}

/* report: logs how a worker ended, unless it was an ordinary end. */
static void
report(int i, pid_t pid, int status)
{
	const struct sb_slot *sl = sb_worker(i);
	char		 rip[64], proto[16];

	if (WIFSIGNALED(status))
		log_warnx("worker %ld killed by signal %d", (long)pid,
		    WTERMSIG(status));
	else if (WEXITSTATUS(status) == SESSION_EXIT_TIMEUP && sl != NULL) {
		slot_text(sl->rip, sizeof(sl->rip), rip, sizeof(rip));
		slot_text(sl->proto, sizeof(sl->proto), proto, sizeof(proto));
		log_info("session time limit: rip=%s proto=%s closed after %d "
		    "s (max_session_time)", rip, proto,
		    (int)(time(NULL) - sl->since));
	} else if (WEXITSTATUS(status) != 0)
		log_warnx("worker %ld exited with status %d", (long)pid,
		    WEXITSTATUS(status));
}

/* reap: collects dead children without waiting, empties their slots. */
static void
reap(struct master *m)
{
	pid_t	 pid;
	int	 status, i, n = sb_workers();

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == m->authd) {
			if (!m->stopping)
				log_warnx("auth process %ld ended (status %d); "
				    "its sessions are no longer counted",
				    (long)pid, status);
			m->authd = 0;
			for (i = 0; i < sb_sessions(); i++)
				sb_session_clear(i);
			continue;
		}
		for (i = 0; i < n; i++)
			if (m->kids[i].pid == pid)
				break;
		if (i == n)
			continue;
		report(i, pid, status);
		if (time(NULL) - m->kids[i].born < EARLY_DEATH_SECS &&
		    (WIFSIGNALED(status) || (WEXITSTATUS(status) != 0 &&
		    WEXITSTATUS(status) != SESSION_EXIT_TIMEUP)))
			m->early++;
		else
			m->early = 0;
		m->kids[i].pid = 0;
		sb_worker_clear(i);
	}
}

/* queued: whether a client waits in the listen queue of p's listeners. */
static bool
queued(const struct master *m, const struct pool *p)
{
	struct pollfd	 pfd[LISTENERS_MAX];
	int		 i, n = 0;

	for (i = 0; i < m->nl; i++)
		if (m->l[i].proto->local == p->local) {
			pfd[n].fd = m->l[i].fd;
			pfd[n++].events = POLLIN;
		}
	return n > 0 && poll(pfd, (nfds_t)n, 0) > 0;
}

/* retire: tells up to n idle workers of p to stop, the last ones first. */
static void
retire(struct master *m, const struct pool *p, int n)
{
	const struct sb_slot *sl;
	int		 i;

	for (i = p->first + p->cap - 1; i >= p->first && n > 0; i--) {
		sl = sb_worker(i);
		if (m->kids[i].pid == 0 || m->kids[i].retiring ||
		    m->kids[i].gen != m->gen || sl->state != SB_IDLE)
			continue;
		kill(m->kids[i].pid, SIGTERM);
		m->kids[i].retiring = true;
		n--;
	}
}

/* grow: forks up to n workers into p's empty slots. */
static void
grow(struct master *m, struct pool *p, int n)
{
	int	 i;

	for (i = p->first; i < p->first + p->cap && n > 0; i++)
		if (m->kids[i].pid == 0) {
			spawn(m, p, i);
			n--;
		}
}

/*
 * maintain: sizes pool p.  It never runs fewer than its floor (workers,
 * or one local worker) nor more than its maximum; when fewer than
 * min_spare are idle it forks more, 1 the first second and twice as many
 * each further second (tick) of shortage, up to SPAWN_RATE_MAX; when
 * more than max_spare are idle it retires half of the excess each tick.
 */
static void
maintain(struct master *m, struct pool *p, bool tick)
{
	const struct conf *c = m->conf;
	const struct sb_slot *sl;
	int		 i, total = 0, live = 0, idle = 0, n;
	int		 floor = p->local ? 1 : c->workers;
	int		 max = p->local ? c->max_local_workers : c->max_workers;
	int		 min_spare = p->local ? LOCAL_MIN_SPARE : c->min_spare;
	int		 max_spare = p->local ? LOCAL_MAX_SPARE : c->max_spare;
	time_t		 now = time(NULL);

	if (!has_listeners(m, p->local))
		return;
	for (i = p->first; i < p->first + p->cap; i++) {
		if (m->kids[i].pid == 0)
			continue;
		total++;
		if (m->kids[i].retiring || m->kids[i].gen != m->gen)
			continue;
		live++;
		sl = sb_worker(i);
		if (sl->state == SB_STARTING || sl->state == SB_IDLE)
			idle++;
	}
	if (now < m->pause_until)
		return;
	if (live < floor && total < max) {
		grow(m, p, (floor - live < max - total) ? floor - live :
		    max - total);
	} else if (idle < min_spare && total < max) {
		if (!tick)
			return;
		n = p->rate < max - total ? p->rate : max - total;
		grow(m, p, n);
		if (p->rate < SPAWN_RATE_MAX)
			p->rate *= 2;
	} else {
		if (tick)
			p->rate = 1;
		if (tick && idle > max_spare && live > floor) {
			n = (idle - max_spare + 1) / 2;
			retire(m, p, n < live - floor ? n : live - floor);
		}
	}
	if (tick && total >= max && idle == 0 && queued(m, p) &&
	    now - p->queue_logged >= QUEUE_LOG_SECS) {
		p->queue_logged = now;
		log_warnx("%s (%d) reached: clients wait in the listen queue",
		    p->local ? "max_local_workers" : "max_workers", max);
	}
}

/* maintain_all: the auth process and both pools. */
static void
maintain_all(struct master *m, bool tick)
{
	if (m->early >= EARLY_DEATHS_MAX) {
		log_warnx("workers keep dying at start; waiting a second");
		m->pause_until = time(NULL) + 1;
		m->early = 0;
	}
	spawn_authd(m);
	maintain(m, &m->pool[0], tick);
	maintain(m, &m->pool[1], tick);
}

/* signal_workers: sends sig to every worker; to the idle ones only, or
 * those of generations before the current one only, when asked. */
static void
signal_workers(struct master *m, int sig, bool idle_only, bool old_only)
{
	const struct sb_slot *sl;
	int		 i;

	for (i = 0; i < sb_workers(); i++) {
		sl = sb_worker(i);
		if (m->kids[i].pid == 0 || (old_only &&
		    m->kids[i].gen == m->gen) || (idle_only &&
		    sl->state != SB_IDLE && sl->state != SB_STARTING))
			continue;
		kill(m->kids[i].pid, sig);
		if (sig == SIGTERM)
			m->kids[i].retiring = true;
	}
}

/* alive: workers and auth process not reaped yet. */
static int
alive(const struct master *m)
{
	int	 i, n = m->authd != 0;

	for (i = 0; i < sb_workers(); i++)
		if (m->kids[i].pid != 0)
			n++;
	return n;
}

/* wait_all: reaps until every child is gone or secs have passed;
 * whether they are gone. */
static bool
wait_all(struct master *m, int secs, const sigset_t *wait_mask)
{
	struct timespec	 tick = { 0, 50 * 1000 * 1000 }, now, end;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += secs;
	for (;;) {
		reap(m);
		if (alive(m) == 0)
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec &&
		    now.tv_nsec >= end.tv_nsec))
			return false;
		(void)ppoll(NULL, 0, &tick, wait_mask);
	}
}

/* log_kills: the workers about to be killed at the end of a shutdown,
 * as their slots show them. */
static void
log_kills(const struct master *m)
{
	const struct sb_slot *sl;
	char		 user[USER_MAX + 1], rip[64];
	int		 i;

	for (i = 0; i < sb_workers(); i++) {
		if (m->kids[i].pid == 0 || (sl = sb_worker(i)) == NULL)
			continue;
		session_safe(sl->user, user, sizeof(user));
		session_safe(sl->rip, rip, sizeof(rip));
		log_warnx("killing worker %ld: user=<%s> rip=%s proto=%s",
		    (long)m->kids[i].pid, user, rip, sl->proto);
	}
}

/*
 * shutdown_all: stops accepting, ends idle workers at once and gives
 * busy sessions (workers and the auth process's session processes) the
 * grace period; then SIGUSR2 has them send the protocol's closing reply
 * and exit, and what is left after CLOSE_WAIT_SECS is killed.
 */
static void
shutdown_all(struct master *m, const sigset_t *wait_mask)
{
	int	 i, n;

	log_info("shutting down");
	m->stopping = true;
	for (i = 0; i < m->nl; i++)
		close(m->l[i].fd);
	m->nl = 0;
	signal_workers(m, SIGTERM, false, false);
	if (m->authd != 0)
		kill(m->authd, SIGTERM);
	if (wait_all(m, m->conf->shutdown_grace, wait_mask))
		return;
	n = sb_connections();
	log_warnx("%d sessions still running after %d s; closing them", n,
	    m->conf->shutdown_grace);
	signal_workers(m, SIGUSR2, false, false);
	if (m->authd != 0)
		kill(m->authd, SIGUSR2);
	if (wait_all(m, CLOSE_WAIT_SECS, wait_mask))
		return;
	log_warnx("%d processes still running; killing them", alive(m));
	log_kills(m);
	signal_workers(m, SIGKILL, false, false);
	if (m->authd != 0)
		kill(m->authd, SIGKILL);
	(void)wait_all(m, CLOSE_WAIT_SECS, wait_mask);
}

/* load_conf: conf_load() with its complaints, which go to stderr,
 * logged (the daemon's stderr may be /dev/null). */
static int
load_conf(const char *path, struct conf *nc)
{
	FILE	*tmp = tmpfile();
	char	 line[512];
	int	 saved = -1, rc;

	if (tmp != NULL && (saved = dup(STDERR_FILENO)) != -1) {
		fflush(stderr);
		dup2(fileno(tmp), STDERR_FILENO);
	}
	rc = conf_load(path, nc);
	if (saved != -1) {
		fflush(stderr);
		dup2(saved, STDERR_FILENO);
		close(saved);
		rewind(tmp);
		while (fgets(line, sizeof(line), tmp) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			log_warnx("SIGHUP: %s", line);
		}
	}
	if (tmp != NULL)
		fclose(tmp);
	return rc;
}

/* same_socket: whether listen section b binds what a bound; with
 * any_protocol, the protocol and options may differ (not for port 0,
 * which names no particular socket). */
static bool
same_socket(const struct listener_conf *a, const struct listener_conf *b,
    bool any_protocol)
{
	if ((a->path == NULL) != (b->path == NULL))
		return false;
	if (a->path != NULL) {
		if (strcmp(a->path, b->path) != 0)
			return false;
	} else if (strcmp(a->address, b->address) != 0 || a->port != b->port)
		return false;
	if (any_protocol)
		return a->path != NULL || a->port != 0;
	return strcmp(a->protocol, b->protocol) == 0;
}

/*
 * rebind: the listeners of nc into nl: the sockets of m that nc still
 * names are kept open (the same protocol first, then the same address
 * with another protocol), with nc's listen queue, the others bound anew.  src[j] is the index in
 * m of the socket nl[j] kept, or -1.  Returns 0, or -1 after closing
 * what it bound.
 */
static int
rebind(const struct master *m, const struct conf *nc, struct listener *nl,
    int *src)
{
	bool	 used[LISTENERS_MAX] = { false };
	int	 i, j, pass;

	for (j = 0; j < nc->nlisteners; j++)
		src[j] = -1;
	for (pass = 0; pass < 2; pass++)
		for (j = 0; j < nc->nlisteners; j++)
			for (i = 0; i < m->nl && src[j] == -1; i++) {
				if (used[i] || !same_socket(
				    &m->conf->listeners[i], &nc->listeners[j],
				    pass == 1))
					continue;
				used[i] = true;
				src[j] = i;
				nl[j] = m->l[i];
				nl[j].proto = protocol_find(
				    nc->listeners[j].protocol);
				nl[j].tls = nc->listeners[j].tls;
				nl[j].proxy = nc->listeners[j].proxy;
				name_listener(&nl[j], &nc->listeners[j]);
			}
	for (j = 0; j < nc->nlisteners; j++) {
		/* A kept socket's queue follows max_connections too. */
		if (src[j] != -1 && listen(nl[j].fd, backlog(nc)) == -1)
			log_warn("listen %s: listen queue", nl[j].name);
		if (src[j] != -1 ||
		    bind_one(&nc->listeners[j], backlog(nc), &nl[j]) == 0)
			continue;
		while (--j >= 0)
			if (src[j] == -1)
				close(nl[j].fd);
		return -1;
	}
	return 0;
}

/* commit: swaps in the new configuration and listeners; the sockets the
 * new configuration does not name are closed. */
static void
commit(struct master *m, struct conf *nc, struct listener *nl,
    const int *src)
{
	bool	 kept[LISTENERS_MAX] = { false };
	int	 i;

	for (i = 0; i < nc->nlisteners; i++)
		if (src[i] != -1)
			kept[src[i]] = true;
	for (i = 0; i < m->nl; i++)
		if (!kept[i]) {
			log_info("no longer listening on %s", m->l[i].name);
			close(m->l[i].fd);
		}
	memcpy(m->l, nl, sizeof(*nl) * (size_t)nc->nlisteners);
	m->nl = nc->nlisteners;
	(void)accept_modes(m->l, m->nl);
	if (strcmp(m->conf->pidfile, nc->pidfile) != 0)
		log_warnx("SIGHUP: pidfile: the change takes effect at a "
		    "restart");
	if (nc->max_connections > sb_sessions())
		log_warnx("SIGHUP: max_connections: %d session processes at "
		    "most until a restart", sb_sessions());
	conf_free(m->conf);
	*m->conf = *nc;
	m->gen++;
	sb_set_master(getpid(), m->authd, m->gen, m->conf->max_workers,
	    m->conf->max_local_workers, m->conf->max_connections);
}

/*
 * reload: SIGHUP.  Reads the configuration again; if it is valid, binds
 * its new listeners and loads its TLS certificate, it replaces the one
 * in use: idle workers are restarted at once, busy ones after their
 * session, which goes on as it began; the auth process reads it too.
 * Otherwise the reason is logged and nothing changes.
 */
static void
reload(struct master *m)
{
	struct conf	 nc;
	struct listener	 nl[LISTENERS_MAX];
	int		 src[LISTENERS_MAX], i;

	log_info("SIGHUP: reading %s", m->conf->path);
	if (load_conf(m->conf->path, &nc) == -1)
		goto bad;
	if (privsep_init(&nc) == -1) {
		conf_free(&nc);
		goto bad;
	}
	if (rebind(m, &nc, nl, src) == -1) {
		conf_free(&nc);
		goto bad;
	}
	if (nc.tls_cert[0] == '\0')
		tls_unload();
	else if (tls_reload(&nc) == -1) {
		for (i = 0; i < nc.nlisteners; i++)
			if (src[i] == -1)
				close(nl[i].fd);
		conf_free(&nc);
		goto bad;
	}
	commit(m, &nc, nl, src);
	if (m->authd != 0)
		kill(m->authd, SIGHUP);
	signal_workers(m, SIGTERM, false, true);
	log_info("SIGHUP: configuration reloaded (generation %u); "
	    "restarting the workers", m->gen);
	return;
bad:
	log_warnx("SIGHUP: %s not reloaded; the configuration in use stays",
	    m->conf->path);
}

/* master_signals: handlers, with those signals blocked outside waits. */
static void
master_signals(sigset_t *wait_mask)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP,
	    SIGUSR1 };
	struct sigaction sa;
	sigset_t	 block;
	size_t		 i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sa.sa_handler = on_signal;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigprocmask(SIG_BLOCK, &block, wait_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigdelset(wait_mask, sigs[i]);
}

/* lock_file: the accept locks' file, unlinked at once; -1 (logged) if
 * none can be made: every idle worker then waits on the listeners. */
static int
lock_file(void)
{
	char	 path[] = "/tmp/posternd.lock.XXXXXX";
	int	 fd;

	if ((fd = mkstemp(path)) == -1) {
		log_warn("accept lock: mkstemp %s", path);
		return -1;
	}
	(void)unlink(path);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/* setup: the scoreboard, the pools' slots, the lock and the queue. */
static void
setup(struct master *m)
{
	int	 nslots = WORKERS_MAX + LOCAL_WORKERS_MAX;

	if (sb_create(nslots, m->conf->max_connections,
	    m->conf->max_workers, m->conf->max_local_workers,
	    m->conf->max_connections) == -1)
		fatalx("master: no scoreboard");
	if ((m->kids = calloc((size_t)nslots, sizeof(*m->kids))) == NULL)
		fatal("master: calloc");
	m->pool[0].local = false;
	m->pool[0].first = 0;
	m->pool[0].cap = WORKERS_MAX;
	m->pool[1].local = true;
	m->pool[1].first = WORKERS_MAX;
	m->pool[1].cap = LOCAL_WORKERS_MAX;
	m->pool[0].rate = m->pool[1].rate = 1;
	m->lockfd = lock_file();
	m->q[0] = m->q[1] = -1;
	if (m->conf->privsep && authd_queue(m->q) == -1)
		fatal("master: auth queue");
}

/* count_kids: the workers of one pool running now. */
static int
count_kids(const struct master *m, const struct pool *p)
{
	int	 i, n = 0;

	for (i = p->first; i < p->first + p->cap; i++)
		if (m->kids[i].pid != 0)
			n++;
	return n;
}

int
master_run(struct conf *conf, struct listener *l, int nl,
    void (*child_init)(void))
{
	struct master	 m;
	struct timespec	 now, next, left;
	sigset_t	 wait_mask;

	memset(&m, 0, sizeof(m));
	m.conf = conf;
	m.l = l;
	m.nl = nl;
	m.gen = 1;
	m.child_init = child_init;
	master_signals(&wait_mask);
	setproctitle("master");
	setup(&m);
	maintain_all(&m, false);
	log_info("started %d workers, %d local",
	    count_kids(&m, &m.pool[0]), count_kids(&m, &m.pool[1]));
	clock_gettime(CLOCK_MONOTONIC, &next);
	next.tv_sec++;
	while (!got_term) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = next.tv_sec - now.tv_sec;
		left.tv_nsec = next.tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		if (left.tv_sec >= 0)
			(void)ppoll(NULL, 0, &left, &wait_mask);
		if (got_term)
			break;
		if (got_hup) {
			got_hup = 0;
			reload(&m);
		}
		if (got_usr1) {
			got_usr1 = 0;
			sb_log();
		}
		got_chld = 0;
		reap(&m);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec &&
		    now.tv_nsec >= next.tv_nsec)) {
			next = now;
			next.tv_sec++;
			maintain_all(&m, true);
		} else
			maintain_all(&m, false);
	}
	shutdown_all(&m, &wait_mask);
	if (m.lockfd != -1)
		close(m.lockfd);
	sb_destroy();
	free(m.kids);
	log_info("stopped");
	return 0;
}
