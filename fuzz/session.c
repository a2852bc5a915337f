/*
 * session.c: the session harnesses' fixture (session.h): the account, its
 * Maildir and configuration, the client thread that feeds a session and
 * drains its replies, and the checks on those replies.  It also replaces
 * crypt(3) for every harness that links it.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_CRYPT_H
#include <crypt.h>
#endif

#include "fuzz/common.h"
#include "fuzz/session.h"
#include "protocols/protocol.h"
#include "server/io.h"
#include "server/session.h"

/* The account's Maildir before every session: lone dots, no final
 * newline, a CRLF message with its sizes in its name, an empty message,
 * a name too long to be a UIDL, flags. */
static const struct fuzz_file fixture[] = {
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

/* What the client thread sends and receives. */
struct client {
	int		 fd;
	const uint8_t	*in;
	size_t		 inlen;
	struct fuzz_replies *r;
	size_t		 alloc;
};

/*
 * crypt(3), replaced: the account's password is {PLAIN}, so crypt runs
 * only in password_waste(), which spends a yescrypt's 50 ms (and 16 MiB)
 * on every unknown user on purpose, and would take nearly all of the
 * fuzzer's time.  The stub answers with the setting, as a hash of the
 * right scheme would start.
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

/* fuzz_mkmaildir: dir/name with new/, cur/ and tmp/. */
void
fuzz_mkmaildir(const char *dir, const char *name, char *out, size_t outlen)
{
	static const char *const subs[] = { "new", "cur", "tmp" };
	char	 path[PATH_MAX];
	size_t	 i;

	fuzz_path(out, outlen, dir, name);
	FUZZ_CHECK(mkdir(out, 0700) == 0);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		fuzz_path(path, sizeof(path), out, subs[i]);
		FUZZ_CHECK(mkdir(path, 0700) == 0);
	}
}

/* fuzz_fill_maildir: new/ and cur/ emptied, then the files written. */
void
fuzz_fill_maildir(const char *path, const struct fuzz_file *files, size_t n)
{
	char	 p[PATH_MAX];
	size_t	 i;

	fuzz_path(p, sizeof(p), path, "new");
	FUZZ_CHECK(fuzz_empty_dir(p) == 0);
	fuzz_path(p, sizeof(p), path, "cur");
	FUZZ_CHECK(fuzz_empty_dir(p) == 0);
	for (i = 0; i < n; i++) {
		fuzz_path(p, sizeof(p), path, files[i].name);
		fuzz_write_file(p, files[i].text, strlen(files[i].text));
	}
}

/* write_passwd: the passwd-file, the account "fuzz" running as this
 * process and one other that has no home. */
static void
write_passwd(const struct fuzz_session *fs)
{
	char	 text[2 * PATH_MAX];
	int	 n;

	n = snprintf(text, sizeof(text), "# fuzz\nfuzz:{PLAIN}%s:%ld:%ld::%s"
	    "::\nother:{PLAIN}x::::/nonexistent::\n", fs->password,
	    (long)geteuid(), (long)getegid(), fs->home);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(text));
	fuzz_write_file(fs->passwd, text, (size_t)n);
}

/* fuzz_session_init: the account, its Maildir and the configuration. */
void
fuzz_session_init(struct fuzz_session *fs, const struct protocol *proto,
    const char *password, int *argc, char ***argv)
{
	char	 path[PATH_MAX], text[2 * PATH_MAX + 256];
	int	 n;

#ifdef HAVE_LIBBSD
	/* The session sets its process title, as posternd's workers do. */
	setproctitle_init(*argc, *argv, environ);
#endif
	(void)snprintf(fs->ident, sizeof(fs->ident), "fuzz_%s", proto->name);
	fuzz_init(fs->ident);
	if (geteuid() == 0)
		fprintf(stderr, "%s: running as root, where the account has "
		    "uid 0, which Postern never logs in or delivers to: only "
		    "refusals are fuzzed.  Run as an unprivileged user (make "
		    "fuzz does).\n", fs->ident);
	fs->proto = proto;
	fs->password = password;
	fs->dir = fuzz_tempdir(proto->name);
	fuzz_path(fs->home, sizeof(fs->home), fs->dir, "home");
	FUZZ_CHECK(mkdir(fs->home, 0700) == 0);
	fuzz_mkmaildir(fs->home, "Maildir", fs->maildir, sizeof(fs->maildir));
	fuzz_path(fs->passwd, sizeof(fs->passwd), fs->dir, "passwd");
	write_passwd(fs);

	/* The configuration as posternd reads it, defaults and all, then
	 * short timeouts no postern.conf may have. */
	fuzz_path(path, sizeof(path), fs->dir, "postern.conf");
	n = snprintf(text, sizeof(text), "passwd_file = \"%s\"\n"
	    "hostname = \"fuzz.example\"\npidfile = \"\"\n"
	    "auth_fail_delay = 0\nlisten { protocol = \"%s\" "
	    "address = \"127.0.0.1\" port = 0 }\n", fs->passwd, proto->name);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(text));
	fuzz_write_file(path, text, (size_t)n);
	FUZZ_CHECK(conf_load(path, &fs->conf) == 0);
	fs->conf.login_timeout = 5;
	fs->conf.idle_timeout = 5;
	fs->conf.lmtp_idle_timeout = 5;
	fuzz_path(path, sizeof(path), fs->dir, "state");
	FUZZ_CHECK(mkdir(path, 0700) == 0);
	free(fs->conf.state_dir);
	FUZZ_CHECK((fs->conf.state_dir = strdup(path)) != NULL);
	/* Deliveries (LMTP, a PAPM push) spool here, not in /tmp. */
	fuzz_path(path, sizeof(path), fs->dir, "spool");
	FUZZ_CHECK(mkdir(path, 0700) == 0);
	free(fs->conf.lmtp_temp_dir);
	FUZZ_CHECK((fs->conf.lmtp_temp_dir = strdup(path)) != NULL);
}

/* fuzz_session_restore: the fixture's Maildir and passwd-file. */
void
fuzz_session_restore(const struct fuzz_session *fs)
{
	fuzz_fill_maildir(fs->maildir, fixture,
	    sizeof(fixture) / sizeof(fixture[0]));
	write_passwd(fs);
}

/* receive: reads what the server sent; false once it has closed. */
static bool
receive(struct client *c)
{
	struct fuzz_replies *r = c->r;
	ssize_t		 n;

	if (r->len == c->alloc) {
		c->alloc = c->alloc ? 2 * c->alloc : 65536;
		FUZZ_CHECK((r->out = realloc(r->out, c->alloc)) != NULL);
	}
	n = recv(c->fd, r->out + r->len, c->alloc - r->len, MSG_DONTWAIT);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
		return false;
	if (n > 0)
		r->len += (size_t)n;
	return true;
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
		if ((pfd.revents & (POLLIN | POLLERR | POLLHUP)) &&
		    !receive(c))
			return NULL;
	}
}

/* socket_pair: a socketpair with room for a whole input and its replies
 * in flight. */
static void
socket_pair(int sv[2])
{
	int	 bufsize = 1 << 20, i;

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	for (i = 0; i < 2; i++) {
		(void)setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &bufsize,
		    sizeof(bufsize));
		(void)setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &bufsize,
		    sizeof(bufsize));
	}
}

/* fuzz_session_run: one whole session on the input. */
void
fuzz_session_run(struct fuzz_session *fs, unsigned flags, const char *login,
    const uint8_t *data, size_t size, struct fuzz_replies *r)
{
	struct session	 s;
	struct client	 c;
	pthread_t	 t;
	uint8_t		*in;
	size_t		 llen = (flags & FS_LOGIN) ? strlen(login) : 0;
	int		 sv[2], fd0;

	if (size > FS_INPUT_MAX)
		size = FS_INPUT_MAX;
	fd0 = fuzz_lowest_fd();
	fs->conf.plaintext_auth = (flags & FS_LOGIN) ? PLAINTEXT_ALWAYS :
	    (flags & FS_NEVER) ? PLAINTEXT_NEVER : PLAINTEXT_LOOPBACK;
	fs->conf.max_line = (flags & FS_SHORTLINE) ? 64 : 512;
	fs->conf.max_bad_commands = (flags & FS_FEWBAD) ? 3 : 1000;

	/* One octet more than needed, so that an empty input is no NULL. */
	FUZZ_CHECK((in = malloc(llen + size + 1)) != NULL);
	memcpy(in, login, llen);
	if (size > 0)
		memcpy(in + llen, data, size);
	memset(&c, 0, sizeof(c));
	memset(r, 0, sizeof(*r));
	c.in = in;
	c.inlen = llen + size;
	c.r = r;
	socket_pair(sv);
	c.fd = sv[0];
	FUZZ_CHECK(pthread_create(&t, NULL, client_main, &c) == 0);

	memset(&s, 0, sizeof(s));
	s.conf = &fs->conf;
	s.proto = fs->proto;
	s.fd = sv[1];
	s.loopback = (flags & FS_LOOPBACK) != 0;
	strlcpy(s.rip, s.loopback ? "127.0.0.1" : "192.0.2.7", sizeof(s.rip));
	strlcpy(s.lip, "127.0.0.1", sizeof(s.lip));
	s.rport = 54321;
	s.lport = fs->proto->default_port;
	s.authq = -1;		/* logins checked here, no auth process */
	fs->proto->serve(&s);
	io_free(&s.io);
	close(sv[1]);

	FUZZ_CHECK(pthread_join(t, NULL) == 0);
	close(sv[0]);
	free(in);
	FUZZ_CHECK(fuzz_lowest_fd() == fd0);
}

/* fuzz_check_lines: the greeting first, then CRLF lines. */
void
fuzz_check_lines(const struct fuzz_replies *r, const char *greeting,
    bool lone_cr)
{
	const char	*o = r->out;
	size_t		 glen = strlen(greeting), i;

	FUZZ_CHECK(r->len >= glen);
	FUZZ_CHECK(memcmp(o, greeting, glen) == 0);
	FUZZ_CHECK(o[r->len - 2] == '\r' && o[r->len - 1] == '\n');
	for (i = 0; i < r->len; i++) {
		if (o[i] == '\n')
			FUZZ_CHECK(o[i - 1] == '\r');
		if (o[i] == '\r' && !lone_cr)
			FUZZ_CHECK(i + 1 < r->len && o[i + 1] == '\n');
	}
}

/* fuzz_session_test: restore, run, check. */
int
fuzz_session_test(struct fuzz_session *fs, const uint8_t *data, size_t size,
    const char *login, const char *greeting, bool lone_cr)
{
	struct fuzz_replies	 r;

	if (size < 1)
		return 0;
	fuzz_session_restore(fs);
	fuzz_session_run(fs, data[0], login, data + 1, size - 1, &r);
	fuzz_check_lines(&r, greeting, lone_cr);
	free(r.out);
	return 0;
}
