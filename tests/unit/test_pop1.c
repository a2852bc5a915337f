/*
 * test_pop1.c: the RFC 918 POP module's replies, command by command, and
 * the mbox stream RCEV sends, octet for octet.  A forked child runs
 * pop1_protocol.serve() on one end of a socketpair with a temporary
 * passwd-file and Maildir; the test speaks RFC 918 on the other end.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/unit.h"

#include "protocols/protocol.h"
#include "server/io.h"
#include "server/log.h"
#include "server/session.h"
#include "storage/maildir.h"

struct fixture {
	char	 dir[64];
	char	 md[256];
	char	 passwd[256];
	char	 state[256];
	struct conf conf;
	int	 fd;		/* the client's end */
	pid_t	 pid;		/* the server child */
	char	 buf[262144];
	size_t	 len;
};

/* Named 1000000001.a.test and 1000000002.b.test: delivered at those
 * seconds, Sun Sep  9 01:46:41 and 42 2001 UTC. */
static const char MSG1[] = "Return-Path: <a@b.example>\nSubject: one\n\n"
    "From x\n>From y\n>>From z\nFrom\n.\n";
static const char MSG2[] = "Subject: two\r\n\r\nFrom crlf\r\nno newline";
static const char WANT1[] = "From a@b.example Sun Sep  9 01:46:41 2001\r\n"
    "Return-Path: <a@b.example>\r\nSubject: one\r\n\r\n"
    ">From x\r\n>>From y\r\n>>>From z\r\nFrom\r\n.\r\n\r\n";
static const char WANT2[] = "From MAILER-DAEMON Sun Sep  9 01:46:42 2001\r\n"
    "Subject: two\r\n\r\n>From crlf\r\nno newline\r\n\r\n";

/* writef: writes a whole file. */
static void
writef(const char *path, const char *text, size_t len)
{
	FILE	*fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	fclose(fp);
}

/* put: a message file in the Maildir's new/. */
static void
put(struct fixture *f, const char *dir, const char *name, const char *text)
{
	char	 path[1024];
	int	 n;

	n = snprintf(path, sizeof(path), "%s/new/%s", dir, name);
	assert_true(n > 0 && (size_t)n < sizeof(path));
	writef(path, text, strlen(text));
}

/* start: a server child on a socketpair. */
static void
start(struct fixture *f)
{
	struct session	 s;
	int		 sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		signal(SIGABRT, SIG_DFL);
		close(sv[0]);
		memset(&s, 0, sizeof(s));
		s.conf = &f->conf;
		s.proto = protocol_find("pop1");
		s.fd = sv[1];
		s.authq = -1;
		s.loopback = true;
		strlcpy(s.rip, "127.0.0.1", sizeof(s.rip));
		s.proto->serve(&s);
		io_free(&s.io);
		_exit(0);
	}
	close(sv[1]);
	f->fd = sv[0];
	f->len = 0;
}

/* stop: closes the client end and reaps the child. */
static void
stop(struct fixture *f)
{
	int	 status;

	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->pid > 0) {
		waitpid(f->pid, &status, 0);
		assert_true(WIFEXITED(status));
	}
	f->pid = 0;
}

/* fill: reads until at least n octets are buffered or the peer closes. */
static void
fill(struct fixture *f, size_t n)
{
	ssize_t	 r;

	while (f->len < n) {
		r = read(f->fd, f->buf + f->len, sizeof(f->buf) - f->len);
		if (r <= 0)
			return;
		f->len += (size_t)r;
	}
}

/* line: the next reply line without CRLF (static buffer). */
static const char *
line(struct fixture *f)
{
	static char	 out[4096];
	char		*nl;
	ssize_t		 n;
	size_t		 l;

	while ((nl = memchr(f->buf, '\n', f->len)) == NULL) {
		n = read(f->fd, f->buf + f->len, sizeof(f->buf) - f->len);
		if (n <= 0)
			return "";
		f->len += (size_t)n;
	}
	l = (size_t)(nl - f->buf) + 1;
	assert_true(l >= 2 && nl[-1] == '\r');
	assert_true(l - 2 < sizeof(out));
	memcpy(out, f->buf, l - 2);
	out[l - 2] = '\0';
	memmove(f->buf, f->buf + l, f->len - l);
	f->len -= l;
	return out;
}

/* cmd: sends one command line and returns the first reply line. */
static const char *
cmd(struct fixture *f, const char *c)
{
	char	 out[1024];
	int	 n = snprintf(out, sizeof(out), "%s\r\n", c);

	assert_true(n > 0 && (size_t)n < sizeof(out));
	assert_int_equal(write(f->fd, out, (size_t)n), n);
	return line(f);
}

/* expect: the next n octets of the stream, which must equal want. */
static void
expect(struct fixture *f, const char *want, size_t n)
{
	fill(f, n);
	assert_true(f->len >= n);
	assert_memory_equal(f->buf, want, n);
	memmove(f->buf, f->buf + n, f->len - n);
	f->len -= n;
}

/* stream: RCEV, then exactly n octets, which must equal want. */
static void
stream(struct fixture *f, const char *want, size_t n)
{
	assert_int_equal(write(f->fd, "RCEV\r\n", 6), 6);
	expect(f, want, n);
}

/* count: message files in md/sub. */
static int
count(const char *md, const char *sub)
{
	char		 path[512];
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	snprintf(path, sizeof(path), "%s/%s", md, sub);
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* mkmaildir: new/, cur/ and tmp/ under path. */
static void
mkmaildir(const char *path)
{
	char	 sub[512];

	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/new", path);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/cur", path);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/tmp", path);
	assert_int_equal(mkdir(sub, 0700), 0);
}

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));
	char		 line_[512], home[128];

	assert_non_null(f);
	strlcpy(f->dir, "/tmp/postern-pop1-XXXXXX", sizeof(f->dir));
	assert_non_null(mkdtemp(f->dir));
	snprintf(home, sizeof(home), "%s/home", f->dir);
	snprintf(f->md, sizeof(f->md), "%s/Maildir", home);
	assert_int_equal(mkdir(home, 0700), 0);
	mkmaildir(f->md);
	put(f, f->md, "1000000001.a.test", MSG1);
	put(f, f->md, "1000000002.b.test", MSG2);
	snprintf(f->passwd, sizeof(f->passwd), "%s/passwd", f->dir);
	snprintf(line_, sizeof(line_), "alice:{PLAIN}secret::::%s::\n", home);
	writef(f->passwd, line_, strlen(line_));
	f->conf.passwd_file = f->passwd;
	f->conf.maildir = "%h/Maildir";
	f->conf.hostname = "test.example";
	f->conf.login_timeout = 5;
	f->conf.idle_timeout = 600;
	f->conf.max_line = 512;
	f->conf.max_bad_commands = 50;
	f->conf.plaintext_auth = PLAINTEXT_LOOPBACK;
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	assert_int_equal(mkdir(f->state, 0700), 0);
	f->conf.state_dir = f->state;
	f->fd = -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	char		 rm[256];

	stop(f);
	snprintf(rm, sizeof(rm), "rm -rf %s", f->dir);
	assert_int_equal(system(rm), 0);
	free(f);
	return 0;
}

/* login: USER and PASS for alice. */
static void
login(struct fixture *f)
{
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS secret"), "+OK logged in");
}

/* hash_count: "#n" for the two messages. */
static const char *
hash_count(void)
{
	static char	 out[32];

	snprintf(out, sizeof(out), "#%zu", strlen(WANT1) + strlen(WANT2));
	return out;
}

static void
test_greeting_login_quit(void **state)
{
	struct fixture	*f = *state;

	start(f);
	assert_string_equal(line(f), "+OK Postern POP server ready");
	assert_string_equal(cmd(f, "RETR INBOX"),
	    "-ERR log in first (USER and PASS)");
	assert_string_equal(cmd(f, "PASS x"), "-ERR send USER first");
	assert_string_equal(cmd(f, "USER   "), "-ERR USER needs a user name");
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS wrong"),
	    "-ERR invalid user name or password");
	assert_string_equal(cmd(f, "NOOP"), "+OK");
	assert_string_equal(cmd(f, "RSET"), "+OK");
	login(f);
	assert_string_equal(cmd(f, "PASS x"), "-ERR already logged in");
	assert_string_equal(cmd(f, "XYZZY"), "-ERR unknown command");
	assert_string_equal(cmd(f, ""), "-ERR empty command");
	assert_string_equal(cmd(f, "quit"), "+OK Postern POP server signing "
	    "off");
	assert_string_equal(line(f), "");	/* closed */
}

static void
test_plaintext_refused(void **state)
{
	struct fixture	*f = *state;

	f->conf.plaintext_auth = PLAINTEXT_NEVER;
	start(f);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "-ERR plaintext "
	    "authentication disallowed without TLS");
}

static void
test_retr_stream(void **state)
{
	struct fixture	*f = *state;
	char		 want[1024];

	snprintf(want, sizeof(want), "%s%s", WANT1, WANT2);
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RETR INBOX"), hash_count());
	stream(f, want, strlen(want));
	assert_string_equal(cmd(f, "RCVD"), "+OK");
	/* Nothing deleted; both read, so in cur/ now. */
	assert_int_equal(count(f->md, "new"), 0);
	assert_int_equal(count(f->md, "cur"), 2);
	/* The same again, from cur/. */
	assert_string_equal(cmd(f, "RETR inbox"), hash_count());
	stream(f, want, strlen(want));
	assert_string_equal(cmd(f, "RCVD"), "+OK");
	assert_string_equal(cmd(f, "QUIT"), "+OK Postern POP server signing "
	    "off");
	assert_int_equal(count(f->md, "cur"), 2);
}

static void
test_chunk_edges(void **state)
{
	struct fixture	*f = *state;
	static char	 msg[70000], want[70100];
	char		 hash[32];
	size_t		 n3 = 45 + 65535 + 13, n4 = 45 + 65534 + 13;

	/* A CRLF and a "From " each split by the 64 KiB read. */
	memset(msg, 'a', 65535);
	strlcpy(msg + 65535, "\r\nFrom z\n", sizeof(msg) - 65535);
	put(f, f->md, "1000000003.c.test", msg);
	memset(msg, 'b', 65534);
	strlcpy(msg + 65534, "\nFrom q\n", sizeof(msg) - 65534);
	put(f, f->md, "1000000004.d.test", msg);
	start(f);
	line(f);
	login(f);
	snprintf(hash, sizeof(hash), "#%zu", strlen(WANT1) + strlen(WANT2) +
	    n3 + n4);
	assert_string_equal(cmd(f, "RETR INBOX"), hash);
	stream(f, WANT1, strlen(WANT1));
	expect(f, WANT2, strlen(WANT2));
	memcpy(want, "From MAILER-DAEMON Sun Sep  9 01:46:43 2001\r\n", 45);
	memset(want + 45, 'a', 65535);
	memcpy(want + 45 + 65535, "\r\n>From z\r\n\r\n", 13);
	expect(f, want, n3);
	memcpy(want, "From MAILER-DAEMON Sun Sep  9 01:46:44 2001\r\n", 45);
	memset(want + 45, 'b', 65534);
	memcpy(want + 45 + 65534, "\r\n>From q\r\n\r\n", 13);
	expect(f, want, n4);
	assert_string_equal(cmd(f, "RCVD"), "+OK");
}

static void
test_rdel_deletes_what_was_sent(void **state)
{
	struct fixture	*f = *state;
	char		 want[1024];

	snprintf(want, sizeof(want), "%s%s", WANT1, WANT2);
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RDEL INBOX"), hash_count());
	/* Mail that arrives now is neither sent nor deleted. */
	put(f, f->md, "1000000009.late.test", "Subject: late\n\nx\n");
	stream(f, want, strlen(want));
	assert_int_equal(count(f->md, "new"), 3);
	assert_string_equal(cmd(f, "RCVD"), "+OK");
	assert_int_equal(count(f->md, "new"), 1);
	assert_int_equal(count(f->md, "cur"), 0);
	assert_string_equal(cmd(f, "QUIT"), "+OK Postern POP server signing "
	    "off");
}

static void
test_drop_deletes_nothing(void **state)
{
	struct fixture	*f = *state;
	char		 want[1024];

	snprintf(want, sizeof(want), "%s%s", WANT1, WANT2);
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RDEL INBOX"), hash_count());
	stream(f, want, strlen(want));
	stop(f);
	assert_int_equal(count(f->md, "new"), 2);
	/* QUIT and RSET before RCVD delete nothing either. */
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RDEL INBOX"), hash_count());
	stream(f, want, strlen(want));
	assert_string_equal(cmd(f, "RSET"), "+OK");
	assert_string_equal(cmd(f, "RCVD"), "-ERR no transaction: send RETR "
	    "or RDEL first");
	assert_string_equal(cmd(f, "RDEL INBOX"), hash_count());
	assert_string_equal(cmd(f, "QUIT"), "+OK Postern POP server signing "
	    "off");
	stop(f);
	assert_int_equal(count(f->md, "new"), 2);
}

static void
test_order_rules(void **state)
{
	struct fixture	*f = *state;
	struct maildrop	*md;

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RCEV"), "-ERR no transaction: send RETR "
	    "or RDEL first");
	assert_string_equal(cmd(f, "RCVD"), "-ERR no transaction: send RETR "
	    "or RDEL first");
	assert_string_equal(cmd(f, "RETR"), "-ERR RETR needs a mailbox name");
	assert_string_equal(cmd(f, "RETR INBOX"), hash_count());
	assert_string_equal(cmd(f, "RETR INBOX"), "-ERR a transaction is "
	    "open: send RCVD or RSET first");
	assert_string_equal(cmd(f, "RDEL INBOX"), "-ERR a transaction is "
	    "open: send RCVD or RSET first");
	assert_string_equal(cmd(f, "RCVD"), "-ERR send RCEV first");
	/* The mailbox is locked while the transaction is open... */
	assert_int_equal(maildrop_open(f->md, NULL, &md), MAILDROP_LOCKED);
	assert_string_equal(cmd(f, "RSET"), "+OK");
	/* ...and unlocked by RSET. */
	assert_int_equal(maildrop_open(f->md, NULL, &md), 0);
	assert_string_equal(cmd(f, "RETR INBOX"),
	    "-ERR mailbox locked by another session");
	maildrop_close(&md);
	assert_string_equal(cmd(f, "RECV"), "-ERR no transaction: send RETR "
	    "or RDEL first");
	assert_string_equal(cmd(f, "RETR INBOX"), hash_count());
	assert_int_equal(write(f->fd, "RECV\r\n", 6), 6);
	expect(f, WANT1, strlen(WANT1));
	expect(f, WANT2, strlen(WANT2));
	assert_string_equal(cmd(f, "RCEV"), "-ERR the mailbox was sent: "
	    "send RCVD");
	assert_string_equal(cmd(f, "RCVD"), "+OK");
}

static void
test_changed_aborts(void **state)
{
	struct fixture	*f = *state;
	char		 path[512];

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RDEL INBOX"), hash_count());
	/* Another agent removes a message counted: the count cannot be
	 * kept, so the stream stops short and the connection closes. */
	snprintf(path, sizeof(path), "%s/new/1000000002.b.test", f->md);
	assert_int_equal(unlink(path), 0);
	stream(f, WANT1, strlen(WANT1));
	fill(f, 1);
	assert_int_equal(f->len, 0);	/* closed: nothing more */
	stop(f);
	assert_int_equal(count(f->md, "new") + count(f->md, "cur"), 1);
}

static void
test_folders(void **state)
{
	struct fixture	*f = *state;
	char		 path[512], link[512], hash[32];
	static const char want[] = "From MAILER-DAEMON Sun Sep  9 01:46:45 "
	    "2001\r\nSubject: kept\r\n\r\n>From me\r\n\r\n";

	snprintf(path, sizeof(path), "%s/.Sent", f->md);
	mkmaildir(path);
	put(f, path, "1000000005.s.test", "Subject: kept\n\nFrom me\n");
	snprintf(link, sizeof(link), "%s/.Link", f->md);
	assert_int_equal(symlink(path, link), 0);
	snprintf(hash, sizeof(hash), "#%zu", strlen(want));
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RETR Sent"), hash);
	stream(f, want, strlen(want));
	assert_string_equal(cmd(f, "RCVD"), "+OK");
	assert_string_equal(cmd(f, "RDEL INBOX.Sent"), hash);
	stream(f, want, strlen(want));
	assert_string_equal(cmd(f, "RCVD"), "+OK");
	assert_int_equal(count(path, "new") + count(path, "cur"), 0);
	assert_int_equal(count(f->md, "new"), 2);
	assert_string_equal(cmd(f, "RETR Link"), "-ERR no such mailbox");
	assert_string_equal(cmd(f, "RETR Nosuch"), "-ERR no such mailbox");
	assert_string_equal(cmd(f, "RETR a/b"), "-ERR no such mailbox");
	assert_string_equal(cmd(f, "RETR ..x"), "-ERR no such mailbox");
	assert_string_equal(cmd(f, "RETR alice"), hash_count());
	assert_string_equal(cmd(f, "RSET"), "+OK");
}

extern char **environ;

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_greeting_login_quit,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_plaintext_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_retr_stream,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunk_edges,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_rdel_deletes_what_was_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_deletes_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_rules,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_aborts,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_folders,
		    setup, teardown),
	};

#ifdef HAVE_LIBBSD
	setproctitle_init(argc, argv, environ);
#endif
	log_init("test_pop1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
