/*
 * fuzz_lmtp.c: libFuzzer harness for a whole LMTP session: the input is
 * what an MTA sends, fed over a socketpair to lmtp_protocol.serve() in
 * this process, with a temporary passwd-file (user "fuzz", running as
 * this process, so that deliveries need no child) and its Maildir,
 * restored before every run.  The first octet chooses the set-up (see
 * FLAG_*); the replies are drained by a thread and must be CRLF lines
 * starting with the greeting, and every "250 2.0.0 <" delivery reply must
 * have left exactly one new file in new/.  It never sleeps.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_CRYPT_H
#include <crypt.h>
#endif

#include "fuzz/common.h"
#include "protocols/protocol.h"
#include "server/conf.h"
#include "server/io.h"
#include "server/session.h"

/* The set-up octet. */
#define FLAG_LOGIN	0x01	/* send LHLO before the input */
#define FLAG_LOOPBACK	0x02	/* the client is on loopback */
#define FLAG_SMALL	0x04	/* lmtp_max_message_size = 1024 */
#define FLAG_SHORTLINE	0x08	/* max_line_length = 64 */
#define FLAG_FEWBAD	0x10	/* max_bad_commands = 3 */

/* Input beyond this is cut (libFuzzer runs with -max_len=4096). */
#define INPUT_MAX	(256 * 1024)

static const char LOGIN[] = "LHLO fuzz.example\r\n";
static const char GREETING[] = "220 fuzz.example LMTP Postern ready\r\n";

/* The Maildir before every session: lone dots, no final newline, a
 * CRLF message with its sizes in its name, an empty message, and a name
 * too long to be a UIDL. */
static const struct {
	const char	*name;
	const char	*text;
} fixture[] = {
	{ "new/1000000001.a.fuzz", "Subject: one\n\nfirst body\n" },
	{ "new/1000000002.b.fuzz", "Subject: two\n\n.\n..x\n.\n"
	    "last line without newline" },
	{ "cur/1000000003.c.fuzz,S=27,W=27:2,S",
	    "Subject: three\r\n\r\n.\r\nbody\r\n" },
	{ "new/1000000004.d.fuzz", "" },
	{ "new/1000000005.a-name-too-long-to-be-a-uidl-by-itself-"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.fuzz", "\n\n\n" },
	{ "cur/1000000006.e.fuzz:2,FR", "From: a\nSubject: six\n\n.line\n"
	    "\n.\n" },
};

static char	 home[PATH_MAX], maildir[PATH_MAX], passwd[PATH_MAX];
static char	 state[PATH_MAX], spool[PATH_MAX];
static struct conf conf;

/*
 * crypt(3), replaced for this harness: its account's password is
 * {PLAIN}, so crypt runs only in password_waste(), which spends a
 * yescrypt's 50 ms (and 16 MiB) on every unknown user on purpose, and
 * would take nearly all of the fuzzer's time.  The stub answers with the
 * setting, as a hash of the right scheme would start.
 */
static char *
crypt_stub(const char *setting)
{
	static char	 out[512];

	strlcpy(out, setting, sizeof(out));
	return out;
}

#ifdef HAVE_CRYPT_R
/* crypt_r: the stub, for HAVE_CRYPT_R systems. */
char *
crypt_r(const char *phrase, const char *setting, struct crypt_data *data)
{
	return crypt_stub(setting);
}
#endif

/* crypt: the stub. */
char *
crypt(const char *phrase, const char *setting)
{
	return crypt_stub(setting);
}

/* What the client thread sends and receives. */
struct client {
	int		 fd;
	const uint8_t	*in;
	size_t		 inlen;
	char		*out;
	size_t		 outlen, outalloc;
};

/* mkdir_in: makes dir/sub. */
static void
mkdir_in(const char *dir, const char *sub, char *out, size_t outlen)
{
	fuzz_path(out, outlen, dir, sub);
	FUZZ_CHECK(mkdir(out, 0700) == 0);
}

/* LLVMFuzzerInitialize: the account, its Maildir and the configuration. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*dir;
	char		 path[PATH_MAX], cfile[PATH_MAX];
	char		 line[2 * PATH_MAX + 256];
	int		 n;

#ifdef HAVE_LIBBSD
	/* The session sets its process title, as posternd's workers do. */
	setproctitle_init(*argc, *argv, environ);
#endif
	fuzz_init("fuzz_lmtp");
	if (geteuid() == 0)
		fprintf(stderr, "fuzz_lmtp: running as root, where the account "
		    "would have uid 0, to which LMTP never delivers: only "
		    "refusals are fuzzed.  Run as an unprivileged user (make "
		    "fuzz does).\n");
	dir = fuzz_tempdir("lmtp");
	mkdir_in(dir, "home", home, sizeof(home));
	mkdir_in(home, "Maildir", maildir, sizeof(maildir));
	mkdir_in(maildir, "new", path, sizeof(path));
	mkdir_in(maildir, "cur", path, sizeof(path));
	mkdir_in(maildir, "tmp", path, sizeof(path));
	mkdir_in(dir, "state", state, sizeof(state));
	mkdir_in(dir, "spool", spool, sizeof(spool));
	fuzz_path(passwd, sizeof(passwd), dir, "passwd");
	/* The account runs as this process, so that a delivery needs no
	 * child taking another identity. */
	n = snprintf(line, sizeof(line), "# fuzz\nfuzz:{PLAIN}fuzz pass:%ld:%ld"
	    "::%s::\nother:{PLAIN}x::::/nonexistent::\n", (long)geteuid(),
	    (long)getegid(), home);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(line));
	fuzz_write_file(passwd, line, (size_t)n);

	/* The configuration as posternd reads it, defaults and all, then
	 * short timeouts no postern.conf may have. */
	fuzz_path(cfile, sizeof(cfile), dir, "postern.conf");
	n = snprintf(line, sizeof(line), "passwd_file = \"%s\"\n"
	    "hostname = \"fuzz.example\"\npidfile = \"\"\n"
	    "auth_fail_delay = 0\nlisten { protocol = \"lmtp\" "
	    "address = \"127.0.0.1\" port = 0 }\n", passwd);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(line));
	fuzz_write_file(cfile, line, (size_t)n);
	FUZZ_CHECK(conf_load(cfile, &conf) == 0);
	conf.login_timeout = 5;
	conf.idle_timeout = 5;
	conf.lmtp_idle_timeout = 5;
	free(conf.lmtp_temp_dir);
	FUZZ_CHECK((conf.lmtp_temp_dir = strdup(spool)) != NULL);
	free(conf.state_dir);
	FUZZ_CHECK((conf.state_dir = strdup(state)) != NULL);
	return 0;
}

/* restore: the Maildir as the fixture has it, whatever the last session
 * deleted or renamed. */
static void
restore(void)
{
	char	 path[PATH_MAX];
	size_t	 i;

	fuzz_path(path, sizeof(path), maildir, "new");
	FUZZ_CHECK(fuzz_empty_dir(path) == 0);
	fuzz_path(path, sizeof(path), maildir, "cur");
	FUZZ_CHECK(fuzz_empty_dir(path) == 0);
	for (i = 0; i < sizeof(fixture) / sizeof(fixture[0]); i++) {
		fuzz_path(path, sizeof(path), maildir, fixture[i].name);
		fuzz_write_file(path, fixture[i].text,
		    strlen(fixture[i].text));
	}
}

/* client_main: writes the input, then half-closes, reading all the while
 * so that neither side can block the other. */
static void *
client_main(void *arg)
{
	struct client	*c = arg;
	struct pollfd	 pfd;
	size_t		 sent = 0;
	ssize_t		 n;
	bool		 wrdone = false;

	for (;;) {
		if (!wrdone && sent == c->inlen) {
			(void)shutdown(c->fd, SHUT_WR);
			wrdone = true;
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN | (wrdone ? 0 : POLLOUT);
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) == -1) {
			FUZZ_CHECK(errno == EINTR);
			continue;
		}
		if (!wrdone && (pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
			n = send(c->fd, c->in + sent, c->inlen - sent,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n == -1 && errno != EAGAIN && errno != EINTR)
				wrdone = true;	/* the server is gone */
		}
		if (pfd.revents & (POLLIN | POLLERR | POLLHUP)) {
			if (c->outlen == c->outalloc) {
				c->outalloc = c->outalloc ? 2 * c->outalloc :
				    65536;
				FUZZ_CHECK((c->out = realloc(c->out,
				    c->outalloc)) != NULL);
			}
			n = recv(c->fd, c->out + c->outlen,
			    c->outalloc - c->outlen, MSG_DONTWAIT);
			if (n == 0 || (n == -1 && errno != EAGAIN &&
			    errno != EINTR))
				return NULL;
			if (n > 0)
				c->outlen += (size_t)n;
		}
	}
}

/* check_output: the replies are CRLF lines after the greeting. */
static void
check_output(const char *o, size_t len)
{
	size_t	 i;

	FUZZ_CHECK(len >= sizeof(GREETING) - 1);
	FUZZ_CHECK(memcmp(o, GREETING, sizeof(GREETING) - 1) == 0);
	FUZZ_CHECK(o[len - 2] == '\r' && o[len - 1] == '\n');
	for (i = 0; i < len; i++) {
		if (o[i] == '\n')
			FUZZ_CHECK(o[i - 1] == '\r');
		if (o[i] == '\r')
			FUZZ_CHECK(i + 1 < len && o[i + 1] == '\n');
	}
}

/* count_lines: how many reply lines start with prefix. */
static size_t
count_lines(const char *o, size_t len, const char *prefix)
{
	size_t	 i, n = 0, plen = strlen(prefix);

	for (i = 0; i < len; i++)
		if ((i == 0 || o[i - 1] == '\n') && len - i >= plen &&
		    memcmp(o + i, prefix, plen) == 0)
			n++;
	return n;
}

/* count_new: the files in the Maildir's new/. */
static size_t
count_new(void)
{
	char		 path[PATH_MAX];
	struct dirent	*d;
	DIR		*dp;
	size_t		 n = 0;

	fuzz_path(path, sizeof(path), maildir, "new");
	FUZZ_CHECK((dp = opendir(path)) != NULL);
	while ((d = readdir(dp)) != NULL)
		if (d->d_name[0] != '.')
			n++;
	closedir(dp);
	return n;
}

/* lowest_fd: the descriptor the next open() gets, to catch leaks. */
static int
lowest_fd(void)
{
	int	 fd = dup(2);

	FUZZ_CHECK(fd != -1);
	close(fd);
	return fd;
}

/* LLVMFuzzerTestOneInput: one whole LMTP session on the input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session	 s;
	struct client	 c;
	pthread_t	 t;
	uint8_t		*in;
	unsigned	 flags;
	size_t		 new0;
	int		 sv[2], bufsize = 1 << 20, fd0;

	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	if (size > INPUT_MAX)
		size = INPUT_MAX;
	restore();
	new0 = count_new();
	fd0 = lowest_fd();

	conf.lmtp_max_message_size = (flags & FLAG_SMALL) ? 1024 :
	    10 * 1024 * 1024;
	conf.max_line = (flags & FLAG_SHORTLINE) ? 64 : 512;
	conf.max_bad_commands = (flags & FLAG_FEWBAD) ? 3 : 1000;

	memset(&c, 0, sizeof(c));
	c.inlen = size + ((flags & FLAG_LOGIN) ? sizeof(LOGIN) - 1 : 0);
	FUZZ_CHECK((in = malloc(c.inlen + 1)) != NULL);
	if (flags & FLAG_LOGIN)
		memcpy(in, LOGIN, sizeof(LOGIN) - 1);
	if (size > 0)
		memcpy(in + c.inlen - size, data, size);
	c.in = in;

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsize,
	    sizeof(bufsize));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsize,
	    sizeof(bufsize));
	(void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &bufsize,
	    sizeof(bufsize));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &bufsize,
	    sizeof(bufsize));
	c.fd = sv[0];
	FUZZ_CHECK(pthread_create(&t, NULL, client_main, &c) == 0);

	memset(&s, 0, sizeof(s));
	s.conf = &conf;
	s.proto = &lmtp_protocol;
	s.fd = sv[1];
	s.loopback = (flags & FLAG_LOOPBACK) != 0;
	strlcpy(s.rip, s.loopback ? "127.0.0.1" : "192.0.2.7", sizeof(s.rip));
	strlcpy(s.lip, "127.0.0.1", sizeof(s.lip));
	s.rport = 54321;
	s.lport = 24;
	s.authq = -1;		/* logins checked here, no auth process */
	lmtp_protocol.serve(&s);
	io_free(&s.io);
	close(sv[1]);

	FUZZ_CHECK(pthread_join(t, NULL) == 0);
	close(sv[0]);
	check_output(c.out, c.outlen);
	if (count_new() - new0 != count_lines(c.out, c.outlen, "250 2.0.0 <"))
		fprintf(stderr, "fuzz_lmtp: %zu new files after:\n%.*s",
		    count_new() - new0, (int)c.outlen, c.out);
	FUZZ_CHECK(count_new() - new0 == count_lines(c.out, c.outlen,
	    "250 2.0.0 <"));
	FUZZ_CHECK(lowest_fd() == fd0);
	free(c.out);
	free(in);
	return 0;
}
