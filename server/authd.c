/*
 * authd.c: the auth process, and the workers' side of its protocol.  It
 * runs as root to read the account database and to start session
 * processes as their account; it never reads a client's connection (it
 * writes one line to it: a refusal): it only takes fixed-layout requests
 * from the workers, checks each field, and hands the connection to a
 * new session process.  Sessions of a protocol that delivers get a
 * channel back to it, for the copies their own uid cannot write: each
 * request is served by a child of its own (delegate.h).
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "protocols/protocol.h"
#include "server/authd.h"
#include "server/compat.h"
#include "server/delegate.h"
#include "server/io.h"
#include "server/log.h"
#include "server/passwd.h"
#include "server/privsep.h"
#include "server/scoreboard.h"
#include "server/worker.h"
#include "storage/msgid.h"

#ifndef MSG_CMSG_CLOEXEC
#define MSG_CMSG_CLOEXEC	0
#endif

#define AUTHD_MAGIC	0x50535431u	/* "PST1" */
#define AUTHD_WAIT	120		/* seconds a worker waits for an
					   answer (hashes can queue up) */
#define AUTHD_BATCH	8		/* requests taken for one poll */

/* A request as it travels; strings are NUL-terminated within their
 * arrays (checked on arrival). */
struct wire_req {
	uint32_t	 magic;
	uint32_t	 mech;
	char		 proto[16];
	char		 user[USER_MAX + 1];
	char		 secret[PASSWORD_MAX + 1];
	char		 challenge[256];
	char		 rip[64];
	char		 lip[64];
	int32_t		 rport;
	int32_t		 lport;
	uint8_t		 loopback;
	uint8_t		 tls;
	int64_t		 since;		/* the connection's start */
	uint32_t	 plen;		/* pending input after the struct */
};

/* The answer: the verdict, and the account's name; where its mail is
 * and whose uid it runs as are the session process's business alone. */
struct wire_rep {
	uint32_t	 magic;
	uint32_t	 result;
	char		 why[64];
	char		 name[USER_MAX + 1];
};

/* The auth process's children: its running sessions. */
struct kids {
	pid_t	*pid;
	size_t	 n, cap;
};

/*
 * Mail workers: processes that took mail_user's identity once and serve
 * session after session of accounts that run as it, so that a login
 * costs no fork.  Each has a socket pair with the auth process, down
 * which jobs go with their connection, and a word of memory shared with
 * it, in which it says that it is done: a session's end wakes nobody.
 */
struct mwstate {
	atomic_int	 busy;	/* 1 from a job's sending to its end */
	time_t		 idle;	/* since when it has been idle; written
				   before busy is cleared */
};

struct mailworker {
	pid_t		 pid;	/* 0: none (dead, or not started) */
	int		 fd;	/* the auth process's end */
	struct mwstate	*st;	/* its shared state */
	bool		 extra;	/* started for a login that found every
				   mail worker busy; ends when idle */
	time_t		 born;	/* a worker dying at once waits a second */
};

/* An extra mail worker idle this long ends (seconds). */
#define MW_EXTRA_IDLE	60

struct job {
	struct wire_req	 rq;
	struct auth_user u;
	int32_t		 slot;	/* the session's in the scoreboard */
};

/*
 * A logged-in session's channel for the deliveries it asks for
 * (delegate.h), with what the auth process knows of the session: a
 * request is served for that account, never for one the session names.
 */
struct chan {
	int	 fd;		/* the auth process's end */
	pid_t	 busy;		/* the child serving its request; 0: none,
				   and the channel is read */
	char	 user[USER_MAX + 1];	/* the account logged in */
	char	 proto[16];
	char	 rip[64];
};

struct chans {
	struct chan	*c;
	size_t		 n, cap;
};

/* The auth process: its configuration and what it keeps track of. */
struct authd {
	struct conf		 conf;	/* its own copy, which SIGHUP
					   replaces */
	int			 q;	/* the workers' requests come here */
	struct kids		 kids;
	struct chans		 ch;
	struct mailworker	*mw;	/* nmw of them (0: none) */
	int			 nmw;
	struct msgid		*ids;	/* the global ID counter, which only
					   root may open: opened here once and
					   inherited by every session (NULL:
					   none) */
};

static volatile sig_atomic_t got_term, got_chld, got_hup, got_close;
static int wake[2] = { -1, -1 };

int
authd_queue(int q[2])
{
	int	 size = (int)(sizeof(struct wire_req) + AUTHD_PENDING_MAX) * 4;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q) == -1)
		return -1;
	setsockopt(q[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(q[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	fcntl(q[0], F_SETFD, FD_CLOEXEC);
	fcntl(q[1], F_SETFD, FD_CLOEXEC);
	return 0;
}

/* put_str: copies a string into a wire field; -1 when it does not fit. */
static int
put_str(char *field, size_t size, const char *s)
{
	return strlcpy(field, s != NULL ? s : "", size) < size ? 0 : -1;
}

/* send_req: one request message with its two descriptors. */
static int
send_req(int q, const struct wire_req *rq, const void *pending, int fds[2])
{
	struct msghdr	 msg;
	struct iovec	 iov[2];
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct cmsghdr	*c;

	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov[0].iov_base = (void *)rq;
	iov[0].iov_len = sizeof(*rq);
	iov[1].iov_base = (void *)pending;
	iov[1].iov_len = rq->plen;
	msg.msg_iov = iov;
	msg.msg_iovlen = rq->plen > 0 ? 2 : 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(c), fds, 2 * sizeof(int));
	while (sendmsg(q, &msg, 0) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

/* fill_req: the wire form of a login request. */
static int
fill_req(struct wire_req *rq, const struct session *s,
    const struct auth_request *req, size_t plen)
{
	memset(rq, 0, sizeof(*rq));
	rq->magic = AUTHD_MAGIC;
	rq->mech = (uint32_t)req->mech;
	rq->rport = s->rport;
	rq->lport = s->lport;
	rq->loopback = s->loopback;
	rq->tls = s->tls;
	rq->since = (int64_t)s->since;
	rq->plen = (uint32_t)plen;
	if (put_str(rq->proto, sizeof(rq->proto), s->proto->name) == -1 ||
	    put_str(rq->user, sizeof(rq->user), req->user) == -1 ||
	    put_str(rq->secret, sizeof(rq->secret), req->secret) == -1 ||
	    put_str(rq->challenge, sizeof(rq->challenge),
	    req->challenge) == -1 ||
	    put_str(rq->rip, sizeof(rq->rip), s->rip) == -1 ||
	    put_str(rq->lip, sizeof(rq->lip), s->lip) == -1)
		return -1;
	return 0;
}

/* wait_rep: the auth process's answer on the private pipe fd, within
 * AUTHD_WAIT seconds of each part of it. */
static int
wait_rep(int fd, struct wire_rep *rep)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	size_t		 got = 0;
	ssize_t		 n;
	int		 r;

	while (got < sizeof(*rep)) {
		while ((r = poll(&pfd, 1, AUTHD_WAIT * 1000)) == -1 &&
		    errno == EINTR)
			;
		if (r <= 0)
			return -1;
		while ((n = read(fd, (char *)rep + got, sizeof(*rep) - got)) ==
		    -1 && errno == EINTR)
			;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	if (rep->magic != AUTHD_MAGIC || rep->result > AUTH_TEMPFAIL)
		return -1;
	rep->why[sizeof(rep->why) - 1] = '\0';
	rep->name[sizeof(rep->name) - 1] = '\0';
	return 0;
}

enum auth_result
authd_login(int q, const struct session *s, const struct auth_request *req,
    int conn, const void *pending, size_t plen, struct auth_user *u,
    const char **why_r)
{
	static char	 why[64];
	struct wire_req	 rq;
	struct wire_rep	 rep;
	int		 rp[2], fds[2], rc;

	memset(u, 0, sizeof(*u));
	if (plen > AUTHD_PENDING_MAX || fill_req(&rq, s, req, plen) == -1) {
		*why_r = "request too large";
		return AUTH_FAILED;
	}
	/* A pipe, not a socket pair: a UNIX socket in flight in a message
	 * costs the kernel a run of its garbage collector for them. */
	if (pipe2(rp, O_CLOEXEC) == -1) {
		*why_r = "cannot reach the auth process";
		return AUTH_TEMPFAIL;
	}
	fds[0] = rp[1];
	fds[1] = conn;
	rc = send_req(q, &rq, pending, fds);
	explicit_bzero(&rq, sizeof(rq));
	close(rp[1]);
	if (rc == -1 || wait_rep(rp[0], &rep) == -1) {
		close(rp[0]);
		*why_r = "no answer from the auth process";
		return AUTH_TEMPFAIL;
	}
	close(rp[0]);
	strlcpy(why, rep.why, sizeof(why));
	*why_r = why;
	if (rep.result == AUTH_OK) {
		strlcpy(u->name, rep.name, sizeof(u->name));
		u->uid = u->gid = -1;
	}
	return (enum auth_result)rep.result;
}

/* on_signal: records SIGTERM and SIGCHLD for the auth loop. */
static void
on_signal(int sig)
{
	int	 saved = errno;
	ssize_t	 n;

	if (sig == SIGCHLD)
		got_chld = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGUSR2)
		got_close = 1;
	else
		got_term = 1;
	n = write(wake[1], "", 1);
	(void)n;
	errno = saved;
}

/* authd_signals: dispositions of the auth process. */
static void
authd_signals(void)
{
	struct sigaction sa;
	sigset_t	 none;

	if (pipe(wake) == -1 || fcntl(wake[1], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(wake[0], F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(wake[1], F_SETFD, FD_CLOEXEC) == -1)
		fatal("authd: pipe");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* kids_add: remembers a session process. */
static void
kids_add(struct kids *k, pid_t pid)
{
	pid_t	*p;

	if (k->n == k->cap) {
		p = reallocarray(k->pid, k->cap ? k->cap * 2 : 64,
		    sizeof(*p));
		if (p == NULL) {
			log_warn("authd: reallocarray");
			return;	/* it runs on, unlisted */
		}
		k->pid = p;
		k->cap = k->cap ? k->cap * 2 : 64;
	}
	k->pid[k->n++] = pid;
}

/* kid_ended: logs how a session process ended, unless it was an
 * ordinary end, and empties its scoreboard slot. */
static void
kid_ended(pid_t pid, int status)
{
	const struct sb_slot *sl = sb_session(sb_session_find(pid));
	char		 user[USER_MAX + 1], rip[64];

	if (sl != NULL && WIFEXITED(status) &&
	    WEXITSTATUS(status) == SESSION_EXIT_TIMEUP) {
		session_safe(sl->user, user, sizeof(user));
		session_safe(sl->rip, rip, sizeof(rip));
		log_info("session time limit: user=<%s> rip=%s proto=%s "
		    "closed after %d s (max_session_time)", user, rip,
		    sl->proto, (int)(time(NULL) - sl->since));
	} else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		log_warnx("session process %ld killed by signal %d",
		    (long)pid, WTERMSIG(status));
	sb_session_clear(sb_session_find(pid));
}

/* log_kill: a child about to be killed at the end of a shutdown, as its
 * slot shows it (one with none serves a delivery request). */
static void
log_kill(pid_t pid)
{
	const struct sb_slot *sl = sb_session(sb_session_find(pid));
	char		 user[USER_MAX + 1], rip[64];

	if (sl == NULL) {
		log_warnx("killing process %ld (no session)", (long)pid);
		return;
	}
	session_safe(sl->user, user, sizeof(user));
	session_safe(sl->rip, rip, sizeof(rip));
	log_warnx("killing session process %ld: user=<%s> rip=%s proto=%s",
	    (long)pid, user, rip, sl->proto);
}

/* kids_reap: forgets session processes that ended, mail workers and
 * the children serving delivery requests among them; with flags 0
 * waits. */
static void
kids_reap(struct authd *a, int flags)
{
	struct kids		*k = &a->kids;
	struct chans		*ch = &a->ch;
	struct mailworker	*mw = a->mw;
	pid_t			 pid;
	size_t			 i;
	int			 w, status;

	while ((pid = waitpid(-1, &status, flags)) > 0) {
		kid_ended(pid, status);
		for (i = 0; i < k->n; i++)
			if (k->pid[i] == pid) {
				k->pid[i] = k->pid[--k->n];
				break;
			}
		for (i = 0; i < ch->n; i++)
			if (ch->c[i].busy == pid)
				ch->c[i].busy = 0;
		for (w = 0; w < a->nmw; w++)
			if (mw[w].pid == pid) {
				if (mw[w].fd != -1)
					close(mw[w].fd);
				mw[w].pid = 0;
				mw[w].fd = -1;
				atomic_store(&mw[w].st->busy, 0);
			}
	}
}

/* valid_str: a wire string ends within its field. */
static int
valid_str(const char *field, size_t size)
{
	return memchr(field, '\0', size) != NULL;
}

/* valid_req: checks every field of a request that arrived in n octets. */
static int
valid_req(const struct wire_req *rq, ssize_t n)
{
	return n >= (ssize_t)sizeof(*rq) && rq->magic == AUTHD_MAGIC &&
	    rq->plen <= AUTHD_PENDING_MAX &&
	    (size_t)n == sizeof(*rq) + rq->plen &&
	    rq->mech <= AUTH_MECH_CREATE &&
	    valid_str(rq->proto, sizeof(rq->proto)) &&
	    valid_str(rq->user, sizeof(rq->user)) &&
	    valid_str(rq->secret, sizeof(rq->secret)) &&
	    valid_str(rq->challenge, sizeof(rq->challenge)) &&
	    valid_str(rq->rip, sizeof(rq->rip)) &&
	    valid_str(rq->lip, sizeof(rq->lip)) &&
	    protocol_find(rq->proto) != NULL;
}

/* serve_resumed: carries on a session after its login, in a process that
 * already has the account's identity, with the global ID counter ids
 * opened before (NULL: none); closes conn and chan, the session's
 * delivery channel (-1: none). */
static void
serve_resumed(const struct conf *conf, const struct wire_req *rq,
    const char *pending, int conn, int chan, const struct auth_user *u,
    struct msgid *ids)
{
	struct session	 s;

	memset(&s, 0, sizeof(s));
	s.conf = conf;
	s.msgid = ids;
	s.proto = protocol_find(rq->proto);
	s.fd = conn;
	s.authq = -1;
	s.deliverq = chan;
	s.resumed = true;
	s.account = *u;
	s.login_mech = (enum auth_mech)rq->mech;
	strlcpy(s.login_state, rq->challenge, sizeof(s.login_state));
	s.loopback = rq->loopback != 0;
	s.tls = rq->tls != 0;
	s.rport = rq->rport;
	s.lport = rq->lport;
	strlcpy(s.rip, rq->rip, sizeof(s.rip));
	strlcpy(s.lip, rq->lip, sizeof(s.lip));
	strlcpy(s.user, u->name, sizeof(s.user));
	s.since = (time_t)rq->since;
	session_title(&s, s.user);
	worker_session_signals(&s, (long)rq->since);
	s.pending = pending;
	s.npending = rq->plen;
	s.proto->serve(&s);
	worker_session_end();
	io_free(&s.io);
	close(conn);
	if (s.deliverq != -1)
		close(s.deliverq);
}

/*
 * session_signals: in a child of the auth process.  A session finishes,
 * or is killed after the grace; and none of the auth process's handlers
 * stays, whose wake pipe is closed here: its descriptor's number may be
 * a connection's by the time a signal comes.  The session's own handlers
 * (worker.c) come with its protocol.
 */
static void
session_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
}

/* run_session: in the new session process: become the account and
 * carry on the protocol after its login, with the global ID counter ids
 * that root opened.  Never returns. */
static void __attribute__((noreturn))
run_session(const struct conf *conf, const struct wire_req *rq,
    const char *pending, int conn, int chan, const struct auth_user *u,
    struct msgid *ids)
{
	session_signals();
	compat_shed_memory();
	if (privsep_become(conf, u) == -1)
		_exit(1);
	serve_resumed(conf, rq, pending, conn, chan, u, ids);
	_exit(0);
}

/*
 * recv_msg: one message on fd: a head of len octets, the pending input
 * after it, and one or two descriptors, which arrive in fds (*nfds of
 * them: 0 when the message carried none or a mangled set, which are
 * closed).  Returns the octets, or -1 (errno; EMSGSIZE when the message
 * or its descriptors did not fit, whatever came closed).
 */
static ssize_t
recv_msg(int fd, void *head, size_t len, char *pending, int fds[2],
    int *nfds, int flags)
{
	struct msghdr	 msg;
	struct iovec	 iov[2];
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct cmsghdr	*c;
	ssize_t		 n;
	int		 i;

	memset(&msg, 0, sizeof(msg));
	iov[0].iov_base = head;
	iov[0].iov_len = len;
	iov[1].iov_base = pending;
	iov[1].iov_len = AUTHD_PENDING_MAX;
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	*nfds = 0;
	while ((n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | flags)) == -1 &&
	    errno == EINTR)
		;
	if (n <= 0)
		return n;
	if ((c = CMSG_FIRSTHDR(&msg)) != NULL && c->cmsg_level == SOL_SOCKET &&
	    c->cmsg_type == SCM_RIGHTS) {
		*nfds = c->cmsg_len == CMSG_LEN(2 * sizeof(int)) ? 2 :
		    c->cmsg_len == CMSG_LEN(sizeof(int)) ? 1 : 0;
		memcpy(fds, CMSG_DATA(c), (size_t)*nfds * sizeof(int));
	}
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		for (i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}

/* mw_recv: the next job for a mail worker; its connection in *conn, its
 * delivery channel in *chan (-1: none). */
static ssize_t
mw_recv(int fd, struct job *j, char *pending, int *conn, int *chan)
{
	ssize_t	 n;
	int	 fds[2], nfds;

	n = recv_msg(fd, j, sizeof(*j), pending, fds, &nfds, 0);
	if (nfds == 0)
		return -1;
	*conn = fds[0];
	*chan = nfds == 2 ? fds[1] : -1;
	if (n < (ssize_t)sizeof(*j) || (size_t)n != sizeof(*j) + j->rq.plen) {
		close(*conn);
		if (*chan != -1)
			close(*chan);
		return -1;
	}
	return n;
}

/* mw_done: a mail worker's session is over: its scoreboard slot is
 * emptied, and the auth process may give it the next. */
static void
mw_done(struct mwstate *st, int slot)
{
	sb_session_clear(slot);
	st->idle = time(NULL);
	atomic_store_explicit(&st->busy, 0, memory_order_release);
}

/* mw_main: a mail worker: mail_user's identity once, then session after
 * session, with the global ID counter ids that root opened, until the
 * auth process closes its end.  Never returns. */
static void __attribute__((noreturn))
mw_main(const struct conf *conf, int fd, struct mwstate *st,
    struct msgid *ids)
{
	struct auth_user nobody_in_particular;
	struct job	*j = malloc(sizeof(*j));
	char		*pending = malloc(AUTHD_PENDING_MAX);
	int		 conn, chan;

	session_signals();
	compat_shed_memory();
	memset(&nobody_in_particular, 0, sizeof(nobody_in_particular));
	nobody_in_particular.uid = -1;	/* takes mail_user's */
	strlcpy(nobody_in_particular.name, conf->mail_user,
	    sizeof(nobody_in_particular.name));
	if (j == NULL || pending == NULL ||
	    privsep_become(conf, &nobody_in_particular) == -1)
		_exit(1);
	for (;;) {
		setproctitle("mail idle");
		if (mw_recv(fd, j, pending, &conn, &chan) == -1)
			break;
		serve_resumed(conf, &j->rq, pending, conn, chan, &j->u, ids);
		mw_done(st, j->slot);
		explicit_bzero(j, sizeof(*j));
	}
	msgid_close(&ids);
	free(j);
	free(pending);
	_exit(0);
}

/* mw_spawn: starts mail worker w; fds lists what the child must close
 * besides the delivery channels. */
static void
mw_spawn(struct authd *a, struct mailworker *w, const int *fds, size_t nfds)
{
	int	 sv[2];
	size_t	 i;
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1) {
		log_warn("authd: mail worker socket pair");
		return;
	}
	w->st->idle = time(NULL);
	atomic_store(&w->st->busy, 0);
	if ((pid = fork()) == -1) {
		log_warn("authd: fork of a mail worker");
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (pid == 0) {
		for (i = 0; i < nfds; i++)
			if (fds[i] != -1)
				close(fds[i]);
		for (i = 0; i < a->ch.n; i++)
			close(a->ch.c[i].fd);
		close(sv[0]);
		mw_main(&a->conf, sv[1], w->st, a->ids);
	}
	close(sv[1]);
	fcntl(sv[0], F_SETFD, FD_CLOEXEC);
	w->pid = pid;
	w->fd = sv[0];
	kids_add(&a->kids, pid);
}

/* mw_idle: whether mail worker w waits for a job. */
static bool
mw_idle(const struct mailworker *w)
{
	return w->pid != 0 && w->fd != -1 &&
	    atomic_load_explicit(&w->st->busy, memory_order_acquire) == 0;
}

/* mw_send: gives a job to an idle mail worker, with its connection, its
 * delivery channel (-1: none) and its scoreboard slot; the worker's
 * index, or -1 if none took it. */
static int
mw_send(struct mailworker *mw, int n, const struct wire_req *rq,
    const char *pending, int conn, int chan, const struct auth_user *u,
    int slot)
{
	struct job	 j;
	struct msghdr	 msg;
	struct iovec	 iov[2];
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct cmsghdr	*c;
	int		 fds[2] = { conn, chan }, nfds = chan != -1 ? 2 : 1;
	int		 i, rc;

	for (i = 0; i < n; i++)
		if (mw_idle(&mw[i]))
			break;
	if (i == n)
		return -1;
	memset(&j, 0, sizeof(j));
	j.rq = *rq;
	j.u = *u;
	j.slot = slot;
	/* A mail worker serves many accounts: it never sees a password. */
	explicit_bzero(j.rq.secret, sizeof(j.rq.secret));
	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov[0].iov_base = &j;
	iov[0].iov_len = sizeof(j);
	iov[1].iov_base = (void *)pending;
	iov[1].iov_len = rq->plen;
	msg.msg_iov = iov;
	msg.msg_iovlen = rq->plen > 0 ? 2 : 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	/* The slot names the worker before it can be done and empty it. */
	sb_session_pid(slot, mw[i].pid);
	atomic_store(&mw[i].st->busy, 1);
	rc = (int)sendmsg(mw[i].fd, &msg, MSG_DONTWAIT);
	explicit_bzero(&j, sizeof(j));
	if (rc == -1) {
		atomic_store(&mw[i].st->busy, 0);
		return -1;
	}
	return i;
}

static int	mw_grow(struct authd *, const int *, int);

/* answer: sends the verdict to the worker, down the pipe it gave, which
 * holds it whole; without waiting, so that a worker that passed
 * something else cannot stall every login. */
static void
answer(int fd, enum auth_result r, const char *why,
    const struct auth_user *u)
{
	struct wire_rep	 rep;

	memset(&rep, 0, sizeof(rep));
	rep.magic = AUTHD_MAGIC;
	rep.result = (uint32_t)r;
	strlcpy(rep.why, why, sizeof(rep.why));
	if (r == AUTH_OK)
		strlcpy(rep.name, u->name, sizeof(rep.name));
	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1 ||
	    write(fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		log_warn("authd: answering a worker");
}

/* refusal: why a login that passed must not start a session: its
 * user's sessions are at max_sessions_per_user, or no slot is left to
 * count it in (max_connections); NULL when it may.  Takes the slot in
 * *slot_r. */
static const char *
refusal(const struct conf *conf, const struct wire_req *rq,
    const struct auth_user *u, int *slot_r)
{
	*slot_r = -1;
	if (conf->max_sessions_per_user > 0 &&
	    sb_sessions_of(u->name) >= conf->max_sessions_per_user)
		return REFUSE_PER_USER;
	*slot_r = sb_session_add(rq->proto, u->name, rq->rip, rq->tls != 0,
	    (time_t)rq->since);
	return *slot_r == -1 && sb_sessions() > 0 ? REFUSE_CONNECTIONS : NULL;
}

/* refuse_login: sends the client the protocol's refusal on conn, where
 * the worker left it (in the clear, or the TLS relay's socket), without
 * waiting; the worker then lets the connection go.  Logged once a minute
 * per user. */
static void
refuse_login(const struct conf *conf, const struct wire_req *rq,
    const struct auth_user *u, int conn, const char *why)
{
	struct session	 s;
	char		 buf[512], safe[USER_MAX + 1], tail[64];
	size_t		 n = 0;
	unsigned	 more;
	bool		 user = strcmp(why, REFUSE_PER_USER) == 0;

	memset(&s, 0, sizeof(s));
	s.conf = conf;
	s.proto = protocol_find(rq->proto);
	s.fd = conn;
	strlcpy(s.rip, rq->rip, sizeof(s.rip));
	strlcpy(s.user, u->name, sizeof(s.user));
	if (s.proto->refuse != NULL)
		n = s.proto->refuse(&s, why, buf, sizeof(buf));
	if (n > 0)
		(void)send(conn, buf, n, MSG_DONTWAIT);
	if (!sb_log_now(why, user ? u->name : "", user ? strlen(u->name) : 0,
	    &more))
		return;
	session_safe(u->name, safe, sizeof(safe));
	sb_log_tail(more, tail, sizeof(tail));
	log_warnx("refused: user=<%s> rip=%s proto=%s reason=%s (%s = %d)%s",
	    safe, rq->rip, rq->proto, why, user ? "max_sessions_per_user" :
	    "max_connections", user ? conf->max_sessions_per_user :
	    sb_sessions(), tail);
}

/* close_inherited: in a new child of the auth process, closes what is
 * the auth process's alone: the queue q, the wake pipe, the mail
 * workers' sockets and the channels' ends but keep (-1: none). */
static void
close_inherited(const struct authd *a, int keep)
{
	size_t	 i;
	int	 w;

	close(a->q);
	close(wake[0]);
	close(wake[1]);
	for (w = 0; w < a->nmw; w++)
		if (a->mw[w].fd != -1)
			close(a->mw[w].fd);
	for (i = 0; i < a->ch.n; i++)
		if (a->ch.c[i].fd != keep)
			close(a->ch.c[i].fd);
}

/* chan_open: a delivery channel for the session that rq starts for
 * account u, when its protocol delivers; returns the session's end, or
 * -1 for none (the session then delivers only as itself). */
static int
chan_open(struct chans *ch, const struct wire_req *rq,
    const struct auth_user *u)
{
	struct chan	*c;
	int		 sv[2];

	if (!protocol_find(rq->proto)->delivers)
		return -1;
	if (ch->n == ch->cap) {
		c = reallocarray(ch->c, ch->cap ? ch->cap * 2 : 16,
		    sizeof(*c));
		if (c == NULL) {
			log_warn("authd: delivery channel");
			return -1;
		}
		ch->c = c;
		ch->cap = ch->cap ? ch->cap * 2 : 16;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1) {
		log_warn("authd: delivery channel");
		return -1;
	}
	fcntl(sv[0], F_SETFD, FD_CLOEXEC);
	fcntl(sv[1], F_SETFD, FD_CLOEXEC);
	c = &ch->c[ch->n++];
	memset(c, 0, sizeof(*c));
	c->fd = sv[0];
	strlcpy(c->user, u->name, sizeof(c->user));
	strlcpy(c->proto, rq->proto, sizeof(c->proto));
	strlcpy(c->rip, rq->rip, sizeof(c->rip));
	return sv[1];
}

/* chan_drop: closes channel i and forgets it (the last takes its
 * place). */
static void
chan_drop(struct chans *ch, size_t i)
{
	close(ch->c[i].fd);
	ch->c[i] = ch->c[--ch->n];
}

/* chan_request: reads the request waiting on channel i and starts a
 * child (root) that serves it; the channel is not read again until that
 * child ends.  A channel the session closed, or that carried a malformed
 * request, is dropped. */
static void
chan_request(struct authd *a, size_t i)
{
	const struct conf	*conf = &a->conf;
	struct chans		*ch = &a->ch;
	struct chan		*c = &ch->c[i];
	struct delegate_peer	 who = { c->user, c->proto, c->rip, false };
	struct delegate_req	*req;
	int			 spool;
	pid_t			 pid;

	if (delegate_lookup_waiting(c->fd)) {
		if (delegate_lookup_answer(conf, &who, c->fd) == -1)
			chan_drop(ch, i);
		return;
	}
	if (delegate_recv(c->fd, &who, &req, &spool) != 1) {
		chan_drop(ch, i);
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("authd: fork for a delivery request");
		chan_drop(ch, i);	/* the session's request fails */
	} else if (pid == 0) {
		close_inherited(a, c->fd);
		/* It finishes the request whatever the auth process is
		 * told; only SIGKILL ends it sooner (a shutdown's end). */
		session_signals();
		delegate_serve(conf, &who, c->fd, req, spool);
		_exit(0);
	} else {
		c->busy = pid;
		kids_add(&a->kids, pid);
	}
	close(spool);
	delegate_free(req);
}

/* handle: checks one request and starts its session when it passes: in
 * an idle mail worker when the account runs as mail_user, else in a new
 * process; with a delivery channel when its protocol delivers. */
static void
handle(struct authd *a, const struct wire_req *rq, const char *pending,
    int fds[2])
{
	const struct conf	*conf = &a->conf;
	struct auth_request	 req;
	struct auth_user	 u;
	enum auth_result	 r;
	const char		*why = "unknown", *limit = NULL;
	uid_t			 uid;
	gid_t			 gid;
	pid_t			 pid;
	int			 slot = -1, chan, inflight[3];
	bool			 mailed;

	memset(&req, 0, sizeof(req));
	req.mech = (enum auth_mech)rq->mech;
	req.user = rq->user;
	req.secret = rq->secret;
	req.challenge = rq->challenge;
	req.rhost = rq->rip;
	req.rport = rq->rport;
	r = auth_request(conf, &req, &u, &why);
	if (r == AUTH_OK && privsep_identity(conf, &u, &uid, &gid) == -1) {
		r = AUTH_TEMPFAIL;
		why = "no identity to run the account as";
	}
	if (r == AUTH_OK && (limit = refusal(conf, rq, &u, &slot)) != NULL) {
		refuse_login(conf, rq, &u, fds[1], limit);
		u.name[0] = '\0';	/* answered here: no login to log */
		why = limit;
	} else if (r == AUTH_OK) {
		chan = chan_open(&a->ch, rq, &u);
		inflight[0] = fds[0];
		inflight[1] = fds[1];
		inflight[2] = chan;
		mailed = a->nmw > 0 && uid == conf->mail_uid &&
		    gid == conf->mail_gid &&
		    (mw_send(a->mw, a->nmw, rq, pending, fds[1], chan, &u,
		    slot) >= 0 || (mw_grow(a, inflight, 3) == 0 &&
		    mw_send(a->mw, a->nmw, rq, pending, fds[1], chan, &u,
		    slot) >= 0));
		/* Else a process of its own carries on. */
		if (!mailed && (pid = fork()) == -1) {
			log_warn("authd: fork");
			sb_session_clear(slot);
			if (chan != -1)
				chan_drop(&a->ch, a->ch.n - 1);
			r = AUTH_TEMPFAIL;
			why = "cannot start a session process";
		} else if (!mailed && pid == 0) {
			close_inherited(a, -1);
			close(fds[0]);
			run_session(conf, rq, pending, fds[1], chan, &u,
			    a->ids);
		} else if (!mailed) {
			kids_add(&a->kids, pid);
			sb_session_pid(slot, pid);
		}
		if (chan != -1)
			close(chan);
	}
	answer(fds[0], r, why, &u);
	explicit_bzero(&u, sizeof(u));
}

/* receive: one request and its descriptors, without waiting when more
 * is set; 0, or -1 to skip it (errno EAGAIN: none was waiting). */
static int
receive(int q, struct wire_req *rq, char *pending, int fds[2], bool more)
{
	ssize_t	 n;
	int	 nfds;

	if ((n = recv_msg(q, rq, sizeof(*rq), pending, fds, &nfds,
	    more ? MSG_DONTWAIT : 0)) <= 0) {
		if (n == -1 && errno == EMSGSIZE)
			log_warnx("authd: a request too large: ignored");
		return -1;
	}
	errno = 0;
	if (nfds != 2) {
		log_warnx("authd: a request without its descriptors");
		if (nfds == 1)
			close(fds[0]);
		return -1;
	}
	if (!valid_req(rq, n)) {
		log_warnx("authd: a malformed request: ignored");
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	return 0;
}

/*
 * shutdown_kids: lets running sessions finish until the master's SIGUSR2
 * says the grace is over (or, should the master be gone, the grace and
 * ten seconds more); then has them send the protocol's closing reply
 * (SIGUSR2, worker.c) and kills what is left two seconds later.  Idle
 * mail workers end when their socket closes.
 */
static void
shutdown_kids(struct authd *a)
{
	struct timespec	 tick = { 0, 50 * 1000 * 1000 };
	struct kids	*k = &a->kids;
	struct mailworker *mw = a->mw;
	long		 waited = 0;
	size_t		 i;
	int		 w;

	for (w = 0; w < a->nmw; w++)
		if (mw[w].fd != -1) {
			close(mw[w].fd);
			mw[w].fd = -1;
		}
	while (k->n > 0 && !got_close &&
	    waited < (a->conf.shutdown_grace + 10) * 1000L) {
		kids_reap(a, WNOHANG);
		if (k->n == 0)
			break;
		nanosleep(&tick, NULL);
		waited += 50;
	}
	for (i = 0; i < k->n; i++)
		kill(k->pid[i], SIGUSR2);
	for (waited = 0; k->n > 0 && waited < 2000; waited += 50) {
		kids_reap(a, WNOHANG);
		nanosleep(&tick, NULL);
	}
	if (k->n > 0)
		log_warnx("%zu sessions still running after their closing "
		    "reply; killing them", k->n);
	for (i = 0; i < k->n; i++) {
		log_kill(k->pid[i]);
		kill(k->pid[i], SIGKILL);
	}
	kids_reap(a, 0);
}

/* mw_missing: whether one of the mail workers kept ready is not
 * running. */
static bool
mw_missing(const struct authd *a)
{
	int	 w;

	for (w = 0; w < a->nmw; w++)
		if (a->mw[w].pid == 0 && !a->mw[w].extra)
			return true;
	return false;
}

/* mw_start: starts mail worker w; the child closes the auth process's
 * descriptors, the other mail workers' among them, and the nbusy in
 * busy: those of a request being handled (its connection must not stay
 * open in a process that does not serve it). */
static void
mw_start(struct authd *a, int w, const int *busy, int nbusy)
{
	struct mailworker *mw = a->mw;
	int		 fds[WORKERS_MAX + 6], i, n = 0;

	fds[n++] = a->q;
	fds[n++] = wake[0];
	fds[n++] = wake[1];
	for (i = 0; i < nbusy && i < 3; i++)
		fds[n++] = busy[i];
	for (i = 0; i < a->nmw && n < WORKERS_MAX + 6; i++)
		fds[n++] = mw[i].fd;
	mw[w].born = time(NULL);
	mw_spawn(a, &mw[w], fds, (size_t)n);
}

/* mw_fill: starts the mail workers kept ready that are missing. */
static void
mw_fill(struct authd *a)
{
	int	 w;

	for (w = 0; w < a->nmw; w++)
		if (a->mw[w].pid == 0 && !a->mw[w].extra &&
		    time(NULL) > a->mw[w].born)
			mw_start(a, w, NULL, 0);
}

/* mw_grow: every mail worker is busy: starts an extra one, when there is
 * room; busy are the descriptors of the request in hand, which it must
 * not keep.  0, or -1 when there is none or the start failed. */
static int
mw_grow(struct authd *a, const int *busy, int nbusy)
{
	struct mailworker *mw = a->mw;
	int		 w;

	for (w = 0; w < a->nmw; w++)
		if (mw[w].extra && mw[w].pid == 0 && mw[w].fd == -1)
			break;
	if (w == a->nmw)
		return -1;
	mw_start(a, w, busy, nbusy);
	return mw[w].pid != 0 ? 0 : -1;
}

/* mw_spare: when every mail worker is busy, starts an extra one now,
 * between requests, so that the next login finds it ready; forked with
 * little of the auth process's stack in use, it shares more of its pages
 * with it than one forked in the middle of a login (about 25 kB less
 * memory each).  The kept-ready ones come first (mw_fill). */
static void
mw_spare(struct authd *a)
{
	int	 w;

	for (w = 0; w < a->nmw; w++)
		if (mw_idle(&a->mw[w]))
			return;
	if (a->nmw > 0 && !mw_missing(a))
		(void)mw_grow(a, NULL, 0);
}

/* mw_retire: ends the extra mail workers idle for MW_EXTRA_IDLE seconds:
 * with their socket closed, they exit.  Whether extras are still up. */
static bool
mw_retire(struct authd *a, time_t now)
{
	struct mailworker *mw = a->mw;
	bool		 left = false;
	int		 w;

	for (w = 0; w < a->nmw; w++) {
		if (!mw[w].extra || mw[w].pid == 0)
			continue;
		if (mw_idle(&mw[w]) && now - mw[w].st->idle >= MW_EXTRA_IDLE) {
			close(mw[w].fd);	/* it ends; reaped later */
			mw[w].fd = -1;
		}
		left = true;
	}
	return left;
}

/* reload: SIGHUP from the master, which found the file valid: reads it
 * again for the logins to come, and opens the counter of its state_dir
 * again; mail workers end after their session and come back with both.
 * On a problem the configuration stays. */
static void
reload(struct authd *a)
{
	struct conf	 nc;
	int		 w;

	if (conf_load(a->conf.path, &nc) == -1)
		return;
	if (privsep_init(&nc) == -1) {
		conf_free(&nc);
		return;
	}
	conf_free(&a->conf);
	a->conf = nc;
	msgid_close(&a->ids);
	a->ids = msgid_open(a->conf.state_dir);
	for (w = 0; w < a->nmw; w++)
		if (a->mw[w].fd != -1) {
			close(a->mw[w].fd);
			a->mw[w].fd = -1;
		}
	log_info("auth process: configuration reloaded");
}

/* poll_set: pfd (*cap entries, grown as needed) for the queue, the wake
 * pipe and the channels not being served; NULL when out of memory. */
static struct pollfd *
poll_set(const struct authd *a, struct pollfd *pfd, size_t *cap)
{
	const struct chans *ch = &a->ch;
	struct pollfd	*p;
	size_t		 i, n = 2 + ch->n;

	if (pfd == NULL || n > *cap) {
		if ((p = reallocarray(pfd, n, sizeof(*p))) == NULL)
			return NULL;
		pfd = p;
		*cap = n;
	}
	memset(pfd, 0, n * sizeof(*pfd));
	pfd[0].fd = a->q;
	pfd[1].fd = wake[0];
	for (i = 0; i < ch->n; i++)
		pfd[2 + i].fd = ch->c[i].busy == 0 ? ch->c[i].fd : -1;
	for (i = 0; i < n; i++)
		pfd[i].events = POLLIN;
	return pfd;
}

/* chan_events: serves the channels with a request waiting (or closed),
 * from the last, so that dropping one moves only a channel done with;
 * pfd holds their entries of poll_set(). */
static void
chan_events(struct authd *a, const struct pollfd *pfd)
{
	size_t	 i;

	for (i = a->ch.n; i-- > 0;)
		if (pfd[i].revents != 0 && a->ch.c[i].busy == 0)
			chan_request(a, i);
}

/* mw_setup: the mail workers' table, and their shared state st:
 * mail_workers kept ready, and room for extras up to max_workers. */
static struct mwstate *
mw_setup(struct authd *a)
{
	const struct conf *conf = &a->conf;
	struct mwstate	*st;
	int		 w;

	a->nmw = 0;
	if (conf->privsep && conf->mail_user[0] != '\0')
		a->nmw = conf->mail_workers > 0 && conf->max_workers >
		    conf->mail_workers ? conf->max_workers : conf->mail_workers;
	if ((a->mw = calloc((size_t)a->nmw + 1, sizeof(*a->mw))) == NULL)
		fatal("authd: malloc");
	/* Shared with the mail workers, which inherit it: any of them can
	 * write every word, and at worst make a job wait for a session. */
	st = mmap(NULL, ((size_t)a->nmw + 1) * sizeof(*st), PROT_READ |
	    PROT_WRITE, MAP_SHARED | MAP_ANON, -1, 0);
	if (st == MAP_FAILED)
		fatal("authd: mmap");
	for (w = 0; w < a->nmw; w++) {
		a->mw[w].fd = -1;
		a->mw[w].st = &st[w];
		a->mw[w].extra = w >= conf->mail_workers;
	}
	return st;
}

/* requests: the requests that queued up, taken in one go (up to
 * AUTHD_BATCH). */
static void
requests(struct authd *a, struct wire_req *rq, char *pending)
{
	int	 fds[2], n;

	for (n = 0; n < AUTHD_BATCH && !got_term; n++) {
		mw_spare(a);
		if (receive(a->q, rq, pending, fds, n > 0) == 0) {
			handle(a, rq, pending, fds);
			close(fds[0]);
			close(fds[1]);
		} else if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		explicit_bzero(rq, sizeof(*rq));
	}
}

void
authd_main(const struct conf *conf, int q)
{
	struct authd	 a;
	struct mwstate	*st;
	struct wire_req	*rq;
	struct pollfd	*pfd = NULL;
	size_t		 npfd = 0;
	char		*pending, drain[64];
	int		 timeout;
	bool		 extras;

	authd_signals();
	setproctitle("auth");
	privsep_root_sandbox(conf, "auth process");
	passwd_keep();		/* every login is looked up here */
	memset(&a, 0, sizeof(a));
	a.conf = *conf;
	a.q = q;
	st = mw_setup(&a);
	a.ids = msgid_open(a.conf.state_dir);
	rq = malloc(sizeof(*rq));
	pending = malloc(AUTHD_PENDING_MAX);
	if (rq == NULL || pending == NULL)
		fatal("authd: malloc");
	while (!got_term) {
		mw_fill(&a);
		if ((pfd = poll_set(&a, pfd, &npfd)) == NULL)
			fatal("authd: malloc");
		/* Wake every second while a mail worker is missing or an
		 * extra one may have to end. */
		extras = a.nmw > 0 && mw_retire(&a, time(NULL));
		timeout = extras || (a.nmw > 0 && mw_missing(&a)) ? 1000 : -1;
		if (poll(pfd, (nfds_t)(2 + a.ch.n), timeout) == -1 &&
		    errno != EINTR)
			fatal("authd: poll");
		if ((pfd[1].revents & POLLIN) &&
		    read(wake[0], drain, sizeof(drain)) == -1 &&
		    errno != EINTR)
			fatal("authd: read");
		if (got_hup) {
			got_hup = 0;
			reload(&a);
		}
		if (got_chld) {
			got_chld = 0;
			kids_reap(&a, WNOHANG);
		}
		if (!got_term)
			chan_events(&a, pfd + 2);
		if (!got_term && (pfd[0].revents & POLLIN))
			requests(&a, rq, pending);
	}
	shutdown_kids(&a);
	while (a.ch.n > 0)
		chan_drop(&a.ch, a.ch.n - 1);
	msgid_close(&a.ids);
	free(a.ch.c);
	free(rq);
	free(pending);
	free(pfd);
	free(a.mw);
	munmap(st, ((size_t)a.nmw + 1) * sizeof(*st));
	free(a.kids.pid);
	exit(0);
}
