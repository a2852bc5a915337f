/*
 * file.c: writing a buffer whole to a descriptor (file.h).
 */
#include <errno.h>
#include <unistd.h>

#include "storage/file.h"

int
file_write_all(int fd, const void *buf, size_t len, size_t *done_r)
{
	const char	*p = buf;
	size_t		 done = 0;
	ssize_t		 n;
	int		 rv = 0;

	while (done < len) {
		n = write(fd, p + done, len - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			rv = -1;
			break;
		}
		done += (size_t)n;
	}
	if (done_r != NULL)
		*done_r = done;
	return rv;
}
