/*
 * test_delegate.c: deliveries a session asks the auth process for
 * (server/delegate.c).  The test is the session, with one end of a
 * socket pair as its channel; a forked child is the auth process's child
 * on the other end (delegate_recv(), then delegate_serve() for the
 * account "alice").  Checked: copies reach tmp/ and then new/ as the
 * session says, or nothing is left; a forged sender, a spool that is no
 * regular file or too large, an unknown account and a Maildir that
 * cannot take the copy each deliver nothing to anyone; a session that
 * goes away takes its copies with it; malformed requests are refused.
 * The MTA's side (a root local worker's delegate_mta(), for LMTP): finds
 * by address, each copy on its own with Return-Path and Delivered-To,
 * lmtp_max_message_size, and a malformed find ending the channel.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/unit.h"

#include "protocols/protocol.h"
#include "server/delegate.h"
#include "server/log.h"
#include "tests/unit/fixture.h"

static const char BODY[] = "Subject: pushed\n\n.dot\nlast\n";

/* What each test starts from: the accounts (the delivery tests', and
 * bob), their configuration and the spool holding BODY (fixture.h), and
 * the session. */
struct tfx {
	struct fixture	*fx;
	struct session	 s;		/* the session: its channel */
	pid_t		 pid;		/* the auth process's child */
};

/* nothing: no file in u's tmp/ or new/. */
static void
nothing(struct tfx *f, const char *u)
{
	assert_int_equal(count(maildir_of(f->fx, u), "tmp"), 0);
	assert_int_equal(count(maildir_of(f->fx, u), "new"), 0);
}

/* delivered: u's new/ holds the message as name, owned by uid. */
static void
delivered(struct tfx *f, const char *u, const char *name, uid_t uid)
{
	char		 path[1024], text[256];
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	assert_int_equal(count(maildir_of(f->fx, u), "new"), 1);
	assert_int_equal(count(maildir_of(f->fx, u), "tmp"), 0);
	snprintf(path, sizeof(path), "%s/new/%s", maildir_of(f->fx, u), name);
	assert_true((fd = open(path, O_RDONLY)) != -1);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_uid, uid);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n >= 0);
	text[n] = '\0';
	assert_string_equal(text, BODY);	/* no header added */
}

/* serve: the auth process's child on fd, for the account alice. */
static void __attribute__((noreturn))
serve(struct tfx *f, int fd)
{
	struct delegate_peer	 who = { "alice", "papm", "192.0.2.1", false };
	struct delegate_req	*req;
	int			 spool;

	if (delegate_recv(fd, &who, &req, &spool) != 1)
		_exit(2);
	delegate_serve(&f->fx->conf, &who, fd, req, spool);
	_exit(0);
}

static void	lookups(struct tfx *, int) __attribute__((noreturn));

/* spawn_with: a channel, and at its other end a child running side
 * (the auth process's). */
static void
spawn_with(struct tfx *f, void (*side)(struct tfx *, int))
{
	int	 sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		close(sv[0]);
		side(f, sv[1]);
		_exit(6);	/* sides do not return */
	}
	close(sv[1]);
	f->s.deliverq = sv[0];
}

/* spawn: a channel, and the auth process's child serving a delivery. */
static void
spawn(struct tfx *f)
{
	spawn_with(f, serve);
}

/* finish: the child's exit status once the channel is closed. */
static int
finish(struct tfx *f)
{
	int	 status;

	if (f->s.deliverq != -1)
		close(f->s.deliverq);
	f->s.deliverq = -1;
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	f->pid = 0;
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int
setup(void **state)
{
	struct tfx	*f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->fx = fx_new("delegate");
	delivery_accounts(f->fx);
	account(f->fx, "bob", "x", NULL);
	f->fx->conf.mail_user = "";
	f->fx->conf.papm_max_message_size = 1000;
	fx_spool(f->fx, BODY);
	f->s.conf = &f->fx->conf;
	f->s.proto = &papm_protocol;
	f->s.resumed = true;
	f->s.deliverq = -1;
	strlcpy(f->s.user, "alice", sizeof(f->s.user));
	strlcpy(f->s.rip, "192.0.2.1", sizeof(f->s.rip));
	*state = f;
	return 0;
}

/* teardown: the child reaped, then the fixture's teardown. */
static int
teardown(void **state)
{
	struct tfx	*f = *state;
	void		*fx = f->fx;

	if (f->pid > 0)
		(void)finish(f);
	free(f);
	return fx_teardown(&fx);
}

/* Two copies in tmp/, then both in new/ at the session's word. */
static void
test_commit(void **state)
{
	struct tfx		*f = *state;
	const char		*other = geteuid() == 0 ? "nob" : "bob";
	struct delegate_rcpt	 r[2] = {
		{ .addr = "alice@test.example", .user = "alice" },
		{ .addr = "x@test.example", .user = other },
	};

	assert_false(delegate_available(&f->s));
	spawn(f);
	assert_true(delegate_available(&f->s));
	assert_int_equal(delegate_begin(&f->s, "alice@test.example",
	    f->fx->spool, r, 2), 0);
	assert_int_equal(r[0].err, 0);
	assert_int_equal(r[1].err, 0);
	assert_int_equal(count(maildir_of(f->fx, "alice"), "tmp"), 1);
	assert_int_equal(count(maildir_of(f->fx, other), "tmp"), 1);
	assert_int_equal(count(maildir_of(f->fx, "alice"), "new"), 0);
	assert_int_equal(delegate_end(&f->s, true, r, 2), 0);
	delivered(f, "alice", r[0].name, geteuid());
	delivered(f, other, r[1].name, geteuid() == 0 ? 65534 : geteuid());
	assert_int_equal(r[0].size, (off_t)strlen(BODY) + 4);	/* 4 LFs */
	assert_int_equal(finish(f), 0);
}

/* At the session's word, nothing is left. */
static void
test_abort(void **state)
{
	struct tfx		*f = *state;
	struct delegate_rcpt	 r[2] = {
		{ .addr = "alice", .user = "alice" },
		{ .addr = "bob", .user = "bob" },
	};

	spawn(f);
	assert_int_equal(delegate_begin(&f->s, "alice", f->fx->spool, r, 2), 0);
	assert_int_equal(count(maildir_of(f->fx, "bob"), "tmp"), 1);
	assert_int_equal(delegate_end(&f->s, false, r, 2), 0);
	nothing(f, "alice");
	nothing(f, "bob");
	assert_int_equal(finish(f), 0);
}

/* refused: a request that must deliver nothing to anyone. */
static void
refused(struct tfx *f, const char *sender, int spool, const char *user,
    int err0, int err1)
{
	struct delegate_rcpt	 r[2] = {
		{ .addr = "bob", .user = "bob" },
		{ .addr = "them", .user = user },
	};

	spawn(f);
	assert_int_equal(delegate_begin(&f->s, sender, spool, r, 2), -1);
	assert_int_equal(r[0].err, err0);
	assert_int_equal(r[1].err, err1);
	nothing(f, "bob");
	nothing(f, "alice");
	assert_int_equal(finish(f), 0);
}

/* The sender must be an address of the session's account; the spool a
 * regular file within papm_max_message_size; each account known and
 * its Maildir able to take the copy. */
static void
test_refused(void **state)
{
	struct tfx	*f = *state;
	int		 p[2];

	refused(f, "bob@test.example", f->fx->spool, "alice", EPERM, EPERM);
	refused(f, "alice@elsewhere.org", f->fx->spool, "alice", EPERM, EPERM);
	refused(f, "alice>", f->fx->spool, "alice", EPERM, EPERM);
	assert_int_equal(pipe(p), 0);
	refused(f, "alice", p[0], "alice", EPERM, EPERM);
	close(p[0]);
	close(p[1]);
	f->fx->conf.papm_max_message_size = (long)strlen(BODY) - 1;
	refused(f, "alice", f->fx->spool, "alice", EPERM, EPERM);
	f->fx->conf.papm_max_message_size = 1000;
	refused(f, "alice", f->fx->spool, "ghost", 0, EPERM);
	refused(f, "alice", f->fx->spool, "broken", 0, ENOENT);
}

/* A session that goes away before its word: its copies are removed. */
static void
test_session_gone(void **state)
{
	struct tfx		*f = *state;
	struct delegate_rcpt	 r[1] = { { .addr = "bob", .user = "bob" } };

	spawn(f);
	assert_int_equal(delegate_begin(&f->s, "alice", f->fx->spool, r, 1), 0);
	assert_int_equal(count(maildir_of(f->fx, "bob"), "tmp"), 1);
	assert_int_equal(finish(f), 0);	/* closes the channel first */
	nothing(f, "bob");
}

/* send_raw: one message of n octets on fd, with descriptor pass (-1:
 * none). */
static void
send_raw(int fd, const void *buf, size_t n, int pass)
{
	struct msghdr	 msg;
	struct iovec	 iov = { (void *)buf, n };
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct cmsghdr	*c;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (pass != -1) {
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass, sizeof(int));
	}
	assert_true(sendmsg(fd, &msg, 0) == (ssize_t)n);
}

/* Malformed requests, and a closed channel, serve nothing. */
static void
test_malformed(void **state)
{
	struct tfx		*f = *state;
	struct delegate_peer	 who = { "alice", "papm", "192.0.2.1", false };
	struct delegate_req	*req;
	char			 junk[600];
	int			 sv[2], spool;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	memset(junk, 'x', sizeof(junk));
	send_raw(sv[0], junk, sizeof(junk), f->fx->spool);
	assert_int_equal(delegate_recv(sv[1], &who, &req, &spool), -1);
	assert_null(req);
	assert_int_equal(spool, -1);
	send_raw(sv[0], junk, 8, -1);
	assert_int_equal(delegate_recv(sv[1], &who, &req, &spool), -1);
	close(sv[0]);
	assert_int_equal(delegate_recv(sv[1], &who, &req, &spool), 0);
	close(sv[1]);
	/* A session without a channel cannot ask. */
	assert_int_equal(delegate_begin(&f->s, "alice", f->fx->spool,
	    &(struct delegate_rcpt){ .addr = "bob", .user = "bob" }, 1), -1);
	assert_int_equal(errno, ENOTCONN);
}

/* lookups: the auth process's side of lookups on fd until it closes:
 * exits 0, or 3 after a malformed lookup, 4 for anything else. */
static void __attribute__((noreturn))
lookups(struct tfx *f, int fd)
{
	struct delegate_peer	 who = { "alice", "papm", "192.0.2.1", false };
	struct pollfd		 pfd = { fd, POLLIN, 0 };
	char			 c;

	for (;;) {
		if (poll(&pfd, 1, 5000) != 1)
			_exit(5);
		if (recv(fd, &c, 1, MSG_PEEK) == 0)
			_exit(0);
		if (!delegate_lookup_waiting(fd))
			_exit(4);
		if (delegate_lookup_answer(&f->fx->conf, &who, fd) == -1)
			_exit(3);
	}
}

/*
 * A session asks the auth process for its recipients' accounts: bob is
 * found, with his Maildir; an unknown name and one too long for any
 * account are not; a malformed lookup closes the channel, and the next
 * lookup then fails for now (AUTH_TEMPFAIL), the channel gone.
 */
static void
test_lookup(void **state)
{
	struct tfx	*f = *state;
	struct auth_user u;
	char		 name[USER_MAX + 8];
	uint32_t	 bad[2] = { 0x5053504cu, 0 };	/* a lookup's magic */
	int		 status;

	spawn_with(f, lookups);
	assert_int_equal(delegate_lookup(&f->s, "bob", &u), AUTH_OK);
	assert_string_equal(u.name, "bob");
	assert_string_equal(u.maildir, maildir_of(f->fx, "bob"));
	assert_int_equal(delegate_lookup(&f->s, "nosuchuser", &u),
	    AUTH_FAILED);
	assert_string_equal(u.name, "");
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(delegate_lookup(&f->s, name, &u), AUTH_FAILED);
	assert_int_equal(delegate_lookup(&f->s, "bob", &u), AUTH_OK);
	send_raw(f->s.deliverq, bad, sizeof(bad), -1);
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	f->pid = 0;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	assert_int_equal(delegate_lookup(&f->s, "bob", &u), AUTH_TEMPFAIL);
	assert_int_equal(f->s.deliverq, -1);
}

/* silent: an auth process that takes lookups and answers none, until
 * the channel closes. */
static void __attribute__((noreturn))
silent(struct tfx *f, int fd)
{
	char	 buf[4096];

	(void)f;
	while (recv(fd, buf, sizeof(buf), 0) > 0)
		;
	_exit(0);
}

/*
 * A lookup the auth process never answers: the session waits 30 seconds
 * (LOOKUP_WAIT), then gives up for now (AUTH_TEMPFAIL) and closes the
 * channel for good, so that a late answer is never taken for a later
 * lookup's; the next lookup fails at once.  Takes those 30 seconds.
 */
static void
test_lookup_unanswered(void **state)
{
	struct tfx	*f = *state;
	struct auth_user u;
	struct timespec	 t0, t1;
	double		 waited;

	spawn_with(f, silent);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(delegate_lookup(&f->s, "bob", &u), AUTH_TEMPFAIL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waited = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(waited >= 29.9 && waited < 45);
	assert_string_equal(u.name, "");
	assert_int_equal(f->s.deliverq, -1);
	assert_false(delegate_available(&f->s));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(delegate_lookup(&f->s, "bob", &u), AUTH_TEMPFAIL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 2);
	assert_int_equal(finish(f), 0);		/* it saw the channel close */
}

/* mta: a root local worker's side of the channel fd, until it closes:
 * exits 0. */
static void __attribute__((noreturn))
mta(struct tfx *f, int fd)
{
	struct delegate_peer	 who = { "", "lmtp", "192.0.2.1", true };

	delegate_mta(&f->fx->conf, &who, fd);
	_exit(0);
}

/* spawn_mta: the session is a root local worker's child (s->split). */
static void
spawn_mta(struct tfx *f)
{
	f->s.resumed = false;
	f->s.split = true;
	f->s.proto = &lmtp_protocol;
	spawn_with(f, mta);
}

/* text_of: the one message in u's new/, whole. */
static void
text_of(struct tfx *f, const char *u, char *text, size_t size)
{
	char		 path[1024];
	struct dirent	*e;
	DIR		*d;
	ssize_t		 n;
	int		 fd;

	assert_int_equal(count(maildir_of(f->fx, u), "new"), 1);
	assert_int_equal(count(maildir_of(f->fx, u), "tmp"), 0);
	snprintf(path, sizeof(path), "%s/new", maildir_of(f->fx, u));
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL && e->d_name[0] == '.')
		;
	assert_non_null(e);
	snprintf(path, sizeof(path), "%s/new/%s", maildir_of(f->fx, u),
	    e->d_name);
	closedir(d);
	assert_true((fd = open(path, O_RDONLY)) != -1);
	n = read(fd, text, size - 1);
	close(fd);
	assert_true(n >= 0);
	text[n] = '\0';
}

/*
 * The MTA's finds go by address (the whole address, then its local
 * part) and say why one is not found; each recipient's copy is begun
 * and committed on its own, with the sender, "" too, as Return-Path and
 * the address as Delivered-To: an unknown account and a Maildir that
 * cannot take the copy leave the others delivered.
 */
static void
test_mta(void **state)
{
	struct tfx		*f = *state;
	struct auth_user	 u;
	char			 addr[DELEGATE_ADDR_MAX + 8], text[512], want[512];
	struct delegate_rcpt	 r[4] = {
		{ .addr = "alice@test.example", .user = "alice" },
		{ .addr = "ghost", .user = "ghost" },
		{ .addr = "broken", .user = "broken" },
		{ .addr = "bob", .user = "bob" },
	};

	f->fx->conf.lmtp_max_message_size = 1000;
	spawn_mta(f);
	assert_true(delegate_available(&f->s));
	assert_int_equal(delegate_find(&f->s, "alice@test.example", &u),
	    MDA_FOUND);
	assert_string_equal(u.name, "alice");
	assert_string_equal(u.maildir, maildir_of(f->fx, "alice"));
	assert_int_equal(delegate_find(&f->s, "ghost", &u), MDA_UNKNOWN);
	assert_string_equal(u.name, "");
	memset(addr, 'a', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	assert_int_equal(delegate_find(&f->s, addr, &u), MDA_UNKNOWN);
	assert_int_equal(delegate_deliver(&f->s, "", f->fx->spool, r, 4), -1);
	assert_int_equal(r[0].err, 0);
	assert_int_equal(r[1].err, EPERM);
	assert_int_equal(r[2].err, ENOENT);
	assert_int_equal(r[3].err, 0);
	assert_true(r[0].name[0] != '\0' && r[3].name[0] != '\0');
	assert_int_equal(r[0].size, (off_t)strlen(BODY) + 4 +
	    (off_t)strlen("Return-Path: <>\nDelivered-To: "
	    "<alice@test.example>\n") + 2);
	text_of(f, "alice", text, sizeof(text));
	snprintf(want, sizeof(want), "Return-Path: <>\nDelivered-To: "
	    "<alice@test.example>\n%s", BODY);
	assert_string_equal(text, want);
	text_of(f, "bob", text, sizeof(text));
	snprintf(want, sizeof(want), "Return-Path: <>\nDelivered-To: "
	    "<bob>\n%s", BODY);
	assert_string_equal(text, want);
	assert_int_equal(finish(f), 0);
}

/*
 * The MTA's requests are held to lmtp_max_message_size (not PAPM's
 * limit), and to addresses (8-bit octets allowed, spaces not); a find
 * of the wrong size ends the channel, and the session's next find and
 * delivery then fail for now.
 */
static void
test_mta_refused(void **state)
{
	struct tfx		*f = *state;
	struct auth_user	 u;
	struct delegate_rcpt	 r[1] = { { .addr = "bob", .user = "bob" } };
	uint32_t		 bad[2] = { 0x50535046u, 0 };	/* a find's */

	f->fx->conf.papm_max_message_size = 1;
	f->fx->conf.lmtp_max_message_size = (long)strlen(BODY) - 1;
	spawn_mta(f);
	assert_int_equal(delegate_deliver(&f->s, "a@x", f->fx->spool, r, 1),
	    -1);
	assert_int_equal(r[0].err, EPERM);
	assert_int_equal(finish(f), 0);
	nothing(f, "bob");
	f->fx->conf.lmtp_max_message_size = 1000;
	spawn_mta(f);
	assert_int_equal(delegate_deliver(&f->s, "a b@x", f->fx->spool, r, 1),
	    -1);
	assert_int_equal(r[0].err, EPERM);
	assert_int_equal(delegate_deliver(&f->s, "\xc3\xa9@x", f->fx->spool,
	    r, 1), 0);
	assert_int_equal(count(maildir_of(f->fx, "bob"), "new"), 1);
	send_raw(f->s.deliverq, bad, sizeof(bad), -1);
	assert_int_equal(delegate_find(&f->s, "bob", &u), MDA_UNREADABLE);
	assert_int_equal(f->s.deliverq, -1);
	assert_int_equal(delegate_deliver(&f->s, "a@x", f->fx->spool, r, 1),
	    -1);
	assert_int_equal(r[0].err, ENOTCONN);	/* for every recipient */
	assert_int_equal(finish(f), 0);
}

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_gone, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_unanswered, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_mta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mta_refused, setup,
		    teardown),
	};

	log_init("test_delegate", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
