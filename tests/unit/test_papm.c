/*
 * test_papm.c: the PAPM module's replies, pull and push, command by
 * command with their error cases.  A forked child runs
 * papm_protocol.serve() on one end of a socketpair with a temporary
 * passwd-file and Maildirs for alice and bob; the test speaks PAPM on the
 * other end and checks every reply and what lands in the Maildirs.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

struct fixture {
	char	 dir[64];
	char	 home[2][128];	/* alice, bob */
	char	 md[2][256];
	char	 passwd[256];
	char	 state[256];
	struct conf conf;
	int	 fd;
	pid_t	 pid;
	char	 buf[65536];
	size_t	 len;
};

static const char MSG1[] = "Subject: one\n\nfirst body\n";	/* 28 */
static const char MSG2[] = "Subject: two\n\n.\n..x\nno newline";	/* 36 */

/* writef: writes a whole file. */
static void
writef(const char *path, const char *text)
{
	FILE	*fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
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
		s.proto = protocol_find("papm");
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

/* send_text: writes text as is. */
static void
send_text(struct fixture *f, const char *text)
{
	size_t	 n = strlen(text);

	assert_int_equal(write(f->fd, text, n), (ssize_t)n);
}

/* cmd: sends one command line and returns the first reply line. */
static const char *
cmd(struct fixture *f, const char *c)
{
	char	 out[8192];
	int	 n = snprintf(out, sizeof(out), "%s\r\n", c);

	assert_true(n > 0 && (size_t)n < sizeof(out));
	send_text(f, out);
	return line(f);
}

/* body: the rest of a multi-line reply as sent, lines joined by "\n". */
static const char *
body(struct fixture *f)
{
	static char	 out[8192];
	const char	*l;
	int		 n = 0;

	out[0] = '\0';
	while (strcmp(l = line(f), ".") != 0) {
		assert_true(++n < 1000);	/* not the end of the stream */
		strlcat(out, l, sizeof(out));
		strlcat(out, "\n", sizeof(out));
	}
	return out;
}

/* count: files in md/sub. */
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

/* only_new: the text of the one file in md/new (static buffer). */
static const char *
only_new(const char *md)
{
	static char	 text[8192];
	char		 path[1024];
	DIR		*d;
	struct dirent	*e;
	ssize_t		 n;
	int		 fd, found = 0;

	snprintf(path, sizeof(path), "%s/new", md);
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		found++;
		snprintf(path, sizeof(path), "%s/new/%s", md, e->d_name);
	}
	closedir(d);
	assert_int_equal(found, 1);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n >= 0);
	text[n] = '\0';
	return text;
}

/* mkmaildir: a home with a Maildir and its new/, cur/ and tmp/. */
static void
mkmaildir(const char *home, const char *md)
{
	char	 sub[512];

	assert_int_equal(mkdir(home, 0700), 0);
	assert_int_equal(mkdir(md, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/new", md);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/cur", md);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/tmp", md);
	assert_int_equal(mkdir(sub, 0700), 0);
}

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));
	char		 path[1024], pw[1024];
	int		 i;

	assert_non_null(f);
	strlcpy(f->dir, "/tmp/postern-papm-XXXXXX", sizeof(f->dir));
	assert_non_null(mkdtemp(f->dir));
	for (i = 0; i < 2; i++) {
		snprintf(f->home[i], sizeof(f->home[i]), "%s/%s", f->dir,
		    i == 0 ? "alice" : "bob");
		snprintf(f->md[i], sizeof(f->md[i]), "%s/Maildir",
		    f->home[i]);
		mkmaildir(f->home[i], f->md[i]);
	}
	snprintf(path, sizeof(path), "%s/new/1000000001.a.test", f->md[0]);
	writef(path, MSG1);
	snprintf(path, sizeof(path), "%s/new/1000000002.b.test", f->md[0]);
	writef(path, MSG2);
	snprintf(f->passwd, sizeof(f->passwd), "%s/passwd", f->dir);
	snprintf(pw, sizeof(pw), "alice:{PLAIN}secret::::%s::\n"
	    "bob:{PLAIN}builder::::%s::\n", f->home[0], f->home[1]);
	writef(f->passwd, pw);
	f->conf.passwd_file = f->passwd;
	f->conf.maildir = "%h/Maildir";
	f->conf.hostname = "test.example";
	f->conf.login_timeout = 5;
	f->conf.idle_timeout = 600;
	f->conf.max_line = 512;
	f->conf.max_bad_commands = 50;
	f->conf.plaintext_auth = PLAINTEXT_LOOPBACK;
	f->conf.lmtp_temp_dir = f->dir;
	f->conf.papm_max_message_size = 1024;
	f->conf.papm_helo_domains = "bar.com,hotmail.com";
	f->conf.papm_relay_command = "";
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
	assert_string_equal(cmd(f, "USER alice"), "+OK mail drop name valid");
	assert_string_equal(cmd(f, "PASS secret"), "+OK mail drop ready");
}

static void
test_login(void **state)
{
	struct fixture	*f = *state;

	start(f);
	assert_string_equal(line(f), "+OK Postern PAPM server ready");
	assert_string_equal(cmd(f, "STAT"), "-ERR log in first (USER and "
	    "PASS)");
	assert_string_equal(cmd(f, "PASS x"), "-ERR send USER first");
	assert_string_equal(cmd(f, "USER"), "-ERR mail drop name invalid");
	assert_string_equal(cmd(f, "USER a b"), "-ERR mail drop name invalid");
	assert_string_equal(cmd(f, "USER god"), "+OK mail drop name valid");
	assert_string_equal(cmd(f, "PASS god"), "-ERR invalid username/"
	    "password combination");
	assert_string_equal(cmd(f, "USER alice"), "+OK mail drop name valid");
	assert_string_equal(cmd(f, "PASS wrong"), "-ERR invalid username/"
	    "password combination");
	login(f);
	assert_string_equal(cmd(f, "PASS secret"), "-ERR already logged in");
	assert_string_equal(cmd(f, "WHAT"), "-ERR unknown command");
	assert_string_equal(cmd(f, "QUIT"), "+OK server signing off");
	assert_string_equal(line(f), "");
}

static void
test_pull(void **state)
{
	struct fixture	*f = *state;

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "STAT"), "+OK 2 64");
	assert_string_equal(cmd(f, "LIST"), "+OK 1 28");
	assert_string_equal(body(f), "+OK 2 36\n");
	assert_string_equal(cmd(f, "LIST 2"), "+OK 2 36");
	assert_string_equal(cmd(f, "LIST 3"), "-ERR no such message");
	assert_string_equal(cmd(f, "LIST 0"), "-ERR no such message");
	assert_string_equal(cmd(f, "LIST 1 2"), "-ERR LIST takes at most one "
	    "argument");
	assert_string_equal(cmd(f, "READ 2"), "+OK 2 36");
	assert_string_equal(body(f), "Subject: two\n\n..\n...x\nno newline\n");
	assert_string_equal(cmd(f, "READ"), "-ERR message number required");
	assert_string_equal(cmd(f, "DELE 1"), "+OK message deleted");
	assert_string_equal(cmd(f, "DELE 1"), "-ERR no such message");
	assert_string_equal(cmd(f, "READ 1"), "-ERR no such message");
	assert_string_equal(cmd(f, "STAT"), "+OK 1 36");
	assert_string_equal(cmd(f, "RSET"), "+OK");
	assert_string_equal(cmd(f, "STAT"), "+OK 2 64");
	assert_string_equal(cmd(f, "DELE 1"), "+OK message deleted");
	assert_string_equal(cmd(f, "DELE 2"), "+OK message deleted");
	assert_string_equal(cmd(f, "LIST"), "+OK");
	assert_string_equal(line(f), ".");
	assert_string_equal(cmd(f, "NOOP"), "+OK");
	assert_int_equal(count(f->md[0], "new"), 2);
	assert_string_equal(cmd(f, "QUIT"), "+OK server signing off");
	stop(f);
	assert_int_equal(count(f->md[0], "new") + count(f->md[0], "cur"), 0);
}

static void
test_drop_and_quti(void **state)
{
	struct fixture	*f = *state;

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "DELE 1"), "+OK message deleted");
	stop(f);
	assert_int_equal(count(f->md[0], "new") + count(f->md[0], "cur"), 2);
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "DELE 2"), "+OK message deleted");
	assert_string_equal(cmd(f, "QUTI"), "+OK");
	assert_string_equal(line(f), "");
	stop(f);
	assert_int_equal(count(f->md[0], "new") + count(f->md[0], "cur"), 1);
}

static void
test_push_before_login(void **state)
{
	struct fixture	*f = *state;

	start(f);
	line(f);
	assert_string_equal(cmd(f, "HELO bar.com"), "-ERR log in first (USER "
	    "and PASS)");
	assert_string_equal(cmd(f, "MAIL FROM: alice@bar.com"),
	    "-ERR user account not registered");
	assert_string_equal(cmd(f, "RCPT TO: bob@bar.com"),
	    "-ERR send MAIL FROM: first");
	assert_string_equal(cmd(f, "DATA"), "-ERR send MAIL FROM: first");
	assert_string_equal(cmd(f, "RSTE"), "+OK");
	assert_string_equal(cmd(f, "NOPO"), "+OK");
	assert_string_equal(cmd(f, "QUTI"), "+OK");
	stop(f);
	assert_int_equal(count(f->md[1], "new"), 0);
}

static void
test_push_two_users(void **state)
{
	struct fixture	*f = *state;
	char		 want[256];

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "MAIL FROM: alice@bar.com"),
	    "-ERR send HELO first");
	assert_string_equal(cmd(f, "HELO bal.com"), "-ERR");
	assert_string_equal(cmd(f, "HELO -x.com"), "-ERR HELO needs a domain "
	    "name");
	assert_string_equal(cmd(f, "HELO bar.com"), "+OK");
	assert_string_equal(cmd(f, "MAIL FROM: bob@bar.com"),
	    "-ERR user account not registered");
	assert_string_equal(cmd(f, "MAIL FROM: alice@elsewhere.org"),
	    "-ERR user account not registered");
	assert_string_equal(cmd(f, "MAIL FROM: alice@test.example"), "+OK");
	assert_string_equal(cmd(f, "MAIL FROM: alice@bar.com"),
	    "-ERR sender already given: send RSTE to start again");
	assert_string_equal(cmd(f, "DATA"), "-ERR send RCPT TO: first");
	assert_string_equal(cmd(f, "RCPT TO: nobody@bar.com"),
	    "-ERR user account invalid");
	assert_string_equal(cmd(f, "RCPT TO: friend@far.away"),
	    "-ERR relaying to other domains is not available");
	assert_string_equal(cmd(f, "RCPT TO: <bob@hotmail.com>"), "+OK");
	assert_string_equal(cmd(f, "RCPT TO: alice"), "+OK");
	assert_string_equal(cmd(f, "DATA x"), "-ERR DATA takes no argument");
	assert_string_equal(cmd(f, "DATA"), "+OK");
	send_text(f, "Subject: hi\r\n\r\n..\r\n..From\r\nbare lf\nend\r\n");
	assert_string_equal(cmd(f, "."), "+OK");
	snprintf(want, sizeof(want), "Subject: hi\n\n.\n.From\nbare lf\n"
	    "end\n");
	assert_string_equal(only_new(f->md[1]), want);
	assert_int_equal(count(f->md[0], "new"), 3);
	/* The transaction ended: the next message needs MAIL again. */
	assert_string_equal(cmd(f, "RCPT TO: bob"), "-ERR send MAIL FROM: "
	    "first");
	assert_string_equal(cmd(f, "QUTI"), "+OK");
	stop(f);
	assert_int_equal(count(f->md[0], "new"), 3);
}

static void
test_push_refused_data(void **state)
{
	struct fixture	*f = *state;
	int		 i;

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "HELO hotmail.com"), "+OK");
	assert_string_equal(cmd(f, "MAIL FROM: alice"), "+OK");
	assert_string_equal(cmd(f, "RCPT TO: bob@bar.com"), "+OK");
	assert_string_equal(cmd(f, "DATA"), "+OK");
	for (i = 0; i < 20; i++)
		send_text(f, "0123456789012345678901234567890123456789012345"
		    "678901234567890123456789\r\n");
	assert_string_equal(cmd(f, "."), "-ERR message too large: the limit "
	    "is 1024 octets, nothing delivered");
	assert_int_equal(count(f->md[1], "new"), 0);
	assert_int_equal(count(f->md[1], "tmp"), 0);
	assert_string_equal(cmd(f, "MAIL FROM: alice"), "+OK");
	assert_string_equal(cmd(f, "RCPT TO: bob@bar.com"), "+OK");
	assert_string_equal(cmd(f, "RSTE"), "+OK");
	assert_string_equal(cmd(f, "DATA"), "-ERR send MAIL FROM: first");
	assert_string_equal(cmd(f, "NOPO"), "+OK");
	assert_string_equal(cmd(f, "MAIL FROM: alice"), "+OK");
	assert_string_equal(cmd(f, "RCPT TO: bob@bar.com"), "+OK");
	assert_string_equal(cmd(f, "DATA"), "+OK");
	send_text(f, "Subject: half\r\n\r\nno end");
	stop(f);
	assert_int_equal(count(f->md[1], "new"), 0);
	assert_int_equal(count(f->md[1], "tmp"), 0);
}

extern char **environ;

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pull, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_and_quti,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_before_login,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_two_users,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_refused_data,
		    setup, teardown),
	};

#ifdef HAVE_LIBBSD
	setproctitle_init(argc, argv, environ);
#endif
	log_init("test_papm", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
