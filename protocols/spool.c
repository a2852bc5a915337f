/*
 * spool.c: a message read after DATA into an unlinked temporary file
 * (spool.h).  Only CRLF "." CRLF ends it: a lone dot next to a bare line
 * feed is text, so that no second message is smuggled in behind it.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocols/spool.h"
#include "server/io.h"
#include "server/limits.h"
#include "server/log.h"
#include "storage/file.h"

void
spool_init(struct spool *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->fd = -1;
}

int
spool_open(struct spool *sp, const char *dir, const char *tag)
{
	char	 path[PATH_MAX];
	int	 n;

	spool_close(sp);
	n = snprintf(path, sizeof(path), "%s/postern-%s.XXXXXXXXXX", dir,
	    tag);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((sp->fd = mkostemp(path, O_CLOEXEC)) == -1)
		return -1;
	(void)unlink(path);
	if ((sp->buf = malloc(IO_FILEBUF)) == NULL) {
		spool_close(sp);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* flush: writes the buffer out; records the first error. */
static void
flush(struct spool *sp)
{
	if (sp->err == 0 &&
	    file_write_all(sp->fd, sp->buf, sp->len, NULL) == -1) {
		sp->err = errno;
		log_warn("writing a spool file");
	}
	sp->len = 0;
}

/* put: appends n octets. */
static void
put(struct spool *sp, const char *p, size_t n)
{
	size_t	 k;

	while (n > 0 && sp->err == 0) {
		if (sp->len == IO_FILEBUF)
			flush(sp);
		k = IO_FILEBUF - sp->len;
		if (k > n)
			k = n;
		memcpy(sp->buf + sp->len, p, k);
		sp->len += k;
		p += k;
		n -= k;
	}
}

int
spool_read(struct spool *sp, struct io *io, off_t max, const char **why_r)
{
	char	*line;
	ssize_t	 n;
	bool	 crlf = true;	/* the line before ended in CRLF */

	sp->toolong = false;
	sp->size = 0;
	for (;;) {
		n = io_getline(io, &line);
		if (n == IO_TOOLONG) {
			sp->toolong = true;
			continue;
		}
		if (n < 0) {
			*why_r = n == IO_TIMEOUT ? "timeout" : n == IO_EOF ?
			    "disconnected in DATA" : "connection error";
			return -1;
		}
		if (n == 1 && line[0] == '.' && crlf && io_crlf(io))
			break;
		crlf = io_crlf(io);
		if (line[0] == '.' && n > 1) {
			line++;
			n--;
		}
		sp->size += n + 2;
		if (sp->size > max || sp->toolong)
			continue;
		put(sp, line, (size_t)n);
		put(sp, "\n", 1);
	}
	if (!sp->toolong && sp->size <= max)
		flush(sp);
	return 0;
}

void
spool_close(struct spool *sp)
{
	if (sp->fd != -1)
		close(sp->fd);
	free(sp->buf);
	spool_init(sp);
}
