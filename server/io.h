/*
 * io.h: the line reader and reply writer every protocol module uses.
 * Input: lines ending in CRLF or a bare LF, each at most max_line octets;
 * reads and writes wait at most the configured timeout.  Output goes
 * through one 64 KiB buffer, flushed when it fills or when the reader
 * finds no complete line buffered (so pipelined commands get their
 * replies in one write).  Message text is streamed from a file with
 * LF -> CRLF conversion and dot-stuffing, never read whole into memory.
 * The stream is the descriptor itself, or TLS over it once io_start_tls
 * has run; both keep the same timeouts.
 */
#ifndef POSTERN_IO_H
#define POSTERN_IO_H

#include <sys/types.h>
#include <stdarg.h>
#include <stdbool.h>

struct io;
struct tls;

/* io_getline's failures. */
#define IO_EOF		(-1)	/* the peer closed the connection */
#define IO_TIMEOUT	(-2)	/* nothing arrived within the timeout */
#define IO_ERROR	(-3)	/* read or write failed; errno tells */
#define IO_TOOLONG	(-4)	/* a line over max_line; the rest of it
				   has been discarded */

/* A reader and writer on fd (not taken over: the caller closes it).
 * Returns NULL when out of memory. */
struct io	*io_new(int fd, size_t max_line);
/* Frees *iop (without flushing) and sets it to NULL; a TLS stream is
 * closed first as io_close_tls does. */
void		 io_free(struct io **iop);
/* Seconds a read or write may wait; 0 (the default) waits for ever.
 * The wait restarts whenever some data moves.  Writes to a socket never
 * block (send with MSG_DONTWAIT, then poll), so the timeout holds
 * whatever the descriptor's mode. */
void		 io_set_timeout(struct io *io, int seconds);

/*
 * Reads one line into *line_r, NUL-terminated, without its CRLF or LF,
 * valid until the next call.  Returns its length or an IO_* value.
 * Pending output is flushed before the reader blocks.
 */
ssize_t		 io_getline(struct io *io, char **line_r);
/* Whether the line io_getline last returned ended in CRLF (not a bare
 * LF), for the end of a message: only CRLF "." CRLF ends it. */
bool		 io_crlf(const struct io *io);
/* Octets of input already buffered and not yet returned. */
size_t		 io_pending(const struct io *io);
/* Points *p_r at that input without consuming it; returns its length. */
size_t		 io_peek_pending(const struct io *io, const char **p_r);
/* Moves at most len octets of that input into buf, or drops them when buf
 * is NULL (a session handed to another process takes its pipelined
 * commands along).  Returns how many. */
size_t		 io_take_pending(struct io *io, void *buf, size_t len);
/* Gives a new io input that was read before it existed, to be returned
 * before anything from the fd.  Returns 0, or -1 (ENOBUFS: too much, or
 * input already buffered). */
int		 io_push_input(struct io *io, const void *buf, size_t len);

/* Buffer output; return 0, or -1 when a flush failed (errno set).
 * io_printf fails with EMSGSIZE for a reply over IO_OUTBUF octets. */
int		 io_write(struct io *io, const void *buf, size_t len);
int		 io_puts(struct io *io, const char *s);
int		 io_printf(struct io *io, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
int		 io_flush(struct io *io);
/*
 * Nothing will be written after the next io_flush: it sends what is
 * buffered and then ends the stream (shutdown(2) of the writing side),
 * so that the client sees the end with the last reply instead of waiting
 * for close(2); on Linux the reply is held back with MSG_MORE until then,
 * and one TCP segment carries both.  No effect on a TLS stream, whose
 * end is its close_notify (io_close_tls), nor on a descriptor that is no
 * socket.
 */
void		 io_last(struct io *io);

/*
 * Sends the message in fd from its current offset as a multi-line reply
 * body, at most size octets of it (the size its open saw, so that no read
 * is spent finding the end; size < 0 reads to the end of the file): bare
 * LF becomes CRLF, a line starting with "." gets another ".", a missing
 * final newline is added, and ".\r\n" ends it.  With
 * body_lines < 0 everything is sent; otherwise the header, the blank line
 * and at most body_lines lines of the body (POP3 TOP).  Returns 0, or -1
 * on a read or write error (errno set; the reply is cut short and the
 * session cannot go on).  *octets_r, when not NULL, gets the octets of
 * message text sent, stuffing and the final ".\r\n" not counted.
 */
int		 io_send_message(struct io *io, int fd, off_t size,
		    long body_lines, off_t *octets_r);

/*
 * Starts TLS as the server on the io's descriptor with ctx (tls.h's
 * context), for implicit TLS or after a STLS-like command's reply:
 * flushes the pending output in the clear, DROPS every octet of input
 * already buffered (sent in the clear before the handshake: it must never
 * be taken as sent over TLS, RFC 2595 section 4; a caller that wants to
 * log it reads io_pending() first), makes the descriptor non-blocking and
 * runs the handshake within the timeout, counted from the start of the
 * handshake.  From then on every read and write goes through TLS, with
 * the same timeouts.  Returns 0, or -1 with io_tls_error() telling why;
 * after a failure nothing more goes through the io in either direction
 * (reads fail with IO_ERROR, writes with -1), and it can only be freed.
 */
int		 io_start_tls(struct io *io, struct tls *ctx);
/* Whether the stream is encrypted now. */
bool		 io_is_tls(const struct io *io);
/* Why the last TLS step failed, for the log; valid until the next call. */
const char	*io_tls_error(const struct io *io);
/* The protocol version and cipher, "TLSv1.3 TLS_AES_256_GCM_SHA384",
 * or "none" before TLS, into buf for the log. */
void		 io_tls_info(const struct io *io, char *buf, size_t len);
/*
 * Ends TLS in order: sends the close_notify, waiting at most
 * TLS_CLOSE_WAIT_MS (limits.h) for the peer to take it, and frees the
 * TLS state; pending output is not flushed.  The descriptor stays open
 * and nothing more goes through the io.  Returns 0, or -1 when the
 * close_notify could not be sent; 0 without TLS.
 */
int		 io_close_tls(struct io *io);
/*
 * Relays octets both ways between the io's stream (TLS or not) and fd, a
 * local stream socket to the process that carries on the session after
 * a privilege-separated login, until either side closes.  Pending output
 * is flushed first; input must all have been taken (io_take_pending):
 * with input pending it fails at once.  A wait in which nothing moves
 * either way is bounded by the io's timeout.  The io's buffers are used
 * and left empty; the caller closes fd, and frees the io (which ends TLS
 * in order).  Returns 0 when a side closed, -1 on an error or timeout.
 */
int		 io_relay(struct io *io, int fd);

#endif
