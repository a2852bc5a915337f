/*
 * test_authd.c: the auth process's side of the login protocol
 * (server/authd.c), the one privileged process that reads what
 * pre-login workers send.  A forked child runs authd_main() on a
 * request queue, without privilege separation (a session process per
 * login, as ourselves); the test is the pre-login worker.  Checked: a
 * good login is answered with the account's name only and its session
 * takes the connection; a wrong password is refused and the connection
 * stays with the worker; and requests that are short, too long, of
 * another magic, garbled, longer than they say or without their two
 * descriptors are dropped: their descriptors are closed (a worker is
 * never left waiting for an answer) and the next login is served; a
 * worker gone before its answer costs its session nothing.  The
 * malformed ones are made from a real request, taken from authd_login()
 * on a queue the test reads itself, so the test needs not know the
 * request's layout.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/unit.h"

#include "protocols/protocol.h"
#include "server/auth.h"
#include "server/authd.h"
#include "server/log.h"
#include "server/session.h"
#include "tests/unit/fixture.h"

#define REQ_MAX	(64 * 1024)

struct tfx {
	struct fixture	*fx;
	int		 q;		/* the worker's end of the queue */
	pid_t		 authd;
};

/* A worker's session at the login: the client on loopback. */
static void
session_of(struct tfx *t, struct session *s)
{
	memset(s, 0, sizeof(*s));
	s->conf = &t->fx->conf;
	s->proto = protocol_find("pop3");
	assert_non_null(s->proto);
	strlcpy(s->rip, "127.0.0.1", sizeof(s->rip));
	strlcpy(s->lip, "127.0.0.1", sizeof(s->lip));
	s->rport = 40000;
	s->lport = 110;
	s->loopback = true;
	s->since = time(NULL);
}

/* login: asks the auth process at q to log user in with password over
 * the connection conn. */
static enum auth_result
login(struct tfx *t, int q, const char *user, const char *password,
    int conn, struct auth_user *u)
{
	struct auth_request	 req;
	struct session		 s;
	const char		*why = NULL;
	enum auth_result	 r;

	session_of(t, &s);
	memset(&req, 0, sizeof(req));
	req.mech = AUTH_MECH_PASSWORD;
	req.user = user;
	req.secret = password;
	req.rhost = s.rip;
	req.rport = s.rport;
	r = authd_login(q, &s, &req, conn, NULL, 0, u, &why);
	assert_non_null(why);
	return r;
}

/* readable: whether fd has something to read (or its end) within ms. */
static bool
readable(int fd, int ms)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };

	return poll(&pfd, 1, ms) == 1;
}

/* reply: the first line the session sent on the client's end c, which
 * must come within 5 s; "" at the end of the stream. */
static const char *
reply(int c)
{
	static char	 buf[512];
	size_t		 len = 0;
	ssize_t		 n;

	while (len < sizeof(buf) - 1 && memchr(buf, '\n', len) == NULL) {
		assert_true(readable(c, 5000));
		if ((n = read(c, buf + len, sizeof(buf) - 1 - len)) <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf;
}

/* served: a session answered the login on the client's end c; QUIT ends
 * it, and it closes the connection. */
static void
served(int c)
{
	assert_true(strncmp(reply(c), "+OK", 3) == 0);
	assert_int_equal(write(c, "QUIT\r\n", 6), 6);
	assert_true(strncmp(reply(c), "+OK", 3) == 0);
	assert_string_equal(reply(c), "");
	close(c);
}

/* good_login: alice logs in: the answer names her and nothing else, and
 * her session takes the connection. */
static void
good_login(struct tfx *t)
{
	struct auth_user u;
	int		 c[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, c), 0);
	assert_int_equal(login(t, t->q, "alice", "wonderland", c[1], &u),
	    AUTH_OK);
	close(c[1]);
	assert_string_equal(u.name, "alice");
	assert_string_equal(u.maildir, "");
	assert_int_equal(u.uid, -1);
	assert_int_equal(u.gid, -1);
	served(c[0]);
}

static int
setup(void **state)
{
	struct tfx	*t = calloc(1, sizeof(*t));
	int		 q[2];

	assert_non_null(t);
	t->fx = fx_new("authd");
	account(t->fx, "alice", "wonderland", NULL);
	t->fx->conf.shutdown_grace = 1;
	t->fx->conf.pop3_uidl_format = "%f";	/* the sessions are POP3's */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q), 0);
	fflush(NULL);
	t->authd = fork();
	assert_true(t->authd >= 0);
	if (t->authd == 0) {
		close(q[1]);
		authd_main(&t->fx->conf, q[0]);
	}
	close(q[0]);
	t->q = q[1];
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tfx	*t = *state;
	int		 status;

	close(t->q);
	kill(t->authd, SIGUSR2);	/* no grace for sessions left */
	kill(t->authd, SIGTERM);
	assert_int_equal(waitpid(t->authd, &status, 0), t->authd);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	t->fx->pid = 0;
	fx_teardown((void **)&t->fx);
	free(t);
	return 0;
}

/* A good login, then a wrong password: refused with a reason, and the
 * connection stays with the worker (nothing is written to it). */
static void
test_login(void **state)
{
	struct tfx	*t = *state;
	struct auth_user u;
	int		 c[2];

	good_login(t);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, c), 0);
	assert_int_equal(login(t, t->q, "alice", "wrong", c[1], &u),
	    AUTH_FAILED);
	assert_int_equal(login(t, t->q, "nobody-here", "x", c[1], &u),
	    AUTH_FAILED);
	assert_false(readable(c[0], 200));
	close(c[0]);
	close(c[1]);
	good_login(t);
}

/* take_request: a real request for alice, as authd_login() sends it, taken
 * from a queue the test reads: its octets in buf; the length. */
static size_t
take_request(struct tfx *t, char *buf)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct cmsghdr	*c;
	struct auth_user u;
	ssize_t		 n;
	pid_t		 pid;
	int		 fq[2], sv[2], fds[2], status;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fq), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(fq[0]);
		/* No answer comes: the test closes its end unanswered. */
		_exit(login(t, fq[1], "alice", "wonderland", sv[1], &u) ==
		    AUTH_TEMPFAIL ? 0 : 1);
	}
	assert_true(pid > 0);
	close(fq[1]);
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = REQ_MAX;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	n = recvmsg(fq[0], &msg, 0);
	assert_true(n > 0);
	c = CMSG_FIRSTHDR(&msg);
	assert_non_null(c);
	assert_int_equal(c->cmsg_len, CMSG_LEN(2 * sizeof(int)));
	memcpy(fds, CMSG_DATA(c), sizeof(fds));
	close(fds[0]);
	close(fds[1]);
	close(fq[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv[0]);
	close(sv[1]);
	return (size_t)n;
}

/* forward: sends len octets of buf to the auth process with nfds of a
 * fresh answer pipe's write end and the connection conn (0, 1 or 2);
 * returns the pipe's read end, or -1 with gone, which closes it before
 * the request leaves (a worker that died waiting). */
static int
forward(struct tfx *t, const char *buf, size_t len, int nfds, int conn,
    bool gone)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct cmsghdr	*c;
	int		 p[2], fds[2];

	assert_int_equal(pipe(p), 0);
	if (gone) {
		close(p[0]);
		p[0] = -1;
	}
	fds[0] = p[1];
	fds[1] = conn;
	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	}
	assert_int_equal(sendmsg(t->q, &msg, 0), (ssize_t)len);
	close(p[1]);
	return p[0];
}

/* dropped: the request sent with forward() got no answer: the auth
 * process closed the pipe it came with (when it came with one). */
static void
dropped(int answer, int nfds)
{
	char	 c;

	if (nfds > 0) {
		assert_true(readable(answer, 5000));
		assert_int_equal(read(answer, &c, 1), 0);
	}
	close(answer);
}

/* Malformed requests are dropped with their descriptors, and the auth
 * process serves the next login; the captured request itself, sent the
 * same way, is served (so the captures are faithful). */
static void
test_malformed(void **state)
{
	struct tfx	*t = *state;
	char		*req = malloc(REQ_MAX), *bad = malloc(REQ_MAX);
	size_t		 len;
	int		 c[2], answer, i;
	char		 octet;

	assert_non_null(req);
	assert_non_null(bad);
	len = take_request(t, req);
	assert_true(len > 8 && len < REQ_MAX - AUTHD_PENDING_MAX - 2);
	for (i = 0; i < 8; i++) {
		size_t	 n = len;
		int	 nfds = 2;

		memcpy(bad, req, len);
		switch (i) {
		case 0:		/* short */
			n = 8;
			break;
		case 1:		/* longer than any request with its input */
			n = len + AUTHD_PENDING_MAX + 1;
			memset(bad + len, 'x', AUTHD_PENDING_MAX + 1);
			break;
		case 2:		/* another magic */
			bad[0] ^= 0x55;
			break;
		case 3:		/* every field garbled, no string ends */
			memset(bad + 4, 'A', len - 4);
			break;
		case 4:		/* one octet more than it says */
			bad[len] = 'x';
			n = len + 1;
			break;
		case 5:		/* one octet less */
			n = len - 1;
			break;
		case 6:		/* the answer pipe alone */
			nfds = 1;
			break;
		default:	/* no descriptors */
			nfds = 0;
			break;
		}
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, c), 0);
		answer = forward(t, bad, n, nfds, c[1], false);
		close(c[1]);
		dropped(answer, nfds);
		/* Nobody took the connection: it ends unanswered. */
		assert_true(readable(c[0], 5000));
		assert_int_equal(read(c[0], &octet, 1), 0);
		close(c[0]);
	}
	good_login(t);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, c), 0);
	answer = forward(t, req, len, 2, c[1], false);
	close(c[1]);
	assert_true(readable(answer, 5000));
	assert_true(read(answer, &octet, 1) == 1);
	close(answer);
	served(c[0]);
	free(req);
	free(bad);
}

/* A worker gone before its answer (its pipe has no reader): the answer
 * cannot be written, which the auth process survives, and the session
 * it started serves the client all the same. */
static void
test_worker_gone(void **state)
{
	struct tfx	*t = *state;
	char		*req = malloc(REQ_MAX);
	size_t		 len;
	int		 c[2];

	assert_non_null(req);
	len = take_request(t, req);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, c), 0);
	assert_int_equal(forward(t, req, len, 2, c[1], true), -1);
	close(c[1]);
	served(c[0]);
	good_login(t);
	free(req);
}

extern char **environ;

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_worker_gone, setup,
		    teardown),
	};

#ifdef HAVE_LIBBSD
	setproctitle_init(argc, argv, environ);	/* the auth process's */
#endif
	log_init("test_authd", 1);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
