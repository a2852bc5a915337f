/*
 * test_io.c: the line reader and reply writer of protocols/io.c, over a
 * socketpair whose peer end the test drives (pre-written, or from a
 * forked child), and message streaming checked against a byte-by-byte
 * reference transformation.
 */
#include "tests/unit/unit.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <netinet/in.h>
#ifdef __linux__
#include <linux/tcp.h>		/* tcp_info with tcpi_segs_out */
#else
#include <netinet/tcp.h>
#endif
#include <arpa/inet.h>

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
#include <time.h>
#include <unistd.h>

#include "server/io.h"
#include "server/limits.h"
#include "tests/unit/fixture.h"

/* The test's scratch directory, the group state. */
struct scratch {
	char	 dir[PATH_MAX];
	int	 seq;
};

/* A child that reads the peer end to EOF into a file. */
struct collector {
	pid_t	 pid;
	char	 path[PATH_MAX];
};

/* group_setup: makes the scratch directory. */
static int
group_setup(void **state)
{
	struct scratch	*fx;
	const char	*tmp = getenv("TMPDIR");

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(fx->dir, sizeof(fx->dir), "%s/test_io.XXXXXX",
	    tmp) >= sizeof(fx->dir) || mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

/* group_teardown: removes the scratch directory and whatever a failed
 * test left in it. */
static int
group_teardown(void **state)
{
	struct scratch	*fx = *state;
	struct dirent	*de;
	DIR		*d;
	int		 rv;

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

/* mkpair: a connected stream socketpair with roomy buffers. */
static void
mkpair(int sv[2])
{
	int	 size = 512 * 1024;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

/* put_all: writes all of buf to fd. */
static void
put_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* puts0: writes a string to fd. */
static void
puts0(int fd, const char *s)
{
	put_all(fd, s, strlen(s));
}

/* child_put: put for a forked child, which exits 1 on failure. */
static void
child_put(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(1);
		p += n;
		len -= (size_t)n;
	}
}

/* writer: forks a child that writes data to fd in pieces of piece
 * octets, pausing pause_us between them, then closes fd.  The parent
 * closes its own copy of fd and must reap the child. */
static pid_t
writer(int fd, int other, const char *data, size_t len, size_t piece,
    useconds_t pause_us)
{
	pid_t	 pid;
	size_t	 n;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(other);
		while (len > 0) {
			n = len < piece ? len : piece;
			child_put(fd, data, n);
			data += n;
			len -= n;
			if (len > 0 && pause_us > 0)
				usleep(pause_us);
		}
		close(fd);
		_exit(0);
	}
	close(fd);
	return pid;
}

/* reap: waits for a child and checks that it succeeded. */
static void
reap(pid_t pid)
{
	int	 status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* tmpname: a fresh file name in the scratch directory. */
static void
tmpname(struct scratch *fx, char *buf, size_t size, const char *what)
{
	int	 n;

	n = snprintf(buf, size, "%s/%s.%d", fx->dir, what, fx->seq++);
	assert_true(n > 0 && (size_t)n < size);
}

/* collect_start: forks a child reading fd to EOF into a file; other is
 * the io's end, which the child closes.  The parent closes fd. */
static void
collect_start(struct scratch *fx, struct collector *c, int fd, int other)
{
	char	 buf[65536];
	ssize_t	 n;
	int	 out;

	tmpname(fx, c->path, sizeof(c->path), "collect");
	c->pid = fork();
	assert_true(c->pid != -1);
	if (c->pid == 0) {
		close(other);
		out = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
		if (out == -1)
			_exit(1);
		for (;;) {
			n = read(fd, buf, sizeof(buf));
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1)
				_exit(1);
			if (n == 0)
				break;
			child_put(out, buf, (size_t)n);
		}
		_exit(close(out) == 0 ? 0 : 1);
	}
	close(fd);
}

/* slurp: the whole contents of a file, which is then removed. */
static char *
slurp(const char *path, size_t *len_r)
{
	struct stat	 st;
	char		*buf;
	size_t		 got = 0;
	ssize_t		 n;
	int		 fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd != -1);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	close(fd);
	assert_int_equal(unlink(path), 0);
	*len_r = got;
	return buf;
}

/* collect_end: reaps the collector and returns what it read. */
static char *
collect_end(struct collector *c, size_t *len_r)
{
	reap(c->pid);
	return slurp(c->path, len_r);
}

/* getline_is: the next line must be want. */
static void
getline_is(struct io *io, const char *want)
{
	char	*line = NULL;
	ssize_t	 n;

	n = io_getline(io, &line);
	assert_int_equal(n, (ssize_t)strlen(want));
	assert_non_null(line);
	assert_string_equal(line, want);
}

/* getline_fails: the next io_getline must return code. */
static void
getline_fails(struct io *io, ssize_t code)
{
	char	*line;

	assert_int_equal(io_getline(io, &line), code);
}

/* nothing_arrived: the peer has nothing to read yet. */
static void
nothing_arrived(int fd)
{
	char	 c;

	assert_int_equal(recv(fd, &c, 1, MSG_DONTWAIT), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

/* now_ms: the monotonic clock in milliseconds. */
static long long
now_ms(void)
{
	struct timespec	 ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* reader: an io on sv[0] with a safety timeout. */
static struct io *
reader(int fd, size_t max_line)
{
	struct io	*io;

	io = io_new(fd, max_line);
	assert_non_null(io);
	io_set_timeout(io, 10);
	return io;
}

/* CRLF lines come back without their CRLF. */
static void
test_crlf_lines(void **state)
{
	struct io	*io;
	int		 sv[2];

	mkpair(sv);
	puts0(sv[1], "USER alice\r\nPASS secret word\r\nQUIT\r\n");
	close(sv[1]);
	io = reader(sv[0], LINE_DEFAULT);
	getline_is(io, "USER alice");
	getline_is(io, "PASS secret word");
	getline_is(io, "QUIT");
	getline_fails(io, IO_EOF);
	io_free(&io);
	assert_null(io);
	close(sv[0]);
}

/* Bare LF lines, empty lines included. */
static void
test_lf_lines(void **state)
{
	struct io	*io;
	int		 sv[2];

	mkpair(sv);
	puts0(sv[1], "STAT\nLIST 1\n\nNOOP\n");
	close(sv[1]);
	io = reader(sv[0], LINE_DEFAULT);
	getline_is(io, "STAT");
	getline_is(io, "LIST 1");
	getline_is(io, "");
	getline_is(io, "NOOP");
	getline_fails(io, IO_EOF);
	io_free(&io);
	close(sv[0]);
}

/* CRLF and LF mixed; only one CR before the LF is stripped. */
static void
test_mixed_lines(void **state)
{
	struct io	*io;
	int		 sv[2];

	mkpair(sv);
	puts0(sv[1], "one\r\ntwo\nthree\r\n\r\n\na\rb\r\nx\r\r\n\rlead\n");
	close(sv[1]);
	io = reader(sv[0], LINE_DEFAULT);
	getline_is(io, "one");
	getline_is(io, "two");
	getline_is(io, "three");
	getline_is(io, "");
	getline_is(io, "");
	getline_is(io, "a\rb");
	getline_is(io, "x\r");
	getline_is(io, "\rlead");
	getline_fails(io, IO_EOF);
	io_free(&io);
	close(sv[0]);
}

/* Lines sent in one write come back one by one; io_pending counts the
 * rest. */
static void
test_pipelined(void **state)
{
	const char	*cmds = "CAPA\r\nUSER a\r\nPASS b\r\nSTAT\r\nUIDL\r\n"
			    "LIST\r\nRETR 1\r\nDELE 1\r\nQUIT\r\nPART";
	char		 want[16];
	struct io	*io;
	int		 sv[2];

	mkpair(sv);
	puts0(sv[1], cmds);
	io = reader(sv[0], LINE_DEFAULT);
	assert_int_equal(io_pending(io), 0);
	getline_is(io, "CAPA");
	assert_int_equal(io_pending(io), strlen(cmds) - 6);
	getline_is(io, "USER a");
	getline_is(io, "PASS b");
	getline_is(io, "STAT");
	getline_is(io, "UIDL");
	getline_is(io, "LIST");
	getline_is(io, "RETR 1");
	getline_is(io, "DELE 1");
	getline_is(io, "QUIT");
	assert_int_equal(io_pending(io), 4);
	puts0(sv[1], "IAL\r\n");
	strlcpy(want, "PARTIAL", sizeof(want));
	getline_is(io, want);
	assert_int_equal(io_pending(io), 0);
	close(sv[1]);
	getline_fails(io, IO_EOF);
	io_free(&io);
	close(sv[0]);
}

/* NUL octets inside a line are kept; the length tells. */
static void
test_nul_in_line(void **state)
{
	struct io	*io;
	char		*line;
	int		 sv[2];

	mkpair(sv);
	put_all(sv[1], "a\0b\r\nok\r\n", 9);
	close(sv[1]);
	io = reader(sv[0], LINE_DEFAULT);
	assert_int_equal(io_getline(io, &line), 3);
	assert_memory_equal(line, "a\0b", 4);
	getline_is(io, "ok");
	io_free(&io);
	close(sv[0]);
}

/* mkline: n copies of c followed by tail, in buf. */
static char *
mkline(char *buf, size_t size, char c, size_t n, const char *tail)
{
	assert_true(n + strlen(tail) < size);
	memset(buf, c, n);
	strlcpy(buf + n, tail, size - n);
	return buf;
}

/* A line of exactly max_line octets is taken, one more is not, and the
 * line after an over-long one is read. */
static void
test_max_line(void **state)
{
	char		 buf[256], want[256];
	struct io	*io;
	int		 sv[2];

	mkpair(sv);
	io = reader(sv[0], 64);
	puts0(sv[1], mkline(buf, sizeof(buf), 'x', 64, "\r\n"));
	getline_is(io, mkline(want, sizeof(want), 'x', 64, ""));
	puts0(sv[1], mkline(buf, sizeof(buf), 'y', 64, "\n"));
	getline_is(io, mkline(want, sizeof(want), 'y', 64, ""));
	puts0(sv[1], mkline(buf, sizeof(buf), 'z', 65, "\r\nNEXT\r\n"));
	getline_fails(io, IO_TOOLONG);
	getline_is(io, "NEXT");
	puts0(sv[1], mkline(buf, sizeof(buf), 'z', 65, "\nNEXT2\n"));
	getline_fails(io, IO_TOOLONG);
	getline_is(io, "NEXT2");
	/* max_line octets and a CR that is content, not the line end. */
	puts0(sv[1], mkline(buf, sizeof(buf), 'w', 64, "\rw\nNEXT3\r\n"));
	getline_fails(io, IO_TOOLONG);
	getline_is(io, "NEXT3");
	/* Far over, with its LF in the same read. */
	puts0(sv[1], mkline(buf, sizeof(buf), 'v', 200, "\r\nNEXT4\r\n"));
	getline_fails(io, IO_TOOLONG);
	getline_is(io, "NEXT4");
	close(sv[1]);
	getline_fails(io, IO_EOF);
	io_free(&io);
	close(sv[0]);
}

/* A line of max_line octets whose CR and LF arrive in separate reads
 * is taken; one whose CR is followed by more text is not. */
static void
test_max_line_split_crlf(void **state)
{
	char		 buf[256], want[256];
	struct io	*io;
	int		 sv[2];

	mkpair(sv);
	io = reader(sv[0], 64);
	puts0(sv[1], mkline(buf, sizeof(buf), 'x', 64, "\r"));
	io_set_timeout(io, 1);
	getline_fails(io, IO_TIMEOUT);
	io_set_timeout(io, 10);
	puts0(sv[1], "\nafter\r\n");
	getline_is(io, mkline(want, sizeof(want), 'x', 64, ""));
	getline_is(io, "after");
	puts0(sv[1], mkline(buf, sizeof(buf), 'y', 64, "\r"));
	io_set_timeout(io, 1);
	getline_fails(io, IO_TIMEOUT);
	io_set_timeout(io, 10);
	puts0(sv[1], "y\r\nlast\r\n");
	getline_fails(io, IO_TOOLONG);
	getline_is(io, "last");
	io_free(&io);
	close(sv[0]);
	close(sv[1]);
}

/* An over-long line that arrives in many reads gives IO_TOOLONG once. */
static void
test_toolong_spanning(void **state)
{
	char		 data[600];
	struct io	*io;
	pid_t		 pid;
	int		 sv[2];

	mkpair(sv);
	mkline(data, sizeof(data), 'q', 500, "\r\nafter\r\nmore\n");
	pid = writer(sv[1], sv[0], data, strlen(data), 20, 5000);
	io = reader(sv[0], 64);
	getline_fails(io, IO_TOOLONG);
	getline_is(io, "after");
	getline_is(io, "more");
	getline_fails(io, IO_EOF);
	reap(pid);
	io_free(&io);
	close(sv[0]);
}

/* A line megabytes long is skipped without being stored. */
static void
test_toolong_megabytes(void **state)
{
	const size_t	 big = 6 * 1024 * 1024;
	const char	*tail = "\r\nafter\r\n";
	char		*data;
	struct io	*io;
	pid_t		 pid;
	int		 sv[2];

	data = malloc(big + strlen(tail));
	assert_non_null(data);
	memset(data, 'm', big);
	memcpy(data + big, tail, strlen(tail));
	/* A CR deep inside must not end the line. */
	data[big / 2] = '\r';
	mkpair(sv);
	pid = writer(sv[1], sv[0], data, big + strlen(tail), 100000, 0);
	free(data);
	io = reader(sv[0], LINE_DEFAULT);
	getline_fails(io, IO_TOOLONG);
	getline_is(io, "after");
	getline_fails(io, IO_EOF);
	reap(pid);
	io_free(&io);
	close(sv[0]);
}

/* The peer closing gives IO_EOF, again and again. */
static void
test_eof(void **state)
{
	struct io	*io;
	int		 sv[2];

	mkpair(sv);
	close(sv[1]);
	io = reader(sv[0], LINE_DEFAULT);
	getline_fails(io, IO_EOF);
	getline_fails(io, IO_EOF);
	io_free(&io);
	close(sv[0]);
}

/* A partial line before EOF is dropped. */
static void
test_eof_partial(void **state)
{
	struct io	*io;
	int		 sv[2];

	mkpair(sv);
	puts0(sv[1], "NOOP\r\nQUI");
	close(sv[1]);
	io = reader(sv[0], LINE_DEFAULT);
	getline_is(io, "NOOP");
	getline_fails(io, IO_EOF);
	assert_int_equal(io_pending(io), 0);
	io_free(&io);
	close(sv[0]);

	mkpair(sv);
	puts0(sv[1], "QUIT\r");
	close(sv[1]);
	io = reader(sv[0], LINE_DEFAULT);
	getline_fails(io, IO_EOF);
	io_free(&io);
	close(sv[0]);
}

/* Nothing sent: IO_TIMEOUT after about the timeout. */
static void
test_timeout(void **state)
{
	struct io	*io;
	long long	 t0, ms;
	int		 sv[2];

	mkpair(sv);
	io = io_new(sv[0], LINE_DEFAULT);
	assert_non_null(io);
	io_set_timeout(io, 1);
	t0 = now_ms();
	getline_fails(io, IO_TIMEOUT);
	ms = now_ms() - t0;
	assert_true(ms >= 950);
	assert_true(ms < 2500);
	/* A partial line does not stop the clock either. */
	puts0(sv[1], "NO");
	t0 = now_ms();
	getline_fails(io, IO_TIMEOUT);
	ms = now_ms() - t0;
	assert_true(ms >= 950 && ms < 2500);
	puts0(sv[1], "OP\r\n");
	getline_is(io, "NOOP");
	io_free(&io);
	close(sv[0]);
	close(sv[1]);
}

/* late_line: a child that writes text to fd after ms milliseconds;
 * its pid. */
static pid_t
late_line(int fd, int ms, const char *text)
{
	pid_t	 pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		usleep((useconds_t)ms * 1000);
		_exit(write(fd, text, strlen(text)) == (ssize_t)strlen(text) ?
		    0 : 1);
	}
	return pid;
}

/* reaped: the late writer's exit status was 0. */
static void
reaped(pid_t pid)
{
	int	 status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* rcvtimeo_ms: the socket's receive timeout, in milliseconds. */
static long
rcvtimeo_ms(int fd)
{
	struct timeval	 tv;
	socklen_t	 len = sizeof(tv);

	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len),
	    0);
	return (long)tv.tv_sec * 1000 + (long)tv.tv_usec / 1000;
}

/*
 * A read waits in read(2) itself, the socket's receive timeout set to
 * the io's: one shorter already on the socket (as a connection inherits
 * its listener's) neither ends the wait early nor stays; a socket that
 * does not block, and a pipe, wait in poll(2); every one of them gets
 * its line late, and IO_TIMEOUT only after the io's timeout.
 */
static void
test_read_waits(void **state)
{
	struct timeval	 tv = { 0, 100 * 1000 };
	struct io	*io;
	long long	 t0, ms;
	pid_t		 pid;
	int		 sv[2], i;

	for (i = 0; i < 3; i++) {
		if (i < 2)
			mkpair(sv);
		else
			assert_int_equal(pipe(sv), 0);
		if (i == 0)
			assert_int_equal(setsockopt(sv[0], SOL_SOCKET,
			    SO_RCVTIMEO, &tv, sizeof(tv)), 0);
		if (i == 1)
			assert_int_equal(fcntl(sv[0], F_SETFL,
			    fcntl(sv[0], F_GETFL) | O_NONBLOCK), 0);
		io = io_new(sv[0], LINE_DEFAULT);
		assert_non_null(io);
		io_set_timeout(io, 1);
		t0 = now_ms();
		pid = late_line(sv[1], 400, "NOOP\r\n");
		getline_is(io, "NOOP");
		assert_true(now_ms() - t0 >= 350);
		reaped(pid);
		if (i == 0)
			assert_int_equal(rcvtimeo_ms(sv[0]), 1000);
		t0 = now_ms();
		getline_fails(io, IO_TIMEOUT);
		ms = now_ms() - t0;
		assert_true(ms >= 950 && ms < 2500);
		io_free(&io);
		close(sv[0]);
		close(sv[1]);
	}
}

/* peer_read: one recv of at most size octets, waiting 5 s at most. */
static size_t
peer_read(int fd, char *buf, size_t size)
{
	struct pollfd	 pfd;
	ssize_t		 n;

	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	n = recv(fd, buf, size, MSG_DONTWAIT);
	assert_true(n > 0);
	return (size_t)n;
}

/* Replies to pipelined commands stay buffered until the reader would
 * block, then go out in one write. */
static void
test_replies_held(void **state)
{
	char		 got[1024], *line;
	const char	*want = "+OK 1\r\n+OK 2\r\n+OK 3\r\n";
	struct io	*io;
	int		 sv[2], i;

	mkpair(sv);
	puts0(sv[1], "NOOP\r\nNOOP\r\nNOOP\r\nNO");
	io = io_new(sv[0], LINE_DEFAULT);
	assert_non_null(io);
	io_set_timeout(io, 1);
	for (i = 1; i <= 3; i++) {
		assert_int_equal(io_getline(io, &line), 4);
		assert_string_equal(line, "NOOP");
		assert_int_equal(io_printf(io, "+OK %d\r\n", i), 0);
		nothing_arrived(sv[1]);
	}
	getline_fails(io, IO_TIMEOUT);
	assert_int_equal(peer_read(sv[1], got, sizeof(got)), strlen(want));
	assert_memory_equal(got, want, strlen(want));

	/* io_flush sends at once. */
	assert_int_equal(io_puts(io, "+OK flushed\r\n"), 0);
	nothing_arrived(sv[1]);
	assert_int_equal(io_flush(io), 0);
	assert_int_equal(peer_read(sv[1], got, sizeof(got)), 13);
	assert_memory_equal(got, "+OK flushed\r\n", 13);
	assert_int_equal(io_flush(io), 0);
	nothing_arrived(sv[1]);
	io_free(&io);
	close(sv[0]);
	close(sv[1]);
}

/* The reader flushes before it waits: a client that waits for its reply
 * before sending the next command gets it. */
static void
test_flush_before_block(void **state)
{
	char		 buf[64];
	struct io	*io;
	pid_t		 pid;
	ssize_t		 n;
	size_t		 got;
	int		 sv[2];

	mkpair(sv);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(sv[0]);
		got = 0;
		while (got < 8) {
			n = read(sv[1], buf + got, sizeof(buf) - got);
			if (n <= 0)
				_exit(1);
			got += (size_t)n;
		}
		if (got != 8 || memcmp(buf, "+OK hi\r\n", 8) != 0)
			_exit(2);
		child_put(sv[1], "QUIT\r\n", 6);
		_exit(0);
	}
	close(sv[1]);
	io = io_new(sv[0], LINE_DEFAULT);
	assert_non_null(io);
	io_set_timeout(io, 5);
	assert_int_equal(io_puts(io, "+OK hi\r\n"), 0);
	getline_is(io, "QUIT");
	getline_fails(io, IO_EOF);
	reap(pid);
	io_free(&io);
	close(sv[0]);
}

/* Pipelined commands longer than the input buffer: the replies to
 * those one read brought go out together once they are all answered,
 * before the next read; none is lost or split, and the last ones wait
 * for the flush. */
static void
test_pipelined_split(void **state)
{
	char		*line, *got;
	struct io	*io;
	size_t		 len = 0, n;
	ssize_t		 early;
	int		 sv[2], i;

	got = malloc(6000);
	assert_non_null(got);
	for (i = 0; i < 1000; i++)
		memcpy(got + 6 * i, "NOOP\r\n", 6);
	mkpair(sv);
	put_all(sv[1], got, 6000);
	io = reader(sv[0], 64);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(io_getline(io, &line), 4);
		assert_string_equal(line, "NOOP");
		assert_int_equal(io_puts(io, "+OK\r\n"), 0);
	}
	/* 6000 octets do not fit one read: the first read's replies went
	 * before the second read, the second's are still buffered. */
	early = recv(sv[1], got, 5000, MSG_DONTWAIT);
	assert_true(early > 0 && early < 5000 && early % 5 == 0);
	len = (size_t)early;
	nothing_arrived(sv[1]);
	assert_int_equal(io_flush(io), 0);
	while (len < 5000) {
		n = peer_read(sv[1], got + len, 5000 - len);
		assert_int_equal(n % 5, 0);
		len += n;
	}
	for (i = 0; i < 1000; i++)
		assert_memory_equal(got + 5 * i, "+OK\r\n", 5);
	free(got);
	io_free(&io);
	close(sv[0]);
	close(sv[1]);
}

/* A peer that sends its last command and half-closes still gets the
 * reply. */
static void
test_eof_flushes(void **state)
{
	char		 got[64];
	struct io	*io;
	int		 sv[2];

	mkpair(sv);
	puts0(sv[1], "QUIT\r\n");
	assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
	io = reader(sv[0], LINE_DEFAULT);
	getline_is(io, "QUIT");
	assert_int_equal(io_puts(io, "+OK bye\r\n"), 0);
	nothing_arrived(sv[1]);
	getline_fails(io, IO_EOF);
	assert_int_equal(peer_read(sv[1], got, sizeof(got)), 9);
	assert_memory_equal(got, "+OK bye\r\n", 9);
	io_free(&io);
	close(sv[0]);
	close(sv[1]);
}

/* Many small replies arrive in one read. */
static void
test_many_replies_one_read(void **state)
{
	char		 want[8192], got[8192];
	struct io	*io;
	size_t		 len = 0;
	int		 sv[2], i, n;

	mkpair(sv);
	io = reader(sv[0], LINE_DEFAULT);
	for (i = 0; i < 300; i++) {
		n = snprintf(want + len, sizeof(want) - len, "%d %d\r\n", i,
		    i * 7);
		assert_true(n > 0 && (size_t)n < sizeof(want) - len);
		len += (size_t)n;
		assert_int_equal(io_printf(io, "%d %d\r\n", i, i * 7), 0);
	}
	nothing_arrived(sv[1]);
	assert_int_equal(io_flush(io), 0);
	assert_int_equal(peer_read(sv[1], got, sizeof(got)), len);
	assert_memory_equal(got, want, len);
	nothing_arrived(sv[1]);
	io_free(&io);
	close(sv[0]);
	close(sv[1]);
}

/* io_printf: a reply over IO_OUTBUF fails with EMSGSIZE, one of exactly
 * IO_OUTBUF goes, and one that does not fit behind buffered output
 * flushes it first. */
static void
test_printf_sizes(void **state)
{
	struct scratch	*fx = *state;
	struct collector c;
	struct io	*io;
	char		*got, *fill;
	size_t		 len;
	int		 sv[2];

	fill = malloc(60000);
	assert_non_null(fill);
	memset(fill, 'f', 60000);
	mkpair(sv);
	collect_start(fx, &c, sv[1], sv[0]);
	io = reader(sv[0], LINE_DEFAULT);
	assert_int_equal(io_puts(io, "+OK\r\n"), 0);
	errno = 0;
	assert_int_equal(io_printf(io, "%*s", IO_OUTBUF + 1, "x"), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(io_printf(io, "%*s", IO_OUTBUF, "y"), 0);
	assert_int_equal(io_write(io, fill, 60000), 0);
	assert_int_equal(io_printf(io, "<%s>", "z"), 0);
	assert_int_equal(io_printf(io, "%*s", 10000, "w"), 0);
	assert_int_equal(io_flush(io), 0);
	io_free(&io);
	close(sv[0]);
	got = collect_end(&c, &len);
	assert_int_equal(len, 5 + IO_OUTBUF + 60000 + 3 + 10000);
	assert_memory_equal(got, "+OK\r\n", 5);
	assert_int_equal(got[5], ' ');
	assert_int_equal(got[5 + IO_OUTBUF - 1], 'y');
	assert_memory_equal(got + 5 + IO_OUTBUF, fill, 60000);
	assert_memory_equal(got + 5 + IO_OUTBUF + 60000, "<z>", 3);
	assert_int_equal(got[len - 1], 'w');
	free(got);
	free(fill);
}

/* io_write of more than the buffer goes out whole and in order. */
static void
test_write_large(void **state)
{
	struct scratch	*fx = *state;
	struct collector c;
	struct io	*io;
	char		*big, *got;
	size_t		 len, i, n = 300000;
	int		 sv[2];

	big = malloc(n);
	assert_non_null(big);
	for (i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	mkpair(sv);
	collect_start(fx, &c, sv[1], sv[0]);
	io = reader(sv[0], LINE_DEFAULT);
	assert_int_equal(io_puts(io, "head\r\n"), 0);
	assert_int_equal(io_write(io, big, n), 0);
	assert_int_equal(io_puts(io, "tail\r\n"), 0);
	assert_int_equal(io_write(io, big, IO_OUTBUF), 0);
	assert_int_equal(io_flush(io), 0);
	io_free(&io);
	close(sv[0]);
	got = collect_end(&c, &len);
	assert_int_equal(len, 6 + n + 6 + IO_OUTBUF);
	assert_memory_equal(got, "head\r\n", 6);
	assert_memory_equal(got + 6, big, n);
	assert_memory_equal(got + 6 + n, "tail\r\n", 6);
	assert_memory_equal(got + 12 + n, big, IO_OUTBUF);
	free(got);
	free(big);
}

/* A peer that reads nothing makes a write time out. */
static void
test_write_timeout(void **state)
{
	const size_t	 n = 16 * 1024 * 1024;
	struct io	*io;
	long long	 t0, ms;
	char		*big;
	int		 sv[2];

	big = calloc(1, n);
	assert_non_null(big);
	mkpair(sv);
	io = io_new(sv[0], LINE_DEFAULT);
	assert_non_null(io);
	io_set_timeout(io, 1);
	t0 = now_ms();
	errno = 0;
	assert_int_equal(io_write(io, big, n), -1);
	assert_int_equal(errno, ETIMEDOUT);
	ms = now_ms() - t0;
	assert_true(ms >= 950 && ms < 3000);
	io_free(&io);
	free(big);
	close(sv[0]);
	close(sv[1]);
}

/* Writing to a closed peer fails with EPIPE (SIGPIPE is ignored). */
static void
test_write_epipe(void **state)
{
	struct io	*io;
	int		 sv[2];

	mkpair(sv);
	close(sv[1]);
	io = reader(sv[0], LINE_DEFAULT);
	assert_int_equal(io_puts(io, "+OK bye\r\n"), 0);
	errno = 0;
	assert_int_equal(io_flush(io), -1);
	assert_int_equal(errno, EPIPE);
	io_free(&io);
	close(sv[0]);
}

/* io_last: the flush after it ends the stream behind the last reply,
 * while the descriptor is still open; a flush with nothing buffered
 * ends it too; and without it the stream stays open. */
static void
test_last_ends_stream(void **state)
{
	struct io	*io;
	int		 sv[2], tv[2];

	(void)state;
	mkpair(sv);
	io = reader(sv[0], LINE_DEFAULT);
	assert_int_equal(io_puts(io, "+OK bye\r\n"), 0);
	assert_int_equal(io_flush(io), 0);
	assert_false(stream_ended(sv[1], "+OK bye\r\n"));
	assert_int_equal(io_puts(io, "+OK now\r\n"), 0);
	io_last(io);
	assert_int_equal(io_flush(io), 0);
	assert_true(stream_ended(sv[1], "+OK now\r\n"));
	io_free(&io);
	close(sv[0]);
	close(sv[1]);

	mkpair(tv);
	io = reader(tv[0], LINE_DEFAULT);
	io_last(io);
	assert_int_equal(io_flush(io), 0);
	assert_true(stream_ended(tv[1], ""));
	io_free(&io);
	close(tv[0]);
	close(tv[1]);
}

#if defined(__linux__) && defined(TCP_INFO)
/* segs_out: the TCP segments fd has sent. */
static unsigned
segs_out(int fd)
{
	struct tcp_info	 ti;
	socklen_t	 len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	return ti.tcpi_segs_out;
}

/* tcp_pair: a loopback TCP connection: sv[0] accepted, sv[1] the
 * client, both with TCP_NODELAY as posternd's. */
static void
tcp_pair(int sv[2])
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 l, on = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((l = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	assert_true((sv[1] = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	assert_int_equal(connect(sv[1], (struct sockaddr *)&sin,
	    sizeof(sin)), 0);
	assert_true((sv[0] = accept(l, NULL, NULL)) != -1);
	close(l);
	assert_int_equal(setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &on,
	    sizeof(on)), 0);
}

/* On Linux the last reply and the FIN leave in one TCP segment; a
 * reply flushed without io_last goes in a segment of its own. */
static void
test_last_one_segment(void **state)
{
	struct io	*io;
	unsigned	 before;
	int		 sv[2];

	(void)state;
	tcp_pair(sv);
	io = reader(sv[0], LINE_DEFAULT);
	before = segs_out(sv[0]);
	assert_int_equal(io_puts(io, "+OK ready\r\n"), 0);
	assert_int_equal(io_flush(io), 0);
	assert_int_equal(segs_out(sv[0]) - before, 1);
	before = segs_out(sv[0]);
	assert_int_equal(io_puts(io, "+OK signing off\r\n"), 0);
	io_last(io);
	assert_int_equal(io_flush(io), 0);
	assert_int_equal(segs_out(sv[0]) - before, 1);
	assert_true(stream_ended(sv[1], "+OK ready\r\n+OK signing off\r\n"));
	io_free(&io);
	close(sv[0]);
	close(sv[1]);
}
#else
static void
test_last_one_segment(void **state)
{
	(void)state;
	skip();
}
#endif

/* ref_send: the reference transformation, one octet at a time. */
static char *
ref_send(const char *in, size_t len, long body_lines, size_t *outlen_r,
    off_t *octets_r)
{
	char	*out;
	size_t	 o = 0, i, linelen = 0;
	off_t	 net = 0;
	int	 top = body_lines >= 0, inhdr = top, start = 1;
	long	 left = body_lines;
	char	 prev = '\n';

	out = malloc(len * 3 + 8);
	assert_non_null(out);
	for (i = 0; i < len; i++) {
		if (start) {
			if (top && !inhdr && left <= 0)
				break;
			if (in[i] == '.')
				out[o++] = '.';
			start = 0;
		}
		if (in[i] == '\n') {
			if (prev != '\r') {
				out[o++] = '\r';
				net++;
			}
			out[o++] = '\n';
			net++;
			if (top && inhdr) {
				if (linelen == 0 ||
				    (linelen == 1 && in[i - 1] == '\r'))
					inhdr = 0;
			} else if (top)
				left--;
			linelen = 0;
			start = 1;
		} else {
			out[o++] = in[i];
			net++;
			linelen++;
		}
		prev = in[i];
	}
	if (prev != '\n') {
		out[o++] = '\r';
		out[o++] = '\n';
		net += 2;
	}
	memcpy(out + o, ".\r\n", 3);
	*outlen_r = o + 3;
	*octets_r = net;
	return out;
}

/* ref_netsize: the network size of a whole message as storage/maildir.h
 * defines it. */
static off_t
ref_netsize(const char *in, size_t len)
{
	off_t	 n = (off_t)len;
	size_t	 i;

	for (i = 0; i < len; i++)
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			n++;
	if (len > 0 && in[len - 1] != '\n')
		n += 2;
	return n;
}

/* mkfile: a temporary file holding data, open for reading at offset 0
 * and already unlinked. */
static int
mkfile(struct scratch *fx, const char *data, size_t len)
{
	char	 path[PATH_MAX];
	int	 fd, rfd;

	tmpname(fx, path, sizeof(path), "msg");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	put_all(fd, data, len);
	assert_int_equal(close(fd), 0);
	rfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	assert_true(rfd != -1);
	assert_int_equal(unlink(path), 0);
	return rfd;
}

/* send_file: streams fd through io_send_message after "+OK\r\n" and
 * returns what the peer received, less that line. */
static char *
send_file(struct scratch *fx, int fd, off_t size, long body_lines,
    off_t *octets_r, size_t *len_r)
{
	struct collector c;
	struct io	*io;
	char		*got;
	size_t		 len;
	int		 sv[2];

	mkpair(sv);
	collect_start(fx, &c, sv[1], sv[0]);
	io = reader(sv[0], LINE_DEFAULT);
	assert_int_equal(io_puts(io, "+OK\r\n"), 0);
	*octets_r = -1;
	assert_int_equal(io_send_message(io, fd, size, body_lines, octets_r), 0);
	assert_int_equal(io_flush(io), 0);
	io_free(&io);
	close(sv[0]);
	got = collect_end(&c, &len);
	assert_true(len >= 5);
	assert_memory_equal(got, "+OK\r\n", 5);
	memmove(got, got + 5, len - 5);
	*len_r = len - 5;
	return got;
}

/* send_check: sends data with body_lines; the peer must get exactly
 * want (wantlen octets, or strlen) and octets_r must be octets. */
static void
send_check(struct scratch *fx, const char *data, size_t len,
    long body_lines, const char *want, size_t wantlen, off_t octets)
{
	char	*got;
	off_t	 oct;
	size_t	 glen;
	int	 fd;

	fd = mkfile(fx, data, len);
	got = send_file(fx, fd, -1, body_lines, &oct, &glen);
	close(fd);
	assert_int_equal(glen, wantlen);
	assert_memory_equal(got, want, wantlen);
	assert_int_equal(oct, octets);
	free(got);
}

/* send_ref: sends data and compares with the reference. */
static void
send_ref(struct scratch *fx, const char *data, size_t len, long body_lines)
{
	char	*want;
	size_t	 wantlen;
	off_t	 octets;

	want = ref_send(data, len, body_lines, &wantlen, &octets);
	if (body_lines < 0)
		assert_int_equal(octets, ref_netsize(data, len));
	send_check(fx, data, len, body_lines, want, wantlen, octets);
	free(want);
}

/* SEND: send_check with string literals. */
#define SEND(fx, in, lines, out, octets)				\
	send_check((fx), (in), sizeof(in) - 1, (lines), (out),		\
	    sizeof(out) - 1, (octets))
/* WHOLE: SEND of a whole message. */
#define WHOLE(fx, in, out, octets)	SEND((fx), (in), -1, (out), (octets))

/*
 * A message descriptor that says EAGAIN (a non-blocking pipe whose
 * writer is late; a regular file never does): the read goes on blocking,
 * with O_NONBLOCK cleared, and every octet is sent.
 */
static void
test_msg_eagain(void **state)
{
	struct scratch	*fx = *state;
	char		*got;
	off_t		 oct;
	size_t		 glen;
	pid_t		 pid;
	int		 p[2], status;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		if (write(p[1], "a\n", 2) != 2)
			_exit(1);
		usleep(200000);
		if (write(p[1], "b\n", 2) != 2)
			_exit(1);
		_exit(0);
	}
	assert_true(pid > 0);
	close(p[1]);
	got = send_file(fx, p[0], 4, -1, &oct, &glen);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(glen, 9);
	assert_memory_equal(got, "a\r\nb\r\n.\r\n", 9);
	assert_int_equal(oct, 6);
	assert_false(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	close(p[0]);
	free(got);
}

/* Dot-stuffing of lines starting with ".". */
static void
test_msg_dots(void **state)
{
	struct scratch	*fx = *state;

	WHOLE(fx, "Subject: x\n\n.leading\n..two\n.\nend\n",
	    "Subject: x\r\n\r\n..leading\r\n...two\r\n..\r\nend\r\n.\r\n",
	    33 + 6);
	WHOLE(fx, ".\r\n", "..\r\n.\r\n", 3);
	WHOLE(fx, "a.b\r\n .c\r\n", "a.b\r\n .c\r\n.\r\n", 10);
	WHOLE(fx, ".", "..\r\n.\r\n", 3);
}

/* Line ends: LF becomes CRLF, CRLF stays, a bare CR stays. */
static void
test_msg_line_ends(void **state)
{
	struct scratch	*fx = *state;

	WHOLE(fx, "a\nb\n", "a\r\nb\r\n.\r\n", 6);
	WHOLE(fx, "a\r\nb\r\n", "a\r\nb\r\n.\r\n", 6);
	WHOLE(fx, "a\r\nb\nc\r\n\n", "a\r\nb\r\nc\r\n\r\n.\r\n", 11);
	WHOLE(fx, "a\rb\n", "a\rb\r\n.\r\n", 5);
	WHOLE(fx, "\n\n", "\r\n\r\n.\r\n", 4);
}

/* A missing final newline is added; an empty file is just ".". */
static void
test_msg_no_final_newline(void **state)
{
	struct scratch	*fx = *state;

	WHOLE(fx, "a\nlast", "a\r\nlast\r\n.\r\n", 9);
	WHOLE(fx, "x", "x\r\n.\r\n", 3);
	WHOLE(fx, "a\r", "a\r\r\n.\r\n", 4);
	send_check(fx, "", 0, -1, ".\r\n", 3, 0);
	send_check(fx, "", 0, 0, ".\r\n", 3, 0);
}

/* NUL octets pass through. */
static void
test_msg_nul(void **state)
{
	struct scratch	*fx = *state;

	WHOLE(fx, "a\0b\n\0\n.\0\n", "a\0b\r\n\0\r\n..\0\r\n.\r\n", 12);
}

/* CR at the end of one 64 KiB read and LF at the start of the next; a
 * bare LF and a "." at the start of a read. */
static void
test_msg_chunk_edges(void **state)
{
	struct scratch	*fx = *state;
	char		*in, *want;
	size_t		 n = IO_FILEBUF;

	in = malloc(2 * n + 64);
	want = malloc(2 * n + 64);
	assert_non_null(in);
	assert_non_null(want);

	memset(in, 'x', n - 1);
	memcpy(in + n - 1, "\r\nnext\n", 7);
	memcpy(want, in, n + 5);
	memcpy(want + n + 5, "\r\n.\r\n", 5);
	send_check(fx, in, n + 6, -1, want, n + 10, (off_t)n + 7);

	memset(in, 'x', n);
	memcpy(in + n, "\nnext\n", 6);
	memset(want, 'x', n);
	memcpy(want + n, "\r\nnext\r\n.\r\n", 11);
	send_check(fx, in, n + 6, -1, want, n + 11, (off_t)n + 8);

	memset(in, 'x', n - 1);
	memcpy(in + n - 1, "\n.dot\n", 6);
	memset(want, 'x', n - 1);
	memcpy(want + n - 1, "\r\n..dot\r\n.\r\n", 12);
	send_check(fx, in, n + 5, -1, want, n + 11, (off_t)n + 7);

	/* A file of exactly one read, ending with CR. */
	memset(in, 'x', n - 1);
	in[n - 1] = '\r';
	memcpy(want, in, n);
	memcpy(want + n, "\r\n.\r\n", 5);
	send_check(fx, in, n, -1, want, n + 5, (off_t)n + 2);

	/* TOP: the header's blank CRLF line split over two reads. */
	memcpy(in, "H: ", 3);
	memset(in + 3, 'h', n - 5);
	memcpy(in + n - 2, "\n\r\nb1\nb2\n", 9);
	send_ref(fx, in, n + 7, 1);
	send_ref(fx, in, n + 7, 0);
	free(in);
	free(want);
}

/* TOP: header, blank line, then at most n body lines. */
static void
test_msg_top(void **state)
{
	struct scratch	*fx = *state;
	const char	 msg[] = "H1: a\nH2: b\n\nl1\n.l2\nl3\n";

	SEND(fx, msg, 0, "H1: a\r\nH2: b\r\n\r\n.\r\n", 16);
	SEND(fx, msg, 1, "H1: a\r\nH2: b\r\n\r\nl1\r\n.\r\n", 20);
	SEND(fx, msg, 2, "H1: a\r\nH2: b\r\n\r\nl1\r\n..l2\r\n.\r\n", 25);
	SEND(fx, msg, 10,
	    "H1: a\r\nH2: b\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n", 29);
	SEND(fx, "H: a\r\n\r\nbody\r\nmore\r\n", 1,
	    "H: a\r\n\r\nbody\r\n.\r\n", 14);
	/* A line of just CR is blank; one of CR CR is not. */
	SEND(fx, "H: a\n\r\r\nX: b\n\r\nbody\n", 0,
	    "H: a\r\n\r\r\nX: b\r\n\r\n.\r\n", 17);
	/* The body ends before n lines, without a final newline. */
	SEND(fx, "H: a\n\nonly", 5, "H: a\r\n\r\nonly\r\n.\r\n", 14);
	/* No blank line: the whole message is header. */
	SEND(fx, "H: a\nH: b", 0, "H: a\r\nH: b\r\n.\r\n", 12);
	SEND(fx, "H: a\nH: b\n", 3, "H: a\r\nH: b\r\n.\r\n", 12);
	/* An empty header. */
	SEND(fx, "\nbody\nmore\n", 1, "\r\nbody\r\n.\r\n", 8);
	SEND(fx, "\nbody\nmore\n", 0, "\r\n.\r\n", 2);
}

/* The message is sent from the descriptor's current offset. */
static void
test_msg_offset(void **state)
{
	struct scratch	*fx = *state;
	const char	 msg[] = "skip\nkeep\n";
	char		*got;
	off_t		 oct;
	size_t		 len;
	int		 fd;

	fd = mkfile(fx, msg, sizeof(msg) - 1);
	assert_int_equal(lseek(fd, 5, SEEK_SET), 5);
	got = send_file(fx, fd, -1, -1, &oct, &len);
	close(fd);
	assert_int_equal(len, 9);
	assert_memory_equal(got, "keep\r\n.\r\n", 9);
	assert_int_equal(oct, 6);
	free(got);
}

/* size_check: sends data, of which at most size octets are read. */
static void
size_check(struct scratch *fx, const char *data, off_t size, long body_lines,
    const char *want, off_t octets)
{
	char	*got;
	off_t	 oct;
	size_t	 len;
	int	 fd;

	fd = mkfile(fx, data, strlen(data));
	got = send_file(fx, fd, size, body_lines, &oct, &len);
	close(fd);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	assert_int_equal(oct, octets);
	free(got);
}

/* Only the size the open saw is read: what was appended since is not
 * sent; a file shorter than that ends where it ends. */
static void
test_msg_size(void **state)
{
	struct scratch	*fx = *state;

	size_check(fx, "abc\ndef\nrest", 8, -1, "abc\r\ndef\r\n.\r\n", 10);
	size_check(fx, "abc\ndef\n", 6, -1, "abc\r\nde\r\n.\r\n", 9);
	size_check(fx, "abc\n", 0, -1, ".\r\n", 0);
	size_check(fx, "abc\n", 100, -1, "abc\r\n.\r\n", 5);
	size_check(fx, "H: 1\n\nb1\nb2\nb3\n", 12, 1,
	    "H: 1\r\n\r\nb1\r\n.\r\n", 12);
}

/* A descriptor opened O_NONBLOCK (as storage opens messages) is read as
 * any other. */
static void
test_msg_nonblock(void **state)
{
	struct scratch	*fx = *state;
	char		*got;
	off_t		 oct;
	size_t		 len;
	int		 fd;

	fd = mkfile(fx, "one\n.two\n", 9);
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK),
	    0);
	got = send_file(fx, fd, 9, -1, &oct, &len);
	close(fd);
	assert_int_equal(len, 15);
	assert_memory_equal(got, "one\r\n..two\r\n.\r\n", 15);
	assert_int_equal(oct, 11);
	free(got);
}

/* A read error fails with errno kept. */
static void
test_msg_read_error(void **state)
{
	struct scratch	*fx = *state;
	char		 path[PATH_MAX];
	struct io	*io;
	off_t		 oct;
	int		 sv[2], fd;

	tmpname(fx, path, sizeof(path), "wronly");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	assert_int_equal(unlink(path), 0);
	mkpair(sv);
	io = reader(sv[0], LINE_DEFAULT);
	errno = 0;
	assert_int_equal(io_send_message(io, fd, -1, -1, &oct), -1);
	assert_int_equal(errno, EBADF);
	io_free(&io);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

/* rnd: xorshift64, for repeatable random messages. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* gen_message: size octets of random header and body lines: LF and CRLF
 * ends, leading dots, bare CRs, NULs, some very long lines. */
static char *
gen_message(uint64_t seed, size_t size)
{
	static const char alpha[] = "abcdefghij .:.-\r\0xyz0123456789ABC";
	char	*m;
	size_t	 n = 0, i, ll;
	uint64_t s = seed;
	int	 hdr, nh;

	m = malloc(size);
	assert_non_null(m);
	nh = (int)(rnd(&s) % 20);
	for (hdr = 0; n < size; hdr++) {
		if (hdr == nh) {
			ll = 0;
		} else if (rnd(&s) % 200 == 0) {
			ll = (size_t)(rnd(&s) % 200000);
		} else {
			ll = (size_t)(rnd(&s) % 120);
		}
		for (i = 0; i < ll && n < size; i++) {
			if (i == 0 && rnd(&s) % 5 == 0)
				m[n++] = '.';
			else
				m[n++] = alpha[rnd(&s) % (sizeof(alpha) - 1)];
		}
		if (n < size && rnd(&s) % 3 == 0)
			m[n++] = '\r';
		if (n < size)
			m[n++] = '\n';
	}
	return m;
}

/* A 5 MiB random message, whole and with TOP, against the reference. */
static void
test_msg_random_big(void **state)
{
	struct scratch	*fx = *state;
	const size_t	 size = 5 * 1024 * 1024;
	char		*m;

	m = gen_message(0x9e3779b97f4a7c15ULL, size);
	send_ref(fx, m, size, -1);
	send_ref(fx, m, size, 3);
	send_ref(fx, m, size, 40000);
	free(m);
	/* Ending in a newline. */
	m = gen_message(12345, size);
	m[size - 1] = '\n';
	send_ref(fx, m, size, -1);
	free(m);
}

/* Many smaller random messages with random TOP counts. */
static void
test_msg_random_many(void **state)
{
	struct scratch	*fx = *state;
	uint64_t	 s = 42;
	size_t		 size;
	char		*m;
	long		 lines;
	int		 i;

	for (i = 0; i < 30; i++) {
		size = 1 + (size_t)(rnd(&s) % 300000);
		m = gen_message(rnd(&s), size);
		lines = (long)(rnd(&s) % 50) - 10;
		send_ref(fx, m, size, lines);
		free(m);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crlf_lines),
		cmocka_unit_test(test_lf_lines),
		cmocka_unit_test(test_mixed_lines),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_nul_in_line),
		cmocka_unit_test(test_max_line),
		cmocka_unit_test(test_max_line_split_crlf),
		cmocka_unit_test(test_toolong_spanning),
		cmocka_unit_test(test_toolong_megabytes),
		cmocka_unit_test(test_eof),
		cmocka_unit_test(test_eof_partial),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_read_waits),
		cmocka_unit_test(test_replies_held),
		cmocka_unit_test(test_flush_before_block),
		cmocka_unit_test(test_pipelined_split),
		cmocka_unit_test(test_eof_flushes),
		cmocka_unit_test(test_many_replies_one_read),
		cmocka_unit_test(test_printf_sizes),
		cmocka_unit_test(test_write_large),
		cmocka_unit_test(test_write_timeout),
		cmocka_unit_test(test_write_epipe),
		cmocka_unit_test(test_msg_dots),
		cmocka_unit_test(test_msg_eagain),
		cmocka_unit_test(test_msg_line_ends),
		cmocka_unit_test(test_msg_no_final_newline),
		cmocka_unit_test(test_msg_nul),
		cmocka_unit_test(test_msg_chunk_edges),
		cmocka_unit_test(test_msg_top),
		cmocka_unit_test(test_msg_offset),
		cmocka_unit_test(test_last_ends_stream),
		cmocka_unit_test(test_last_one_segment),
		cmocka_unit_test(test_msg_size),
		cmocka_unit_test(test_msg_nonblock),
		cmocka_unit_test(test_msg_read_error),
		cmocka_unit_test(test_msg_random_big),
		cmocka_unit_test(test_msg_random_many),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
