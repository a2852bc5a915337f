/*
 * io.c: owns a session's input line buffer and 64 KiB reply buffer, the
 * session's TLS stream, and streams message files to the client.  It must
 * never read a message whole into memory, never write per line, never
 * let a clear-text octet pass for one sent over TLS, and knows no
 * protocol command.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tls.h>

#include "server/io.h"
#include "server/limits.h"
#include "server/log.h"

#ifndef MSG_DONTWAIT
#define MSG_DONTWAIT	0
#endif

/* Input room beyond one longest line, so that pipelined commands are
 * read in few calls. */
#define IO_INSLACK	4096

/* io_takeline's "no complete line buffered". */
#define IO_NOLINE	(-100)

struct io {
	int	 fd;
	int	 timeout;	/* milliseconds; 0 waits for ever */
	int	 nosock;	/* fd is no socket: write() it */
	int	 discard;	/* skipping the rest of an over-long line */
	int	 eof;		/* the peer closed its side */
	int	 crlf;		/* the last line returned ended in CRLF */
	int	 tlsdone;	/* TLS failed or was closed: no more I/O */
	int	 rcvtimeo;	/* the socket's SO_RCVTIMEO in ms; -1: unknown */
	int	 pollread;	/* reads wait in poll(2): fd is no socket,
				   or does not block */
	int	 last;		/* the next flush ends the stream (io_last) */
	struct tls *tls;	/* the TLS stream, once started */
	char	 tlserr[256];	/* why TLS last failed, for the log */
	size_t	 max_line;
	size_t	 outlen;
	char	 out[IO_OUTBUF + 1];	/* + 1 for vsnprintf's NUL */
	char	 file[IO_FILEBUF];	/* message text read from disk */
	size_t	 insize;
	size_t	 instart;	/* first octet not yet returned */
	size_t	 inscan;	/* searched for LF up to here */
	size_t	 inend;		/* end of the octets read */
	char	 in[];		/* max_line + 2 + IO_INSLACK */
};

/* State of one message on its way out (io_send_message). */
struct msgout {
	off_t	 octets;	/* network octets sent so far */
	long	 left;		/* TOP: body lines still to send */
	int	 top;		/* sending only the header and left lines */
	int	 inhdr;		/* TOP: still in the header */
	int	 lstate;	/* TOP: the line so far: 0 "", 1 "\r", 2 more */
	char	 last;		/* the last octet read; '\n' at the start */
};

/* io_new: a reader and writer on fd with lines of at most max_line. */
struct io *
io_new(int fd, size_t max_line)
{
	struct io	*io;
	size_t		 insize;

	if (max_line > SIZE_MAX - sizeof(*io) - 2 - IO_INSLACK) {
		errno = ENOMEM;
		return NULL;
	}
	insize = max_line + 2 + IO_INSLACK;
	if ((io = malloc(sizeof(*io) + insize)) == NULL)
		return NULL;
	io->fd = fd;
	io->timeout = 0;
	io->nosock = 0;
	io->discard = 0;
	io->eof = 0;
	io->tlsdone = 0;
	io->rcvtimeo = -1;	/* one is inherited from the listener */
	io->pollread = 0;
	io->last = 0;
	io->tls = NULL;
	io->tlserr[0] = '\0';
	io->max_line = max_line;
	io->outlen = 0;
	io->insize = insize;
	io->instart = io->inscan = io->inend = 0;
	return io;
}

/* io_free: frees *iop, unflushed output and all, and clears it. */
void
io_free(struct io **iop)
{
	if (iop == NULL || *iop == NULL)
		return;
	(void)io_close_tls(*iop);
	free(*iop);
	*iop = NULL;
}

/* io_set_timeout: how long one read or write may wait, 0 for ever. */
void
io_set_timeout(struct io *io, int seconds)
{
	if (seconds <= 0)
		io->timeout = 0;
	else if (seconds > INT_MAX / 1000)
		io->timeout = INT_MAX / 1000 * 1000;
	else
		io->timeout = seconds * 1000;
}

/* io_left: milliseconds of the timeout left after start. */
static int
io_left(const struct io *io, const struct timespec *start)
{
	struct timespec	 now;
	long long	 ms;

	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		return 0;
	ms = (long long)(now.tv_sec - start->tv_sec) * 1000 +
	    (now.tv_nsec - start->tv_nsec) / 1000000;
	if (ms >= io->timeout)
		return 0;
	return io->timeout - (int)ms;
}

/* io_wait: polls for events until the timeout counted from start.
 * Returns 0, IO_TIMEOUT (errno ETIMEDOUT) or IO_ERROR. */
static int
io_wait(struct io *io, short events, const struct timespec *start)
{
	struct pollfd	 pfd;
	int		 left, r;

	for (;;) {
		left = -1;
		if (io->timeout > 0 && (left = io_left(io, start)) <= 0) {
			errno = ETIMEDOUT;
			return IO_TIMEOUT;
		}
		pfd.fd = io->fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left);
		if (r > 0)
			return 0;
		if (r == -1 && errno != EINTR && errno != EAGAIN) {
			log_debug("io: poll: %s", strerror(errno));
			return IO_ERROR;
		}
	}
}

/* io_clock: the monotonic time a wait starts from. */
static void
io_clock(struct timespec *ts)
{
	if (clock_gettime(CLOCK_MONOTONIC, ts) == -1)
		ts->tv_sec = ts->tv_nsec = 0;
}

/* Holds a short last write back for the FIN to join it (Linux). */
#ifdef MSG_MORE
#define IO_MORE	MSG_MORE
#else
#define IO_MORE	0
#endif

/* io_send: one write of at most len octets that does not block on a
 * socket, whatever the descriptor's mode. */
static ssize_t
io_send(struct io *io, const char *p, size_t len)
{
	ssize_t	 n;

	if (!io->nosock) {
		n = send(io->fd, p, len, MSG_DONTWAIT |
		    (io->last ? IO_MORE : 0));
		if (n != -1 || errno != ENOTSOCK)
			return n;
		io->nosock = 1;
	}
	return write(io->fd, p, len);
}

/* io_tls_failed: records libtls's reason for a failed call; errno EIO. */
static void
io_tls_failed(struct io *io, const char *what)
{
	const char	*e = io->tls != NULL ? tls_error(io->tls) : NULL;

	snprintf(io->tlserr, sizeof(io->tlserr), "%s: %s", what,
	    e != NULL ? e : "unknown error");
	log_debug("io: TLS %s", io->tlserr);
	errno = EIO;
}

/* io_tls_send: one tls_write.  A TLS_WANT_* is -1 with errno EAGAIN and
 * the poll event to wait for in *events. */
static ssize_t
io_tls_send(struct io *io, const char *p, size_t len, short *events)
{
	ssize_t	 n;

	if (io->tls == NULL) {
		errno = EPIPE;
		return -1;
	}
	n = tls_write(io->tls, p, len);
	if (n >= 0)
		return n;
	if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
		*events = n == TLS_WANT_POLLIN ? POLLIN : POLLOUT;
		errno = EAGAIN;
		return -1;
	}
	io_tls_failed(io, "write");
	return -1;
}

/* io_writeall: writes len octets, waiting at most the timeout for each
 * bit of progress.  *done_r, if not NULL, gets the octets written. */
static int
io_writeall(struct io *io, const char *p, size_t len, size_t *done_r)
{
	struct timespec	 start;
	size_t		 done = 0;
	ssize_t		 n;
	short		 events;
	int		 rv = 0;

	while (done < len) {
		events = POLLOUT;
		if (io->tls != NULL || io->tlsdone)
			n = io_tls_send(io, p + done, len - done, &events);
		else
			n = io_send(io, p + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == 0) {
			errno = EIO;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			io_clock(&start);
			if (io_wait(io, events, &start) == 0)
				continue;
		}
		log_debug("io: write: %s", strerror(errno));
		rv = -1;
		break;
	}
	if (done_r != NULL)
		*done_r = done;
	return rv;
}

/* io_flush: writes all buffered output; keeps what failed to go out.
 * After io_last, ends the stream behind it. */
int
io_flush(struct io *io)
{
	size_t	 done = 0;
	int	 rv = 0;

	if (io->outlen > 0)
		rv = io_writeall(io, io->out, io->outlen, &done);
	if (done < io->outlen && done > 0)
		memmove(io->out, io->out + done, io->outlen - done);
	io->outlen -= done;
	if (io->last && rv == 0) {
		io->last = 0;
		/* The end of the stream: with the reply held back by
		 * MSG_MORE, one segment carries both.  ENOTSOCK and
		 * ENOTCONN need nothing done. */
		(void)shutdown(io->fd, SHUT_WR);
	}
	return rv;
}

/* io_last: the next flush is the stream's last write (the peer gets its
 * end at once); not for TLS, whose close_notify must come after. */
void
io_last(struct io *io)
{
	if (io->tls == NULL && !io->tlsdone && !io->nosock)
		io->last = 1;
}

/* io_write: buffers len octets; flushes first when they do not fit and
 * writes more than a whole buffer directly. */
int
io_write(struct io *io, const void *buf, size_t len)
{
	if (len > IO_OUTBUF - io->outlen) {
		if (io_flush(io) == -1)
			return -1;
		if (len >= IO_OUTBUF)
			return io_writeall(io, buf, len, NULL);
	}
	memcpy(io->out + io->outlen, buf, len);
	io->outlen += len;
	return 0;
}

/* io_puts: buffers a string. */
int
io_puts(struct io *io, const char *s)
{
	return io_write(io, s, strlen(s));
}

/* io_printf: formats a reply straight into the buffer; one longer than
 * the whole buffer fails with EMSGSIZE. */
int
io_printf(struct io *io, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 room = IO_OUTBUF - io->outlen;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(io->out + io->outlen, room + 1, fmt, ap);
	va_end(ap);
	if (n < 0) {
		log_warn("io_printf");
		return -1;
	}
	if ((size_t)n <= room) {
		io->outlen += (size_t)n;
		return 0;
	}
	if (n > IO_OUTBUF) {
		log_warnx("io_printf: a reply of %d octets is over %d", n,
		    IO_OUTBUF);
		errno = EMSGSIZE;
		return -1;
	}
	if (io_flush(io) == -1)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(io->out, IO_OUTBUF + 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n > IO_OUTBUF) {
		log_warnx("io_printf: the reply changed on the second try");
		errno = EINVAL;
		return -1;
	}
	io->outlen = (size_t)n;
	return 0;
}

/* io_takeline: returns the next buffered line, IO_TOOLONG, or IO_NOLINE
 * when no complete line is buffered. */
static ssize_t
io_takeline(struct io *io, char **line_r)
{
	char	*p = io->in + io->instart, *nl;
	size_t	 avail = io->inend - io->instart, len;

	nl = memchr(io->in + io->inscan, '\n', io->inend - io->inscan);
	if (nl == NULL) {
		io->inscan = io->inend;
		if (avail > io->max_line + 1 || (avail == io->max_line + 1 &&
		    p[io->max_line] != '\r')) {
			/* Over-long whatever follows: drop it up to its LF. */
			io->discard = 1;
			io->instart = io->inscan = io->inend = 0;
			return IO_TOOLONG;
		}
		return IO_NOLINE;
	}
	len = (size_t)(nl - p);
	io->instart += len + 1;
	io->inscan = io->instart;
	io->crlf = len > 0 && p[len - 1] == '\r';
	if (io->crlf)
		len--;
	p[len] = '\0';
	if (len > io->max_line)
		return IO_TOOLONG;
	*line_r = p;
	return (ssize_t)len;
}

/* io_skip: drops buffered input up to the LF ending an over-long line. */
static void
io_skip(struct io *io)
{
	char	*nl;

	nl = memchr(io->in + io->instart, '\n', io->inend - io->instart);
	if (nl == NULL) {
		io->instart = io->inscan = io->inend = 0;
		return;
	}
	io->instart = io->inscan = (size_t)(nl - io->in) + 1;
	io->discard = 0;
}

/* io_eof: the peer closed: a partial line is dropped, replies still go
 * out.  Returns IO_EOF. */
static ssize_t
io_eof(struct io *io)
{
	io->eof = 1;
	io->instart = io->inscan = io->inend = 0;
	if (io->outlen > 0)
		(void)io_flush(io);
	return IO_EOF;
}

/*
 * io_hungup: whether the peer closed the connection, for a TLS read that
 * failed.  A client that closes without a close_notify (many do) ends
 * the session as EOF: what it sent before arrived authenticated, and a
 * command cut short is dropped anyway.
 */
static int
io_hungup(const struct io *io)
{
	char	 c;

	return recv(io->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/*
 * io_fill_tls: io_fill over TLS.  Input may wait decrypted inside libtls
 * where poll cannot see it, so it reads first, and flushes pending output
 * or waits only when libtls has nothing.
 */
static ssize_t
io_fill_tls(struct io *io)
{
	struct timespec	 start;
	ssize_t		 n;
	int		 r;

	if (io->tls == NULL)
		return IO_ERROR;
	io_clock(&start);
	for (;;) {
		n = tls_read(io->tls, io->in + io->inend,
		    io->insize - io->inend);
		if (n > 0) {
			io->inend += (size_t)n;
			return 0;
		}
		if (n == 0 || (n == -1 && io_hungup(io)))
			return io_eof(io);
		if (n != TLS_WANT_POLLIN && n != TLS_WANT_POLLOUT) {
			io_tls_failed(io, "read");
			return IO_ERROR;
		}
		if (io->outlen > 0) {
			if (io_flush(io) == -1)
				return IO_ERROR;
			io_clock(&start);
			continue;
		}
		r = io_wait(io, n == TLS_WANT_POLLIN ? POLLIN : POLLOUT, &start);
		if (r != 0)
			return r;
	}
}

/*
 * io_read_wait: readies the wait of the next read(2) on a socket: a
 * blocking read that the socket's receive timeout (SO_RCVTIMEO, set to
 * what is left of io's timeout when that changed) ends, one system call
 * where poll(2) and read(2) would be two.  Returns 0; 1 when the read
 * must wait in poll(2) instead (no socket: io->pollread is set); or
 * IO_TIMEOUT.
 */
static int
io_read_wait(struct io *io, const struct timespec *start)
{
	struct timeval	 tv;
	int		 left = 0;

	if (io->pollread)
		return 1;
	if (io->timeout > 0 && (left = io_left(io, start)) <= 0) {
		errno = ETIMEDOUT;
		return IO_TIMEOUT;
	}
	if (left == io->rcvtimeo)
		return 0;
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	if (setsockopt(io->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ==
	    -1) {
		io->pollread = 1;
		return 1;
	}
	io->rcvtimeo = left;
	return 0;
}

/* io_fill: reads more input, flushing pending output first if the read
 * would wait.  Returns 0 or an IO_* failure. */
static ssize_t
io_fill(struct io *io)
{
	struct timespec	 start;
	ssize_t		 n;
	int		 r;

	if (io->instart == io->inend) {
		io->instart = io->inscan = io->inend = 0;
	} else if (io->inend == io->insize) {
		memmove(io->in, io->in + io->instart, io->inend - io->instart);
		io->inend -= io->instart;
		io->inscan -= io->instart;
		io->instart = 0;
	}
	if (io->tls != NULL || io->tlsdone)
		return io_fill_tls(io);
	/* Every command read so far is answered: their replies go out
	 * in one write before the wait for more. */
	if (io->outlen > 0 && io_flush(io) == -1)
		return IO_ERROR;
	io_clock(&start);
	for (;;) {
		if ((r = io_read_wait(io, &start)) < 0 ||
		    (r == 1 && (r = io_wait(io, POLLIN, &start)) != 0))
			return r;
		n = read(io->fd, io->in + io->inend, io->insize - io->inend);
		if (n > 0) {
			io->inend += (size_t)n;
			return 0;
		}
		if (n == 0)
			return io_eof(io);
		if ((errno == EAGAIN || errno == EWOULDBLOCK) && !io->pollread) {
			/* The receive timeout ran out (the loop says so), or
			 * the socket does not block (as one accepted from a
			 * non-blocking listener does on the BSDs): from now
			 * on poll(2) waits. */
			io->pollread = io->timeout == 0 ||
			    io_left(io, &start) > 0;
			continue;
		}
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			log_debug("io: read: %s", strerror(errno));
			return IO_ERROR;
		}
	}
}

/* io_getline: the next input line, without its CRLF or LF. */
ssize_t
io_getline(struct io *io, char **line_r)
{
	ssize_t	 r;

	*line_r = NULL;
	for (;;) {
		if (io->discard)
			io_skip(io);
		if (!io->discard) {
			r = io_takeline(io, line_r);
			if (r != IO_NOLINE)
				return r;
		}
		if (io->eof)
			return IO_EOF;
		if ((r = io_fill(io)) != 0)
			return r;
	}
}

/* io_crlf: whether the last line returned ended in CRLF, not LF. */
bool
io_crlf(const struct io *io)
{
	return io->crlf != 0;
}

/* io_pending: octets read and not yet returned as lines. */
size_t
io_pending(const struct io *io)
{
	return io->inend - io->instart;
}

/* io_peek_pending: where the unread input is, and how much. */
size_t
io_peek_pending(const struct io *io, const char **p_r)
{
	*p_r = io->in + io->instart;
	return io->inend - io->instart;
}

/* io_take_pending: moves the unread input out, for a hand-off. */
size_t
io_take_pending(struct io *io, void *buf, size_t len)
{
	size_t	 n = io->inend - io->instart;

	if (n > len)
		n = len;
	if (buf != NULL)
		memcpy(buf, io->in + io->instart, n);
	io->instart += n;
	if (io->inscan < io->instart)
		io->inscan = io->instart;
	return n;
}

/* io_push_input: input that arrived before the io existed. */
int
io_push_input(struct io *io, const void *buf, size_t len)
{
	if (io->inend != 0 || len > io->insize) {
		errno = ENOBUFS;
		return -1;
	}
	memcpy(io->in, buf, len);
	io->inend = len;
	return 0;
}

/* io_handshake: runs the TLS handshake within the timeout. */
static int
io_handshake(struct io *io)
{
	struct timespec	 start;
	int		 r;

	io_clock(&start);
	while ((r = tls_handshake(io->tls)) != 0) {
		if (r != TLS_WANT_POLLIN && r != TLS_WANT_POLLOUT) {
			io_tls_failed(io, "handshake");
			return -1;
		}
		if (io_wait(io, r == TLS_WANT_POLLIN ? POLLIN : POLLOUT,
		    &start) != 0) {
			snprintf(io->tlserr, sizeof(io->tlserr),
			    "handshake: %s", errno == ETIMEDOUT ?
			    "timed out" : strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* io_start_tls: flushes, drops clear-text input, then the handshake. */
int
io_start_tls(struct io *io, struct tls *ctx)
{
	int	 flags;

	if (io->tls != NULL || io->tlsdone) {
		strlcpy(io->tlserr, "TLS was started already",
		    sizeof(io->tlserr));
		return -1;
	}
	if (io_flush(io) == -1) {
		snprintf(io->tlserr, sizeof(io->tlserr), "flush before the "
		    "handshake: %s", strerror(errno));
		io->tlsdone = 1;
		return -1;
	}
	io->tlsdone = 1;	/* no clear text I/O from here on */
	/* RFC 2595 section 4: nothing sent in the clear may pass for
	 * something sent over TLS. */
	io->instart = io->inscan = io->inend = 0;
	io->discard = 0;
	if ((flags = fcntl(io->fd, F_GETFL)) == -1 ||
	    fcntl(io->fd, F_SETFL, flags | O_NONBLOCK) == -1) {
		snprintf(io->tlserr, sizeof(io->tlserr), "fcntl: %s",
		    strerror(errno));
		return -1;
	}
	if (tls_accept_socket(ctx, &io->tls, io->fd) == -1) {
		snprintf(io->tlserr, sizeof(io->tlserr), "accept: %s",
		    tls_error(ctx) != NULL ? tls_error(ctx) : "unknown error");
		io->tls = NULL;
		return -1;
	}
	if (io_handshake(io) == -1) {
		tls_free(io->tls);
		io->tls = NULL;
		return -1;
	}
	io->tlsdone = 0;
	io->tlserr[0] = '\0';
	return 0;
}

/* io_is_tls: whether the stream is encrypted. */
bool
io_is_tls(const struct io *io)
{
	return io->tls != NULL;
}

/* io_tls_error: why TLS last failed. */
const char *
io_tls_error(const struct io *io)
{
	return io->tlserr[0] != '\0' ? io->tlserr : "no error";
}

/* io_tls_info: the protocol version and cipher, for the log. */
void
io_tls_info(const struct io *io, char *buf, size_t len)
{
	const char	*v, *c;

	if (io->tls == NULL) {
		strlcpy(buf, "none", len);
		return;
	}
	v = tls_conn_version(io->tls);
	c = tls_conn_cipher(io->tls);
	if ((size_t)snprintf(buf, len, "%s %s", v != NULL ? v : "unknown",
	    c != NULL ? c : "unknown") >= len)
		strlcpy(buf, "unknown", len);
}

/* io_close_tls: close_notify within TLS_CLOSE_WAIT_MS; frees the TLS. */
int
io_close_tls(struct io *io)
{
	struct timespec	 start;
	int		 saved = io->timeout, r;

	if (io->tls == NULL)
		return 0;
	if (io->timeout == 0 || io->timeout > TLS_CLOSE_WAIT_MS)
		io->timeout = TLS_CLOSE_WAIT_MS;
	io_clock(&start);
	while ((r = tls_close(io->tls)) == TLS_WANT_POLLIN ||
	    r == TLS_WANT_POLLOUT)
		if (io_wait(io, r == TLS_WANT_POLLIN ? POLLIN : POLLOUT,
		    &start) != 0)
			break;
	if (r != 0)
		log_debug("io: TLS close: %s", tls_error(io->tls) != NULL ?
		    tls_error(io->tls) : "timed out");
	io->timeout = saved;
	tls_free(io->tls);
	io->tls = NULL;
	io->tlsdone = 1;
	return r == 0 ? 0 : -1;
}

/* Where io_relay stands: octets on their way each way, and the poll
 * events each descriptor waits for. */
struct relay {
	size_t	 up, upoff;	/* client -> local, in io->in */
	size_t	 down, downoff;	/* local -> client, in io->out */
	int	 client_eof, local_eof;
	short	 ev_client, ev_local;
	int	 moved;		/* some octets moved this round */
};

/* relay_read: reads what the client sent into r's up buffer.  Returns
 * 0, or -1 on an error. */
static int
relay_read(struct io *io, struct relay *r)
{
	ssize_t	 n;

	if (io->tls != NULL) {
		n = tls_read(io->tls, io->in, io->insize);
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
			r->ev_client |= n == TLS_WANT_POLLIN ? POLLIN : POLLOUT;
			return 0;
		}
		if (n == -1 && io_hungup(io))
			n = 0;
		if (n == -1) {
			io_tls_failed(io, "read");
			return -1;
		}
	} else {
		n = recv(io->fd, io->in, io->insize, MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR)) {
			r->ev_client |= POLLIN;
			return 0;
		}
		if (n == -1)
			return -1;
	}
	if (n == 0)
		r->client_eof = 1;
	r->up = (size_t)n;
	r->upoff = 0;
	r->moved |= n > 0;
	return 0;
}

/* relay_write: writes r's down buffer to the client.  Returns 0, or -1
 * on an error. */
static int
relay_write(struct io *io, struct relay *r)
{
	ssize_t	 n;
	short	 events = POLLOUT;

	if (io->tls != NULL || io->tlsdone)
		n = io_tls_send(io, io->out + r->downoff, r->down, &events);
	else
		n = io_send(io, io->out + r->downoff, r->down);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR)) {
		r->ev_client |= events;
		return 0;
	}
	if (n <= 0)
		return -1;
	r->downoff += (size_t)n;
	r->down -= (size_t)n;
	r->moved = 1;
	return 0;
}

/* relay_local: one step each way on the local socket.  Returns 0, or -1
 * when it failed. */
static int
relay_local(struct io *io, struct relay *r, int fd)
{
	ssize_t	 n;

	if (r->up > 0) {
		n = send(fd, io->in + r->upoff, r->up, MSG_DONTWAIT);
		if (n > 0) {
			r->upoff += (size_t)n;
			r->up -= (size_t)n;
			r->moved = 1;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR)
			r->ev_local |= POLLOUT;
		else
			return -1;
	}
	if (r->down == 0 && !r->local_eof) {
		n = recv(fd, io->out, IO_OUTBUF, MSG_DONTWAIT);
		if (n >= 0) {
			r->down = (size_t)n;
			r->downoff = 0;
			r->local_eof = n == 0;
			r->moved |= n > 0;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR)
			r->ev_local |= POLLIN;
		else
			return -1;
	}
	return 0;
}

/* relay_wait: polls both descriptors for what r waits for, within the
 * timeout.  Returns 0, or -1 when it ran out or poll failed. */
static int
relay_wait(struct io *io, struct relay *r, int fd)
{
	struct pollfd	 pfd[2];
	int		 n;

	pfd[0].fd = io->fd;
	pfd[0].events = r->ev_client;
	pfd[1].fd = fd;
	pfd[1].events = r->ev_local;
	pfd[0].revents = pfd[1].revents = 0;
	n = poll(pfd, 2, io->timeout > 0 ? io->timeout : -1);
	if (n == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (n == -1 && errno != EINTR && errno != EAGAIN)
		return -1;
	return 0;
}

/* io_relay: carries the session between the client and fd. */
int
io_relay(struct io *io, int fd)
{
	struct relay	 r;
	int		 rv = -1;

	if (io->tlsdone || io_flush(io) == -1 || io_pending(io) > 0)
		return -1;
	memset(&r, 0, sizeof(r));
	for (;;) {
		r.ev_client = r.ev_local = 0;
		r.moved = 0;
		if (r.up == 0 && !r.client_eof && relay_read(io, &r) == -1)
			break;
		if (r.down > 0 && relay_write(io, &r) == -1)
			break;
		if (relay_local(io, &r, fd) == -1)
			break;
		if ((r.client_eof && r.up == 0) ||
		    (r.local_eof && r.down == 0)) {
			rv = 0;
			break;
		}
		if (!r.moved && relay_wait(io, &r, fd) == -1)
			break;
	}
	if (rv == -1)
		log_debug("io: relay: %s", io->tlserr[0] != '\0' ?
		    io->tlserr : strerror(errno));
	io->instart = io->inscan = io->inend = 0;
	io->outlen = 0;
	return rv;
}

/* io_outslow: io_out for text that does not fit in the buffer's room. */
static int
io_outslow(struct io *io, const char *p, size_t len)
{
	size_t	 n;

	while (len > 0) {
		if (io->outlen == IO_OUTBUF && io_flush(io) == -1)
			return -1;
		n = IO_OUTBUF - io->outlen;
		if (n > len)
			n = len;
		memcpy(io->out + io->outlen, p, n);
		io->outlen += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* io_out: buffers message text, flushing each time the buffer is full. */
static inline int
io_out(struct io *io, const char *p, size_t len)
{
	if (len <= IO_OUTBUF - io->outlen) {
		memcpy(io->out + io->outlen, p, len);
		io->outlen += len;
		return 0;
	}
	return io_outslow(io, p, len);
}

/* msg_fold: the TOP line state after the octets s..e of one line. */
static int
msg_fold(int lstate, const char *s, const char *e)
{
	if (e == s)
		return lstate;
	if (lstate == 0 && e - s == 1 && *s == '\r')
		return 1;
	return 2;
}

/* msg_chunk: sends one chunk read from the message.  Returns 0, 1 when
 * TOP has sent all it should, or -1 on a write error. */
static int
msg_chunk(struct io *io, struct msgout *mo, const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len, *run = buf, *ls = buf;
	const char	*nl;
	char		 prev;

	if (mo->last == '\n' && *p == '.' && io_out(io, ".", 1) == -1)
		return -1;
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		prev = nl > buf ? nl[-1] : mo->last;
		if (prev != '\r') {
			if (io_out(io, run, (size_t)(nl - run)) == -1 ||
			    io_out(io, "\r", 1) == -1)
				return -1;
			run = nl;
			mo->octets++;
		}
		if (mo->top) {
			if (!mo->inhdr)
				mo->left--;
			else if (msg_fold(mo->lstate, ls, nl) < 2)
				mo->inhdr = 0;
			mo->lstate = 0;
			if (!mo->inhdr && mo->left <= 0) {
				mo->octets += nl + 1 - buf;
				mo->last = '\n';
				return io_out(io, run, (size_t)(nl + 1 - run)) ==
				    -1 ? -1 : 1;
			}
		}
		p = ls = nl + 1;
		if (p < end && *p == '.') {
			if (io_out(io, run, (size_t)(p - run)) == -1 ||
			    io_out(io, ".", 1) == -1)
				return -1;
			run = p;
		}
	}
	if (io_out(io, run, (size_t)(end - run)) == -1)
		return -1;
	if (mo->top)
		mo->lstate = msg_fold(mo->lstate, ls, end);
	mo->octets += (off_t)len;
	mo->last = end[-1];
	return 0;
}

/* msg_read: the next chunk of the message, at most left octets (left < 0:
 * no bound); clears an O_NONBLOCK that a read of this file did not
 * ignore (regular files ignore it, but the flag protects the open). */
static ssize_t
msg_read(int fd, char *buf, size_t len, off_t left)
{
	ssize_t	 n;
	int	 flags;

	if (left >= 0 && (off_t)len > left)
		len = (size_t)left;
	for (;;) {
		if ((n = read(fd, buf, len)) >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || (flags = fcntl(fd, F_GETFL)) == -1 ||
		    !(flags & O_NONBLOCK) ||
		    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1)
			return -1;
	}
}

/* io_send_message: streams a message file as a dot-stuffed reply body. */
int
io_send_message(struct io *io, int fd, off_t size, long body_lines,
    off_t *octets_r)
{
	struct msgout	 mo;
	ssize_t		 n;
	int		 r = 0;

	memset(&mo, 0, sizeof(mo));
	mo.last = '\n';
	mo.top = mo.inhdr = body_lines >= 0;
	mo.left = body_lines;
	while (size != 0) {
		n = msg_read(fd, io->file, sizeof(io->file), size);
		if (n == -1) {
			log_warn("io_send_message: read");	/* keeps errno */
			r = -1;
			break;
		}
		if (n == 0)
			break;
		if (size > 0)
			size -= n;
		if ((r = msg_chunk(io, &mo, io->file, (size_t)n)) != 0)
			break;
	}
	if (r == 1)
		r = 0;
	if (r == 0 && mo.last != '\n') {
		r = io_out(io, "\r\n", 2);
		mo.octets += 2;
	}
	if (r == 0)
		r = io_out(io, ".\r\n", 3);
	if (octets_r != NULL)
		*octets_r = mo.octets;
	return r;
}
