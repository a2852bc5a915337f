/*
 * fuzz_io.c: libFuzzer harness for the shared line reader and message
 * writer (server/io.h).  The first octet picks the mode: even, the
 * rest is a byte stream read with io_getline() over a socketpair and
 * compared with a model of its documented rules; odd, it is a message
 * file sent with io_send_message() (RETR or TOP) whose output must be
 * CRLF throughout, dot-stuffed, and un-stuff to the message itself.
 * It must never depend on timing: all input is written before reading.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/common.h"
#include "server/io.h"
#include "storage/maildir.h"

/* Inputs longer than this are cut: the stream must fit in the socket. */
#define STREAM_MAX	65536

/* Message text is read in chunks of this size (IO_FILEBUF): padding
 * moves a chunk boundary into the fuzzed text. */
#define CHUNK		65536

/* The message file and the file io_send_message() writes to. */
static int	 msgfd = -1, outfd = -1;

/* A growing byte buffer. */
struct buf {
	char	*p;
	size_t	 len, alloc;
};

/* buf_add: appends len octets, aborting when out of memory. */
static void
buf_add(struct buf *b, const void *p, size_t len)
{
	size_t	 n;

	if (len > b->alloc - b->len) {
		n = b->alloc ? b->alloc : 256;
		while (n - b->len < len)
			n *= 2;
		FUZZ_CHECK((b->p = realloc(b->p, n)) != NULL);
		b->alloc = n;
	}
	if (len > 0)
		memcpy(b->p + b->len, p, len);
	b->len += len;
}

/* tempfd: an unlinked temporary file for reading and writing. */
static int
tempfd(const char *dir, const char *name)
{
	char	 path[1024];
	int	 fd;

	fuzz_path(path, sizeof(path), dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd != -1);
	FUZZ_CHECK(unlink(path) == 0);
	return fd;
}

/* LLVMFuzzerInitialize: the two unlinked temporary files. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*dir;

	fuzz_init("fuzz_io");
	dir = fuzz_tempdir("io");
	msgfd = tempfd(dir, "message");
	outfd = tempfd(dir, "output");
	return 0;
}

/* ---- the line reader ---------------------------------------------- */

/* model_line: the next result io_getline() must give for the stream
 * s[*pos..len): a line (its start and length), IO_TOOLONG or IO_EOF. */
static ssize_t
model_line(const uint8_t *s, size_t len, size_t *pos, size_t max_line,
    int *eof_next, size_t *start_r)
{
	const uint8_t	*nl;
	size_t		 n, l;

	if (*eof_next || *pos >= len) {
		*eof_next = 0;
		*pos = len;
		return IO_EOF;
	}
	n = len - *pos;
	if ((nl = memchr(s + *pos, '\n', n)) == NULL) {
		/* A partial last line: dropped at EOF, but one that is
		 * already over-long is reported first. */
		*pos = len;
		if (n > max_line + 1 || (n == max_line + 1 &&
		    s[len - 1] != '\r')) {
			*eof_next = 1;
			return IO_TOOLONG;
		}
		return IO_EOF;
	}
	l = (size_t)(nl - (s + *pos));
	*start_r = *pos;
	*pos += l + 1;
	if (l > 0 && s[*start_r + l - 1] == '\r')
		l--;
	return l > max_line ? IO_TOOLONG : (ssize_t)l;
}

/* read_all: everything the peer of fd wrote until it closed. */
static void
read_all(int fd, struct buf *b)
{
	char	 tmp[8192];
	ssize_t	 n;

	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n == -1 && errno == EINTR)
			continue;
		FUZZ_CHECK(n >= 0);
		if (n == 0)
			return;
		buf_add(b, tmp, (size_t)n);
	}
}

/* lines: reads the stream line by line, echoing each line back, and
 * checks every result and the echo against the model. */
static void
lines(const uint8_t *s, size_t len, size_t max_line)
{
	struct buf	 want = { NULL, 0, 0 }, got = { NULL, 0, 0 };
	struct io	*io;
	char		*line;
	size_t		 pos = 0, start = 0, off = 0;
	ssize_t		 n, m;
	int		 sv[2], eof_next = 0, size = 1 << 20, steps = 0;

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	while (off < len) {
		n = write(sv[0], s + off, len - off);
		FUZZ_CHECK(n > 0);
		off += (size_t)n;
	}
	FUZZ_CHECK(shutdown(sv[0], SHUT_WR) == 0);
	FUZZ_CHECK((io = io_new(sv[1], max_line)) != NULL);
	io_set_timeout(io, 10);
	for (;;) {
		n = io_getline(io, &line);
		m = model_line(s, len, &pos, max_line, &eof_next, &start);
		if (n != m)
			fprintf(stderr, "io_getline %zd, model %zd at %zu\n",
			    n, m, pos);
		FUZZ_CHECK(n == m);
		FUZZ_CHECK(++steps <= (int)len + 2);
		if (n == IO_EOF)
			break;
		if (n == IO_TOOLONG) {
			FUZZ_CHECK(io_puts(io, "-\r\n") == 0);
			buf_add(&want, "-\r\n", 3);
			continue;
		}
		FUZZ_CHECK(line != NULL && line[n] == '\0');
		FUZZ_CHECK(memcmp(line, s + start, (size_t)n) == 0);
		/* Echo it: output buffered while input is pending. */
		FUZZ_CHECK(io_write(io, line, (size_t)n) == 0);
		FUZZ_CHECK(io_puts(io, "\r\n") == 0);
		buf_add(&want, s + start, (size_t)n);
		buf_add(&want, "\r\n", 2);
	}
	FUZZ_CHECK(io_pending(io) == 0);
	FUZZ_CHECK(io_flush(io) == 0);
	io_free(&io);
	FUZZ_CHECK(io == NULL);
	close(sv[1]);
	read_all(sv[0], &got);
	close(sv[0]);
	FUZZ_CHECK(got.len == want.len);
	FUZZ_CHECK(want.len == 0 || memcmp(got.p, want.p, want.len) == 0);
	free(want.p);
	free(got.p);
}

/* ---- the message writer ------------------------------------------- */

/* normalize: the network form of a message: each bare LF as CRLF, and a
 * CRLF added after a last line without one. */
static void
normalize(const char *m, size_t len, struct buf *b)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r'))
			buf_add(b, "\r", 1);
		buf_add(b, m + i, 1);
	}
	if (len > 0 && m[len - 1] != '\n')
		buf_add(b, "\r\n", 2);
}

/* top_cut: how much of the network form TOP with body_lines sends: the
 * header, its blank line and body_lines lines, or everything. */
static size_t
top_cut(const struct buf *n, long body_lines)
{
	size_t	 i, start = 0;
	int	 inhdr = 1;

	for (i = 0; i < n->len; i++) {
		if (n->p[i] != '\n')
			continue;
		if (inhdr) {
			/* A blank line, "\r\n", ends the header. */
			if (i - start == 1)
				inhdr = 0;
		} else
			body_lines--;
		start = i + 1;
		if (!inhdr && body_lines <= 0)
			return i + 1;
	}
	return n->len;
}

/* unstuff: checks the output's form and removes its dot-stuffing and
 * terminator; the message text goes to b. */
static void
unstuff(const char *o, size_t len, struct buf *b)
{
	size_t	 i, body;

	/* The terminator, after a whole line. */
	FUZZ_CHECK(len >= 3 && memcmp(o + len - 3, ".\r\n", 3) == 0);
	body = len - 3;
	FUZZ_CHECK(body == 0 || (body >= 2 && o[body - 2] == '\r' &&
	    o[body - 1] == '\n'));
	for (i = 0; i < body; i++) {
		/* CRLF everywhere: no bare LF. */
		if (o[i] == '\n')
			FUZZ_CHECK(i > 0 && o[i - 1] == '\r');
		/* No line starts with a single "." but the terminator. */
		if (o[i] == '.' && (i == 0 || o[i - 1] == '\n')) {
			FUZZ_CHECK(i + 1 < body && o[i + 1] == '.');
			continue;
		}
		buf_add(b, o + i, 1);
	}
}

/* send_checked: io_send_message() of message m, its output checked. */
static void
send_checked(const char *m, size_t len, long body_lines)
{
	struct buf	 norm = { NULL, 0, 0 }, out = { NULL, 0, 0 };
	struct buf	 text = { NULL, 0, 0 };
	struct io	*io;
	off_t		 octets = -1, size = -1;
	size_t		 want;
	char		 tmp[8192];
	ssize_t		 n;

	FUZZ_CHECK(ftruncate(msgfd, 0) == 0 && ftruncate(outfd, 0) == 0);
	FUZZ_CHECK(lseek(msgfd, 0, SEEK_SET) == 0);
	FUZZ_CHECK(lseek(outfd, 0, SEEK_SET) == 0);
	FUZZ_CHECK(write(msgfd, m, len) == (ssize_t)len);
	FUZZ_CHECK(lseek(msgfd, 0, SEEK_SET) == 0);

	FUZZ_CHECK((io = io_new(outfd, 512)) != NULL);
	FUZZ_CHECK(io_send_message(io, msgfd, -1, body_lines, &octets) == 0);
	FUZZ_CHECK(io_flush(io) == 0);
	io_free(&io);

	FUZZ_CHECK(lseek(outfd, 0, SEEK_SET) == 0);
	while ((n = read(outfd, tmp, sizeof(tmp))) > 0)
		buf_add(&out, tmp, (size_t)n);
	FUZZ_CHECK(n == 0);
	unstuff(out.p, out.len, &text);

	normalize(m, len, &norm);
	want = body_lines < 0 ? norm.len : top_cut(&norm, body_lines);
	FUZZ_CHECK(text.len == want);
	FUZZ_CHECK(want == 0 || memcmp(text.p, norm.p, want) == 0);
	FUZZ_CHECK(octets == (off_t)want);
	if (body_lines < 0) {
		/* LIST's size is what RETR sends (RFC 1939). */
		FUZZ_CHECK(lseek(msgfd, 0, SEEK_SET) == 0);
		FUZZ_CHECK(maildir_count_size(msgfd, &size) == 0);
		FUZZ_CHECK(size == (off_t)norm.len);
	}
	free(norm.p);
	free(out.p);
	free(text.p);
}

/* message: the input as a message, after two octets of parameters: the
 * TOP line count (255 for RETR) and padding that puts a read-chunk
 * boundary at a chosen place of the text. */
static void
message(const uint8_t *data, size_t size)
{
	static const char padchars[] = "a\n.\r";
	long		 body_lines;
	size_t		 pad = 0;
	char		*m;

	if (size < 2)
		return;
	body_lines = data[0] == 0xff ? -1 : (long)data[0];
	if (data[1] & 0x80)
		pad = CHUNK - (size_t)(data[1] >> 2 & 0x1f);
	data += 2;
	size -= 2;
	FUZZ_CHECK((m = malloc(pad + size + 1)) != NULL);
	memset(m, padchars[data[-1] & 3], pad);
	if (size > 0)
		memcpy(m + pad, data, size);
	send_checked(m, pad + size, body_lines);
	free(m);
}

/* LLVMFuzzerTestOneInput: octet 0 picks the reader or the writer. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (data[0] & 1) {
		message(data + 1, size - 1);
		return 0;
	}
	if (size - 2 > STREAM_MAX)
		size = STREAM_MAX + 2;
	/* Lines of 1 to 256 octets: the limits of io_new() are the
	 * caller's, and small ones reach the edge cases faster. */
	lines(data + 2, size - 2, (size_t)data[1] + 1);
	return 0;
}
