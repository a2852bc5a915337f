/*
 * spool.h: the message a client sends after DATA (LMTP, PAPM push): read
 * up to CRLF "." CRLF, its dot-stuffing undone and its lines stored with
 * LF, into an unlinked temporary file through one buffer, so that memory
 * stays bounded whatever the size; the delivery then copies the file.
 */
#ifndef POSTERN_SPOOL_H
#define POSTERN_SPOOL_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

struct io;

struct spool {
	int		 fd;		/* the file; -1: none */
	int		 err;		/* errno of the first write failure */
	bool		 toolong;	/* a line was over MESSAGE_LINE_MAX */
	off_t		 size;		/* octets read, each line with CRLF,
					   without the stuffed dots */
	char		*buf;		/* output buffer, IO_FILEBUF */
	size_t		 len;
};

/* An empty spool (fd -1), for spool_close to find. */
void	spool_init(struct spool *sp);
/* Opens sp as an unlinked file under dir named after tag.  Returns 0, or
 * -1 (errno set). */
int	spool_open(struct spool *sp, const char *dir, const char *tag);
/*
 * Reads the message from io into sp, storing it while its size stays
 * within max and no line is too long (it is read to its end either way),
 * and flushes it.  Returns 0, or -1 when the session must end: *why_r is
 * "timeout", "disconnected in DATA" or "connection error".
 */
int	spool_read(struct spool *sp, struct io *io, off_t max,
	    const char **why_r);
/* Closes the file and frees the buffer; sp is empty again. */
void	spool_close(struct spool *sp);

#endif
