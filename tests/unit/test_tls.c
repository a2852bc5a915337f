/*
 * test_tls.c: server/tls.c's context (loading, refusing bad files,
 * reload keeping the old context) and server/io.c's TLS stream, over a
 * socketpair whose other end is a libtls client in a forked child:
 * lines, pipelining, message streaming, the orderly close, and the STLS
 * plaintext-injection case (RFC 2595 section 4, CVE-2011-0411).
 * Certificates are made with the openssl command; without it the tests
 * that need one are skipped.
 */
#include "tests/unit/unit.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "server/conf.h"
#include "server/io.h"
#include "server/limits.h"
#include "server/tls.h"

/* The scratch directory with two self-signed certificates, a and b. */
struct fixture {
	char	 dir[PATH_MAX];
	bool	 certs;		/* the openssl command made them */
	int	 seq;
};

/* What the client child does: clear is written in the clear first;
 * with wait_ok it then reads one line in the clear (the "+OK" to STLS)
 * and writes clear_after; then the TLS handshake, script written over
 * TLS at once, and everything read until the server closes goes to out
 * (unless it hangs up first). */
struct client {
	const char	*clear;
	bool		 wait_ok;
	const char	*clear_after;
	const char	*script;
	int		 hangup;	/* after script: 1 close_notify and
					   exit, 2 exit without it */
	char		 out[PATH_MAX];
	pid_t		 pid;
};

/* Exit statuses of the client child. */
#define CLIENT_OK		0
#define CLIENT_FAILED		1
#define CLIENT_NO_HANDSHAKE	2

/* path_in: dir/name into buf. */
static void
path_in(const struct fixture *fx, char *buf, size_t len, const char *name)
{
	int	 n = snprintf(buf, len, "%s/%s", fx->dir, name);

	assert_true(n > 0 && (size_t)n < len);
}

/* run_openssl: openssl req for a self-signed EC certificate; 0 or -1. */
static int
run_openssl(const char *crt, const char *key)
{
	pid_t	 pid;
	int	 status, fd;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("openssl", "openssl", "req", "-x509", "-newkey", "ec",
		    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		    "-days", "2", "-subj", "/CN=localhost", "-keyout", key,
		    "-out", crt, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

/* group_setup: the scratch directory and the certificates a and b. */
static int
group_setup(void **state)
{
	struct fixture	*fx;
	const char	*tmp = getenv("TMPDIR");
	char		 crt[PATH_MAX], key[PATH_MAX];
	const char	*names[] = { "a", "b" };
	size_t		 i;
	int		 n;

	signal(SIGPIPE, SIG_IGN);
	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	n = snprintf(fx->dir, sizeof(fx->dir), "%s/test_tls.XXXXXX", tmp);
	if (n < 0 || (size_t)n >= sizeof(fx->dir) || mkdtemp(fx->dir) ==
	    NULL) {
		free(fx);
		return -1;
	}
	fx->certs = true;
	for (i = 0; i < 2 && fx->certs; i++) {
		if ((size_t)snprintf(crt, sizeof(crt), "%s/%s.crt", fx->dir,
		    names[i]) >= sizeof(crt) || (size_t)snprintf(key,
		    sizeof(key), "%s/%s.key", fx->dir, names[i]) >=
		    sizeof(key) || run_openssl(crt, key) == -1)
			fx->certs = false;
	}
	*state = fx;
	return 0;
}

/* group_teardown: removes the scratch directory. */
static int
group_teardown(void **state)
{
	struct fixture	*fx = *state;
	struct dirent	*de;
	DIR		*d;
	int		 rv;

	tls_unload();
	if ((d = opendir(fx->dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0)
				(void)unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rv = rmdir(fx->dir);
	free(fx);
	return rv;
}

/* need_certs: skips a test when openssl could not make certificates. */
static void
need_certs(const struct fixture *fx)
{
	if (!fx->certs) {
		print_message("openssl could not make certificates\n");
		skip();
	}
}

/* mkconf: a conf with only the TLS settings: cert and key named in the
 * scratch directory ("" for none). */
static void
mkconf(struct conf *c, const struct fixture *fx, const char *cert,
    const char *key)
{
	char	 buf[PATH_MAX];

	memset(c, 0, sizeof(*c));
	c->path = strdup("test.conf");
	if (cert[0] != '\0') {
		path_in(fx, buf, sizeof(buf), cert);
		c->tls_cert = strdup(buf);
	} else
		c->tls_cert = strdup("");
	if (key[0] != '\0') {
		path_in(fx, buf, sizeof(buf), key);
		c->tls_key = strdup(buf);
	} else
		c->tls_key = strdup("");
	c->tls_ciphers = strdup("secure");
	assert_non_null(c->path);
	assert_non_null(c->tls_cert);
	assert_non_null(c->tls_key);
	assert_non_null(c->tls_ciphers);
}

/* freeconf: what mkconf allocated. */
static void
freeconf(struct conf *c)
{
	free(c->path);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_ciphers);
	memset(c, 0, sizeof(*c));
}

/* load_good: loads certificate a into the server context. */
static void
load_good(const struct fixture *fx)
{
	struct conf	 c;

	mkconf(&c, fx, "a.crt", "a.key");
	assert_int_equal(tls_load(&c), 0);
	assert_non_null(tls_context());
	freeconf(&c);
}

/* writefile: a small file in the scratch directory. */
static void
writefile(const struct fixture *fx, const char *name, const char *text)
{
	char	 path[PATH_MAX];
	FILE	*fp;

	path_in(fx, path, sizeof(path), name);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static void
test_load_good(void **state)
{
	need_certs(*state);
	load_good(*state);
	tls_unload();
	assert_null(tls_context());
}

static void
test_load_off(void **state)
{
	struct conf	 c;

	mkconf(&c, *state, "", "");
	assert_int_equal(tls_load(&c), 0);
	assert_null(tls_context());
	assert_int_equal(tls_reload(&c), 0);
	assert_null(tls_context());
	freeconf(&c);
}

static void
test_load_missing(void **state)
{
	struct conf	 c;

	mkconf(&c, *state, "nonexistent.crt", "nonexistent.key");
	assert_int_equal(tls_load(&c), -1);
	assert_null(tls_context());
	freeconf(&c);
}

static void
test_load_mismatch(void **state)
{
	struct conf	 c;

	need_certs(*state);
	mkconf(&c, *state, "a.crt", "b.key");
	assert_int_equal(tls_load(&c), -1);
	assert_null(tls_context());
	freeconf(&c);
}

static void
test_load_garbage(void **state)
{
	struct conf	 c;

	need_certs(*state);
	writefile(*state, "garbage.crt", "-----BEGIN CERTIFICATE-----\n"
	    "bm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
	mkconf(&c, *state, "garbage.crt", "a.key");
	assert_int_equal(tls_load(&c), -1);
	assert_null(tls_context());
	freeconf(&c);
}

static void
test_load_bad_ciphers(void **state)
{
	struct conf	 c;

	need_certs(*state);
	mkconf(&c, *state, "a.crt", "a.key");
	free(c.tls_ciphers);
	c.tls_ciphers = strdup("NO-SUCH-CIPHER");
	assert_int_equal(tls_load(&c), -1);
	assert_null(tls_context());
	freeconf(&c);
}

static void
test_reload(void **state)
{
	struct conf	 c;
	struct tls	*old, *now;

	need_certs(*state);
	load_good(*state);
	old = tls_context();

	/* A key that does not match: the old context stays. */
	mkconf(&c, *state, "a.crt", "b.key");
	assert_int_equal(tls_reload(&c), -1);
	assert_ptr_equal(tls_context(), old);
	freeconf(&c);

	/* A missing file: the same. */
	mkconf(&c, *state, "gone.crt", "gone.key");
	assert_int_equal(tls_reload(&c), -1);
	assert_ptr_equal(tls_context(), old);
	freeconf(&c);

	/* A good pair replaces it. */
	mkconf(&c, *state, "b.crt", "b.key");
	assert_int_equal(tls_reload(&c), 1);
	now = tls_context();
	assert_non_null(now);
	assert_ptr_not_equal(now, old);
	freeconf(&c);
	tls_unload();
}

/* child_write: writes all of len to fd; exits on failure. */
static void
child_write(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(CLIENT_FAILED);
		p += n;
		len -= (size_t)n;
	}
}

/* child_tls_write: writes all of s over TLS; exits on failure. */
static void
child_tls_write(struct tls *t, const char *s)
{
	size_t	 len = strlen(s);
	ssize_t	 n;

	while (len > 0) {
		n = tls_write(t, s, len);
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
			continue;
		if (n <= 0)
			_exit(CLIENT_FAILED);
		s += n;
		len -= (size_t)n;
	}
}

/* child_read_line: reads one line in the clear, octet by octet, so that
 * nothing after it is taken from the socket. */
static void
child_read_line(int fd, int out)
{
	char	 c;
	ssize_t	 n;

	do {
		n = read(fd, &c, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n != 1)
			_exit(CLIENT_FAILED);
		child_write(out, &c, 1);
	} while (c != '\n');
}

/* child_tls: a libtls client on fd that trusts any certificate. */
static struct tls *
child_tls(int fd)
{
	struct tls_config *cfg;
	struct tls	*t;
	int		 r;

	if ((cfg = tls_config_new()) == NULL || (t = tls_client()) == NULL)
		_exit(CLIENT_FAILED);
	tls_config_insecure_noverifycert(cfg);
	tls_config_insecure_noverifyname(cfg);
	if (tls_configure(t, cfg) == -1 ||
	    tls_connect_socket(t, fd, "localhost") == -1)
		_exit(CLIENT_FAILED);
	while ((r = tls_handshake(t)) == TLS_WANT_POLLIN ||
	    r == TLS_WANT_POLLOUT)
		;
	if (r != 0)
		_exit(CLIENT_NO_HANDSHAKE);
	return t;
}

/* client_main: the child's whole life; see struct client. */
static void __attribute__((noreturn))
client_main(const struct client *cl, int fd)
{
	char		 buf[16384];
	struct tls	*t;
	ssize_t		 n;
	int		 out;

	out = open(cl->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out == -1)
		_exit(CLIENT_FAILED);
	if (cl->clear != NULL)
		child_write(fd, cl->clear, strlen(cl->clear));
	if (cl->wait_ok)
		child_read_line(fd, out);
	if (cl->clear_after != NULL)
		child_write(fd, cl->clear_after, strlen(cl->clear_after));
	t = child_tls(fd);
	if (cl->script != NULL)
		child_tls_write(t, cl->script);
	if (cl->hangup == 1)
		(void)tls_close(t);
	if (cl->hangup != 0)
		_exit(CLIENT_OK);
	for (;;) {
		n = tls_read(t, buf, sizeof(buf));
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
			continue;
		if (n <= 0)
			break;
		child_write(out, buf, (size_t)n);
	}
	(void)tls_close(t);
	_exit(close(out) == 0 ? CLIENT_OK : CLIENT_FAILED);
}

/* client_start: forks the client on sv[1]; the parent keeps sv[0]. */
static void
client_start(struct fixture *fx, struct client *cl, int sv[2])
{
	int	 n;

	n = snprintf(cl->out, sizeof(cl->out), "%s/client.%d", fx->dir,
	    fx->seq++);
	assert_true(n > 0 && (size_t)n < sizeof(cl->out));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cl->pid = fork();
	assert_true(cl->pid != -1);
	if (cl->pid == 0) {
		close(sv[0]);
		client_main(cl, sv[1]);
	}
	close(sv[1]);
}

/* client_end: the child's exit status and what it received (freed by
 * the caller), NUL-terminated. */
static int
client_end(struct client *cl, char **got_r, size_t *len_r)
{
	struct stat	 st;
	char		*buf;
	int		 status, fd;
	ssize_t		 n;

	assert_int_equal(waitpid(cl->pid, &status, 0), cl->pid);
	assert_true(WIFEXITED(status));
	fd = open(cl->out, O_RDONLY | O_CLOEXEC);
	assert_true(fd != -1);
	assert_int_equal(fstat(fd, &st), 0);
	assert_non_null(buf = malloc((size_t)st.st_size + 1));
	n = st.st_size > 0 ? read(fd, buf, (size_t)st.st_size) : 0;
	assert_int_equal(n, st.st_size);
	buf[n] = '\0';
	close(fd);
	unlink(cl->out);
	*got_r = buf;
	if (len_r != NULL)
		*len_r = (size_t)n;
	return WEXITSTATUS(status);
}

/* getline_is: the next line must be want. */
static void
getline_is(struct io *io, const char *want)
{
	char	*line = NULL;
	ssize_t	 n;

	n = io_getline(io, &line);
	if (n < 0)
		fail_msg("io_getline: %zd, wanted \"%s\"", n, want);
	assert_string_equal(line, want);
}

/* server_io: an io on fd with TLS started, a 5 s timeout. */
static struct io *
server_io(int fd)
{
	struct io	*io;

	assert_non_null(io = io_new(fd, 512));
	io_set_timeout(io, 5);
	if (io_start_tls(io, tls_context()) == -1)
		fail_msg("io_start_tls: %s", io_tls_error(io));
	assert_true(io_is_tls(io));
	return io;
}

static void
test_tls_lines(void **state)
{
	struct client	 cl = { .script = "HELLO\r\nbare lf\nQUIT\r\n" };
	struct io	*io;
	char		*got, info[128];
	int		 sv[2];

	need_certs(*state);
	load_good(*state);
	client_start(*state, &cl, sv);
	io = server_io(sv[0]);
	io_tls_info(io, info, sizeof(info));
	assert_true(strncmp(info, "TLSv1.", 6) == 0);
	getline_is(io, "HELLO");
	assert_int_equal(io_puts(io, "+OK hello\r\n"), 0);
	getline_is(io, "bare lf");
	getline_is(io, "QUIT");
	assert_int_equal(io_printf(io, "+OK bye %d\r\n", 42), 0);
	assert_int_equal(io_flush(io), 0);
	io_free(&io);
	/* io_free closed TLS, not the descriptor. */
	assert_true(fcntl(sv[0], F_GETFD) != -1);
	close(sv[0]);
	assert_int_equal(client_end(&cl, &got, NULL), CLIENT_OK);
	assert_string_equal(got, "+OK hello\r\n+OK bye 42\r\n");
	free(got);
	tls_unload();
}

static void
test_tls_pipelining(void **state)
{
	struct client	 cl;
	struct io	*io;
	char		 script[8192], want[8192], line[32], *got;
	size_t		 sl = 0, wl = 0;
	int		 sv[2], i;

	need_certs(*state);
	load_good(*state);
	/* 300 commands in one TLS write, answered in order. */
	for (i = 0; i < 300; i++) {
		sl += (size_t)snprintf(script + sl, sizeof(script) - sl,
		    "CMD %d\r\n", i);
		wl += (size_t)snprintf(want + wl, sizeof(want) - wl,
		    "+OK %d\r\n", i);
	}
	memset(&cl, 0, sizeof(cl));
	cl.script = script;
	client_start(*state, &cl, sv);
	io = server_io(sv[0]);
	for (i = 0; i < 300; i++) {
		snprintf(line, sizeof(line), "CMD %d", i);
		getline_is(io, line);
		assert_int_equal(io_printf(io, "+OK %d\r\n", i), 0);
	}
	assert_int_equal(io_flush(io), 0);
	io_free(&io);
	close(sv[0]);
	assert_int_equal(client_end(&cl, &got, NULL), CLIENT_OK);
	assert_string_equal(got, want);
	free(got);
	tls_unload();
}

static void
test_tls_message(void **state)
{
	struct fixture	*fx = *state;
	struct client	 cl = { .script = "RETR 1\r\n" };
	struct io	*io;
	char		 path[PATH_MAX], *got, *want;
	size_t		 len, wl = 0, i;
	off_t		 octets;
	FILE		*fp;
	int		 sv[2], fd;

	need_certs(fx);
	load_good(fx);
	/* 200 KiB of text: bare LFs, lines that start with a dot. */
	path_in(fx, path, sizeof(path), "message");
	assert_non_null(fp = fopen(path, "w"));
	assert_non_null(want = malloc(400000));
	for (i = 0; i < 5000; i++) {
		if (i % 7 == 0) {
			fprintf(fp, ".dot line %zu\n", i);
			wl += (size_t)sprintf(want + wl, "..dot line %zu\r\n",
			    i);
		} else {
			fprintf(fp, "line %zu of the message text\n", i);
			wl += (size_t)sprintf(want + wl,
			    "line %zu of the message text\r\n", i);
		}
	}
	assert_int_equal(fclose(fp), 0);
	wl += (size_t)sprintf(want + wl, ".\r\n");

	client_start(fx, &cl, sv);
	io = server_io(sv[0]);
	getline_is(io, "RETR 1");
	assert_true((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	assert_int_equal(io_send_message(io, fd, -1, -1, &octets), 0);
	close(fd);
	assert_int_equal(io_flush(io), 0);
	io_free(&io);
	close(sv[0]);
	assert_int_equal(client_end(&cl, &got, &len), CLIENT_OK);
	assert_int_equal(len, wl);
	assert_memory_equal(got, want, wl);
	assert_int_equal(octets, (off_t)(wl - 3 - 5000 / 7 - 1));
	free(got);
	free(want);
	unlink(path);
	tls_unload();
}

/*
 * The STLS plaintext injection (RFC 2595 section 4, CVE-2011-0411): a
 * man in the middle appends a command to the client's STLS, in the
 * clear, in the same packet.  It is already in the io's buffer when the
 * server answers "+OK"; it must be dropped, never read as if it had come
 * over TLS.
 */
static void
test_stls_injection(void **state)
{
	struct client	 cl = {
		.clear = "STLS\r\nUSER evil\r\nPASS evil\r\n",
		.wait_ok = true,
		.script = "NOOP\r\n",
	};
	struct io	*io;
	char		*got;
	int		 sv[2];

	need_certs(*state);
	load_good(*state);
	client_start(*state, &cl, sv);
	assert_non_null(io = io_new(sv[0], 512));
	io_set_timeout(io, 5);
	getline_is(io, "STLS");
	assert_int_equal(io_pending(io), strlen("USER evil\r\nPASS evil\r\n"));
	assert_int_equal(io_puts(io, "+OK Begin TLS negotiation\r\n"), 0);
	if (io_start_tls(io, tls_context()) == -1)
		fail_msg("io_start_tls: %s", io_tls_error(io));
	assert_int_equal(io_pending(io), 0);
	/* The first line read after the handshake came over TLS. */
	getline_is(io, "NOOP");
	assert_int_equal(io_puts(io, "+OK\r\n"), 0);
	assert_int_equal(io_flush(io), 0);
	io_free(&io);
	close(sv[0]);
	assert_int_equal(client_end(&cl, &got, NULL), CLIENT_OK);
	assert_string_equal(got, "+OK Begin TLS negotiation\r\n+OK\r\n");
	free(got);
	tls_unload();
}

/* Clear text that arrives after the "+OK" and before the handshake is
 * no ClientHello: the handshake fails, and nothing more goes through the
 * io, in the clear or otherwise. */
static void
test_stls_garbage(void **state)
{
	struct client	 cl = {
		.clear = "STLS\r\n",
		.wait_ok = true,
		.clear_after = "USER evil\r\nPASS evil\r\n",
	};
	struct io	*io;
	char		*got, *line;
	int		 sv[2];

	need_certs(*state);
	load_good(*state);
	client_start(*state, &cl, sv);
	assert_non_null(io = io_new(sv[0], 512));
	io_set_timeout(io, 5);
	getline_is(io, "STLS");
	assert_int_equal(io_puts(io, "+OK Begin TLS negotiation\r\n"), 0);
	assert_int_equal(io_start_tls(io, tls_context()), -1);
	assert_false(io_is_tls(io));
	assert_true(strstr(io_tls_error(io), "handshake") != NULL);
	assert_int_equal(io_getline(io, &line), IO_ERROR);
	assert_int_equal(io_puts(io, "-ERR in the clear\r\n"), 0);
	assert_int_equal(io_flush(io), -1);
	assert_int_equal(io_start_tls(io, tls_context()), -1);
	io_free(&io);
	close(sv[0]);
	assert_int_equal(client_end(&cl, &got, NULL), CLIENT_NO_HANDSHAKE);
	assert_string_equal(got, "+OK Begin TLS negotiation\r\n");
	free(got);
	tls_unload();
}

/* A client that never starts the handshake: it fails within the io's
 * timeout. */
static void
test_handshake_timeout(void **state)
{
	struct io	*io;
	int		 sv[2];

	need_certs(*state);
	load_good(*state);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_non_null(io = io_new(sv[0], 512));
	io_set_timeout(io, 1);
	assert_int_equal(io_start_tls(io, tls_context()), -1);
	assert_string_equal(io_tls_error(io), "handshake: timed out");
	io_free(&io);
	close(sv[0]);
	close(sv[1]);
	tls_unload();
}

/* TLS started twice on one io is refused, and the stream goes on. */
static void
test_start_twice(void **state)
{
	struct client	 cl = { .script = "ONE\r\n" };
	struct io	*io;
	char		*got;
	int		 sv[2];

	need_certs(*state);
	load_good(*state);
	client_start(*state, &cl, sv);
	io = server_io(sv[0]);
	assert_int_equal(io_start_tls(io, tls_context()), -1);
	assert_true(io_is_tls(io));
	getline_is(io, "ONE");
	assert_int_equal(io_puts(io, "+OK\r\n"), 0);
	assert_int_equal(io_flush(io), 0);
	assert_int_equal(io_close_tls(io), 0);
	assert_false(io_is_tls(io));
	assert_int_equal(io_puts(io, "after close\r\n"), 0);
	assert_int_equal(io_flush(io), -1);
	io_free(&io);
	close(sv[0]);
	assert_int_equal(client_end(&cl, &got, NULL), CLIENT_OK);
	assert_string_equal(got, "+OK\r\n");
	free(got);
	tls_unload();
}

/* peer_closes: the client sends a line and a partial one and hangs up
 * as hangup says: the server reads the line, then EOF. */
static void
peer_closes(void **state, int hangup)
{
	struct client	 cl = {
		.script = "LAST\r\npartial line without end",
		.hangup = hangup,
	};
	struct io	*io;
	char		*got, *line;
	int		 sv[2];

	need_certs(*state);
	load_good(*state);
	client_start(*state, &cl, sv);
	io = server_io(sv[0]);
	getline_is(io, "LAST");
	assert_int_equal(io_getline(io, &line), IO_EOF);
	assert_int_equal(io_getline(io, &line), IO_EOF);
	io_free(&io);
	close(sv[0]);
	assert_int_equal(client_end(&cl, &got, NULL), CLIENT_OK);
	free(got);
	tls_unload();
}

/* With a close_notify. */
static void
test_peer_closes(void **state)
{
	peer_closes(state, 1);
}

/* Without one: a client that just closes its socket. */
static void
test_peer_drops(void **state)
{
	peer_closes(state, 2);
}

/* session_child: plays the process a privilege-separated login hands
 * the session to, on fd: answers each line "+OK line" and, to "BIG",
 * 300000 octets; to "QUIT" it answers and hangs up. */
static void __attribute__((noreturn))
session_child(int fd)
{
	FILE	*in, *out;
	char	 line[256];
	int	 i;

	if ((in = fdopen(fd, "r")) == NULL ||
	    (out = fdopen(dup(fd), "w")) == NULL)
		_exit(CLIENT_FAILED);
	while (fgets(line, sizeof(line), in) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		fprintf(out, "+OK %s\r\n", line);
		if (strcmp(line, "BIG") == 0)
			for (i = 0; i < 10000; i++)
				fprintf(out, "%029d\n", i);
		if (strcmp(line, "QUIT") == 0)
			break;
		fflush(out);
	}
	_exit(fclose(out) == 0 ? CLIENT_OK : CLIENT_FAILED);
}

/* io_relay carries a TLS session to another process and back, a reply
 * of many TLS records included, until that process hangs up. */
static void
test_relay(void **state)
{
	struct client	 cl = { .script = "ONE\r\nBIG\r\nQUIT\r\n" };
	struct io	*io;
	char		*got, *want, *p;
	size_t		 len;
	pid_t		 pid;
	int		 sv[2], lp[2], status, i;

	need_certs(*state);
	load_good(*state);
	client_start(*state, &cl, sv);
	io = server_io(sv[0]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, lp), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(lp[0]);
		close(sv[0]);
		session_child(lp[1]);
	}
	close(lp[1]);
	assert_int_equal(io_relay(io, lp[0]), 0);
	close(lp[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == CLIENT_OK);
	io_free(&io);
	close(sv[0]);
	assert_int_equal(client_end(&cl, &got, &len), CLIENT_OK);
	assert_non_null(want = malloc(400000));
	p = want + sprintf(want, "+OK ONE\r\n+OK BIG\r\n");
	for (i = 0; i < 10000; i++)
		p += sprintf(p, "%029d\n", i);
	p += sprintf(p, "+OK QUIT\r\n");
	assert_int_equal(len, (size_t)(p - want));
	assert_memory_equal(got, want, len);
	free(want);
	free(got);
	tls_unload();
}

/* With input still buffered, io_relay refuses: it would be lost. */
static void
test_relay_pending(void **state)
{
	struct client	 cl = { .script = "ONE\r\nTWO\r\n", .hangup = 1 };
	struct io	*io;
	char		*got;
	int		 sv[2], lp[2];

	need_certs(*state);
	load_good(*state);
	client_start(*state, &cl, sv);
	io = server_io(sv[0]);
	getline_is(io, "ONE");
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, lp), 0);
	/* One TLS record brought both lines. */
	assert_int_equal(io_pending(io), strlen("TWO\r\n"));
	assert_int_equal(io_relay(io, lp[0]), -1);
	close(lp[0]);
	close(lp[1]);
	io_free(&io);
	close(sv[0]);
	assert_int_equal(client_end(&cl, &got, NULL), CLIENT_OK);
	free(got);
	tls_unload();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_good),
		cmocka_unit_test(test_load_off),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_load_mismatch),
		cmocka_unit_test(test_load_garbage),
		cmocka_unit_test(test_load_bad_ciphers),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_tls_lines),
		cmocka_unit_test(test_tls_pipelining),
		cmocka_unit_test(test_tls_message),
		cmocka_unit_test(test_stls_injection),
		cmocka_unit_test(test_stls_garbage),
		cmocka_unit_test(test_handshake_timeout),
		cmocka_unit_test(test_start_twice),
		cmocka_unit_test(test_peer_closes),
		cmocka_unit_test(test_peer_drops),
		cmocka_unit_test(test_relay),
		cmocka_unit_test(test_relay_pending),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
