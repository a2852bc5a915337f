/*
 * test_pop3.c: the POP3 module's replies, command by command, with their
 * error cases.  A forked child runs pop3_protocol.serve() on one end of a
 * socketpair with a temporary passwd-file and Maildir; the test speaks
 * POP3 on the other end and checks every reply.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
	char	 md[256];
	char	 passwd[256];
	struct conf conf;
	int	 fd;		/* the client's end */
	pid_t	 pid;		/* the server child */
	char	 buf[65536];
	size_t	 len;
};

static const char MSG1[] = "Subject: one\n\nfirst body\n";
static const char MSG2[] = "Subject: two\n\n.\n..x\nlast line without newline";

/* writef: writes a whole file. */
static void
writef(const char *path, const char *text)
{
	FILE	*fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* netsize: the network size of a text (bare LF as CRLF, final CRLF). */
static long
netsize(const char *s)
{
	size_t	 n = strlen(s), i;
	long	 size = (long)n;

	for (i = 0; i < n; i++)
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			size++;
	if (n > 0 && s[n - 1] != '\n')
		size += 2;
	return size;
}

/* start: a server child on a socketpair; loopback says where "from". */
static void
start(struct fixture *f, bool loopback)
{
	struct session	 s;
	int		 sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		close(sv[0]);
		memset(&s, 0, sizeof(s));
		s.conf = &f->conf;
		s.proto = protocol_find("pop3");
		s.fd = sv[1];
		s.loopback = loopback;
		strlcpy(s.rip, loopback ? "127.0.0.1" : "192.0.2.7",
		    sizeof(s.rip));
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

/* cmd: sends one command line and returns the first reply line. */
static const char *
cmd(struct fixture *f, const char *c)
{
	char	 out[8192];
	int	 n = snprintf(out, sizeof(out), "%s\r\n", c);

	assert_true(n > 0 && (size_t)n < sizeof(out));
	assert_int_equal(write(f->fd, out, (size_t)n), n);
	return line(f);
}

/* body: the rest of a multi-line reply as sent (still dot-stuffed),
 * lines joined by "\n". */
static const char *
body(struct fixture *f)
{
	static char	 out[8192];
	const char	*l;

	out[0] = '\0';
	while (strcmp(l = line(f), ".") != 0) {
		strlcat(out, l, sizeof(out));
		strlcat(out, "\n", sizeof(out));
	}
	return out;
}

/* count: files in md/sub. */
static int
count(struct fixture *f, const char *sub)
{
	char		 path[512];
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	snprintf(path, sizeof(path), "%s/%s", f->md, sub);
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));
	char		 path[512], home[128];

	assert_non_null(f);
	strlcpy(f->dir, "/tmp/postern-pop3-XXXXXX", sizeof(f->dir));
	assert_non_null(mkdtemp(f->dir));
	snprintf(home, sizeof(home), "%s/home", f->dir);
	snprintf(f->md, sizeof(f->md), "%s/Maildir", home);
	assert_int_equal(mkdir(home, 0700), 0);
	assert_int_equal(mkdir(f->md, 0700), 0);
	snprintf(path, sizeof(path), "%s/new", f->md);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/cur", f->md);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/tmp", f->md);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/new/1000000001.a.test", f->md);
	writef(path, MSG1);
	snprintf(path, sizeof(path), "%s/new/1000000002.b.test", f->md);
	writef(path, MSG2);
	snprintf(f->passwd, sizeof(f->passwd), "%s/passwd", f->dir);
	snprintf(path, sizeof(path), "alice:{PLAIN}secret pass::::%s::\n",
	    home);
	writef(f->passwd, path);

	f->conf.passwd_file = f->passwd;
	f->conf.maildir = "%h/Maildir";
	f->conf.hostname = "test.example";
	f->conf.login_timeout = 5;
	f->conf.idle_timeout = 600;
	f->conf.max_line = 512;
	f->conf.max_bad_commands = 50;
	f->conf.auth_fail_delay = 0;
	f->conf.plaintext_auth = PLAINTEXT_LOOPBACK;
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
	assert_string_equal(cmd(f, "PASS secret pass"),
	    "+OK maildrop has 2 messages (79 octets)");
}

static void
test_greeting_and_quit(void **state)
{
	struct fixture	*f = *state;

	start(f, true);
	assert_string_equal(line(f), "+OK Postern POP3 server ready");
	assert_string_equal(cmd(f, "QUIT"),
	    "+OK Postern POP3 server signing off");
	assert_string_equal(line(f), "");	/* closed */
}

static void
test_authorization(void **state)
{
	struct fixture	*f = *state;

	start(f, true);
	line(f);
	assert_string_equal(cmd(f, "PASS x"), "-ERR send USER first");
	assert_string_equal(cmd(f, "USER"), "-ERR USER needs a user name");
	assert_string_equal(cmd(f, "STAT"), "-ERR STAT is not valid before "
	    "login");
	assert_string_equal(cmd(f, "RETR 1"), "-ERR RETR is not valid "
	    "before login");
	assert_string_equal(cmd(f, "APOP alice 0123"),
	    "-ERR [AUTH] APOP is not available on this server");
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS secret"),
	    "-ERR [AUTH] invalid user name or password");
	assert_string_equal(cmd(f, "USER mallory"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS secret pass"),
	    "-ERR [AUTH] invalid user name or password");
	/* The password is the whole rest of the line, spaces included. */
	login(f);
	assert_string_equal(cmd(f, "PASS x"), "-ERR PASS is not valid after "
	    "login");
	assert_string_equal(cmd(f, "QUIT"),
	    "+OK Postern POP3 server signing off (2 messages left)");
}

static void
test_plaintext_refused_off_loopback(void **state)
{
	struct fixture	*f = *state;

	start(f, false);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "-ERR [AUTH] plaintext "
	    "authentication disallowed without TLS");
	assert_string_equal(cmd(f, "CAPA"), "+OK capability list follows");
	assert_null(strstr(body(f), "USER"));
	stop(f);
	f->conf.plaintext_auth = PLAINTEXT_ALWAYS;
	start(f, false);
	line(f);
	login(f);
}

static void
test_stat_list_uidl(void **state)
{
	struct fixture	*f = *state;
	char		 want[128];

	start(f, true);
	line(f);
	login(f);
	assert_int_equal(netsize(MSG1) + netsize(MSG2), 79);
	assert_string_equal(cmd(f, "STAT"), "+OK 2 79");
	assert_string_equal(cmd(f, "STAT x"), "-ERR STAT takes no argument");
	assert_string_equal(cmd(f, "LIST"), "+OK 2 messages (79 octets)");
	snprintf(want, sizeof(want), "1 %ld\n2 %ld\n", netsize(MSG1),
	    netsize(MSG2));
	assert_string_equal(body(f), want);
	snprintf(want, sizeof(want), "+OK 2 %ld", netsize(MSG2));
	assert_string_equal(cmd(f, "LIST 2"), want);
	assert_string_equal(cmd(f, "LIST 3"),
	    "-ERR no such message, only 2 messages in maildrop");
	assert_string_equal(cmd(f, "LIST 0"),
	    "-ERR no such message, only 2 messages in maildrop");
	assert_string_equal(cmd(f, "LIST +1"), "-ERR invalid message number");
	assert_string_equal(cmd(f, "LIST 1x"), "-ERR invalid message number");
	assert_string_equal(cmd(f, "LIST 4294967297"),
	    "-ERR invalid message number");
	assert_string_equal(cmd(f, "LIST 1 2"),
	    "-ERR LIST takes at most one argument");
	assert_string_equal(cmd(f, "UIDL"), "+OK unique-id listing follows");
	assert_string_equal(body(f), "1 1000000001.a.test\n"
	    "2 1000000002.b.test\n");
	assert_string_equal(cmd(f, "UIDL 2"), "+OK 2 1000000002.b.test");
	assert_string_equal(cmd(f, "UIDL 9"),
	    "-ERR no such message, only 2 messages in maildrop");
	assert_string_equal(cmd(f, "NOOP"), "+OK");
}

static void
test_retr_top(void **state)
{
	struct fixture	*f = *state;
	char		 want[128];

	start(f, true);
	line(f);
	login(f);
	snprintf(want, sizeof(want), "+OK %ld octets", netsize(MSG1));
	assert_string_equal(cmd(f, "RETR 1"), want);
	assert_string_equal(body(f), "Subject: one\n\nfirst body\n");
	snprintf(want, sizeof(want), "+OK %ld octets", netsize(MSG2));
	assert_string_equal(cmd(f, "RETR 2"), want);
	/* Raw lines: dot-stuffed, and the missing newline added. */
	assert_string_equal(line(f), "Subject: two");
	assert_string_equal(line(f), "");
	assert_string_equal(line(f), "..");
	assert_string_equal(line(f), "...x");
	assert_string_equal(line(f), "last line without newline");
	assert_string_equal(line(f), ".");
	assert_string_equal(cmd(f, "TOP 2 0"), "+OK top of message follows");
	assert_string_equal(body(f), "Subject: two\n\n");
	assert_string_equal(cmd(f, "TOP 2 1"), "+OK top of message follows");
	assert_string_equal(body(f), "Subject: two\n\n..\n");
	assert_string_equal(cmd(f, "TOP 2 100"), "+OK top of message follows");
	assert_string_equal(body(f), "Subject: two\n\n..\n...x\n"
	    "last line without newline\n");
	assert_string_equal(cmd(f, "TOP 2"),
	    "-ERR TOP needs a number of lines (0 or more)");
	assert_string_equal(cmd(f, "TOP 2 x"),
	    "-ERR TOP needs a number of lines (0 or more)");
	assert_string_equal(cmd(f, "TOP 3 1"),
	    "-ERR no such message, only 2 messages in maildrop");
	assert_string_equal(cmd(f, "TOP 1 1 1"), "-ERR TOP takes two "
	    "arguments");
	assert_string_equal(cmd(f, "RETR"), "-ERR message number required");
	assert_string_equal(cmd(f, "RETR 1 2"), "-ERR RETR takes one "
	    "argument");
}

static void
test_dele_rset_quit(void **state)
{
	struct fixture	*f = *state;
	char		 want[128];

	start(f, true);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "DELE 1"), "+OK message 1 deleted");
	assert_string_equal(cmd(f, "DELE 1"), "-ERR message 1 already "
	    "deleted");
	assert_string_equal(cmd(f, "RETR 1"), "-ERR message 1 already "
	    "deleted");
	assert_string_equal(cmd(f, "LIST 1"), "-ERR message 1 already "
	    "deleted");
	snprintf(want, sizeof(want), "+OK 1 %ld", netsize(MSG2));
	assert_string_equal(cmd(f, "STAT"), want);
	assert_string_equal(cmd(f, "LIST"), "+OK 1 messages (51 octets)");
	assert_string_equal(body(f), "2 51\n");
	assert_string_equal(cmd(f, "RSET"),
	    "+OK maildrop has 2 messages (79 octets)");
	assert_string_equal(cmd(f, "DELE 2"), "+OK message 2 deleted");
	assert_string_equal(cmd(f, "DELE"), "-ERR message number required");
	assert_string_equal(cmd(f, "QUIT"),
	    "+OK Postern POP3 server signing off (1 messages left)");
	stop(f);
	assert_int_equal(count(f, "new"), 1);
	assert_int_equal(count(f, "cur"), 0);
	/* Everything deleted: "maildrop empty". */
	start(f, true);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS secret pass"),
	    "+OK maildrop has 1 messages (28 octets)");
	assert_string_equal(cmd(f, "DELE 1"), "+OK message 1 deleted");
	assert_string_equal(cmd(f, "QUIT"),
	    "+OK Postern POP3 server signing off (maildrop empty)");
	stop(f);
	assert_int_equal(count(f, "new") + count(f, "cur"), 0);
}

static void
test_dele_then_drop(void **state)
{
	struct fixture	*f = *state;

	start(f, true);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "DELE 1"), "+OK message 1 deleted");
	assert_string_equal(cmd(f, "DELE 2"), "+OK message 2 deleted");
	stop(f);		/* the client drops the connection */
	assert_int_equal(count(f, "new"), 2);
}

static void
test_bad_input(void **state)
{
	struct fixture	*f = *state;
	char		 big[700];

	start(f, true);
	line(f);
	assert_string_equal(cmd(f, ""), "-ERR empty command");
	assert_string_equal(cmd(f, "HELO x"), "-ERR unknown command");
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_string_equal(cmd(f, big), "-ERR line too long");
	assert_string_equal(cmd(f, "capa"), "+OK capability list follows");
	assert_string_equal(body(f), "TOP\nUIDL\nRESP-CODES\n"
	    "AUTH-RESP-CODE\nPIPELINING\nUSER\n");
	login(f);
	assert_string_equal(cmd(f, "CAPA"), "+OK capability list follows");
	assert_null(strstr(body(f), "USER"));
}

static void
test_bad_command_limit(void **state)
{
	struct fixture	*f = *state;

	f->conf.max_bad_commands = 2;
	start(f, true);
	line(f);
	assert_string_equal(cmd(f, "X"), "-ERR unknown command");
	assert_string_equal(cmd(f, "Y"), "-ERR unknown command");
	assert_string_equal(line(f), "-ERR too many bad commands, closing");
	assert_string_equal(line(f), "");
}

static void
test_pipelined(void **state)
{
	struct fixture	*f = *state;
	const char	 burst[] = "USER alice\r\nPASS secret pass\r\nSTAT\r\n"
			    "LIST 1\r\nDELE 1\r\nQUIT\r\n";

	start(f, true);
	line(f);
	assert_int_equal(write(f->fd, burst, sizeof(burst) - 1),
	    (ssize_t)sizeof(burst) - 1);
	assert_string_equal(line(f), "+OK send PASS");
	assert_string_equal(line(f), "+OK maildrop has 2 messages "
	    "(79 octets)");
	assert_string_equal(line(f), "+OK 2 79");
	assert_string_equal(line(f), "+OK 1 28");
	assert_string_equal(line(f), "+OK message 1 deleted");
	assert_string_equal(line(f), "+OK Postern POP3 server signing off "
	    "(1 messages left)");
	stop(f);
	assert_int_equal(count(f, "new"), 1);
}

static void
test_locked(void **state)
{
	struct fixture	*f = *state;
	struct fixture	 g;

	start(f, true);
	line(f);
	login(f);
	memcpy(&g, f, sizeof(g));
	start(&g, true);
	line(&g);
	assert_string_equal(cmd(&g, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(&g, "PASS secret pass"),
	    "-ERR [IN-USE] maildrop locked by another session");
	assert_string_equal(cmd(&g, "QUIT"),
	    "+OK Postern POP3 server signing off");
	stop(&g);
}

extern char **environ;

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_greeting_and_quit,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_authorization,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_plaintext_refused_off_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stat_list_uidl,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_retr_top,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_dele_rset_quit,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_dele_then_drop,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_command_limit,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked,
		    setup, teardown),
	};

#ifdef HAVE_LIBBSD
	setproctitle_init(argc, argv, environ);
#endif
	log_init("test_pop3", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
