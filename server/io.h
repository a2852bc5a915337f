/*
 * io.h: the line reader and reply writer every protocol module uses.
 * Input: lines ending in CRLF or a bare LF, each at most max_line octets;
 * reads and writes wait at most the configured timeout.  Output goes
 * through one 64 KiB buffer, flushed when it fills or when the reader
 * finds no complete line buffered (so pipelined commands get their
 * replies in one write).  Message text is streamed from a file with
 * LF -> CRLF conversion and dot-stuffing, never read whole into memory.
 */
#ifndef POSTERN_IO_H
#define POSTERN_IO_H

#include <sys/types.h>
#include <stdarg.h>

struct io;

/* io_getline's failures. */
#define IO_EOF		(-1)	/* the peer closed the connection */
#define IO_TIMEOUT	(-2)	/* nothing arrived within the timeout */
#define IO_ERROR	(-3)	/* read or write failed; errno tells */
#define IO_TOOLONG	(-4)	/* a line over max_line; the rest of it
				   has been discarded */

/* A reader and writer on fd (not taken over: the caller closes it).
 * Returns NULL when out of memory. */
struct io	*io_new(int fd, size_t max_line);
/* Frees *iop (without flushing) and sets it to NULL. */
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
/* Octets of input already buffered and not yet returned. */
size_t		 io_pending(const struct io *io);

/* Buffer output; return 0, or -1 when a flush failed (errno set).
 * io_printf fails with EMSGSIZE for a reply over IO_OUTBUF octets. */
int		 io_write(struct io *io, const void *buf, size_t len);
int		 io_puts(struct io *io, const char *s);
int		 io_printf(struct io *io, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
int		 io_flush(struct io *io);

/*
 * Sends the message in fd from its current offset as a multi-line reply
 * body: bare LF becomes CRLF, a line starting with "." gets another ".",
 * a missing final newline is added, and ".\r\n" ends it.  With
 * body_lines < 0 everything is sent; otherwise the header, the blank line
 * and at most body_lines lines of the body (POP3 TOP).  Returns 0, or -1
 * on a read or write error (errno set; the reply is cut short and the
 * session cannot go on).  *octets_r, when not NULL, gets the octets of
 * message text sent, stuffing and the final ".\r\n" not counted.
 */
int		 io_send_message(struct io *io, int fd, long body_lines,
		    off_t *octets_r);

#endif
