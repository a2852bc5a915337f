/*
 * authd.c: the auth process, and the workers' side of its protocol.  It
 * runs as root to read the account database and to start session
 * processes as their account; it never reads a client's connection: it
 * only takes fixed-layout requests from the workers, checks each field,
 * and hands the connection to a new session process.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "protocols/protocol.h"
#include "server/authd.h"
#include "server/io.h"
#include "server/log.h"
#include "server/privsep.h"

#ifndef MSG_CMSG_CLOEXEC
#define MSG_CMSG_CLOEXEC	0
#endif

#define AUTHD_MAGIC	0x50535431u	/* "PST1" */
#define AUTHD_WAIT	120		/* seconds a worker waits for an
					   answer (hashes can queue up) */

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
	uint32_t	 plen;		/* pending input after the struct */
};

struct wire_rep {
	uint32_t	 magic;
	uint32_t	 result;
	char		 why[64];
	struct auth_user u;
};

/* The auth process's children: its running sessions. */
struct kids {
	pid_t	*pid;
	size_t	 n, cap;
};

static volatile sig_atomic_t got_term, got_chld;
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

/* wait_rep: the auth process's answer on the private socket fd. */
static int
wait_rep(int fd, struct wire_rep *rep)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	ssize_t		 n;
	int		 r;

	while ((r = poll(&pfd, 1, AUTHD_WAIT * 1000)) == -1 && errno == EINTR)
		;
	if (r <= 0)
		return -1;
	while ((n = recv(fd, rep, sizeof(*rep), 0)) == -1 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(*rep) || rep->magic != AUTHD_MAGIC ||
	    rep->result > AUTH_TEMPFAIL)
		return -1;
	rep->why[sizeof(rep->why) - 1] = '\0';
	rep->u.name[sizeof(rep->u.name) - 1] = '\0';
	rep->u.maildir[sizeof(rep->u.maildir) - 1] = '\0';
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
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, rp) == -1) {
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
	if (rep.result == AUTH_OK)
		*u = rep.u;
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
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
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

/* kids_reap: forgets session processes that ended; with flags 0 waits. */
static void
kids_reap(struct kids *k, int flags)
{
	pid_t	 pid;
	size_t	 i;

	while ((pid = waitpid(-1, NULL, flags)) > 0)
		for (i = 0; i < k->n; i++)
			if (k->pid[i] == pid) {
				k->pid[i] = k->pid[--k->n];
				break;
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
	    rq->mech <= AUTH_MECH_RPOP &&
	    valid_str(rq->proto, sizeof(rq->proto)) &&
	    valid_str(rq->user, sizeof(rq->user)) &&
	    valid_str(rq->secret, sizeof(rq->secret)) &&
	    valid_str(rq->challenge, sizeof(rq->challenge)) &&
	    valid_str(rq->rip, sizeof(rq->rip)) &&
	    valid_str(rq->lip, sizeof(rq->lip)) &&
	    protocol_find(rq->proto) != NULL;
}

/* run_session: in the new session process: become the account and carry
 * on the protocol after its login.  Never returns. */
static void __attribute__((noreturn))
run_session(const struct conf *conf, const struct wire_req *rq,
    const char *pending, int conn, const struct auth_user *u)
{
	struct session	 s;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;	/* a session finishes, or is killed */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	if (privsep_become(conf, u) == -1)
		_exit(1);
	memset(&s, 0, sizeof(s));
	s.conf = conf;
	s.proto = protocol_find(rq->proto);
	s.fd = conn;
	s.authq = -1;
	s.resumed = true;
	s.account = *u;
	s.loopback = rq->loopback != 0;
	s.tls = rq->tls != 0;
	s.rport = rq->rport;
	s.lport = rq->lport;
	strlcpy(s.rip, rq->rip, sizeof(s.rip));
	strlcpy(s.lip, rq->lip, sizeof(s.lip));
	strlcpy(s.user, u->name, sizeof(s.user));
	session_title(&s, s.user);
	if (session_io(&s, (size_t)conf->max_line) == NULL ||
	    io_push_input(s.io, pending, rq->plen) == -1)
		_exit(1);
	s.proto->serve(&s);
	io_free(&s.io);
	_exit(0);
}

/* answer: sends the verdict to the worker. */
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
		rep.u = *u;
	if (send(fd, &rep, sizeof(rep), 0) == -1)
		log_warn("authd: answering a worker");
}

/* handle: checks one request and starts its session when it passes. */
static void
handle(const struct conf *conf, struct kids *k, int q,
    const struct wire_req *rq, const char *pending, int fds[2])
{
	struct auth_request	 req;
	struct auth_user	 u;
	enum auth_result	 r;
	const char		*why = "unknown";
	uid_t			 uid;
	gid_t			 gid;
	pid_t			 pid;

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
	if (r == AUTH_OK) {
		if ((pid = fork()) == -1) {
			log_warn("authd: fork");
			r = AUTH_TEMPFAIL;
			why = "cannot start a session process";
		} else if (pid == 0) {
			close(q);
			close(fds[0]);
			close(wake[0]);
			close(wake[1]);
			run_session(conf, rq, pending, fds[1], &u);
		} else
			kids_add(k, pid);
	}
	answer(fds[0], r, why, &u);
	explicit_bzero(&u, sizeof(u));
}

/* receive: one request and its descriptors; 0, or -1 to skip it. */
static int
receive(int q, struct wire_req *rq, char *pending, int fds[2])
{
	struct msghdr	 msg;
	struct iovec	 iov[2];
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct cmsghdr	*c;
	ssize_t		 n;

	memset(&msg, 0, sizeof(msg));
	iov[0].iov_base = rq;
	iov[0].iov_len = sizeof(*rq);
	iov[1].iov_base = pending;
	iov[1].iov_len = AUTHD_PENDING_MAX;
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	if ((n = recvmsg(q, &msg, MSG_CMSG_CLOEXEC)) <= 0)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (c == NULL || c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(2 * sizeof(int))) {
		log_warnx("authd: a request without its descriptors");
		return -1;
	}
	memcpy(fds, CMSG_DATA(c), 2 * sizeof(int));
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || !valid_req(rq, n)) {
		log_warnx("authd: a malformed request: ignored");
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	return 0;
}

/* shutdown_kids: gives running sessions the grace period, then ends
 * them. */
static void
shutdown_kids(const struct conf *conf, struct kids *k)
{
	struct timespec	 tick = { 0, 50 * 1000 * 1000 };
	long		 waited = 0;
	size_t		 i;

	while (k->n > 0 && waited < conf->shutdown_grace * 1000L) {
		kids_reap(k, WNOHANG);
		if (k->n == 0)
			break;
		nanosleep(&tick, NULL);
		waited += 50;
	}
	if (k->n > 0)
		log_warnx("%zu sessions still running after %d s; killing "
		    "them", k->n, conf->shutdown_grace);
	for (i = 0; i < k->n; i++)
		kill(k->pid[i], SIGKILL);
	kids_reap(k, 0);
}

void
authd_main(const struct conf *conf, int q)
{
	struct kids	 k = { NULL, 0, 0 };
	struct wire_req	*rq;
	char		*pending;
	struct pollfd	 pfd[2];
	int		 fds[2];
	char		 drain[64];

	authd_signals();
	setproctitle("auth");
	rq = malloc(sizeof(*rq));
	pending = malloc(AUTHD_PENDING_MAX);
	if (rq == NULL || pending == NULL)
		fatal("authd: malloc");
	pfd[0].fd = q;
	pfd[0].events = POLLIN;
	pfd[1].fd = wake[0];
	pfd[1].events = POLLIN;
	while (!got_term) {
		if (poll(pfd, 2, -1) == -1 && errno != EINTR)
			fatal("authd: poll");
		if ((pfd[1].revents & POLLIN) &&
		    read(wake[0], drain, sizeof(drain)) == -1 &&
		    errno != EINTR)
			fatal("authd: read");
		if (got_chld) {
			got_chld = 0;
			kids_reap(&k, WNOHANG);
		}
		if (got_term || !(pfd[0].revents & POLLIN))
			continue;
		if (receive(q, rq, pending, fds) == 0) {
			handle(conf, &k, q, rq, pending, fds);
			close(fds[0]);
			close(fds[1]);
		}
		explicit_bzero(rq, sizeof(*rq));
	}
	shutdown_kids(conf, &k);
	exit(0);
}
